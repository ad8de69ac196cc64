//! Lessons learned through the CLI: `zkb unknown` groups the events no rule knows into
//! templates, and `zkb learn` turns one into a rule that `zkb check` passes and the next scan
//! uses, matching variants of its line and not lines with other constant words.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A sandbox: its own config dir (user rules and KB) and data dir.
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Home {
        Home {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn zkb(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_zkb"))
            .args(args)
            .env("XDG_CONFIG_HOME", self.path("config"))
            .env("ZKB_DATA", self.path("data"))
            .env("NO_COLOR", "1")
            .env("TZ", "UTC")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    fn ok(&self, args: &[&str], stdin: &str) -> String {
        let out = self.zkb(args, stdin);
        assert_eq!(
            out.status.code(),
            Some(0),
            "zkb {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn fails(&self, args: &[&str], stdin: &str) -> String {
        let out = self.zkb(args, stdin);
        assert_eq!(out.status.code(), Some(2), "zkb {args:?} should fail");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

fn lease(ts: &str, account: &str, mid: u32, shard: u32, volume: &str, verb: &str) -> String {
    format!(
        "2025-03-02 {ts},511 ERROR [MailboxPurge] [name={account};mid={mid};] purge - Frobnicator quota shard {shard} {verb} lease for volume {volume} after {} ms\n",
        shard * 1000
    )
}

fn write_log(path: &Path, lines: &[String]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, lines.concat()).unwrap();
}

fn json_lines(s: &str) -> Vec<serde_json::Value> {
    s.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn unknown_groups_variants_most_frequent_first_and_deterministically() {
    let h = Home::new();
    let log = h.path("logs/mbx1/mailbox.log");
    let mut lines = Vec::new();
    for i in 0..5 {
        lines.push(lease(
            &format!("09:1{i}:00"),
            &format!("u{i}@example.com"),
            40 + i,
            i + 1,
            &format!("hsm-{i}"),
            "refused",
        ));
        lines.push(format!("2025-03-02 09:1{i}:01,000 INFO  [qtp1-1] [name=u{i}@example.com;] soap - GetMsgRequest elapsed={i}\n"));
    }
    for q in ["alpha", "beta", "gamma"] {
        lines.push(format!(
            "2025-03-02 10:00:00,000 WARN  [Q] [] misc - queue {q} stalled\n"
        ));
    }
    lines.push("2025-03-02 10:00:01,000 ERROR [Q] [] misc - lease broker gone\n".into());
    write_log(&log, &lines);
    let syslog = h.path("logs/zimbra.log");
    write_log(
        &syslog,
        &[
            "Mar  2 10:00:02 mta1 zmconfigd[321]: Frobnicator watchdog failed to restart 3 times\n"
                .into(),
            "Mar  2 10:00:03 mta1 postfix/smtpd[124]: connect from mx.example.net[192.0.2.7]\n"
                .into(),
        ],
    );
    let logs = h.path("logs");
    let args = ["unknown", "--format", "json", logs.to_str().unwrap()];
    let first = h.ok(&args, "");
    assert_eq!(first, h.ok(&args, ""), "the same logs give the same answer");
    let groups = json_lines(&first);
    let summary: Vec<(String, u64)> = groups
        .iter()
        .map(|g| {
            (
                g["template"].as_str().unwrap().to_string(),
                g["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary[0],
        (
            "Frobnicator quota shard <num> refused lease for volume <id> after <num> ms".into(),
            5
        )
    );
    assert!(
        summary.contains(&("queue <*> stalled".into(), 3)),
        "{summary:?}"
    );
    assert!(
        summary.contains(&("lease broker gone".into(), 1)),
        "{summary:?}"
    );
    assert!(
        summary
            .iter()
            .any(|(t, _)| t == "Frobnicator watchdog failed to restart <num> times"),
        "syslog lines with error words count: {summary:?}"
    );
    assert!(
        !first.contains("GetMsgRequest") && !first.contains("connect from"),
        "ordinary lines are not unknown errors"
    );
    let top = &groups[0];
    assert_eq!(top["hosts"], serde_json::json!(["mbx1"]));
    assert_eq!(top["first_seen"], "2025-03-02T09:10:00.511Z");
    assert_eq!(top["last_seen"], "2025-03-02T09:14:00.511Z");
    assert!(top["learn"]
        .as_str()
        .unwrap()
        .starts_with("zkb learn '2025-03-02 09:10:00,511 ERROR"));
    let human = h.ok(&["unknown", logs.to_str().unwrap()], "");
    assert!(
        human.contains("5x") && human.contains("adopt: zkb learn"),
        "{human}"
    );
}

#[test]
fn a_learned_rule_is_checked_used_by_the_next_scan_and_matches_only_its_shape() {
    let h = Home::new();
    let log = h.path("logs/mailbox.log");
    write_log(
        &log,
        &[
            lease(
                "11:02:55",
                "bob@example.org",
                902,
                4,
                "hsm-archive-12",
                "refused",
            ),
            lease(
                "11:02:56",
                "bob@example.org",
                902,
                4,
                "hsm-archive-12",
                "accepted",
            ),
        ],
    );
    let line = lease(
        "09:14:07",
        "ann@example.com",
        41,
        17,
        "hsm-archive-3",
        "refused",
    );
    let out = h.ok(
        &[
            "learn",
            "-",
            "--id",
            "local.frobnicator-lease",
            "--title",
            "Frobnicator refused a lease",
            "--severity",
            "high",
            "--write",
            "--test-on",
            log.to_str().unwrap(),
        ],
        &line,
    );
    assert!(out.contains("1 hit(s)"), "{out}");
    assert!(
        out.contains("near ") && out.contains("accepted lease"),
        "the closest non-hit is shown: {out}"
    );
    let rule = h.path("config/zkb/rules/local.frobnicator-lease.yaml");
    let yaml = fs::read_to_string(&rule).unwrap();
    assert!(
        yaml.contains("no_match") && yaml.contains("accepted lease"),
        "the near miss is its no_match test:\n{yaml}"
    );
    let note = fs::read_to_string(h.path("config/zkb/kb/local/frobnicator-lease.md")).unwrap();
    for section in ["## Symptoms", "## Cause", "## Fix", "## Verify"] {
        assert!(note.contains(section), "{note}");
    }
    let check = h.ok(&["check"], "");
    assert!(
        check.contains("0 errors") || !check.contains("error"),
        "{check}"
    );

    let variants = h.path("variants/mailbox.log");
    write_log(
        &variants,
        &[
            lease("12:00:00", "carl@example.net", 7, 250, "store9", "refused"),
            lease(
                "12:00:01",
                "dora@example.com",
                99999,
                1,
                "hsm-archive-3",
                "refused",
            ),
            lease("12:00:02", "carl@example.net", 7, 250, "store9", "granted"),
            "2025-03-02 12:00:03,000 ERROR [MailboxPurge] [] purge - Frobnicator quota refused\n"
                .into(),
        ],
    );
    let found = json_lines(&h.ok(
        &["scan", "--format", "json", variants.to_str().unwrap()],
        "",
    ));
    let learned: Vec<u64> = found
        .iter()
        .filter(|f| f["rule"] == "local.frobnicator-lease")
        .map(|f| f["line"].as_u64().unwrap())
        .collect();
    assert_eq!(learned, [1, 2], "variants match, other wordings do not");
    assert_eq!(found[0]["fields"]["volume"], "store9");
    assert_eq!(found[0]["severity"], "high");
}

#[test]
fn bad_requests_get_clear_errors() {
    let h = Home::new();
    let line = lease(
        "09:14:07",
        "ann@example.com",
        41,
        17,
        "hsm-archive-3",
        "refused",
    );
    let err = h.fails(&["learn", &line, "--id", "store.no-such-blob"], "");
    assert!(
        err.contains("already taken") && err.contains("store.yaml"),
        "{err}"
    );
    let err = h.fails(&["learn", &line, "--severity", "urgent"], "");
    assert!(err.contains("urgent") && err.contains("critical"), "{err}");
    let err = h.fails(&["learn", "-"], "\n  \n");
    assert!(err.contains("empty"), "{err}");
    let err = h.fails(
        &[
            "learn",
            "42 10.0.0.1 /opt/zimbra/store 4f1a2b3c9d77 ann@example.com",
        ],
        "",
    );
    assert!(err.contains("nothing") && err.contains("constant"), "{err}");
    let err = h.fails(&["learn", &line, "--id", "Not An Id"], "");
    assert!(err.contains("not valid"), "{err}");
    h.ok(&["learn", &line, "--id", "local.once", "--write"], "");
    let err = h.fails(&["learn", &line, "--id", "local.once", "--write"], "");
    assert!(
        err.contains("already taken") && err.contains("local.once.yaml"),
        "{err}"
    );
}

#[test]
fn an_incident_in_the_store_can_be_learned_from() {
    let h = Home::new();
    let log = h.path("logs/mailbox.log");
    write_log(
        &log,
        &["2025-03-02 09:00:00,000 WARN  [qtp1-1] [name=ann@example.com;mid=41;] mailbox - Unable to get blob for item 257\ncom.zimbra.cs.mailbox.MailServiceException: missing blob for id: 257, change: 1\n".into()],
    );
    h.ok(&["scan", "-q", "--store", log.to_str().unwrap()], "");
    let out = h.ok(
        &[
            "learn",
            "--from-incident",
            "1",
            "--id",
            "local.blob-item",
            "--kb-id",
            "store/hsm-volume-not-mounted",
        ],
        "",
    );
    assert!(out.contains("regex") && out.contains("Unable"), "{out}");
    let err = h.fails(&["learn", "--from-incident", "99"], "");
    assert!(err.contains("no incident #99"), "{err}");
}
