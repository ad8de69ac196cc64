//! Maintenance windows: the times a server of the site is down on purpose. A window opens
//! and closes by hand (`zkb maint start|stop`), around an installer run through `zkb run`, or
//! from what the logs say: rules marked `maintenance: start|end` (zmcontrol's own `Stopping
//! services initiated by zmcontrol` and `Starting services initiated by zmcontrol`, zmsetup's
//! `Upgrading from` and its `Upgrade complete.`). While a window is open, and for
//! [`GRACE_MS`] after it closes (services take minutes to come up), the findings of rules marked
//! `expected_during: [maintenance]` on that server, or that name it (the MTA's LMTP deliveries
//! refused by `mbx1.example.com`, the proxy's failed upstream), become findings of the rule
//! [`EXPECTED_RULE`], grouped by the server that is down: one info group, no alert.

use std::collections::{BTreeSet, HashMap};

use crate::rules::{Expected, Rule, WindowMark};
use crate::scan::Finding;

/// The rule whose findings are the expected lines of a window (`rules/maint.yaml`).
pub const EXPECTED_RULE: &str = "maint.expected";

/// How long after a window closes its consequences are still expected.
pub const GRACE_MS: i64 = 5 * 60 * 1000;

/// Where a window applies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every server (`zkb maint start` without `--host`).
    Site,
    /// One server, by its name as the logs give it (`mbx1` or `mbx1.example.com`).
    Host(String),
}

impl Scope {
    pub fn host(&self) -> Option<&str> {
        match self {
            Scope::Site => None,
            Scope::Host(h) => Some(h),
        }
    }

    pub fn from_host(host: Option<String>) -> Scope {
        host.map_or(Scope::Site, Scope::Host)
    }

    /// How the window is named where its lines are grouped: `mbx1`, or `site`.
    pub fn label(&self) -> &str {
        self.host().unwrap_or("site")
    }
}

/// One window.
#[derive(Clone, Debug, PartialEq)]
pub struct Window {
    pub scope: Scope,
    pub start_ms: i64,
    /// `None` while it is open.
    pub end_ms: Option<i64>,
    pub reason: String,
    /// `manual`, `zkb run`, or the rule that opened it.
    pub source: String,
    /// Its row in the store, when it is stored.
    pub id: Option<i64>,
}

impl Window {
    /// Whether a line at `t` (ms) falls in the window or its grace time. Log times have whole
    /// seconds, so a line of the second in which a window opened counts.
    pub fn covers_time(&self, t: i64) -> bool {
        t >= self.start_ms - self.start_ms.rem_euclid(1000)
            && self.end_ms.is_none_or(|end| t <= end + GRACE_MS)
    }
}

/// The IP address a value names: `10.0.0.21`, `10.0.0.21:7993`, `https://10.0.0.21:8443/x`.
fn ip_in(value: &str) -> Option<std::net::IpAddr> {
    let rest = value.split_once("://").map_or(value, |(_, r)| r);
    let host = rest.split(['/', ' ']).next().unwrap_or("");
    host.parse()
        .ok()
        .or_else(|| host.rsplit_once(':').and_then(|(h, _)| h.parse().ok()))
}

/// A server's name as compared: an IP address whole, else the first DNS label, lower-cased
/// (`MBX1.example.com` and `mbx1` are one server).
fn short_name(name: &str) -> String {
    if let Some(ip) = ip_in(name) {
        return ip.to_string();
    }
    name.split(['.', ':', '['])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase()
}

fn same_server(a: &str, b: &str) -> bool {
    let a = short_name(a);
    !a.is_empty() && a == short_name(b)
}

/// A finding's time in ms, else `now`.
fn time_of(f: &Finding, now_ms: i64) -> i64 {
    f.parsed
        .ts
        .as_ref()
        .map_or(now_ms, |z| z.timestamp().as_millisecond())
}

/// A change to the windows that the store should keep.
#[derive(Debug, PartialEq)]
pub enum Change {
    Opened(Window),
    Closed(Scope, i64),
}

/// The windows a watch knows: those it inferred from the lines it read, and those of the
/// store (opened by hand or by `zkb run`), refreshed by the caller.
#[derive(Default)]
pub struct Windows {
    inferred: Vec<Window>,
    stored: Vec<Window>,
    /// The name of this machine, for the lines of local files (no host of their own).
    local: String,
    /// Addresses of servers by name, learned from lines that give both (Postfix's
    /// `connect to mbx1.example.com[10.0.0.5]:7025`), so that a proxy line naming only
    /// `10.0.0.5:8443` is known to concern mbx1.
    addresses: HashMap<String, BTreeSet<std::net::IpAddr>>,
}

impl Windows {
    pub fn new(local: String) -> Windows {
        Windows {
            local,
            ..Windows::default()
        }
    }

    /// Replaces the windows read from the store.
    pub fn set_stored(&mut self, windows: Vec<Window>) {
        self.stored = windows;
    }

    /// Every window known, inferred ones first.
    pub fn all(&self) -> impl Iterator<Item = &Window> {
        self.inferred.iter().chain(&self.stored)
    }

    /// Opens or closes a window on the line of a rule marked `maintenance:`.
    fn mark(&mut self, rule: &Rule, f: &Finding, now_ms: i64) -> Option<Change> {
        let mark = rule.maintenance?;
        let scope = Scope::Host(f.host.clone().unwrap_or_else(|| self.local.clone()));
        let t = time_of(f, now_ms);
        match mark {
            WindowMark::Start => {
                if self
                    .inferred
                    .iter()
                    .any(|w| w.scope == scope && w.end_ms.is_none())
                {
                    return None;
                }
                let w = Window {
                    scope,
                    start_ms: t,
                    end_ms: None,
                    reason: rule.title.clone(),
                    source: rule.id.clone(),
                    id: None,
                };
                self.inferred.push(w.clone());
                Some(Change::Opened(w))
            }
            WindowMark::End => {
                let mut closed = false;
                for w in self
                    .inferred
                    .iter_mut()
                    .filter(|w| w.scope == scope && w.end_ms.is_none())
                {
                    w.end_ms = Some(t);
                    closed = true;
                }
                // Forget windows long past, so a watch that runs for months stays small.
                self.inferred
                    .retain(|w| w.end_ms.is_none_or(|e| e + GRACE_MS + 86_400_000 > t));
                closed.then_some(Change::Closed(scope, t))
            }
        }
    }

    /// Remembers the address of a server that a finding names with it (`host` and `ip`).
    fn learn_address(&mut self, f: &Finding) {
        let field = |k: &str| {
            f.fields
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
        };
        if let (Some(host), Some(ip)) = (field("host"), field("ip").and_then(ip_in)) {
            if ip_in(host).is_none() {
                let known = self.addresses.entry(short_name(host)).or_default();
                if known.len() < 8 {
                    known.insert(ip);
                }
            }
        }
    }

    /// Whether the finding is on the window's server, or names it (by name, or by an address
    /// learned for it) in one of its fields.
    fn concerns(&self, scope: &Scope, f: &Finding) -> bool {
        let Scope::Host(h) = scope else { return true };
        if same_server(h, f.host.as_deref().unwrap_or(&self.local)) {
            return true;
        }
        let ips = self.addresses.get(&short_name(h));
        f.fields.iter().any(|(_, v)| {
            same_server(h, v) || ip_in(v).is_some_and(|ip| ips.is_some_and(|s| s.contains(&ip)))
        })
    }

    /// The window a finding of `rule` is expected in, if any.
    pub fn covering(&self, rule: &Rule, f: &Finding, now_ms: i64) -> Option<&Window> {
        if !rule.expected_during.contains(&Expected::Maintenance) {
            return None;
        }
        let t = time_of(f, now_ms);
        self.all()
            .find(|w| w.covers_time(t) && self.concerns(&w.scope, f))
    }

    /// Opens and closes windows on the findings' lines, and turns every expected finding into
    /// one of [`EXPECTED_RULE`] grouped by the server that is down (the original rule in its
    /// `rule` field). The changes the store should keep.
    pub fn apply(&mut self, rules: &[Rule], findings: &mut [Finding], now_ms: i64) -> Vec<Change> {
        let mut changes = Vec::new();
        let expected = rules.iter().position(|r| r.id == EXPECTED_RULE);
        for f in findings.iter_mut() {
            let Some(r) = f.rule else { continue };
            let rule = &rules[r];
            self.learn_address(f);
            if rule.maintenance.is_some() {
                changes.extend(self.mark(rule, f, now_ms));
                continue;
            }
            let (Some(e), Some(w)) = (expected, self.covering(rule, f, now_ms)) else {
                continue;
            };
            let seen_on = f.host.clone().unwrap_or_else(|| self.local.clone());
            f.fields = vec![
                ("down".into(), w.scope.label().to_string()),
                ("rule".into(), rule.id.clone()),
                ("seen_on".into(), seen_on),
            ];
            // One group for the server that is down, whichever server's log said it.
            if let Scope::Host(h) = &w.scope {
                f.host = Some(h.clone());
                f.parsed.host = Some(h.clone());
            }
            f.rule = Some(e);
        }
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_server_under_its_short_and_long_names() {
        assert!(same_server("mbx1", "MBX1.example.com"));
        assert!(same_server("mbx1.example.com", "mbx1"));
        assert!(!same_server("mbx1", "mbx10"));
        assert!(!same_server("", ""));
        assert!(
            !same_server("10.0.0.5", "10.0.0.21"),
            "addresses are compared whole"
        );
        assert!(same_server("10.0.0.5", "https://10.0.0.5:8443/service"));
    }

    #[test]
    fn addresses_in_values() {
        let ip = |s: &str| ip_in(s).map(|i| i.to_string());
        assert_eq!(ip("10.0.0.21:7993").as_deref(), Some("10.0.0.21"));
        assert_eq!(
            ip("https://10.0.0.21:8443/service/soap").as_deref(),
            Some("10.0.0.21")
        );
        assert_eq!(ip("10.0.0.21").as_deref(), Some("10.0.0.21"));
        assert_eq!(ip("mbx1.example.com:7025"), None);
    }

    #[test]
    fn a_window_covers_its_grace_time_and_no_more() {
        let w = Window {
            scope: Scope::Host("mbx1".into()),
            start_ms: 1_000,
            end_ms: Some(2_000),
            reason: String::new(),
            source: "manual".into(),
            id: None,
        };
        assert!(!w.covers_time(999));
        assert!(Window {
            start_ms: 1_500,
            ..w.clone()
        }
        .covers_time(1_000));
        assert!(w.covers_time(2_000 + GRACE_MS));
        assert!(!w.covers_time(2_001 + GRACE_MS));
        let open = Window { end_ms: None, ..w };
        assert!(open.covers_time(i64::MAX));
    }
}
