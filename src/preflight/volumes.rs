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
    if let Some(out) = host.zimbra_command("zmvolume", &["-l"]) {
        let list = parse_zmvolume(&out);
        if !list.is_empty() {
            return Volumes {
                list,
                problem: None,
            };
        }
    }
    let sql = "SELECT name, type, path FROM zimbra.volume";
    if let Some(out) = host.zimbra_command("/opt/zimbra/bin/mysql", &["-N", "-B", "-e", sql]) {
        let list = parse_table(&out);
        if !list.is_empty() {
            return Volumes {
                list,
                problem: None,
            };
        }
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
