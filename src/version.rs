//! Zimbra releases: finding the release a host runs in its own logs (installer and zmsetup
//! lines, `.install_history`, the jar versions in log4j 2 stack frames) and choosing the KB fix
//! variant whose heading names a range that contains it.

use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::sync::OnceLock;

use regex::Regex;

use crate::kind::LogKind;
use crate::sources::{self, Input};

/// A release number such as 10.1.9.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(pub u32, pub u32, pub u32);

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

fn release_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?:^|[^0-9.])(\d{1,2})\.(\d{1,2})\.(\d{1,3})_(?:GA|BETA|RC)")
            .expect("valid regex")
    })
}

fn upgrade_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"Upgrading from \S+ to (\d{1,2})\.(\d{1,2})\.(\d{1,3})").expect("valid regex")
    })
}

fn version_of(c: &regex::Captures<'_>) -> Option<Version> {
    Some(Version(
        c[1].parse().ok()?,
        c[2].parse().ok()?,
        c[3].parse().ok()?,
    ))
}

/// The release a text reveals: the target of an upgrade line when there is one, else the
/// highest `X.Y.Z_GA` build string in it.
pub fn find(text: &str) -> Option<Version> {
    if let Some(v) = upgrade_re()
        .captures_iter(text)
        .filter_map(|c| version_of(&c))
        .max()
    {
        return Some(v);
    }
    release_re()
        .captures_iter(text)
        .filter_map(|c| version_of(&c))
        .max()
}

/// The release of each host, read from its installer, zmsetup and install-history files.
pub fn detect_hosts(inputs: &[Input]) -> HashMap<String, Version> {
    let mut out: HashMap<String, Version> = HashMap::new();
    for input in inputs {
        let Some(path) = &input.path else { continue };
        let is_setup = LogKind::from_path(path) == Some(LogKind::Setup);
        let Some(host) = sources::host_from_path(path) else {
            continue;
        };
        if !is_setup {
            continue;
        }
        let Ok(file) = std::fs::File::open(path) else {
            continue;
        };
        let mut text = String::new();
        let mut bytes = Vec::new();
        if file.take(8 << 20).read_to_end(&mut bytes).is_err() {
            continue;
        }
        text.push_str(&String::from_utf8_lossy(&bytes));
        if let Some(v) = find(&text) {
            let e = out.entry(host).or_insert(v);
            *e = (*e).max(v);
        }
    }
    out
}

/// The inclusive range of releases a fix-variant heading names, e.g. `Zimbra 10.1 and later`,
/// `Zimbra 8.8.15 to 10.0`, `before 10.1`. `None` when the heading names no range.
pub fn heading_range(heading: &str) -> Option<(Option<Version>, Option<Version>)> {
    static NUM: OnceLock<Regex> = OnceLock::new();
    let num = NUM
        .get_or_init(|| Regex::new(r"(\d{1,2})\.(\d{1,2})(?:\.(\d{1,3}))?").expect("valid regex"));
    let nums: Vec<(Version, bool)> = num
        .captures_iter(heading)
        .filter_map(|c| {
            let major = c[1].parse().ok()?;
            let minor = c[2].parse().ok()?;
            let patch = c.get(3).and_then(|p| p.as_str().parse().ok());
            Some((Version(major, minor, patch.unwrap_or(0)), patch.is_some()))
        })
        .collect();
    let lower = heading.to_ascii_lowercase();
    let upper_of = |(v, exact): (Version, bool)| {
        if exact {
            v
        } else {
            Version(v.0, v.1, u32::MAX)
        }
    };
    match nums.as_slice() {
        [] => None,
        [one]
            if lower.contains("and later") || lower.contains("or later") || lower.contains('+') =>
        {
            Some((Some(one.0), None))
        }
        [one] if lower.contains("before") || lower.contains("earlier than") => Some((
            None,
            Some(Version(one.0 .0, one.0 .1, one.0 .2.saturating_sub(1))),
        )),
        [one] if lower.contains("and earlier") || lower.contains("up to") => {
            Some((None, Some(upper_of(*one))))
        }
        [first, .., last]
            if lower.contains(" to ") || lower.contains('–') || lower.contains(" - ") =>
        {
            Some((Some(first.0), Some(upper_of(*last))))
        }
        _ => None,
    }
}

/// Whether `v` lies in the range of a heading.
pub fn heading_contains(heading: &str, v: Version) -> bool {
    match heading_range(heading) {
        Some((lo, hi)) => lo.is_none_or(|lo| v >= lo) && hi.is_none_or(|hi| v <= hi),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_releases() {
        assert_eq!(
            find("Sat Mar 14 23:02:17 2026 Upgrading from 10.0.13_GA_4837 to 10.1.9_GA_4200001"),
            Some(Version(10, 1, 9))
        );
        assert_eq!(
            find("\tat x(Y.java:1) ~[zimbrastore.jar:10.1.9_GA_4200001]"),
            Some(Version(10, 1, 9))
        );
        assert_eq!(
            find("1700000000: UPGRADED zimbra-core_8.8.15_GA_4177.UBUNTU20_64_amd64.deb"),
            Some(Version(8, 8, 15))
        );
        assert_eq!(find("nothing here 1.2.3"), None);
    }

    #[test]
    fn reads_heading_ranges() {
        assert!(heading_contains("Zimbra 10.1 and later", Version(10, 1, 9)));
        assert!(!heading_contains(
            "Zimbra 10.1 and later",
            Version(10, 0, 13)
        ));
        assert!(heading_contains(
            "Zimbra 8.8.15 to 10.0",
            Version(10, 0, 13)
        ));
        assert!(heading_contains("Zimbra 8.8.15 to 10.0", Version(9, 0, 0)));
        assert!(!heading_contains(
            "Zimbra 8.8.15 to 10.0",
            Version(10, 1, 0)
        ));
        assert!(!heading_contains(
            "Zimbra 8.8.15 to 10.0",
            Version(8, 8, 12)
        ));
        assert!(heading_contains("Before 10.1", Version(10, 0, 9)));
        assert!(!heading_contains("Any release", Version(10, 0, 9)));
    }
}
