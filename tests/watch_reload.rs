//! A running `zkb watch` picks up rules edited by hand: an edited rule file applies to the
//! lines written after the reload (and not to those before), a broken file keeps the old rules
//! with a message naming it, SIGHUP reloads, and a user rules dir created while the watch runs
//! counts (what it finds is recorded in the incident store with the new rule).
//!
//! Deterministic: every wait is for something zkb prints (a JSON finding on stdout, a message
//! on stderr), with a timeout. A line is known to be read when the missing-blob event written
//! after it in the same file has been reported. Rule files are replaced by a rename, so a
//! look at the directory never meets one half written.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(20);

const PROBE_RULE: &str = "local.reload-probe";

/// A rule file with one rule that matches `reload probe <word>`.
fn probe_rule(word: &str) -> String {
    format!(
        "- id: {PROBE_RULE}\n  title: Reload probe\n  severity: high\n  kinds: [mailbox]\n  match:\n    contains: 'reload probe {word}'\n"
    )
}

/// A mailbox.log line that the probe rule for `word` matches, numbered.
fn probe(word: &str, n: u32) -> String {
    format!("2026-03-01 02:14:08,000 INFO  [qtp1-1] [name=a@example.com;] mailbox - reload probe {word} {n}\n")
}

/// A missing-blob event (a shipped rule): once it is reported, the lines before it were read.
fn blob(id: u32) -> String {
    format!(
        "2026-03-01 02:14:07,511 WARN  [qtp1-1] [name=u{id}@example.com;mid=5;] mailbox - Unable to get blob for item {id}\n\
         com.zimbra.cs.mailbox.MailServiceException: missing blob for id: {id}, change: 1\n"
    )
}

/// Replaces a file by a rename, as most editors save.
fn write_rule_file(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, text).unwrap();
    fs::rename(&tmp, path).unwrap();
}

fn append(path: &Path, text: &str) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// A temporary tree: the log, a --rules dir, the data dir, and a home and config dir of its
/// own, so the rules of whoever runs the tests (`~/.config/zkb/rules`) stay out.
struct Dirs {
    _tmp: tempfile::TempDir,
    log: PathBuf,
    rules: PathBuf,
    data: PathBuf,
    home: PathBuf,
    config: PathBuf,
}

fn dirs() -> Dirs {
    let tmp = tempfile::tempdir().unwrap();
    let d = Dirs {
        log: tmp.path().join("log/mailbox.log"),
        rules: tmp.path().join("rules"),
        data: tmp.path().join("data"),
        home: tmp.path().join("home"),
        config: tmp.path().join("config"),
        _tmp: tmp,
    };
    for dir in [d.log.parent().unwrap(), &d.rules, &d.home, &d.config] {
        fs::create_dir_all(dir).unwrap();
    }
    File::create(&d.log).unwrap();
    d
}

/// A running `zkb watch -v --format json` on the log of `d`, its findings and messages read
/// on two threads.
struct Watch {
    child: Child,
    out: Receiver<String>,
    err: Receiver<String>,
    findings: Vec<serde_json::Value>,
    messages: Vec<String>,
}

impl Watch {
    /// Starts zkb with `args` and waits until it follows the log.
    fn start(d: &Dirs, args: &[&str]) -> Watch {
        let mut child = Command::new(env!("CARGO_BIN_EXE_zkb"))
            .args(["watch", "-v", "--format", "json", "--normal-priority"])
            .arg("--data")
            .arg(&d.data)
            .args(args)
            .arg(&d.log)
            .env("NO_COLOR", "1")
            .env("TZ", "UTC")
            .env("HOME", &d.home)
            .env("XDG_CONFIG_HOME", &d.config)
            .env("ZKB_DATA", &d.data)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("zkb starts");
        let out = lines(child.stdout.take().unwrap());
        let err = lines(child.stderr.take().unwrap());
        let mut w = Watch {
            child,
            out,
            err,
            findings: Vec::new(),
            messages: Vec::new(),
        };
        w.message("following");
        w
    }

    /// Waits for the next message on stderr that contains `what` and returns it.
    fn message(&mut self, what: &str) -> String {
        let end = Instant::now() + WAIT;
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            let Ok(line) = self.err.recv_timeout(left) else {
                break;
            };
            self.messages.push(line.clone());
            if line.contains(what) {
                return line;
            }
        }
        panic!("no message {what:?} in {:#?}", self.messages);
    }

    /// Waits until a finding of `rule` whose event contains `text` is printed.
    fn finding(&mut self, rule: &str, text: &str) {
        let found = |v: &serde_json::Value| {
            v["rule"] == rule && v["text"].as_str().is_some_and(|t| t.contains(text))
        };
        let end = Instant::now() + WAIT;
        while !self.findings.iter().any(found) {
            let Some(left) = end.checked_duration_since(Instant::now()) else {
                break;
            };
            let Ok(line) = self.out.recv_timeout(left) else {
                break;
            };
            self.findings
                .push(serde_json::from_str(&line).expect("a JSON line"));
        }
        assert!(
            self.findings.iter().any(found),
            "no finding of {rule} for {text:?}; findings {:#?}, messages {:#?}",
            self.findings,
            self.messages
        );
    }

    /// Waits until the blob event `id` is reported: everything written before it was read.
    fn read_up_to(&mut self, id: u32) {
        self.finding(
            "store.missing-blob-for-id",
            &format!("missing blob for id: {id},"),
        );
    }

    /// The texts of the probe rule's findings so far.
    fn probes(&self) -> Vec<String> {
        self.findings
            .iter()
            .filter(|v| v["rule"] == PROBE_RULE)
            .map(|v| v["text"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig}");
    }

    /// Stops zkb with SIGTERM.
    fn stop(mut self) {
        self.signal("TERM");
        let status = self.child.wait().unwrap();
        assert!(status.success(), "zkb exits cleanly on SIGTERM: {status}");
    }
}

impl Drop for Watch {
    /// A failed test does not leave zkb running.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn lines(r: impl std::io::Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

#[test]
fn an_edited_rule_applies_to_the_lines_written_after_the_reload() {
    let d = dirs();
    let file = d.rules.join("probe.yaml");
    write_rule_file(&file, &probe_rule("omega"));
    let mut w = Watch::start(&d, &["--no-store", "--rules", d.rules.to_str().unwrap()]);
    append(&d.log, &(probe("alpha", 1) + &blob(1)));
    w.read_up_to(1);

    write_rule_file(&file, &probe_rule("alpha"));
    let reloaded = w.message("rules reloaded");
    assert!(
        reloaded.contains(&format!("1 from {}", d.rules.display())),
        "{reloaded}"
    );
    append(&d.log, &(probe("alpha", 2) + &blob(2)));
    w.finding(PROBE_RULE, "reload probe alpha 2");
    w.read_up_to(2);
    assert_eq!(
        w.probes(),
        [probe("alpha", 2).trim_end()],
        "the line read before the edit is not matched again"
    );
    w.stop();
}

#[test]
fn the_reload_keeps_the_old_rules_on_a_bad_file() {
    let d = dirs();
    let file = d.rules.join("probe.yaml");
    write_rule_file(&file, &probe_rule("alpha"));
    let mut w = Watch::start(&d, &["--no-store", "--rules", d.rules.to_str().unwrap()]);

    write_rule_file(
        &file,
        &format!("- id: {PROBE_RULE}\n  title: [unclosed\n  severity: high\n"),
    );
    let refused = w.message("not reloaded");
    assert!(
        refused.contains(&format!("{}:", file.display()))
            && refused.contains("previous rules stay in force"),
        "names the file and keeps the rules: {refused}"
    );
    append(&d.log, &(probe("alpha", 1) + &blob(1)));
    w.finding(PROBE_RULE, "reload probe alpha 1");

    // Fixed, it is loaded.
    write_rule_file(&file, &probe_rule("beta"));
    w.message("rules reloaded");
    append(&d.log, &(probe("beta", 2) + &blob(2)));
    w.finding(PROBE_RULE, "reload probe beta 2");
    w.stop();
}

#[test]
fn sighup_reloads_the_rules() {
    let d = dirs();
    let file = d.rules.join("probe.yaml");
    write_rule_file(&file, &probe_rule("omega"));
    let mut w = Watch::start(&d, &["--no-store", "--rules", d.rules.to_str().unwrap()]);

    // An edit that the look at the files cannot see (same inode, size and mtime), so only the
    // signal can make zkb read it.
    let f = OpenOptions::new().write(true).open(&file).unwrap();
    let mtime = f.metadata().unwrap().modified().unwrap();
    (&f).write_all(probe_rule("gamma").as_bytes()).unwrap();
    f.set_modified(mtime).unwrap();
    drop(f);
    w.signal("HUP");
    w.message("rules reloaded");
    append(&d.log, &(probe("gamma", 1) + &blob(1)));
    w.finding(PROBE_RULE, "reload probe gamma 1");
    w.stop();
}

#[test]
fn a_user_rules_dir_created_while_watching_counts_and_its_findings_are_recorded() {
    let d = dirs();
    // Recording in the incident store (no --no-store), no --rules.
    let mut w = Watch::start(&d, &[]);
    append(&d.log, &(probe("delta", 1) + &blob(1)));
    w.read_up_to(1);

    let user = d.config.join("zkb/rules");
    fs::create_dir_all(&user).unwrap();
    write_rule_file(&user.join("probe.yml"), &probe_rule("delta"));
    w.message(&format!("1 from {}", user.display()));
    append(&d.log, &(probe("delta", 2) + &blob(2)));
    w.finding(PROBE_RULE, "reload probe delta 2");
    w.read_up_to(2);
    assert_eq!(w.probes(), [probe("delta", 2).trim_end()]);
    w.stop();

    let out = Command::new(env!("CARGO_BIN_EXE_zkb"))
        .args(["incidents", "list", "--format", "json", "--data"])
        .arg(&d.data)
        .env("HOME", &d.home)
        .env("XDG_CONFIG_HOME", &d.config)
        .output()
        .unwrap();
    assert!(out.status.success());
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut recorded: Vec<(String, i64)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["rule"].as_str().unwrap().to_string(),
                i["count"].as_i64().unwrap(),
            )
        })
        .collect();
    recorded.sort();
    assert_eq!(
        recorded,
        [
            (PROBE_RULE.to_string(), 1),
            ("store.missing-blob-for-id".to_string(), 2)
        ],
        "recorded under the rules of their round"
    );
}
