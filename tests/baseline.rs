//! The baseline: built from rotated logs of ordinary days (a chronic old missing blob twice an
//! hour), then `zkb watch --baseline` folds the chronic errors at their usual rate away and
//! shows the blob errors that appear only after the reboot, marked NEW.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// An old missing blob of mailbox 7, at `h:m` on `day`.
fn chronic(day: u32, h: u32, m: u32) -> String {
    format!(
        "2026-03-{day:02} {h:02}:{m:02}:07,511 WARN  [qtp1-1] [name=old@example.com;mid=7;] mailbox - Unable to get blob for item 77\n\
         com.zimbra.cs.mailbox.MailServiceException: missing blob for id: 77, change: 1\n"
    )
}

/// An index warning once an hour, which stops after the upgrade (GONE).
fn possibly_corrupt(day: u32, h: u32) -> String {
    format!(
        "2026-03-{day:02} {h:02}:20:13,450 WARN  [qtp1-9:https://mail.example.com/service/soap/SearchRequest] [name=anna@example.com;mid=42;] index - Possibly corrupt index for mailbox 42\n"
    )
}

/// A message that opens blank after the reboot.
fn no_such_blob(h: u32, i: u32) -> String {
    format!(
        "2026-03-15 {h:02}:{:02}:{:02},000 WARN  [qtp1-7:https://10.0.0.1:443/service/soap/GetMsgRequest] [name=v{i}@example.com;mid={};] mailbox - Unable to get blob while encoding message\n\
         com.zimbra.cs.mailbox.MailServiceException: No such blob: mailbox={}, item={}, change=1\n\
         \tat com.zimbra.cs.mailbox.MailServiceException.NO_SUCH_BLOB(MailServiceException.java:591)\n",
        10 + i,
        i,
        100 + i,
        100 + i,
        9000 + i
    )
}

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

fn zkb(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_zkb"));
    c.env("XDG_CONFIG_HOME", dir.join("config"))
        .env("TZ", "UTC")
        .env("NO_COLOR", "1")
        .arg("--data")
        .arg(dir.join("data"));
    c
}

#[test]
fn chronic_errors_are_folded_and_new_ones_come_marked() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    // Two ordinary days: the old blob twice an hour.
    let mut before = String::new();
    for day in [13, 14] {
        for h in 0..24 {
            before += &chronic(day, h, 10);
            before += &possibly_corrupt(day, h);
            before += &chronic(day, h, 40);
        }
    }
    write(&dir.join("rotated/mbx1/mailbox.log"), &before);
    let out = zkb(dir)
        .args(["baseline", "build"])
        .arg(dir.join("rotated"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let show = zkb(dir)
        .args(["--format", "json", "baseline", "show"])
        .output()
        .unwrap();
    let b: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    let entry = &b["entries"][0];
    assert_eq!(entry["subject"], "store.missing-blob-for-id", "{b}");
    assert_eq!(entry["host"], "mbx1");
    assert_eq!(entry["count"], 96);
    let rate = entry["per_hour"].as_f64().unwrap();
    assert!((rate - 2.0).abs() < 0.05, "{rate}");

    // The night: the old blob at its usual rate for four hours, new blob errors in the third,
    // and no more index warnings.
    let mut night = String::new();
    for h in 0..4 {
        night += &chronic(15, h, 10);
        night += &chronic(15, h, 40);
        if h == 2 {
            for i in 0..10 {
                night += &no_such_blob(h, i);
            }
        }
    }
    night += "2026-03-15 04:00:00,000 INFO  [main] [] misc - end\n";
    write(&dir.join("site/mbx1/mailbox.log"), &night);
    let mut child = zkb(dir)
        .args([
            "watch",
            "--format",
            "json",
            "--normal-priority",
            "--silence",
            "0",
        ])
        .args(["--from-start", "--baseline"])
        .arg(dir.join("site/*/mailbox.log"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let mut shown: Vec<serde_json::Value> = Vec::new();
    let end = Instant::now() + Duration::from_secs(20);
    while shown
        .iter()
        .filter(|f| f["rule"] == "store.no-such-blob")
        .count()
        < 10
    {
        let left = end.checked_duration_since(Instant::now()).expect("in time");
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("{shown:#?}"));
        shown.push(serde_json::from_str(&line).unwrap());
    }
    Command::new("kill")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    while let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
        shown.push(serde_json::from_str(&line).unwrap());
    }
    assert!(
        shown
            .iter()
            .all(|f| f["rule"] != "store.missing-blob-for-id"),
        "the chronic blob is folded: {shown:#?}"
    );
    assert!(shown.iter().all(|f| f["baseline"] == "NEW"), "{shown:#?}");
    assert!(
        err.contains("8 finding(s) at their usual rate against the baseline folded away"),
        "{err}"
    );
    assert!(
        err.contains("GONE against the baseline: index.possibly-corrupt on mbx1 (usually 1.0/h)"),
        "due about 3.5 times in the night, seen never: {err}"
    );
}
