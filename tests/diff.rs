//! `zkb diff`: two windows of the incident store compared per rule (or unknown template) and
//! host; chronic problems at their usual rate are folded away and what only the later window
//! has comes first, marked NEW.

use std::fs;
use std::process::Command;

fn zkb(data: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_zkb"))
        .args(args)
        .arg("--data")
        .arg(data)
        .env("NO_COLOR", "1")
        .env("TZ", "UTC")
        .env("XDG_CONFIG_HOME", data.join("config"))
        .output()
        .unwrap();
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "zkb {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn chronic_problems_fold_away_and_new_ones_come_first() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("mbx1/mailbox.log");
    fs::create_dir_all(log.parent().unwrap()).unwrap();
    let mut text = String::new();
    for h in 0..24 {
        // Chronic all day at the same rate: one old blob error, one error no rule knows.
        text.push_str(&format!(
            "2026-03-01 {h:02}:05:00,000 ERROR [qtp1-1] [name=old@example.com;mid=5;] mailbox - Unable to get blob while encoding message\n\
             com.zimbra.cs.mailbox.MailServiceException: No such blob: mailbox=5, item=77, change=1\n\
             2026-03-01 {h:02}:06:00,000 ERROR [Sync-1] [] sync - widget cache {h} refused to warm up\n"
        ));
        if h >= 20 {
            for i in 0..10 {
                text.push_str(&format!(
                    "2026-03-01 {h:02}:{:02}:00,000 WARN  [qtp1-7] [name=v{i}@example.com;mid={};] mailbox - missing blob for id: {}, change: 1\n",
                    10 + i,
                    100 + i,
                    9000 + i
                ));
            }
        }
    }
    fs::write(&log, text).unwrap();
    zkb(
        &data,
        &[
            "scan",
            "-q",
            "--store",
            "--unmatched",
            log.to_str().unwrap(),
        ],
    );
    let windows = [
        "--before",
        "2026-03-01T00:00..2026-03-01T12:00",
        "--after",
        "2026-03-01T12:00..2026-03-02T00:00",
    ];
    let json: Vec<serde_json::Value> = zkb(
        &data,
        &[&["diff", "--format", "json"], &windows[..]].concat(),
    )
    .lines()
    .map(|l| serde_json::from_str(l).unwrap())
    .collect();
    assert_eq!(json.len(), 1, "{json:?}");
    assert_eq!(json[0]["change"], "NEW");
    assert_eq!(json[0]["rule"], "store.missing-blob-for-id");
    assert_eq!(json[0]["after"], 40);
    // Ten mailboxes, each seen once an hour: over the 30-minute gap, so 4 incidents each.
    assert_eq!(json[0]["incidents_after"], 40);
    let all = zkb(&data, &[&["diff", "--all"], &windows[..]].concat());
    let lines: Vec<&str> = all.lines().collect();
    assert!(lines[0].starts_with("NEW"), "{all}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("same") && l.contains("store.no-such-blob")),
        "{all}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("same") && l.contains("widget cache <num> refused")),
        "{all}"
    );
    let gone = zkb(
        &data,
        &[
            "diff",
            "--before",
            "2026-03-01T20:00..2026-03-02T00:00",
            "--after",
            "2026-03-02T00:00..2026-03-02T04:00",
            "--format",
            "json",
        ],
    );
    assert!(
        gone.lines().all(|l| l.contains("\"GONE\"")) && gone.contains("missing-blob-for-id"),
        "{gone}"
    );
}
