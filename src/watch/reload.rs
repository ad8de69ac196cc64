//! Reloading the rules of a running watch: on SIGHUP, and when a rule file of the extra
//! directories changes (the `--rules` ones and the user's `~/.config/zkb/rules`, which may be
//! created meanwhile). Changes are found by polling a [`Fingerprint`] of those files about once
//! a second, which costs a few `stat` calls. A reload reads the whole set again; when one of its
//! files does not load, the rules in force stay and the error names the file and the line.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use crate::error::Error;
use crate::matcher::Matcher;
use crate::rules::{RuleSources, Tests};

/// How often the rule files are looked at.
pub const CHECK_EVERY: Duration = Duration::from_secs(1);

/// The extensions of rule files (as [`crate::rules::RuleSet::add_dir`] reads them).
const RULE_EXTENSIONS: &[&str] = &["yaml", "yml"];

/// What a rule file looked like when last seen: a change to any part is an edit.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

/// The rule files under some paths and their [`Stamp`]s, sorted by path; a directory counts
/// too (with an empty stamp), so one that is created is a change even before it has files.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fingerprint(Vec<(PathBuf, Option<Stamp>)>);

impl Fingerprint {
    /// Looks at every path (a directory, read recursively, or a file); those that do not exist
    /// or cannot be read are left out.
    pub fn of<'p>(paths: impl IntoIterator<Item = &'p Path>) -> Fingerprint {
        let mut files = Vec::new();
        for path in paths {
            visit(path, true, &mut files);
        }
        files.sort_by(|a, b| a.0.cmp(&b.0));
        Fingerprint(files)
    }
}

/// Adds `path` to `out`: a file when it is named itself (`named`) or has a rule extension, a
/// directory with everything under it.
fn visit(path: &Path, named: bool, out: &mut Vec<(PathBuf, Option<Stamp>)>) {
    let Ok(meta) = std::fs::metadata(path) else {
        return;
    };
    if meta.is_dir() {
        out.push((path.to_path_buf(), None));
        let Ok(entries) = std::fs::read_dir(path) else {
            return;
        };
        for entry in entries.flatten() {
            visit(&entry.path(), false, out);
        }
    } else if named || is_rule_file(path) {
        let stamp = Stamp {
            len: meta.len(),
            modified: meta.modified().ok(),
            inode: meta.ino(),
        };
        out.push((path.to_path_buf(), Some(stamp)));
    }
}

fn is_rule_file(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| RULE_EXTENSIONS.contains(&e))
}

/// A rule set read again, ready to replace the one in force.
pub struct Reloaded {
    pub matcher: Matcher,
    /// Rules read from each extra directory (or file) that was read.
    pub from: Vec<(PathBuf, usize)>,
    /// Ids defined more than once, with where (the first one is used).
    pub duplicates: Vec<(String, Vec<String>)>,
}

impl Reloaded {
    /// `rules reloaded: 143 rules (2 from /etc/zkb-rules, 1 from ~/.config/zkb/rules)`.
    pub fn summary(&self) -> String {
        let from: Vec<String> = self
            .from
            .iter()
            .map(|(path, n)| format!("{n} from {}", path.display()))
            .collect();
        let from = if from.is_empty() {
            String::new()
        } else {
            format!(" ({})", from.join(", "))
        };
        format!("rules reloaded: {} rules{from}", self.matcher.rules.len())
    }
}

/// Decides when the rules of a watch are read again, and reads them.
pub struct Reloader {
    sources: RuleSources,
    /// Set by SIGHUP ([`super::reload_on_hangup`]).
    hangup: Option<&'static AtomicBool>,
    seen: Fingerprint,
    next_check: Instant,
}

impl Reloader {
    /// Takes the first fingerprint: make it before the rules are first loaded, so that an edit
    /// made while they load is not missed.
    pub fn new(sources: RuleSources, hangup: Option<&'static AtomicBool>) -> Reloader {
        Reloader {
            seen: Fingerprint::of(sources.paths()),
            sources,
            hangup,
            next_check: Instant::now() + CHECK_EVERY,
        }
    }

    /// Whether a SIGHUP is waiting (a poll wakes early for it).
    pub fn asked(&self) -> bool {
        self.hangup.is_some_and(|h| h.load(Ordering::Relaxed))
    }

    /// Whether to reload now: a SIGHUP came, or (looked at once every [`CHECK_EVERY`]) a rule
    /// file changed, appeared or went away since the last look.
    pub fn due(&mut self, now: Instant) -> bool {
        let asked = self
            .hangup
            .is_some_and(|h| h.swap(false, Ordering::Relaxed));
        if !asked && now < self.next_check {
            return false;
        }
        self.next_check = now + CHECK_EVERY;
        let current = Fingerprint::of(self.sources.paths());
        let changed = current != self.seen;
        // What is about to be loaded: a later edit differs from it and is loaded in turn, and
        // a file that does not load is not tried again until it changes (or SIGHUP).
        self.seen = current;
        asked || changed
    }

    /// Reads the whole rule set again. Any error (a file that does not parse, a rule that does
    /// not compile, a directory that cannot be read) keeps the rules in force:
    /// [`Error::RulesNotReloaded`] lists them all.
    pub fn reload(&self) -> Result<Reloaded, Error> {
        let (mut set, from) = self.sources.load_counted(Tests::Skip);
        if !set.errors.is_empty() {
            return Err(Error::RulesNotReloaded(set.errors));
        }
        let duplicates = set.duplicates();
        set.dedup();
        Ok(Reloaded {
            matcher: Matcher::new(set.rules),
            from,
            duplicates,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: &str = "- id: test.probe\n  title: A probe\n  severity: high\n  match:\n    contains: 'reload probe'\n";

    fn sources(extra: &Path, optional: &Path) -> RuleSources {
        RuleSources {
            no_default: true,
            extra: vec![extra.to_path_buf()],
            optional: vec![optional.to_path_buf()],
        }
    }

    #[test]
    fn edits_new_files_and_a_created_directory_change_the_fingerprint() {
        let tmp = tempfile::tempdir().unwrap();
        let (extra, user) = (tmp.path().join("extra"), tmp.path().join("user"));
        std::fs::create_dir(&extra).unwrap();
        let paths = [extra.as_path(), user.as_path()];
        let empty = Fingerprint::of(paths);
        std::fs::write(extra.join("notes.txt"), "not a rule").unwrap();
        assert_eq!(Fingerprint::of(paths), empty, "other files do not count");
        std::fs::write(extra.join("a.yaml"), RULE).unwrap();
        let one = Fingerprint::of(paths);
        assert_ne!(one, empty, "a new rule file");
        std::fs::write(extra.join("a.yaml"), RULE.replace("high", "low")).unwrap();
        let edited = Fingerprint::of(paths);
        assert_ne!(edited, one, "an edit");
        std::fs::create_dir(&user).unwrap();
        assert_ne!(Fingerprint::of(paths), edited, "the user dir created");
    }

    #[test]
    fn a_reload_counts_the_rules_of_each_directory_and_keeps_nothing_broken() {
        let tmp = tempfile::tempdir().unwrap();
        let (extra, user) = (tmp.path().join("extra"), tmp.path().join("user"));
        std::fs::create_dir(&extra).unwrap();
        std::fs::write(extra.join("a.yaml"), RULE).unwrap();
        let mut reloader = Reloader::new(sources(&extra, &user), None);
        let start = Instant::now();
        assert!(
            !reloader.due(start),
            "nothing changed, and not yet time to look"
        );
        let reloaded = reloader.reload().unwrap();
        assert_eq!(reloaded.matcher.rules.len(), 1);
        assert_eq!(
            reloaded.summary(),
            format!("rules reloaded: 1 rules (1 from {})", extra.display())
        );

        std::fs::create_dir(&user).unwrap();
        std::fs::write(user.join("b.yml"), RULE.replace("test.probe", "test.other")).unwrap();
        assert!(
            reloader.due(start + CHECK_EVERY),
            "a new directory with a rule"
        );
        assert!(!reloader.due(start + 2 * CHECK_EVERY), "seen already");
        assert_eq!(reloader.reload().unwrap().matcher.rules.len(), 2);

        let broken = user.join("b.yml");
        std::fs::write(&broken, "- id: test.other\n  title: [unclosed\n").unwrap();
        assert!(reloader.due(start + 3 * CHECK_EVERY));
        let Err(e) = reloader.reload() else {
            panic!("a broken file is not loaded")
        };
        let message = e.to_string();
        assert!(
            message.contains("previous rules stay in force")
                && message.contains(&format!("{}:", broken.display())),
            "{message}"
        );
    }

    #[test]
    fn threshold_counts_and_context_go_over_to_the_new_rules_by_id() {
        use crate::rules::RuleSet;
        use crate::scan::{EventMatcher, ScanOptions};
        let thresholded = "- id: test.counted\n  title: Counted\n  severity: high\n  match:\n    contains: 'counted probe'\n  threshold: {count: 2, window: 1h}\n";
        let rules = |texts: &[&str]| {
            let mut set = RuleSet::default();
            for (i, t) in texts.iter().enumerate() {
                set.add_text(&format!("r{i}.yaml"), t);
            }
            assert!(set.errors.is_empty(), "{:?}", set.errors);
            Matcher::new(set.rules)
        };
        let old = rules(&[thresholded]);
        // The counted rule moves from index 0 to index 1.
        let new = rules(&[RULE, thresholded]);
        let opts = ScanOptions {
            before: 1,
            ..ScanOptions::default()
        };
        let line =
            |n: u32| format!("2026-03-01 02:14:0{n},000 WARN  [x] [] mailbox - counted probe {n}");
        let mut found = Vec::new();
        let mut m = EventMatcher::new(
            &old,
            &opts,
            "mailbox.log".into(),
            crate::kind::LogKind::Mailbox,
            None,
        );
        m.event(line(1).as_bytes(), 1, 0, false, &mut found);
        assert!(found.is_empty(), "one of two");
        let suspended = m.suspend();
        let mut m = EventMatcher::resume(suspended, &new, &opts);
        m.event(line(2).as_bytes(), 2, 100, false, &mut found);
        assert_eq!(found.len(), 1, "the second occurrence reaches the count");
        assert_eq!(new.rules[found[0].rule.unwrap()].id, "test.counted");
        assert_eq!(found[0].before, [line(1)], "the event before is kept");
        assert_eq!(m.events(), 2);
    }

    #[test]
    fn sighup_asks_for_a_reload_even_when_nothing_changed() {
        static HANGUP: AtomicBool = AtomicBool::new(false);
        let tmp = tempfile::tempdir().unwrap();
        let mut reloader = Reloader::new(sources(tmp.path(), &tmp.path().join("u")), Some(&HANGUP));
        let now = Instant::now();
        assert!(!reloader.asked() && !reloader.due(now));
        HANGUP.store(true, Ordering::Relaxed);
        assert!(reloader.asked());
        assert!(reloader.due(now), "at once, not at the next look");
        assert!(!reloader.asked() && !reloader.due(now), "once per signal");
    }
}
