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
    vec![Finding {
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
    }]
}

/// Free space margins zkb asks for (its own margins, not the installer's figures).
const SPACE: [(&str, u64); 2] = [("/tmp", 1 << 30), ("/opt/zimbra", 5 << 30)];

pub fn free_space(host: &Host) -> Vec<Finding> {
    SPACE
        .iter()
        .filter_map(|&(dir, want)| {
            let path = host.path(dir);
            let free = available_bytes(&path)?;
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
                    format!("{:.1} GiB free, under the {:.0} GiB zkb asks for before an upgrade (packages unpack and logs grow there); free space first", gib(free), gib(want))
                },
                kb: if ok { vec![] } else { vec!["disk/no-space-left"] },
            })
        })
        .collect()
}

fn available_bytes(path: &std::path::Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid NUL-terminated path and `s` a writable statvfs.
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut s) };
    (rc == 0).then(|| s.f_bavail as u64 * s.f_frsize as u64)
}
