//! Alerts (`zkb watch --exec CMD`): runs the admin's command once per new incident (a rule and
//! its group: the rule's `group_by` fields and the host), not once per line, with the finding's
//! JSON on its standard input. The command line is the admin's own text run by `/bin/sh -c`;
//! nothing from the logs is ever put into it or into its environment besides the rule id and
//! severity, which come from the rule files. At most `per_minute` commands start in any
//! minute; the incidents over the limit are counted and said.

use std::collections::{HashSet, VecDeque};
use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Runs the alert command for new incidents.
pub struct Alerter {
    command: String,
    per_minute: usize,
    seen: HashSet<(String, Vec<String>)>,
    started: VecDeque<Instant>,
    running: Vec<Child>,
    /// Incidents not alerted because of the rate limit, since the last report of them.
    dropped: u64,
}

impl Alerter {
    pub fn new(command: String, per_minute: usize) -> Alerter {
        Alerter {
            command,
            per_minute: per_minute.max(1),
            seen: HashSet::new(),
            started: VecDeque::new(),
            running: Vec::new(),
            dropped: 0,
        }
    }

    /// A finding of `rule` (`json`: its `--format json` line); runs the command if its
    /// incident is new. Returns what is worth saying.
    pub fn alert(
        &mut self,
        rule: &crate::rules::Rule,
        finding: &crate::scan::Finding,
        json: &[u8],
    ) -> Option<String> {
        self.finding(
            &rule.id,
            rule.severity.as_str(),
            crate::scan::group_key(rule, finding),
            json,
            Instant::now(),
        )
    }

    /// The incident of `rule` in `group` was resolved: its next finding is a new incident and
    /// alerts again.
    pub fn forget(&mut self, rule: &str, group: &[String]) {
        self.seen.remove(&(rule.to_string(), group.to_vec()));
    }

    /// A finding of `rule` in `group`; runs the command if the incident is new. Returns what
    /// is worth saying (a failure to start, incidents dropped by the limit).
    pub fn finding(
        &mut self,
        rule: &str,
        severity: &str,
        group: Vec<String>,
        json: &[u8],
        now: Instant,
    ) -> Option<String> {
        self.reap();
        if !self.seen.insert((rule.to_string(), group)) {
            return None;
        }
        while self
            .started
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60))
        {
            self.started.pop_front();
        }
        if self.started.len() >= self.per_minute {
            self.dropped += 1;
            return (self.dropped == 1).then(|| {
                format!(
                    "--exec: more than {} new incidents in a minute; further ones are not alerted until the rate drops",
                    self.per_minute
                )
            });
        }
        let note = (self.dropped > 0).then(|| {
            format!(
                "--exec: {} incident(s) were not alerted (rate limit)",
                std::mem::take(&mut self.dropped)
            )
        });
        self.started.push_back(now);
        match self.spawn(rule, severity, json) {
            Ok(child) => {
                self.running.push(child);
                note
            }
            Err(e) => Some(format!("--exec: cannot run {:?}: {e}", self.command)),
        }
    }

    fn spawn(&self, rule: &str, severity: &str, json: &[u8]) -> std::io::Result<Child> {
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            .arg(&self.command)
            .env("ZKB_RULE", rule)
            .env("ZKB_SEVERITY", severity)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()?;
        if let Some(mut stdin) = child.stdin.take() {
            // A command that does not read its input is not an error.
            let _ = stdin.write_all(json);
            let _ = stdin.write_all(b"\n");
        }
        Ok(child)
    }

    /// Collects the commands that have ended.
    fn reap(&mut self) {
        self.running
            .retain_mut(|c| !matches!(c.try_wait(), Ok(Some(_)) | Err(_)));
    }

    /// Waits (up to `limit`) for the commands still running, before zkb exits.
    pub fn finish(&mut self, limit: Duration) {
        let end = Instant::now() + limit;
        while !self.running.is_empty() && Instant::now() < end {
            self.reap();
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn once_per_incident_and_rate_limited() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("alerts");
        let mut a = Alerter::new(format!("cat >> '{}'", out.display()), 2);
        let now = Instant::now();
        let group = |g: &str| vec![g.to_string(), "mbx1".to_string()];
        assert!(a
            .finding("r", "high", group("1"), b"{\"n\":1}", now)
            .is_none());
        assert!(a
            .finding("r", "high", group("1"), b"{\"n\":2}", now)
            .is_none());
        assert!(a
            .finding("r", "high", group("2"), b"{\"n\":3}", now)
            .is_none());
        let limited = a.finding("r", "high", group("3"), b"{\"n\":4}", now);
        assert!(limited.unwrap().contains("more than 2"));
        let later = now + Duration::from_secs(61);
        let said = a.finding("r", "high", group("4"), b"{\"n\":5}", later);
        assert!(said.unwrap().contains("1 incident(s) were not alerted"));
        a.finish(Duration::from_secs(10));
        let text = std::fs::read_to_string(&out).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        lines.sort();
        assert_eq!(lines, ["{\"n\":1}", "{\"n\":3}", "{\"n\":5}"]);
    }

    #[test]
    fn log_text_never_reaches_the_command_line() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("alerts");
        let mut a = Alerter::new(format!("cat > '{}'", out.display()), 10);
        let hostile = br#"{"text":"$(touch /tmp/zkb-pwned) `id` ; rm -rf x"}"#;
        a.finding("r", "high", vec![], hostile, Instant::now());
        a.finish(Duration::from_secs(10));
        assert_eq!(std::fs::read(&out).unwrap(), [&hostile[..], b"\n"].concat());
        assert!(!std::path::Path::new("/tmp/zkb-pwned").exists());
    }
}
