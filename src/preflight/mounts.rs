//! Will every volume be there after the reboot? A volume whose filesystem is mounted now but
//! named in no `/etc/fstab` line and no systemd `.mount` unit was mounted by hand and vanishes
//! at the next boot (the blank-messages night); a filesystem that fstab names for a volume but
//! that is not mounted now leaves the volume an empty directory of the root filesystem. Both
//! are critical, answered by `store/hsm-volume-not-mounted`.

use std::path::{Path, PathBuf};

use super::volumes::Volumes;
use super::{Finding, Host, Status};

const KB: &str = "store/hsm-volume-not-mounted";

/// A mount point with where it is declared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    pub device: String,
    pub point: PathBuf,
    /// fstab `noauto`: not mounted at boot.
    pub noauto: bool,
}

/// `fstab` or `/proc/mounts` lines: device, mount point, type, options (octal escapes decoded).
pub fn parse_table(text: &str) -> Vec<Mount> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (device, point) = (f.first()?, f.get(1)?);
            if !point.starts_with('/') {
                return None; // swap and the like
            }
            let opts = f.get(3).copied().unwrap_or("");
            Some(Mount {
                device: unescape(device),
                point: PathBuf::from(unescape(point)),
                noauto: opts.split(',').any(|o| o == "noauto"),
            })
        })
        .collect()
}

/// `\040` and the like, as the kernel and fstab write spaces in paths.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The `Where=` of systemd `.mount` units in the usual unit directories.
pub fn mount_units(host: &Host) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in [
        "/etc/systemd/system",
        "/run/systemd/system",
        "/usr/lib/systemd/system",
        "/lib/systemd/system",
    ] {
        let Ok(entries) = std::fs::read_dir(host.path(dir)) else {
            continue;
        };
        let mut names: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        names.sort();
        for unit in names
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "mount"))
        {
            let Ok(text) = std::fs::read_to_string(unit) else {
                continue;
            };
            out.extend(
                text.lines()
                    .filter_map(|l| l.trim().strip_prefix("Where="))
                    .map(|w| PathBuf::from(w.trim())),
            );
        }
    }
    out
}

/// The deepest mount point holding `path`.
fn holder<'a>(mounts: &'a [Mount], path: &Path) -> Option<&'a Mount> {
    mounts
        .iter()
        .filter(|m| path.starts_with(&m.point))
        .max_by_key(|m| m.point.components().count())
}

pub fn check(host: &Host, vols: &Volumes) -> Vec<Finding> {
    let mut out: Vec<Finding> = vols.problem.iter().cloned().collect();
    if vols.list.is_empty() {
        return out;
    }
    let mounted = host
        .read("/proc/self/mounts")
        .or_else(|| host.read("/proc/mounts"))
        .map(|t| parse_table(&t))
        .unwrap_or_default();
    let fstab = host
        .read("/etc/fstab")
        .map(|t| parse_table(&t))
        .unwrap_or_default();
    let units = mount_units(host);
    let at_boot =
        |p: &Path| fstab.iter().any(|m| m.point == p && !m.noauto) || units.iter().any(|u| u == p);
    for v in &vols.list {
        let path = Path::new(&v.path);
        let subject = format!("{} volume {} ({})", v.kind, v.name, v.path);
        let now = holder(&mounted, path).filter(|m| m.point != Path::new("/"));
        let declared = holder(&fstab, path).filter(|m| m.point != Path::new("/"));
        let finding = match (now, declared) {
            (Some(m), _) if !at_boot(&m.point) => fail(
                subject,
                format!(
                    "{} is mounted now (from {}) but no /etc/fstab line or systemd mount unit names it: it will not come back at reboot, and the volume's messages will open blank. As root, add an fstab line for it (e.g. `{} {} <type> defaults 0 2`, by UUID from `blkid`), then `mount -a` and `findmnt --verify`",
                    m.point.display(), m.device, m.device, m.point.display()
                ),
            ),
            (None, Some(d)) => fail(
                subject,
                format!(
                    "/etc/fstab names {} for this volume but it is not mounted: the volume is an empty directory on the root filesystem. As root, `mount {}` and check with `findmnt {}` before starting Zimbra",
                    d.point.display(), d.point.display(), d.point.display()
                ),
            ),
            (Some(m), _) => pass(subject, format!("on {}, mounted and mounted at boot", m.point.display())),
            (None, None) if empty_dir(&host.path(&v.path)) => Finding {
                check: "volumes.boot-mount",
                status: Status::Warn,
                severity: "high",
                subject,
                message: format!(
                    "{} is an empty directory on the root filesystem: if the volume's filesystem belongs there (a disk mounted by hand before a reboot), it is not mounted now and its messages open blank. As root, mount it and add it to /etc/fstab",
                    v.path
                ),
                kb: vec![KB],
            },
            (None, None) => pass(subject, "on the root filesystem".into()),
        };
        out.push(finding);
    }
    out
}

/// A directory that holds nothing (or is not there): no volume in use looks like that.
pub(super) fn empty_dir(path: &Path) -> bool {
    std::fs::read_dir(path).map_or(true, |mut e| e.next().is_none())
}

fn fail(subject: String, message: String) -> Finding {
    Finding {
        check: "volumes.boot-mount",
        status: Status::Fail,
        severity: "critical",
        subject,
        message,
        kb: vec![KB],
    }
}

fn pass(subject: String, message: String) -> Finding {
    Finding {
        check: "volumes.boot-mount",
        status: Status::Pass,
        severity: "info",
        subject,
        message,
        kb: vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::super::volumes::Volume;
    use super::*;

    fn tree(fstab: &str, mounts: &str) -> (tempfile::TempDir, Host) {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("etc")).unwrap();
        std::fs::create_dir_all(d.path().join("proc/self")).unwrap();
        std::fs::write(d.path().join("etc/fstab"), fstab).unwrap();
        std::fs::write(d.path().join("proc/self/mounts"), mounts).unwrap();
        // Volumes in use hold blobs.
        for v in ["opt/zimbra/store/0", "mnt/hsm/store/0"] {
            std::fs::create_dir_all(d.path().join(v)).unwrap();
        }
        let host = Host {
            root: d.path().to_path_buf(),
            direct_commands: true,
            volume_cache: None,
            to_version: None,
            backup: None,
        };
        (d, host)
    }

    fn hsm() -> Volumes {
        Volumes {
            list: vec![
                Volume {
                    name: "message1".into(),
                    kind: "primaryMessage".into(),
                    path: "/opt/zimbra/store".into(),
                },
                Volume {
                    name: "hsm1".into(),
                    kind: "secondaryMessage".into(),
                    path: "/mnt/hsm/store".into(),
                },
            ],
            problem: None,
        }
    }

    fn statuses(f: &[Finding]) -> Vec<Status> {
        f.iter().map(|f| f.status).collect()
    }

    #[test]
    fn a_hand_mounted_volume_fails_and_passes_once_fstab_names_it() {
        let mounts = "/dev/sda1 / ext4 rw 0 0\n/dev/sdb1 /mnt/hsm ext4 rw 0 0\n";
        let (_d, host) = tree("UUID=1 / ext4 defaults 0 1\n", mounts);
        let f = check(&host, &hsm());
        assert_eq!(statuses(&f), [Status::Pass, Status::Fail]);
        assert!(f[1].message.contains("fstab"));
        let (_d, host) = tree(
            "UUID=1 / ext4 defaults 0 1\n/dev/sdb1 /mnt/hsm ext4 defaults 0 2\n",
            mounts,
        );
        assert_eq!(
            statuses(&check(&host, &hsm())),
            [Status::Pass, Status::Pass]
        );
        let (_d, host) = tree(
            "UUID=1 / ext4 defaults 0 1\n/dev/sdb1 /mnt/hsm ext4 noauto 0 2\n",
            mounts,
        );
        assert_eq!(
            statuses(&check(&host, &hsm())),
            [Status::Pass, Status::Fail],
            "noauto is not at boot"
        );
    }

    #[test]
    fn an_fstab_mount_that_is_not_mounted_fails() {
        let (_d, host) = tree(
            "/dev/sdb1 /mnt/hsm ext4 defaults 0 2\n",
            "/dev/sda1 / ext4 rw 0 0\n",
        );
        let f = check(&host, &hsm());
        assert_eq!(statuses(&f), [Status::Pass, Status::Fail]);
        assert!(f[1].message.contains("not mounted"));
    }

    #[test]
    fn an_empty_volume_directory_on_the_root_filesystem_is_a_warning() {
        let (d, host) = tree("", "/dev/sda1 / ext4 rw 0 0\n");
        std::fs::remove_dir(d.path().join("mnt/hsm/store/0")).unwrap();
        let f = check(&host, &hsm());
        assert_eq!(statuses(&f), [Status::Pass, Status::Warn]);
        assert!(f[1].message.contains("empty directory"));
    }

    #[test]
    fn a_mount_unit_counts_as_declared() {
        let (d, host) = tree(
            "",
            "/dev/sda1 / ext4 rw 0 0\n/dev/sdb1 /mnt/hsm ext4 rw 0 0\n",
        );
        std::fs::create_dir_all(d.path().join("etc/systemd/system")).unwrap();
        std::fs::write(
            d.path().join("etc/systemd/system/mnt-hsm.mount"),
            "[Mount]\nWhat=/dev/sdb1\nWhere=/mnt/hsm\n",
        )
        .unwrap();
        assert_eq!(
            statuses(&check(&host, &hsm())),
            [Status::Pass, Status::Pass]
        );
        assert_eq!(unescape(r"/mnt/my\040disk"), "/mnt/my disk");
    }
}
