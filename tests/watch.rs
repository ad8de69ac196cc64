//! `zkb watch` end to end: each rotation mode, late writes after a rename, kill -9 and restart,
//! rotation while stopped (renamed and compressed), ten files at once, files that appear later,
//! deletion, unreadable paths, the polling fallback and the flush of a last event.
//!
//! Deterministic: every wait is for something zkb prints (a JSON finding on stdout, a `-v`
//! note on stderr), with a timeout; no sleep guesses that zkb has caught up.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(20);

/// A mailbox.log event that the shipped rule for missing blobs matches, with an id in it.
fn blob(id: u32) -> String {
    blob_in(id, 5)
}

/// The same in mailbox `mid` (the rule groups its incidents by mailbox).
fn blob_in(id: u32, mid: u32) -> String {
    format!(
        "2026-03-01 02:14:07,511 WARN  [qtp1-1:https://10.0.0.1:443/service/soap/GetMsgRequest] [name=u{id}@example.com;mid={mid};] mailbox - Unable to get blob for item {id}\n\
         com.zimbra.cs.mailbox.MailServiceException: missing blob for id: {id}, change: 1\n"
    )
}

const ORDINARY: &str = "2026-03-01 02:14:08,000 INFO  [ImapServer-1] [name=a@example.com;protocol=imap;] imap - SELECT elapsed=3\n";

/// A running `zkb watch -v --format json`, its findings and notes read on two threads.
struct Watch {
    child: Child,
    out: Receiver<String>,
    err: Receiver<String>,
    /// Blob ids seen, with how often.
    seen: HashMap<u32, usize>,
    notes: Vec<String>,
}

impl Watch {
    fn start(data: &Path, args: &[&str]) -> Watch {
        let mut child = Command::new(env!("CARGO_BIN_EXE_zkb"))
            .args([
                "watch",
                "-v",
                "--format",
                "json",
                "--normal-priority",
                "--data",
            ])
            .arg(data)
            .args(args)
            .env("NO_COLOR", "1")
            .env("TZ", "UTC")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("zkb starts");
        let out = lines(child.stdout.take().unwrap());
        let err = lines(child.stderr.take().unwrap());
        Watch {
            child,
            out,
            err,
            seen: HashMap::new(),
            notes: Vec::new(),
        }
    }

    /// Waits until a note containing `what` is printed on stderr.
    fn note(&mut self, what: &str) {
        if self.notes.iter().any(|n| n.contains(what)) {
            return;
        }
        let end = Instant::now() + WAIT;
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            match self.err.recv_timeout(left) {
                Ok(line) => {
                    let hit = line.contains(what);
                    self.notes.push(line);
                    if hit {
                        return;
                    }
                }
                Err(_) => break,
            }
        }
        panic!("no note {what:?} in {:#?}", self.notes);
    }

    /// Waits until every id in `ids` has been reported.
    fn expect(&mut self, ids: impl IntoIterator<Item = u32>) {
        let ids: Vec<u32> = ids.into_iter().collect();
        let end = Instant::now() + WAIT;
        while ids.iter().any(|i| !self.seen.contains_key(i)) {
            let Some(left) = end.checked_duration_since(Instant::now()) else {
                break;
            };
            let Ok(line) = self.out.recv_timeout(left) else {
                break;
            };
            self.record(&line);
        }
        let missing: Vec<_> = ids.iter().filter(|i| !self.seen.contains_key(i)).collect();
        assert!(
            missing.is_empty(),
            "never reported: {missing:?}; notes: {:#?}",
            self.notes_now()
        );
    }

    /// Waits for the first printed finding that `want` accepts.
    fn first_json(&mut self, want: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        let end = Instant::now() + WAIT;
        loop {
            let left = end
                .checked_duration_since(Instant::now())
                .expect("a finding in time");
            let line = self.out.recv_timeout(left).expect("a finding in time");
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            if want(&v) {
                return v;
            }
        }
    }

    fn record(&mut self, line: &str) {
        let v: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        let text = v["text"].as_str().unwrap_or("");
        if let Some(rest) = text.split("missing blob for id: ").nth(1) {
            let id: u32 = rest.split(',').next().unwrap().parse().unwrap();
            *self.seen.entry(id).or_default() += 1;
        }
    }

    fn notes_now(&mut self) -> Vec<String> {
        while let Ok(l) = self.err.try_recv() {
            self.notes.push(l);
        }
        self.notes.clone()
    }

    /// Stops zkb with SIGTERM and reads what it printed on the way out.
    fn stop(mut self) -> HashMap<u32, usize> {
        signal(&self.child, libc_sigterm());
        let status = self.child.wait().unwrap();
        assert!(status.success(), "zkb exits cleanly on SIGTERM: {status}");
        while let Ok(l) = self.out.recv_timeout(Duration::from_secs(5)) {
            self.record(&l);
        }
        std::mem::take(&mut self.seen)
    }

    fn kill(mut self) -> HashMap<u32, usize> {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        while let Ok(l) = self.out.try_recv() {
            self.record(&l);
        }
        std::mem::take(&mut self.seen)
    }
}

impl Drop for Watch {
    /// A failed test does not leave zkb running.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn libc_sigterm() -> i32 {
    15
}

fn signal(child: &Child, sig: i32) {
    let ok = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(child.id().to_string())
        .status()
        .unwrap()
        .success();
    assert!(ok);
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

fn append(path: &Path, text: &str) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

fn events(ids: std::ops::Range<u32>) -> String {
    ids.map(|i| blob(i) + ORDINARY).collect()
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

/// zkb watching an empty `mailbox.log` in `d`, once it has opened it.
fn watching(d: &Dirs, options: &[&str]) -> (PathBuf, Watch) {
    let path = d.log.join("mailbox.log");
    File::create(&path).unwrap();
    let mut args = options.to_vec();
    args.push(arg(&path));
    let mut w = Watch::start(&d.data, &args);
    w.note("following");
    (path, w)
}

fn arg(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn rename_rotation_drains_late_writes_and_follows_the_new_file() {
    let d = dirs();
    let (path, mut w) = watching(&d, &[]);
    let mut writer = OpenOptions::new().append(true).open(&path).unwrap();
    writer.write_all(events(0..5).as_bytes()).unwrap();
    w.expect(0..5);
    fs::rename(&path, d.log.join("mailbox.log.1")).unwrap();
    // The writer still holds the old file: these land in mailbox.log.1.
    writer.write_all(events(5..8).as_bytes()).unwrap();
    File::create(&path).unwrap();
    w.note("following from its start");
    append(&path, &events(8..12));
    w.expect(0..12);
    writer.write_all(events(12..14).as_bytes()).unwrap();
    w.expect(12..14);
    let seen = w.stop();
    assert!(seen.values().all(|&n| n == 1), "no duplicates: {seen:?}");
}

#[test]
fn a_rotated_file_compressed_while_being_drained_is_read_once() {
    let d = dirs();
    let (path, mut w) = watching(&d, &["--kind", "mailbox"]);
    let mut writer = OpenOptions::new().append(true).open(&path).unwrap();
    writer.write_all(events(0..5).as_bytes()).unwrap();
    w.expect(0..5);
    let rotated = d.log.join("mailbox.log.2026-03-01");
    fs::rename(&path, &rotated).unwrap();
    writer.write_all(events(5..8).as_bytes()).unwrap();
    drop(writer);
    File::create(&path).unwrap();
    w.note("following from its start");
    assert!(Command::new("gzip")
        .arg(&rotated)
        .status()
        .unwrap()
        .success());
    append(&path, &events(8..10));
    w.expect(0..10);
    let seen = w.stop();
    assert!(seen.values().all(|&n| n == 1), "no duplicates: {seen:?}");
}

#[test]
fn copytruncate_restarts_at_zero() {
    let d = dirs();
    let (path, mut w) = watching(&d, &[]);
    let mut writer = OpenOptions::new().append(true).open(&path).unwrap();
    writer.write_all(events(0..20).as_bytes()).unwrap();
    w.expect(0..20);
    fs::copy(&path, d.log.join("mailbox.log.1")).unwrap();
    File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(0)
        .unwrap();
    // Fewer bytes than before, and then more than before: both are seen as new.
    writer.write_all(events(20..21).as_bytes()).unwrap();
    w.expect([20]);
    writer.write_all(events(21..60).as_bytes()).unwrap();
    w.expect(21..60);
    w.note("truncated");
    let seen = w.stop();
    assert!(seen.values().all(|&n| n == 1), "no duplicates: {seen:?}");
}

#[test]
fn delete_and_recreate_and_a_file_that_appears_later() {
    let d = dirs();
    let path = d.log.join("mailbox.log");
    let later = d.log.join("audit.log");
    append(&path, &events(0..2));
    // Read from the start: the file has no checkpoint yet.
    let mut w = Watch::start(&d.data, &["--from-start", arg(&path), arg(&later)]);
    w.expect(0..2);
    w.note("audit.log: not there");
    fs::remove_file(&path).unwrap();
    w.note("deleted");
    append(&path, &events(2..4));
    w.expect(2..4);
    append(&later, &events(4..6));
    w.expect(4..6);
    let seen = w.stop();
    assert!(seen.values().all(|&n| n == 1), "no duplicates: {seen:?}");
}

#[test]
fn kill_9_and_restart_loses_nothing() {
    // Without the store the checkpoints live in checkpoints.json (watch_store.rs covers the
    // store, where they are committed with the occurrences).
    let d = dirs();
    let (path, mut w) = watching(&d, &["--no-store"]);
    append(&path, &events(0..30));
    w.expect(0..30);
    // The checkpoint is written within 100 ms of the last change; wait for it on disk.
    let cp = d.data.join("watch/checkpoints.json");
    let size = fs::metadata(&path).unwrap().len();
    wait_until(|| fs::read_to_string(&cp).is_ok_and(|t| t.contains(&format!("\"offset\":{size}"))));
    let first = w.kill();
    append(&path, &events(30..50));
    let mut w = Watch::start(&d.data, &["--no-store", arg(&path)]);
    w.note("from its checkpoint");
    append(&path, &events(50..55));
    w.expect(30..55);
    let second = w.stop();
    for i in 0..55 {
        let n = first.get(&i).unwrap_or(&0) + second.get(&i).unwrap_or(&0);
        assert_eq!(n, 1, "event {i} seen {n} times");
    }
}

#[test]
fn rotation_while_stopped_is_found_renamed_and_compressed() {
    let d = dirs();
    let (path, mut w) = watching(&d, &[]);
    append(&path, &events(0..5));
    w.expect(0..5);
    w.stop();
    // While zkb is stopped: more lines, the nightly rotation and compression, a new file.
    append(&path, &events(5..9));
    let rotated = d.log.join("mailbox.log.2026-03-01");
    fs::rename(&path, &rotated).unwrap();
    let gz = Command::new("gzip").arg(&rotated).status().unwrap();
    assert!(gz.success());
    append(&path, &events(9..12));
    let mut w = Watch::start(&d.data, &[arg(&path)]);
    w.expect(5..12);
    w.note("compressed");
    let seen = w.stop();
    assert!(
        !seen.contains_key(&0),
        "events read before the stop are not read again"
    );
}

#[test]
fn ten_files_at_once_through_a_glob() {
    let d = dirs();
    for n in 0..10 {
        File::create(d.log.join(format!("mailbox{n}.log"))).unwrap();
    }
    let glob = d.log.join("mailbox*.log");
    let mut w = Watch::start(&d.data, &["--kind", "mailbox", arg(&glob)]);
    for n in 0..10 {
        w.note(&format!("mailbox{n}.log: following"));
    }
    for n in 0..10u32 {
        append(
            &d.log.join(format!("mailbox{n}.log")),
            &events(n * 10..n * 10 + 10),
        );
    }
    w.expect(0..100);
    w.stop();
}

#[test]
fn unreadable_paths_are_reported_and_the_rest_goes_on() {
    let d = dirs();
    let path = d.log.join("mailbox.log");
    File::create(&path).unwrap();
    let not_a_dir = d.log.join("mailbox.log/inner.log");
    let mut w = Watch::start(&d.data, &[arg(&not_a_dir), arg(&path)]);
    w.note("cannot read");
    append(&path, &events(0..3));
    w.expect(0..3);
    w.stop();
    // Permissions do not stop root, so the unreadable file is tried only as another user.
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let locked = d.log.join("audit.log");
    append(&locked, &events(10..12));
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).unwrap();
    let mut w = Watch::start(&d.data, &["--from-start", arg(&locked), arg(&path)]);
    w.note("cannot read");
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o644)).unwrap();
    w.expect(10..12);
    w.stop();
}

#[test]
fn polling_fallback_follows_a_rotation() {
    let d = dirs();
    let (path, mut w) = watching(&d, &["--poll", "100ms"]);
    append(&path, &events(0..3));
    w.expect(0..3);
    fs::rename(&path, d.log.join("mailbox.log.1")).unwrap();
    append(&path, &events(3..6));
    w.expect(3..6);
    w.stop();
}

#[test]
fn a_directory_that_does_not_exist_yet_falls_back_to_polling() {
    let d = dirs();
    let later = d.log.join("later");
    let path = later.join("mailbox.log");
    let mut w = Watch::start(&d.data, &[arg(&path)]);
    w.note("polling");
    fs::create_dir_all(&later).unwrap();
    append(&path, &events(0..3));
    w.expect(0..3);
    w.stop();
}

#[test]
fn the_last_event_before_the_log_goes_quiet_is_flushed() {
    let d = dirs();
    let (path, mut w) = watching(&d, &[]);
    let start = Instant::now();
    append(&path, &blob(7));
    w.expect([7]);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "flushed after {:?}",
        start.elapsed()
    );
    w.stop();
}

#[test]
fn exec_runs_once_per_new_incident_with_the_json_on_stdin() {
    let d = dirs();
    let alerts = d.data.with_file_name("alerts.jsonl");
    let exec = format!("cat >> '{}'", alerts.display());
    let (path, mut w) = watching(&d, &["--exec", &exec]);
    append(&path, &events(0..5));
    w.expect(0..5);
    append(&path, &(blob_in(5, 6) + ORDINARY));
    w.expect([5]);
    wait_until(|| fs::read_to_string(&alerts).is_ok_and(|t| t.lines().count() >= 2));
    w.stop();
    let text = fs::read_to_string(&alerts).unwrap();
    let rules: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        rules.len(),
        2,
        "one alert per incident (mailbox 5, mailbox 6): {text}"
    );
    assert!(rules
        .iter()
        .all(|r| r["rule"] == "store.missing-blob-for-id"));
}

fn wait_until(mut done: impl FnMut() -> bool) {
    let end = Instant::now() + WAIT;
    while !done() {
        assert!(Instant::now() < end, "timed out");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn demo_shows_every_finding_of_the_night_through_its_rotation() {
    let zkb = env!("CARGO_BIN_EXE_zkb");
    let run = |args: &[&str]| -> Vec<(String, String)> {
        let out = Command::new(zkb)
            .args(args)
            .env("NO_COLOR", "1")
            .env("TZ", "UTC")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut found: Vec<(String, String)> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .map(|v| {
                // A line held in a maintenance window keeps its own rule in `fields.rule`.
                let rule = match v["rule"].as_str() {
                    Some("maint.expected") => format!("held {}", v["fields"]["rule"]),
                    _ => v["rule"].to_string(),
                };
                (rule, v["text"].to_string())
            })
            .collect();
        found.sort();
        found
    };
    let night = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/upgrade-night");
    let scanned = run(&["scan", "-q", "--format", "json", night]);
    let watched = run(&["demo", "-q", "--format", "json", "--seconds", "2"]);
    assert!(scanned.len() > 100);
    let held = watched
        .iter()
        .filter(|(r, _)| r.starts_with("held "))
        .count();
    assert!(
        held > 10,
        "zmsetup's upgrade runs hold the LMTP refusals: {held}"
    );
    let mut unheld: Vec<(String, String)> = watched
        .into_iter()
        .map(|(r, t)| (r.strip_prefix("held ").map_or(r.clone(), str::to_string), t))
        .collect();
    unheld.sort();
    assert_eq!(unheld, scanned, "the live replay finds what a scan finds");
}

/// A receiver's per-host file of lines relayed by rsyslog: followed as the mailbox log it
/// wraps, each stack trace one multi-line event of its host.
#[test]
fn a_relayed_file_is_followed_as_the_log_it_wraps() {
    let d = dirs();
    let path = d.log.join("remote/mbx1/zimbra-mailbox.log");
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let relay = |text: &str| {
        format!(
            "2026-03-01T02:14:07.511203+07:00 mbx1.example.com zimbra-mailbox: {}\n",
            text.trim_end().replace('\n', "#012").replace('\t', "#011")
        )
    };
    fs::write(&path, relay(ORDINARY)).unwrap();
    let mut w = Watch::start(&d.data, &[arg(&path)]);
    w.note("following");
    append(&path, &(relay(&blob(7)) + &relay(ORDINARY)));
    let finding = w.first_json(|v| {
        v["text"]
            .as_str()
            .is_some_and(|t| t.contains("missing blob for id: 7"))
    });
    assert_eq!(finding["host"], "mbx1");
    assert_eq!(finding["kind"], "mailbox");
    assert_eq!(finding["rule"], "store.missing-blob-for-id");
    assert_eq!(
        finding["ts"], "2026-03-01T02:14:07.511+07:00",
        "the sender's zone"
    );
    assert!(
        finding["text"]
            .as_str()
            .unwrap()
            .contains("item 7\ncom.zimbra"),
        "{finding}"
    );
}

/// A host of a per-host tree that goes quiet past `--silence` is a finding, and so is its
/// return; a quiet host of no tree (the local logs) never is.
#[test]
fn a_silent_host_is_a_finding_and_its_return_too() {
    let d = dirs();
    let path = d.log.join("remote/mbx1/mailbox.log");
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    File::create(&path).unwrap();
    let local = d.log.join("mailbox.log");
    File::create(&local).unwrap();
    let mut w = Watch::start(&d.data, &["--silence", "1s", arg(&path), arg(&local)]);
    w.note("following");
    append(&local, ORDINARY);
    append(&path, ORDINARY);
    let next_rule = |w: &mut Watch| {
        w.first_json(|v| v["rule"].as_str().is_some_and(|r| r.starts_with("fleet.")))
    };
    let silent = next_rule(&mut w);
    assert_eq!(silent["rule"], "fleet.host-silent");
    assert_eq!(silent["host"], "mbx1");
    append(&path, ORDINARY);
    let back = next_rule(&mut w);
    assert_eq!(back["rule"], "fleet.host-back");
    assert_eq!(back["host"], "mbx1");
    let seen = w.stop();
    assert!(seen.is_empty());
    // In the store, the return closed the silence incident.
    let out = Command::new(env!("CARGO_BIN_EXE_zkb"))
        .args(["incidents", "list", "--format", "json", "--data"])
        .arg(&d.data)
        .output()
        .unwrap();
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let silent: Vec<&serde_json::Value> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["rule"] == "fleet.host-silent")
        .collect();
    assert_eq!(silent.len(), 1, "{list}");
    assert!(
        silent[0]["resolved"].is_string(),
        "resolved by the return: {list}"
    );
}

/// Watching a receiver's tree through a glob: a host whose folder appears later is followed
/// from its first line.
#[test]
fn a_host_that_appears_later_in_the_tree_is_followed() {
    let d = dirs();
    let remote = d.log.join("remote");
    fs::create_dir_all(remote.join("mbx1")).unwrap();
    fs::write(remote.join("mbx1/mailbox.log"), ORDINARY).unwrap();
    let glob = format!("{}/*/*.log", remote.display());
    let mut w = Watch::start(&d.data, &["--no-store", &glob]);
    w.note("following");
    fs::create_dir_all(remote.join("mbx2")).unwrap();
    append(&remote.join("mbx2/mailbox.log"), &(blob(42) + ORDINARY));
    let finding = w.first_json(|v| {
        v["text"]
            .as_str()
            .is_some_and(|t| t.contains("missing blob for id: 42"))
    });
    assert_eq!(finding["host"], "mbx2");
}

#[test]
fn the_alert_command_of_the_config_file_runs_as_exec_does() {
    let d = dirs();
    let alerts = d.data.with_file_name("config-alerts.jsonl");
    let config = d.data.with_file_name("zkb.toml");
    fs::write(
        &config,
        format!(
            "# as /etc/zkb/config.toml\nalert_command = \"cat >> '{}'\"\n",
            alerts.display()
        ),
    )
    .unwrap();
    let (path, mut w) = watching(&d, &["--config", config.to_str().unwrap()]);
    append(&path, &events(0..5));
    w.expect(0..5);
    wait_until(|| fs::read_to_string(&alerts).is_ok_and(|t| !t.is_empty()));
    w.stop();
    let text = fs::read_to_string(&alerts).unwrap();
    assert!(text.contains("store.missing-blob-for-id"), "{text}");
}
