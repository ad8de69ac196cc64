//! The store, index and HSM volumes of a mailstore: from `zmvolume -l` (which needs mailboxd),
//! else from the `volume` table through Zimbra's own mysql client (mailboxd is down mid-upgrade
//! and after the bad reboot, exactly when this matters).

use super::{Finding, Host, Status};

/// One volume.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Volume {
    pub name: String,
    /// `primaryMessage`, `secondaryMessage`, `index` (or the table's number).
    pub kind: String,
    pub path: String,
}

/// What the volume listing found.
pub struct Volumes {
    pub list: Vec<Volume>,
    /// Why there is no list, when there is none.
    pub problem: Option<Finding>,
}

pub fn list(host: &Host) -> Volumes {
    let live = host
        .zimbra_command("zmvolume", &["-l"])
        .map(|out| parse_zmvolume(&out))
        .filter(|l| !l.is_empty())
        .or_else(|| {
            let sql = "SELECT name, type, path FROM zimbra.volume";
            host.zimbra_command("/opt/zimbra/bin/mysql", &["-N", "-B", "-e", sql])
                .map(|out| parse_table(&out))
                .filter(|l| !l.is_empty())
        });
    if let Some(list) = live {
        if let Some(cache) = &host.volume_cache {
            save(cache, &list);
        }
        return Volumes {
            list,
            problem: None,
        };
    }
    // At boot neither mailboxd nor mysql runs yet: the list read last time.
    if let Some(list) = host
        .volume_cache
        .as_deref()
        .and_then(load)
        .filter(|l| !l.is_empty())
    {
        return Volumes {
            list,
            problem: None,
        };
    }
    Volumes {
        list: Vec::new(),
        problem: Some(Finding {
            check: "volumes.list",
            status: Status::Warn,
            severity: "medium",
            subject: "volumes".into(),
            message: "could not list the volumes: neither `zmvolume -l` nor the volume table answered (not a mailstore, or run as root on the mailstore)".into(),
            kb: vec![],
        }),
    }
}

fn save(path: &std::path::Path, list: &[Volume]) {
    let rows: Vec<[&str; 3]> = list
        .iter()
        .map(|v| [v.name.as_str(), v.kind.as_str(), v.path.as_str()])
        .collect();
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Ok(text) = serde_json::to_string(&rows) {
        let tmp = path.with_extension("json.tmp");
        if std::fs::write(&tmp, text).is_ok() {
            let _ = std::fs::rename(&tmp, path);
        }
    }
}

fn load(path: &std::path::Path) -> Option<Vec<Volume>> {
    let rows: Vec<[String; 3]> = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    Some(
        rows.into_iter()
            .map(|[name, kind, path]| Volume { name, kind, path })
            .collect(),
    )
}

/// `zmvolume -l`: blocks of `key: value` lines, one block per volume.
pub fn parse_zmvolume(text: &str) -> Vec<Volume> {
    let mut out = Vec::new();
    let mut cur: Option<Volume> = None;
    for line in text.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim().to_string());
        match k {
            "Volume id" => {
                out.extend(cur.take());
                cur = Some(Volume {
                    name: String::new(),
                    kind: String::new(),
                    path: String::new(),
                });
            }
            "name" => cur.iter_mut().for_each(|c| c.name = v.clone()),
            "type" => cur.iter_mut().for_each(|c| c.kind = v.clone()),
            "path" => cur.iter_mut().for_each(|c| c.path = v.clone()),
            _ => {}
        }
    }
    out.extend(cur);
    out.retain(|v| v.path.starts_with('/'));
    out
}

/// `mysql -N -B`: tab-separated name, type, path.
fn parse_table(text: &str) -> Vec<Volume> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split('\t');
            let (name, kind, path) = (f.next()?, f.next()?, f.next()?);
            let kind = match kind.trim() {
                "1" => "primaryMessage",
                "2" => "secondaryMessage",
                "10" => "index",
                k => k,
            };
            path.starts_with('/').then(|| Volume {
                name: name.trim().into(),
                kind: kind.into(),
                path: path.trim().into(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_zmvolume_blocks() {
        let text = "   Volume id: 1\n        name: message1\n        type: primaryMessage\n        path: /opt/zimbra/store\n  compressed: false\n\n   Volume id: 3\n        name: hsm1\n        type: secondaryMessage\n        path: /mnt/hsm/store\n";
        let v = parse_zmvolume(text);
        assert_eq!(v.len(), 2);
        assert_eq!(v[1].path, "/mnt/hsm/store");
        assert_eq!(v[1].kind, "secondaryMessage");
        assert_eq!(
            parse_table("hsm1\t2\t/mnt/hsm/store\n")[0].kind,
            "secondaryMessage"
        );
    }
}
