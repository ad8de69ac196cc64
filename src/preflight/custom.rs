//! Customisations that an upgrade overwrites: the upgrade keeps what LDAP and localconfig hold
//! and replaces every file a package ships. Templates (`*.in` under `/opt/zimbra/conf`, its
//! nginx templates and `jetty_base/etc`) changed after the last install session completed
//! (`/opt/zimbra/.install_history`) are hand edits; Zimlets that are not Zimbra's own come back
//! disabled. Each is listed with the command that saves a copy. (Postfix settings that still
//! name `hash:` tables are a data check: `checks/upgrade.yaml`.)

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{Finding, Host, Status};

/// Where the templates an admin edits live.
const TEMPLATE_DIRS: &[&str] = &[
    "/opt/zimbra/conf",
    "/opt/zimbra/conf/nginx/templates",
    "/opt/zimbra/jetty_base/etc",
];

/// When the last install (or upgrade) session completed, from `.install_history`.
fn last_install(host: &Host) -> Option<SystemTime> {
    let history = host.read("/opt/zimbra/.install_history")?;
    let secs = history
        .lines()
        .filter(|l| l.contains("INSTALL SESSION COMPLETE"))
        .filter_map(|l| l.split(':').next()?.trim().parse::<u64>().ok())
        .max()?;
    Some(UNIX_EPOCH + Duration::from_secs(secs))
}

/// Template files changed more than an hour after `since` (zmsetup itself writes some while
/// it finishes), as host paths.
fn changed_templates(host: &Host, since: SystemTime) -> Vec<String> {
    let after = since + Duration::from_secs(3600);
    let mut out = Vec::new();
    for dir in TEMPLATE_DIRS {
        let Ok(entries) = std::fs::read_dir(host.path(dir)) else {
            continue;
        };
        let mut found: Vec<String> = entries
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".in"))
            .filter(|e| {
                e.metadata()
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| t > after)
            })
            .map(|e| format!("{dir}/{}", e.file_name().to_string_lossy()))
            .collect();
        found.sort();
        out.extend(found);
    }
    out
}

/// Deployed Zimlets that are not Zimbra's own (`com_zimbra_*`, `com_zextras_*`).
fn third_party_zimlets(host: &Host) -> Vec<String> {
    let dir = "/opt/zimbra/zimlets-deployed";
    let Ok(entries) = std::fs::read_dir(host.path(dir)) else {
        return Vec::new();
    };
    let mut out: Vec<String> = entries
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("com_zimbra_") && !n.starts_with("com_zextras_") && n != "_dev")
        .map(|n| format!("{dir}/{n}"))
        .collect();
    out.sort();
    out
}

/// The command that saves the files (as root).
fn backup_command(files: &[String]) -> String {
    format!(
        "as root: tar czf /root/zimbra-custom-$(date +%F).tgz {}",
        files.join(" ")
    )
}

pub fn check(host: &Host) -> Vec<Finding> {
    if !host.path("/opt/zimbra").is_dir() {
        return Vec::new();
    }
    let mut files = last_install(host)
        .map(|t| changed_templates(host, t))
        .unwrap_or_default();
    let zimlets = third_party_zimlets(host);
    files.extend(zimlets.iter().cloned());
    let out = vec![if files.is_empty() {
        Finding {
            check: "custom.overwritten-by-upgrade",
            status: Status::Pass,
            severity: "info",
            subject: "customisations".into(),
            message: "no template changed since the last install, no third-party Zimlet".into(),
            kb: vec!["upgrade/custom-config-overwritten"],
        }
    } else {
        Finding {
            check: "custom.overwritten-by-upgrade",
            status: Status::Warn,
            severity: "medium",
            subject: files.join(", "),
            message: format!(
                "the upgrade replaces these templates and brings these Zimlets back disabled; save them first ({}), re-apply after",
                backup_command(&files)
            ),
            kb: vec!["upgrade/custom-config-overwritten"],
        }
    }];
    out
}
