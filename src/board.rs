//! The upgrade board: where each server of the site stands in the upgrade, read from what
//! Zimbra writes. zmsetup's log (`Upgrading from X to Y`, `Schema upgrade required from version
//! N to M`, one `Running .../migrate...` line per schema step, `Upgrade complete.` or `UPGRADE
//! FAILED - exiting.`) and `/opt/zimbra/.install_history` (a `SESSION START` without its
//! `COMPLETE` is an interrupted run). Findings of the site as a whole: a mailstore, MTA or proxy
//! whose upgrade began before every LDAP server had finished (the documented order is LDAP
//! master(s) first), and servers left on different versions.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use jiff::civil::DateTime;
use serde::Serialize;

/// Where one server stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    NotStarted,
    Running,
    Done,
    Failed,
    Interrupted,
}

/// How a state is written on the board.
pub fn state_label(s: State) -> &'static str {
    match s {
        State::NotStarted => "not started",
        State::Running => "RUNNING",
        State::Done => "done",
        State::Failed => "FAILED",
        State::Interrupted => "INTERRUPTED",
    }
}

/// One server on the board.
#[derive(Clone, Debug, Serialize)]
pub struct HostStatus {
    pub host: String,
    /// `ldap`, `mailstore`, `mta`, `proxy`, or `unknown`, from what its logs show.
    pub role: String,
    pub state: State,
    pub from_version: Option<String>,
    pub to_version: Option<String>,
    /// The last step zmsetup announced (its last line of its own).
    pub step: Option<String>,
    /// Schema steps done and to do, when the mailstore's schema is being upgraded.
    pub schema_step: Option<(u32, u32)>,
    pub started: Option<String>,
    pub last_line_at: Option<String>,
    /// Minutes from the start to the last line.
    pub elapsed_min: Option<i64>,
    pub last_line: Option<String>,
    pub log: Option<String>,
    /// The problems the host's own logs show (most severe first), each with the first step of
    /// its KB fix for the release this host is at (see [`fix_version`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<HostProblem>,
    #[serde(skip)]
    started_at: Option<DateTime>,
    #[serde(skip)]
    ended_at: Option<DateTime>,
}

/// One rule's findings on one host.
#[derive(Clone, Debug, Serialize)]
pub struct HostProblem {
    pub rule: String,
    pub title: String,
    pub severity: String,
    pub count: u64,
    pub kb: Option<String>,
    /// The fix variant chosen for the host's release (its heading), when the entry has variants.
    pub fix_for: Option<String>,
    pub fix: Option<String>,
}

/// A finding about the site as a whole.
#[derive(Clone, Debug, Serialize)]
pub struct SiteFinding {
    pub id: &'static str,
    pub severity: &'static str,
    pub message: String,
    pub kb: Vec<&'static str>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Board {
    pub hosts: Vec<HostStatus>,
    pub findings: Vec<SiteFinding>,
}

/// Reads the board from per-host folders under `root` (`<root>/<host>/zmsetup.*.log`,
/// `.install_history`, and the other logs for the role), or from one host's own files.
pub fn read(root: &Path) -> Board {
    let mut hosts: Vec<HostStatus> = host_dirs(root).iter().map(|d| host_status(d)).collect();
    hosts.sort_by(|a, b| a.host.cmp(&b.host));
    let findings = site_findings(&hosts);
    Board { hosts, findings }
}

/// The release a host's KB fixes are chosen for: the one it is being upgraded to once its
/// upgrade began, else the one it runs.
pub fn fix_version(h: &HostStatus) -> Option<crate::version::Version> {
    let v = match h.state {
        State::NotStarted => h.from_version.as_deref(),
        _ => h.to_version.as_deref().or(h.from_version.as_deref()),
    };
    v.and_then(crate::version::find)
}

/// Adds one finding of `rule` to the host it belongs to (matched by name).
pub fn add_problem(board: &mut Board, host: &str, rule: &crate::rules::Rule) {
    let Some(h) = board.hosts.iter_mut().find(|h| h.host == host) else {
        return;
    };
    if let Some(p) = h.problems.iter_mut().find(|p| p.rule == rule.id) {
        p.count += 1;
        return;
    }
    h.problems.push(HostProblem {
        rule: rule.id.clone(),
        title: rule.title.clone(),
        severity: rule.severity.as_str().to_string(),
        count: 1,
        kb: rule.kb.first().cloned(),
        fix_for: None,
        fix: None,
    });
}

/// Sorts each host's problems (most severe, then most frequent, first) and fills in their
/// fixes from the KB, each as the variant for that host's release.
pub fn finish_problems(board: &mut Board, kb: &crate::kb::Kb) {
    for h in &mut board.hosts {
        let version = fix_version(h);
        for p in &mut h.problems {
            let Some(entry) = p.kb.as_deref().and_then(|id| kb.get(id)) else {
                continue;
            };
            let variants = entry.fix_variants_for(version);
            let named: Vec<&str> = variants
                .iter()
                .filter_map(|v| v.heading.as_deref())
                .collect();
            if let [one] = named.as_slice() {
                p.fix_for = Some(one.to_string());
            }
            p.fix = entry.first_fix_step_for(version);
        }
        h.problems.sort_by(|a, b| {
            let rank = |p: &HostProblem| crate::rules::Severity::parse(&p.severity);
            rank(b)
                .cmp(&rank(a))
                .then(b.count.cmp(&a.count))
                .then(a.rule.cmp(&b.rule))
        });
    }
}

fn host_dirs(root: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// The zmsetup log of a host: the newest `zmsetup.*.log` in its folder.
fn zmsetup_log(dir: &Path) -> Option<PathBuf> {
    let mut logs: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("zmsetup") && n.ends_with(".log"))
        })
        .collect();
    logs.sort();
    logs.pop()
}

fn host_status(dir: &Path) -> HostStatus {
    let host = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut s = HostStatus {
        host,
        role: role_of(dir),
        state: State::NotStarted,
        from_version: None,
        to_version: None,
        step: None,
        schema_step: None,
        started: None,
        last_line_at: None,
        elapsed_min: None,
        last_line: None,
        log: None,
        problems: Vec::new(),
        started_at: None,
        ended_at: None,
    };
    // zmsetup's own log, else the installer's console as `zkb run` (or `script`) captured it,
    // which prints the same lines without their time stamps.
    let console = dir.join("install-console.log");
    let log = zmsetup_log(dir)
        .map(|p| (p, false))
        .or_else(|| console.exists().then_some((console, true)));
    if let Some((log, console)) = log {
        if let Ok(text) = std::fs::read_to_string(&log) {
            read_zmsetup(&text, console, &mut s);
            s.log = Some(log.display().to_string());
        }
    }
    if let Ok(history) = std::fs::read_to_string(dir.join(".install_history")) {
        if interrupted(&history) && s.state != State::Done {
            s.state = State::Interrupted;
        }
    }
    s
}

/// What the host's files say it runs.
fn role_of(dir: &Path) -> String {
    let has = |name: &str| dir.join(name).exists();
    let zmsetup = zmsetup_log(dir)
        .and_then(|p| std::fs::read_to_string(p).ok())
        .unwrap_or_default();
    let role = if zmsetup.contains("Stopping ldap")
        || zmsetup.contains("Updating global config and COS")
    {
        "ldap"
    } else if has("mailbox.log") || zmsetup.contains("Schema upgrade required") {
        "mailstore"
    } else if has("nginx.log") {
        "proxy"
    } else if std::fs::read_to_string(dir.join("zimbra.log")).is_ok_and(|t| t.contains("postfix/"))
    {
        "mta"
    } else {
        "unknown"
    };
    role.to_string()
}

/// `Www Mmm dd HH:MM:SS YYYY text`: zmsetup's own lines.
fn own_line(line: &str) -> Option<(DateTime, &str)> {
    let stamp = line.get(..24)?;
    let t = DateTime::strptime("%a %b %e %H:%M:%S %Y", stamp).ok()?;
    Some((t, line.get(25..).unwrap_or("").trim()))
}

/// Reads zmsetup's lines: its own (time-stamped) ones, or with `console` every line.
fn read_zmsetup(text: &str, console: bool, s: &mut HostStatus) {
    let mut schema_total = None;
    let mut schema_done = 0;
    for line in text.lines() {
        let (t, msg) = match own_line(line) {
            Some((t, msg)) => (Some(t), msg),
            None if console && !line.trim().is_empty() => (None, line.trim()),
            None => continue,
        };
        if t.is_some() {
            s.ended_at = t;
        }
        s.last_line = Some(msg.to_string());
        if let Some(rest) = msg.strip_prefix("Upgrading from ") {
            let mut parts = rest.split(" to ");
            s.from_version = parts.next().map(str::to_string);
            s.to_version = parts.next().map(|v| v.trim().to_string());
            s.started_at = t;
            s.state = State::Running;
        }
        if let Some(rest) = msg.strip_prefix("Schema upgrade required from version ") {
            let nums: Vec<u32> = rest
                .trim_end_matches('.')
                .split(" to ")
                .filter_map(|n| n.trim().parse().ok())
                .collect();
            if let [a, b] = nums[..] {
                schema_total = Some(b.saturating_sub(a));
            }
        }
        if msg.starts_with("Running /opt/zimbra/libexec/scripts/") {
            schema_done += 1;
        }
        if msg.starts_with("Upgrade complete.") && s.state == State::Running {
            s.state = State::Done;
        } else if msg.contains("UPGRADE FAILED") {
            s.state = State::Failed;
        }
        if !msg.is_empty() && msg != "done." && !msg.starts_with("***") {
            s.step = Some(msg.to_string());
        }
    }
    s.schema_step = schema_total.map(|m| (schema_done.min(m.max(schema_done)), m.max(1)));
    let fmt = |t: DateTime| t.strftime("%Y-%m-%d %H:%M:%S").to_string();
    s.started = s.started_at.map(fmt);
    s.last_line_at = s.ended_at.map(fmt);
    if let (Some(a), Some(b)) = (s.started_at, s.ended_at) {
        s.elapsed_min = b.duration_since(a).as_secs().checked_div(60);
    }
}

/// A `SESSION START` with no `SESSION COMPLETE` after it.
fn interrupted(history: &str) -> bool {
    let mut open = false;
    for line in history.lines() {
        if line.contains("SESSION START") {
            open = true;
        } else if line.contains("SESSION COMPLETE") {
            open = false;
        }
    }
    open
}

fn site_findings(hosts: &[HostStatus]) -> Vec<SiteFinding> {
    let mut out = Vec::new();
    let ldap: Vec<&HostStatus> = hosts.iter().filter(|h| h.role == "ldap").collect();
    let ldap_done = ldap
        .iter()
        .map(|h| (h.state == State::Done).then_some(h.ended_at).flatten())
        .collect::<Option<Vec<DateTime>>>()
        .map(|ends| ends.into_iter().max());
    for h in hosts
        .iter()
        .filter(|h| h.role != "ldap" && h.started_at.is_some())
    {
        let before_ldap = match &ldap_done {
            Some(Some(done)) => h.started_at.is_some_and(|s| s < *done),
            Some(None) => false,
            None => !ldap.is_empty(),
        };
        if before_ldap {
            out.push(SiteFinding {
                id: "upgrade.order-ldap-first",
                severity: "high",
                message: format!(
                    "{} ({}) began its upgrade before every LDAP server had finished: upgrade the LDAP master(s) first, then replicas, then mailstores, MTAs and proxies",
                    h.host, h.role
                ),
                kb: vec!["upgrade/multi-server-order"],
            });
        }
    }
    let mut versions: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for h in hosts {
        let v = match h.state {
            State::Done => h.to_version.clone(),
            _ => h.from_version.clone(),
        };
        if let Some(v) = v {
            versions.entry(v).or_default().push(&h.host);
        }
    }
    if versions.len() > 1 {
        let list: Vec<String> = versions
            .iter()
            .map(|(v, hs)| format!("{v}: {}", hs.join(", ")))
            .collect();
        out.push(SiteFinding {
            id: "upgrade.mixed-versions",
            severity: "medium",
            message: format!(
                "the site runs more than one version ({}); finish the upgrade on every server",
                list.join("; ")
            ),
            kb: vec![],
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interrupted_sessions_and_own_lines() {
        assert!(interrupted(
            "1700000000: INSTALL SESSION START\n1700000100: UPGRADED zimbra-core\n"
        ));
        assert!(!interrupted(
            "1: CONFIG SESSION START\n2: CONFIG SESSION COMPLETE\n"
        ));
        let (t, msg) = own_line(
            "Sat Mar 14 23:02:22 2026 Upgrading from 10.0.13_GA_4837 to 10.1.9_GA_4200001",
        )
        .unwrap();
        assert_eq!(t.to_string(), "2026-03-14T23:02:22");
        assert!(msg.starts_with("Upgrading from"));
        assert!(
            own_line("Sun Mar  1 10:15:02 2026 x").is_some(),
            "space-padded day"
        );
    }
}
