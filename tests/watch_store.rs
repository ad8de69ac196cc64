//! What `zkb watch` records in the incident store: `kill -9` at any point neither loses nor
//! repeats an occurrence (checkpoint and occurrences are one transaction); a copytruncated file
//! is recorded again from 0 as new content; a rotation compressed to `.gz` while zkb was stopped
//! is read from where it was left, and scanning it later adds nothing; error events no rule
//! knew are kept; context and distinct field values are there; times keep their zone.
//!
//! Deterministic: every wait is for a printed finding or for a count in the store, with a
//! timeout.

use std::fs::{self, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(20);

fn zkb() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_zkb"));
    c.env("NO_COLOR", "1").env("TZ", "UTC");
    c
}

/// A missing-blob event (rule store.missing-blob-for-id), item `id`, in mailbox `mid`, on a
/// volume of its own per mailbox.
fn blob(id: u32, mid: u32) -> String {
    format!(
        "2026-03-01 02:{:02}:{:02},511 WARN  [qtp1-1:https://10.0.0.1:443/service/soap/GetMsgRequest] [name=u{id}@example.com;mid={mid};] mailbox - Unable to get blob for item {id}\n\
         com.zimbra.cs.mailbox.MailServiceException: missing blob for id: {id}, change: 1\n",
        (id / 60) % 60,
        id % 60
    )
}

fn blobs(ids: std::ops::Range<u32>) -> String {
    ids.map(|i| blob(i, 5)).collect()
}

fn append(path: &Path, text: &str) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// Truncates in place, as logrotate's copytruncate does.
fn truncate(path: &Path) {
    OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(0)
        .unwrap();
}

struct Dirs {
    _tmp: tempfile::TempDir,
    log: PathBuf,
    data: PathBuf,
}

fn dirs() -> Dirs {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("log");
    let data = tmp.path().join("data");
    fs::create_dir_all(&log).unwrap();
    Dirs {
        log,
        data,
        _tmp: tmp,
    }
}

struct Watch {
    child: Child,
    out: Receiver<String>,
}

impl Watch {
    fn start(data: &Path, path: &Path) -> Watch {
        let mut child = zkb()
            .args([
                "watch",
                "--format",
                "json",
                "--normal-priority",
                "--from-start",
            ])
            .arg("--data")
            .arg(data)
            .arg(path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("zkb starts");
        let (tx, out) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Watch { child, out }
    }

    /// Waits for the next printed finding.
    fn next(&self) -> String {
        self.out.recv_timeout(WAIT).expect("a finding is printed")
    }

    fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    fn stop(mut self) {
        unsafe_sigterm(self.child.id());
        let status = self.child.wait().unwrap();
        assert!(status.success(), "watch ends cleanly on SIGTERM");
    }
}

fn unsafe_sigterm(pid: u32) {
    let ok = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(ok.success());
}

fn db(data: &Path) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(data.join("incidents.sqlite")).unwrap();
    c.busy_timeout(Duration::from_secs(5)).unwrap();
    c
}

fn count(data: &Path, sql: &str) -> i64 {
    if !data.join("incidents.sqlite").exists() {
        return 0;
    }
    db(data)
        .query_row(sql, [], |r| r.get(0))
        .unwrap_or_default()
}

const OCCURRENCES: &str = "SELECT COUNT(*) FROM occurrences";

fn wait_count(data: &Path, sql: &str, want: i64) {
    let end = Instant::now() + WAIT;
    loop {
        let n = count(data, sql);
        if n == want {
            return;
        }
        assert!(Instant::now() < end, "{sql}: {n}, not {want}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Every occurrence once: as many rows as events, each offset once, and incident counts that
/// add up.
fn assert_exactly(data: &Path, n: i64) {
    assert_eq!(count(data, OCCURRENCES), n);
    assert_eq!(
        count(
            data,
            "SELECT COUNT(DISTINCT source || ':' || offset) FROM occurrences"
        ),
        n
    );
    assert_eq!(count(data, "SELECT SUM(count) FROM incidents"), n);
}

#[test]
fn kill_9_at_any_point_neither_loses_nor_repeats_an_occurrence() {
    let d = dirs();
    let path = d.log.join("mailbox.log");
    fs::write(&path, "").unwrap();
    let mut next = 0;
    for cycle in 0..4 {
        let w = Watch::start(&d.data, &path);
        // A burst, and the kill right after the first finding is printed: the round is then
        // between printing and committing, or committing, or done.
        append(&path, &blobs(next..next + 40));
        next += 40;
        for _ in 0..=cycle {
            w.next();
        }
        w.kill9();
    }
    let w = Watch::start(&d.data, &path);
    append(&path, &blobs(next..next + 10));
    next += 10;
    wait_count(&d.data, OCCURRENCES, i64::from(next));
    w.stop();
    assert_exactly(&d.data, i64::from(next));
    // A watch run after that reads nothing again.
    let w = Watch::start(&d.data, &path);
    append(&path, &blobs(next..next + 1));
    w.next();
    wait_count(&d.data, OCCURRENCES, i64::from(next) + 1);
    w.stop();
    assert_exactly(&d.data, i64::from(next) + 1);
}

#[test]
fn copytruncate_is_recorded_again_from_zero_as_new_content() {
    let d = dirs();
    let path = d.log.join("mailbox.log");
    fs::write(&path, "").unwrap();
    let w = Watch::start(&d.data, &path);
    append(&path, &blobs(0..10));
    wait_count(&d.data, OCCURRENCES, 10);
    // logrotate's copytruncate: copy away, truncate in place, writing goes on at offset 0.
    fs::copy(&path, d.log.join("mailbox.log.1")).unwrap();
    truncate(&path);
    append(&path, &blobs(100..110));
    wait_count(&d.data, OCCURRENCES, 20);
    w.stop();
    assert_exactly(&d.data, 20);
    // The same offsets, twice: two sources.
    assert_eq!(
        count(&d.data, "SELECT COUNT(DISTINCT source) FROM occurrences"),
        2
    );
}

#[test]
fn a_young_file_truncated_then_grown_keeps_each_generation_apart() {
    let d = dirs();
    let path = d.log.join("mailbox.log");
    fs::write(&path, "").unwrap();
    let w = Watch::start(&d.data, &path);
    // Two events: under 1 KiB, so the file is known by inode and generation for now.
    append(&path, &blobs(0..2));
    wait_count(&d.data, OCCURRENCES, 2);
    truncate(&path);
    append(&path, &blobs(10..12));
    wait_count(&d.data, OCCURRENCES, 4);
    // Grown past 1 KiB: what was recorded for this generation moves to its fingerprint.
    append(&path, &blobs(12..20));
    wait_count(&d.data, OCCURRENCES, 12);
    wait_count(
        &d.data,
        "SELECT COUNT(*) FROM occurrences o JOIN sources s ON s.id = o.source WHERE s.identity LIKE 'fp:%'",
        10,
    );
    w.stop();
    assert_exactly(&d.data, 12);
    // Scanning the file adds nothing: it is the same content.
    let out = zkb()
        .args(["scan", "--store", "-q", "--data"])
        .arg(&d.data)
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_exactly(&d.data, 12);
}

#[test]
fn a_rotation_compressed_while_stopped_is_neither_skipped_nor_counted_twice() {
    let d = dirs();
    let path = d.log.join("mailbox.log");
    fs::write(&path, "").unwrap();
    let w = Watch::start(&d.data, &path);
    append(&path, &blobs(0..5));
    wait_count(&d.data, OCCURRENCES, 5);
    w.stop();
    // While zkb is stopped: more lines, the nightly rotation and compression, a new file.
    append(&path, &blobs(5..9));
    let rotated = d.log.join("mailbox.log.2026-03-01");
    fs::rename(&path, &rotated).unwrap();
    assert!(Command::new("gzip")
        .arg(&rotated)
        .status()
        .unwrap()
        .success());
    append(&path, &blobs(9..12));
    let w = Watch::start(&d.data, &path);
    wait_count(&d.data, OCCURRENCES, 12);
    w.stop();
    assert_exactly(&d.data, 12);
    // The daily `scan --store` of the rotations adds nothing either.
    let gz = d.log.join("mailbox.log.2026-03-01.gz");
    let out = zkb()
        .args(["scan", "--store", "--data"])
        .arg(&d.data)
        .arg(&gz)
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("stored 0 new occurrence(s), 12 already known"),
        "{err}"
    );
    assert_exactly(&d.data, 12);
}

#[test]
fn the_store_keeps_context_distinct_values_and_errors_no_rule_knew() {
    let d = dirs();
    let path = d.log.join("mailbox.log");
    fs::write(&path, "").unwrap();
    let w = Watch::start(&d.data, &path);
    let before = "2026-03-01 02:10:00,000 INFO  [main] [] store - volume check started\n";
    let unknown =
        "2026-03-01 02:10:01,000 ERROR [main] [] misc - frobnicator 42 gave up on /tmp/x\n";
    let after = "2026-03-01 02:20:00,000 INFO  [main] [] store - done\n";
    // 30 mailboxes' worth of blobs in mailbox 7 (the rule groups by mailbox): one incident.
    let mut text = format!("{before}{unknown}{}{after}{after}", blob(0, 7));
    for i in 1..30 {
        text.push_str(&blob(i, 7));
    }
    append(&path, &text);
    wait_count(&d.data, OCCURRENCES, 30);
    wait_count(&d.data, "SELECT COUNT(*) FROM unknown_events", 1);
    w.stop();
    let c = db(&d.data);
    let (before_ctx, after_ctx): (String, String) = c
        .query_row(
            "SELECT before, after FROM samples ORDER BY id LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(before_ctx.contains("volume check started"), "{before_ctx}");
    assert!(before_ctx.contains("frobnicator"), "{before_ctx}");
    assert!(after_ctx.contains("store - done"), "{after_ctx}");
    let template: String = c
        .query_row("SELECT template FROM unknown", [], |r| r.get(0))
        .unwrap();
    assert!(template.contains("frobnicator"), "{template}");
    assert!(!template.contains("42"), "{template}");
    // `incidents show` gives the distinct values of the captured fields.
    let out = zkb()
        .args(["incidents", "show", "1", "--data"])
        .arg(&d.data)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("30 distinct"), "{text}");
    assert!(text.contains("volume check started"), "{text}");
}

#[test]
fn times_are_stored_with_their_zone() {
    let d = dirs();
    let mailbox = d.log.join("mailbox.log");
    fs::write(&mailbox, blob(1, 5)).unwrap();
    let syslog = d.log.join("zimbra.log");
    fs::write(
        &syslog,
        "2026-03-01T02:14:04.250-05:00 mta01 postfix/lmtp[22871]: connect to mbox2.corp.example[192.168.10.22]:7025: Connection refused\n",
    )
    .unwrap();
    let out = zkb()
        .args(["scan", "--store", "-q", "--tz", "Asia/Bangkok", "--data"])
        .arg(&d.data)
        .arg(&mailbox)
        .arg(&syslog)
        .output()
        .unwrap();
    assert!(out.status.success());
    let out = zkb()
        .args(["incidents", "list", "--format", "json", "--data"])
        .arg(&d.data)
        .output()
        .unwrap();
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let seen: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["first_seen"].as_str().unwrap())
        .collect();
    // The mailbox line in the host's zone (given by --tz), the forwarded one in its own
    // offset; listed most recent first: 02:14:04 at -05:00 is 14:14 at +07:00.
    assert_eq!(
        seen,
        [
            "2026-03-01T02:14:04.250-05:00",
            "2026-03-01T02:00:01.511+07:00"
        ]
    );
}

/// A receiver's relayed file (`TS HOST TAG: record`, line breaks as `#012`): kill -9 at any
/// point and restart, and each relayed event is still recorded exactly once.
#[test]
fn a_relayed_file_survives_kill_9_without_loss_or_repeats() {
    let d = dirs();
    let path = d.log.join("remote/mbx1/zimbra-mailbox.log");
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    // Each event on one relayed line, its line breaks as #012 (imfile with escapeLF off).
    let relay = |text: &str| -> String {
        let mut events: Vec<String> = Vec::new();
        for line in text.lines() {
            match events.last_mut() {
                Some(last) if !line.starts_with("2026-") => {
                    last.push_str("#012");
                    last.push_str(line);
                }
                _ => events.push(line.to_string()),
            }
        }
        events
            .iter()
            .map(|e| {
                format!("2026-03-01T02:14:07.511203+07:00 mbx1.example.com zimbra-mailbox: {e}\n")
            })
            .collect()
    };
    fs::write(
        &path,
        relay("2026-03-01 02:00:00,000 INFO  [x] [] imap - SELECT\n"),
    )
    .unwrap();
    let mut next = 0;
    for cycle in 0..3 {
        let w = Watch::start(&d.data, &path);
        append(&path, &relay(&blobs(next..next + 30)));
        next += 30;
        for _ in 0..=cycle {
            w.next();
        }
        w.kill9();
    }
    let w = Watch::start(&d.data, &path);
    append(&path, &relay(&blobs(next..next + 5)));
    next += 5;
    wait_count(&d.data, OCCURRENCES, i64::from(next));
    w.stop();
    assert_exactly(&d.data, i64::from(next));
    assert_eq!(
        count(&d.data, "SELECT COUNT(*) FROM incidents WHERE host = 'mbx1' AND rule = 'store.missing-blob-for-id'"),
        count(&d.data, "SELECT COUNT(*) FROM incidents")
    );
}

/// `zkb ack`: an acknowledged incident raises no alert, even from a watch started afresh
/// (whose own memory of alerts is empty), while a new incident still does.
#[test]
fn an_acknowledged_incident_fires_nothing_more() {
    let d = dirs();
    let path = d.log.join("mailbox.log");
    fs::write(&path, "").unwrap();
    let alerts = d.log.join("alerts.jsonl");
    let exec = format!(
        "cat >> '{}'; echo >> '{}'",
        alerts.display(),
        alerts.display()
    );
    let start = || {
        zkb()
            .args([
                "watch",
                "--format",
                "json",
                "--normal-priority",
                "--from-start",
                "--exec",
                &exec,
            ])
            .arg("--data")
            .arg(&d.data)
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("zkb starts")
    };
    let alert_lines = || {
        fs::read_to_string(&alerts)
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let wait_alerts = |n: usize| {
        let end = Instant::now() + WAIT;
        while alert_lines().len() < n {
            assert!(
                Instant::now() < end,
                "{} alerts, not {n}",
                alert_lines().len()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    let mut w = start();
    append(&path, &blob(1, 5));
    wait_alerts(1);
    wait_count(&d.data, OCCURRENCES, 1);
    unsafe_sigterm(w.id());
    w.wait().unwrap();

    let out = zkb()
        .args(["ack", "1", "--for", "2h", "--note", "restore running"])
        .arg("--data")
        .arg(&d.data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut w = start();
    append(&path, &(blob(2, 5) + &blob(3, 6)));
    wait_count(&d.data, OCCURRENCES, 3);
    wait_alerts(2);
    unsafe_sigterm(w.id());
    w.wait().unwrap();
    let lines = alert_lines();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[1].contains("missing blob for id: 3"),
        "the new incident alerts: {lines:?}"
    );
    assert!(
        !lines.iter().any(|l| l.contains("missing blob for id: 2")),
        "{lines:?}"
    );

    let out = zkb()
        .args(["incidents", "list"])
        .arg("--data")
        .arg(&d.data)
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&out.stdout);
    assert!(list.contains("acknowledged until"), "{list}");
}
