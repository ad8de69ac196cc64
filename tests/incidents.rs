//! The incident store through the CLI: `scan --store` is idempotent (the same files, or a `.gz`
//! of one, add nothing), findings become incidents by rule and group, and incidents can be
//! listed, searched and shown.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::Command;

fn zkb(data: &Path, args: &[&str]) -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_zkb"))
        .args(args)
        .arg("--data")
        .arg(data)
        .env("NO_COLOR", "1")
        .env("TZ", "UTC")
        .output()
        .unwrap();
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn blob(item: u32, mailbox: u32, minute: u32) -> String {
    format!(
        "2026-03-15 02:{minute:02}:07,511 WARN  [qtp1-1] [name=u{item}@example.com;mid={mailbox};] mailbox - Unable to get blob for item {item}\n\
         com.zimbra.cs.mailbox.MailServiceException: missing blob for id: {item}, change: 1\n"
    )
}

#[test]
fn storing_twice_adds_nothing_and_a_gz_rotation_is_the_same_source() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("mailbox.log");
    let text: String = (0..8).map(|i| blob(i, 5, i)).collect::<String>() + &blob(9, 6, 10);
    assert!(text.len() > 1024, "a log longer than its fingerprint");
    fs::write(&log, &text).unwrap();
    let (_, err) = zkb(&data, &["scan", "--store", log.to_str().unwrap()]);
    assert!(
        err.contains("stored 9 new occurrence(s), 0 already known"),
        "{err}"
    );
    let (_, err) = zkb(&data, &["scan", "--store", log.to_str().unwrap()]);
    assert!(
        err.contains("stored 0 new occurrence(s), 9 already known"),
        "{err}"
    );
    let gz = dir.path().join("mailbox.log.2026-03-15.gz");
    let mut enc = flate2::write::GzEncoder::new(fs::File::create(&gz).unwrap(), Default::default());
    enc.write_all(text.as_bytes()).unwrap();
    enc.finish().unwrap();
    let (_, err) = zkb(&data, &["scan", "--store", gz.to_str().unwrap()]);
    assert!(
        err.contains("stored 0 new occurrence(s), 9 already known"),
        "{err}"
    );
    // Appended lines are new; the old ones are still known.
    fs::write(&log, text.clone() + &blob(10, 5, 20)).unwrap();
    let (_, err) = zkb(&data, &["scan", "--store", log.to_str().unwrap()]);
    assert!(
        err.contains("stored 1 new occurrence(s), 9 already known"),
        "{err}"
    );

    let (list, _) = zkb(&data, &["incidents", "list", "--format", "json"]);
    let list: Vec<serde_json::Value> = serde_json::from_str(&list).unwrap();
    let counts: Vec<(String, i64)> = list
        .iter()
        .map(|i| {
            (
                i["group"].as_str().unwrap().to_string(),
                i["count"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(list.len(), 2, "mailbox 5 and mailbox 6: {counts:?}");
    assert!(
        counts.contains(&("5".into(), 9)) && counts.contains(&("6".into(), 1)),
        "{counts:?}"
    );

    let (hits, _) = zkb(
        &data,
        &["incidents", "search", "--format", "json", "missing", "blob"],
    );
    let hits: Vec<serde_json::Value> = serde_json::from_str(&hits).unwrap();
    assert_eq!(hits.len(), 2);
    let (none, _) = zkb(&data, &["incidents", "search", "--format", "json", "slapd"]);
    assert_eq!(none.trim(), "[]");
    let id = list[0]["id"].to_string();
    let (shown, _) = zkb(&data, &["incidents", "show", &id]);
    assert!(
        shown.contains("missing blob for id") && shown.contains("zkb kb show"),
        "{shown}"
    );
}

#[test]
fn occurrences_far_apart_are_separate_incidents() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("mailbox.log");
    // Same mailbox: 02:00 and 02:10 join; 02:59 is more than 30 minutes after 02:10.
    fs::write(&log, blob(1, 5, 0) + &blob(2, 5, 10) + &blob(3, 5, 59)).unwrap();
    zkb(&data, &["scan", "--store", log.to_str().unwrap()]);
    let (list, _) = zkb(&data, &["incidents", "list", "--format", "json"]);
    let list: Vec<serde_json::Value> = serde_json::from_str(&list).unwrap();
    let mut counts: Vec<i64> = list.iter().map(|i| i["count"].as_i64().unwrap()).collect();
    counts.sort();
    assert_eq!(counts, [1, 2]);
}

#[test]
fn the_report_is_self_contained_and_shows_hostile_log_text_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("mailbox.log");
    let hostile = "2026-03-15 02:00:07,511 WARN  [qtp1-1] [name=<script>alert(1)</script>@example.com;mid=5;ua=\"><img src=x onerror=alert(2)>;] mailbox - Unable to get blob for item 1\n\
         com.zimbra.cs.mailbox.MailServiceException: missing blob for id: 1, change: 1\n";
    fs::write(&log, hostile.to_string() + &blob(2, 5, 1)).unwrap();
    zkb(&data, &["scan", "--store", log.to_str().unwrap()]);
    let page = dir.path().join("report.html");
    zkb(&data, &["report", "--html", page.to_str().unwrap()]);
    let html = fs::read_to_string(&page).unwrap();
    assert!(html.contains("<svg"), "a timeline");
    assert!(
        !html.contains("<script") && !html.contains("<img"),
        "log text is escaped"
    );
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "nothing external"
    );
    assert!(html.contains("Fix:"), "incidents come with their fix");
    let md = dir.path().join("report.md");
    zkb(&data, &["report", "--redact", "--md", md.to_str().unwrap()]);
    let md = fs::read_to_string(&md).unwrap();
    assert!(!md.contains("</script>@"), "{md}");
    assert!(md.contains("name=<account>"), "{md}");
}

#[test]
fn stats_count_and_prune_forgets_old_incidents() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("mailbox.log");
    fs::write(&log, blob(1, 5, 0) + &blob(2, 6, 1)).unwrap();
    zkb(&data, &["scan", "--store", log.to_str().unwrap()]);
    let (stats, _) = zkb(&data, &["incidents", "stats", "--format", "json"]);
    let stats: serde_json::Value = serde_json::from_str(&stats).unwrap();
    assert_eq!(stats["rule"]["store.missing-blob-for-id"], 2);
    assert_eq!(stats["day"]["2026-03-15"], 2);
    // The events are from March 2026: ten years' retention keeps them, a day's does not.
    zkb(&data, &["incidents", "prune", "--keep", "3650d"]);
    let (list, _) = zkb(&data, &["incidents", "list", "--format", "json"]);
    assert_eq!(
        serde_json::from_str::<Vec<serde_json::Value>>(&list)
            .unwrap()
            .len(),
        2
    );
    zkb(&data, &["incidents", "prune", "--keep", "1d"]);
    let (list, _) = zkb(&data, &["incidents", "list", "--format", "json"]);
    assert_eq!(list.trim(), "[]");
    let (hits, _) = zkb(&data, &["incidents", "search", "--format", "json", "blob"]);
    assert_eq!(hits.trim(), "[]", "the search index forgets them too");
}

#[test]
fn list_and_search_filter_by_time_rule_and_severity() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("mailbox.log");
    // Mailbox 5 at 02:00, mailbox 6 at 02:50 (two incidents of one rule).
    fs::write(&log, blob(1, 5, 0) + &blob(2, 6, 50)).unwrap();
    zkb(&data, &["scan", "--store", log.to_str().unwrap()]);
    let count = |args: &[&str]| -> usize {
        let (out, _) = zkb(&data, args);
        serde_json::from_str::<Vec<serde_json::Value>>(&out)
            .unwrap()
            .len()
    };
    let list = ["incidents", "list", "--format", "json"];
    assert_eq!(count(&list), 2);
    assert_eq!(
        count(&[&list[..], &["--since", "2026-03-15T02:30:00Z"]].concat()),
        1
    );
    assert_eq!(
        count(&[&list[..], &["--until", "2026-03-15T02:30:00Z"]].concat()),
        1
    );
    assert_eq!(count(&[&list[..], &["--rule", "store.*"]].concat()), 2);
    assert_eq!(count(&[&list[..], &["--rule", "ldap.*"]].concat()), 0);
    assert_eq!(
        count(&[&list[..], &["--min-severity", "critical"]].concat()),
        2
    );
    assert_eq!(count(&[&list[..], &["--host", "no-such-host"]].concat()), 0);
    let search = [
        "incidents",
        "search",
        "--format",
        "json",
        "--since",
        "2026-03-15T02:30:00Z",
        "blob",
    ];
    assert_eq!(count(&search), 1);
}

/// A rule's `resolves` closes the open incident of another rule on the same host and group;
/// the next occurrence starts a new incident rather than reopening the closed one.
#[test]
fn a_recovery_line_resolves_the_incident_and_the_next_failure_is_new() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let rules = dir.path().join("rules");
    fs::create_dir_all(&rules).unwrap();
    fs::write(
        rules.join("frob.yaml"),
        r#"
- id: local.frob-down
  title: Frobnicator down
  severity: high
  kinds: [mailbox]
  match: {regex: 'frobnicator (?P<unit>\w+) is down'}
  group_by: [unit]
  kb: [store/hsm-volume-not-mounted]
  tests:
    match: [{text: '2026-03-15 02:00:00,000 ERROR [x] [] misc - frobnicator alpha is down', fields: {unit: alpha}}]
    no_match: ['2026-03-15 02:00:00,000 ERROR [x] [] misc - frobnicator alpha is up again']
- id: local.frob-up
  title: Frobnicator up again
  severity: info
  kinds: [mailbox]
  match: {regex: 'frobnicator (?P<unit>\w+) is up again'}
  group_by: [unit]
  resolves: [local.frob-down]
  kb: [store/hsm-volume-not-mounted]
  tests:
    match: [{text: '2026-03-15 02:00:00,000 INFO  [x] [] misc - frobnicator alpha is up again', fields: {unit: alpha}}]
    no_match: ['2026-03-15 02:00:00,000 ERROR [x] [] misc - frobnicator alpha is down']
"#,
    )
    .unwrap();
    let log = dir.path().join("mbx1/mailbox.log");
    fs::create_dir_all(log.parent().unwrap()).unwrap();
    fs::write(
        &log,
        "2026-03-15 02:00:00,000 ERROR [x] [] misc - frobnicator alpha is down\n\
         2026-03-15 02:01:00,000 ERROR [x] [] misc - frobnicator alpha is down\n\
         2026-03-15 02:02:00,000 ERROR [x] [] misc - frobnicator beta is down\n\
         2026-03-15 02:05:00,000 INFO  [x] [] misc - frobnicator alpha is up again\n\
         2026-03-15 02:10:00,000 ERROR [x] [] misc - frobnicator alpha is down\n",
    )
    .unwrap();
    let r = rules.to_str().unwrap();
    zkb(
        &data,
        &["--rules", r, "scan", "-q", "--store", log.to_str().unwrap()],
    );
    let (out, _) = zkb(
        &data,
        &[
            "incidents",
            "list",
            "--rule",
            "local.frob-down",
            "--format",
            "json",
        ],
    );
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    let mut rows: Vec<(String, i64, bool)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["group"].as_str().unwrap().to_string(),
                i["count"].as_i64().unwrap(),
                i["resolved"].is_string(),
            )
        })
        .collect();
    rows.sort();
    assert_eq!(
        rows,
        [
            ("alpha".to_string(), 1, false),
            ("alpha".to_string(), 2, true),
            ("beta".to_string(), 1, false)
        ],
        "{list}"
    );
}

/// A rule's `quiet` time: occurrences an hour apart are one incident when it is 2h, two with the
/// default 30 minutes; an incident not seen for its quiet time is closed (`state: quiet`).
#[test]
fn an_incident_not_seen_for_its_quiet_time_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let rules = dir.path().join("rules");
    fs::create_dir_all(&rules).unwrap();
    let rule = |id: &str, quiet: &str| {
        format!(
            "- id: {id}\n  title: Frobnicator stalled\n  severity: medium\n  kinds: [mailbox]\n{quiet}  match:\n    contains: 'Frobnicator {id} stalled'\n  tests:\n    match:\n      - text: '2026-03-15 02:00:00,000 WARN  [x] [] misc - Frobnicator {id} stalled'\n    no_match:\n      - text: '2026-03-15 02:00:00,000 WARN  [x] [] misc - Frobnicator {id} started'\n"
        )
    };
    fs::write(
        rules.join("frob.yaml"),
        rule("test.slow", "  quiet: 2h\n") + &rule("test.fast", ""),
    )
    .unwrap();
    let log = dir.path().join("mailbox.log");
    let line = |t: &str, id: &str| {
        format!("2026-03-15 {t},000 WARN  [x] [] misc - Frobnicator {id} stalled\n")
    };
    fs::write(
        &log,
        [
            line("02:00:00", "test.slow"),
            line("02:00:00", "test.fast"),
            line("03:00:00", "test.slow"),
            line("03:00:00", "test.fast"),
        ]
        .concat(),
    )
    .unwrap();
    let r = rules.to_str().unwrap();
    zkb(
        &data,
        &["--rules", r, "scan", "-q", "--store", log.to_str().unwrap()],
    );
    let (list, _) = zkb(
        &data,
        &["incidents", "list", "--format", "json", "--rule", "test.*"],
    );
    let list: Vec<serde_json::Value> = serde_json::from_str(&list).unwrap();
    let count = |id: &str| list.iter().filter(|i| i["rule"] == id).count();
    assert_eq!(count("test.slow"), 1, "an hour apart, quiet 2h: {list:#?}");
    assert_eq!(count("test.fast"), 2, "an hour apart, quiet 30m: {list:#?}");
    assert!(
        list.iter().all(|i| i["state"] == "quiet"),
        "March is long past: {list:#?}"
    );
    let slow = list.iter().find(|i| i["rule"] == "test.slow").unwrap();
    assert_eq!(slow["quiet_since"], "2026-03-15T05:00:00Z");
    let (human, _) = zkb(&data, &["incidents", "list", "--rule", "test.slow"]);
    assert!(
        human.contains("(closed: quiet since 2026-03-15T05:00:00Z)"),
        "{human}"
    );
}
