//! Host checks that need no volume list: the licence file a Network Edition mailstore's
//! installer looks for, and free space where the installer and the upgrade write.

use super::{Finding, Host, Status};

/// On an NE mailstore (`zmlicense` installed), the installer asks `zmlicense -c` for the
/// installed licence and falls back to `/opt/zimbra/conf/ZCSLicense.xml` when it answers
/// "license not installed", nothing, or fails (LDAP unreachable): without the file the upgrade
/// stops before it starts.
pub fn licence(host: &Host) -> Vec<Finding> {
    if !host.path("/opt/zimbra/bin/zmlicense").exists() {
        return Vec::new();
    }
    let answer = host.zimbra_command("zmlicense", &["-c"]);
    let installed = answer
        .as_deref()
        .map(str::trim)
        .is_some_and(|a| !a.is_empty() && !a.eq_ignore_ascii_case("license not installed"));
    let file = "/opt/zimbra/conf/ZCSLicense.xml";
    let has_file = host.path(file).is_file();
    let (status, severity, message) = match (installed, has_file) {
        (true, _) => (Status::Pass, "info", "zmlicense -c reports an installed licence".to_string()),
        (false, true) => (Status::Pass, "info", format!("{file} is there for the installer")),
        (false, false) => (
            Status::Fail,
            "critical",
            format!("zmlicense -c reports no installed licence (or could not ask LDAP) and {file} is missing: the Network Edition installer will stop. As root, copy the licence file from your backup (or the support portal) to {file}, owned by zimbra"),
        ),
    };
    let mut out = vec![Finding {
        check: "licence.file",
        status,
        severity,
        subject: file.into(),
        message,
        kb: if status == Status::Fail {
            vec!["license/file-not-found-installer"]
        } else {
            vec![]
        },
    }];
    out.extend(licence_copy(host, file));
    out
}

/// A copy of the licence file in the backup target the admin names (`--backup`).
fn licence_copy(host: &Host, file: &str) -> Option<Finding> {
    let dir = host.backup.as_deref()?;
    let copy = format!("{}/ZCSLicense.xml", dir.trim_end_matches('/'));
    let there = host.path(&copy).is_file();
    Some(Finding {
        check: "licence.backup-copy",
        status: if there { Status::Pass } else { Status::Warn },
        severity: if there { "info" } else { "high" },
        subject: copy.clone(),
        message: if there {
            "the backup holds a copy of the licence file".into()
        } else {
            format!("no copy of the licence file in {dir}: the installer may ask for it; as root: cp -p {file} {copy}")
        },
        kb: if there {
            vec![]
        } else {
            vec!["license/file-not-found-installer"]
        },
    })
}

/// Free space margins zkb asks for (its own margins, not the installer's figures).
const SPACE: [(&str, u64); 2] = [("/tmp", 1 << 30), ("/opt/zimbra", 5 << 30)];

pub fn free_space(host: &Host) -> Vec<Finding> {
    let mut wanted: Vec<(String, u64)> = SPACE.iter().map(|(d, n)| (d.to_string(), *n)).collect();
    if let Some(dir) = &host.backup {
        // A full backup takes about what the filesystem of /opt/zimbra holds.
        let used = used_bytes(&host.path("/opt/zimbra"))
            .unwrap_or(0)
            .max(1 << 30);
        wanted.push((dir.clone(), used));
    }
    wanted
        .iter()
        .filter_map(|(dir, want)| {
            let (dir, want) = (dir.as_str(), *want);
            let free = free_bytes(host, dir)?;
            let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
            let ok = free >= want;
            Some(Finding {
                check: "space.free",
                status: if ok { Status::Pass } else { Status::Warn },
                severity: if ok { "info" } else { "high" },
                subject: dir.into(),
                message: if ok {
                    format!("{:.1} GiB free", gib(free))
                } else {
                    format!("{:.1} GiB free, under the {:.0} GiB zkb asks for before an upgrade ({}); free space first", gib(free), gib(want), if host.backup.as_deref() == Some(dir) { "a full backup takes about what the filesystem of /opt/zimbra holds" } else { "packages unpack and logs grow there" })
                },
                kb: if ok { vec![] } else { vec!["disk/no-space-left"] },
            })
        })
        .collect()
}

/// Free bytes for `dir` of the host; `ZKB_TEST_FREE_BYTES=/tmp=1048576,...` stands in for
/// the filesystem in tests (a full /tmp cannot be made in a test tree).
fn free_bytes(host: &Host, dir: &str) -> Option<u64> {
    if let Ok(fake) = std::env::var("ZKB_TEST_FREE_BYTES") {
        if let Some(n) = fake
            .split(',')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == dir)
            .and_then(|(_, v)| v.parse().ok())
        {
            return Some(n);
        }
    }
    available_bytes(&host.path(dir))
}

fn statvfs(path: &std::path::Path) -> Option<libc::statvfs> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid NUL-terminated path and `s` a writable statvfs.
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut s) };
    (rc == 0).then_some(s)
}

fn used_bytes(path: &std::path::Path) -> Option<u64> {
    let s = statvfs(path)?;
    Some(s.f_blocks.saturating_sub(s.f_bfree) * s.f_frsize)
}

fn available_bytes(path: &std::path::Path) -> Option<u64> {
    let s = statvfs(path)?;
    Some(s.f_bavail * s.f_frsize)
}

/// install.sh reads `/etc/hosts` on every run, upgrades included: the machine's hostname must be
/// listed there with its real address (not only a loopback one), and 127.0.0.1 must name
/// `localhost` first, or the installer stops before it starts.
pub fn etc_hosts(host: &Host) -> Vec<Finding> {
    let Some(name) = host
        .read("/etc/hostname")
        .or_else(|| host.read("/proc/sys/kernel/hostname"))
        .and_then(|t| t.lines().next().map(|l| l.trim().to_string()))
        .filter(|n| !n.is_empty())
    else {
        return Vec::new();
    };
    let hosts = host.read("/etc/hosts").unwrap_or_default();
    let entries: Vec<(&str, Vec<&str>)> = hosts
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            Some((f.next()?, f.collect()))
        })
        .collect();
    let short = name.split('.').next().unwrap_or(&name).to_string();
    let names_us = |names: &Vec<&str>| names.iter().any(|n| *n == name || *n == short);
    let loopback = |ip: &str| ip.starts_with("127.") || ip == "::1";
    let ours: Vec<&str> = entries
        .iter()
        .filter(|(_, n)| names_us(n))
        .map(|(ip, _)| *ip)
        .collect();
    let localhost_first = entries
        .iter()
        .find(|(ip, _)| *ip == "127.0.0.1")
        .is_none_or(|(_, n)| {
            n.first() == Some(&"localhost") || n.first().is_some_and(|f| f.starts_with("localhost"))
        });
    let problem = if ours.is_empty() {
        Some(format!("{name} is not in /etc/hosts"))
    } else if ours.iter().all(|ip| loopback(ip)) {
        Some(format!(
            "{name} is in /etc/hosts only with a loopback address ({})",
            ours.join(", ")
        ))
    } else if !localhost_first {
        Some("127.0.0.1 does not name localhost first in /etc/hosts".to_string())
    } else {
        None
    };
    let (status, severity, message) = match problem {
        None => (Status::Pass, "info", format!("{name} is in /etc/hosts with {}", ours.join(", "))),
        Some(p) => (
            Status::Fail,
            "high",
            format!("{p}: the installer stops with \"Please fix your /etc/hosts file\". As root, add `<ip> <fqdn> <short>` with the server's real address and keep `127.0.0.1 localhost.localdomain localhost` first; check with `getent hosts {name}`"),
        ),
    };
    vec![Finding {
        check: "hostname.etc-hosts",
        status,
        severity,
        subject: "/etc/hosts".into(),
        message,
        kb: if status == Status::Fail {
            vec!["dns/installer-hostname-unresolvable"]
        } else {
            vec![]
        },
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host_with(hostname: &str, hosts: &str) -> (tempfile::TempDir, Host) {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("etc")).unwrap();
        std::fs::write(d.path().join("etc/hostname"), hostname).unwrap();
        std::fs::write(d.path().join("etc/hosts"), hosts).unwrap();
        let h = Host {
            root: d.path().to_path_buf(),
            direct_commands: true,
            volume_cache: None,
            to_version: None,
            backup: None,
        };
        (d, h)
    }

    #[test]
    fn the_hostname_must_be_in_etc_hosts_with_a_real_address() {
        let ok = "127.0.0.1 localhost.localdomain localhost\n10.0.0.5 mbx1.example.com mbx1\n";
        let (_d, h) = host_with("mbx1.example.com\n", ok);
        assert_eq!(etc_hosts(&h)[0].status, Status::Pass);
        let (_d, h) = host_with(
            "mbx1.example.com\n",
            "127.0.0.1 localhost\n127.0.1.1 mbx1.example.com mbx1\n",
        );
        let f = &etc_hosts(&h)[0];
        assert_eq!(f.status, Status::Fail);
        assert!(f.message.contains("loopback"));
        let (_d, h) = host_with("mbx1.example.com\n", "127.0.0.1 localhost\n");
        assert!(etc_hosts(&h)[0].message.contains("not in /etc/hosts"));
        let (_d, h) = host_with(
            "mbx1\n",
            "127.0.0.1 mbx1 localhost\n10.0.0.5 mbx1.example.com mbx1\n",
        );
        assert!(etc_hosts(&h)[0].message.contains("localhost first"));
    }
}
