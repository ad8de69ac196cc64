//! End-to-end tests of the `zkb` binary: scan, explain, rules, check and kb, with real-format
//! inputs and the bad inputs an admin's log directory can hold.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, SystemTime};

use assert_cmd::Command;
use serde_json::Value;

const BLOB: &str = "2025-03-01 10:00:03,001 ERROR [qtp1-1:https://10.0.0.1:443/service/soap/GetMsgRequest] [name=a@example.com;mid=41;] mailbox - Unable to get blob while encoding message
com.zimbra.cs.mailbox.MailServiceException: No such blob: mailbox=41, item=257, change=1234
\tat com.zimbra.cs.mailbox.MailServiceException.NO_SUCH_BLOB(MailServiceException.java:591) ~[zimbrastore.jar:10.1.9_GA_4200001]
";
const ORDINARY: &str = "2025-03-01 10:00:00,000 INFO  [qtp1-2:https://10.0.0.1:443/service/soap/SearchRequest] [name=b@example.com;mid=7;] soap - SearchRequest elapsed=12\n";

fn zkb() -> Command {
    let mut c = Command::cargo_bin("zkb").unwrap();
    c.env("NO_COLOR", "1")
        .env("TZ", "UTC")
        .env("ZKB_DATA", std::env::temp_dir().join("zkb-cli-test-data"))
        .timeout(Duration::from_secs(60));
    c
}

/// Asserts the exit status, showing stderr when it differs.
fn expect_code(out: &std::process::Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn json_lines(out: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(out)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

fn write(path: &Path, bytes: &[u8]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
}

#[test]
fn scan_json_follows_the_contract() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("mbx1/mailbox.log");
    write(&f, format!("{ORDINARY}{BLOB}{ORDINARY}").as_bytes());
    let out = zkb()
        .args(["scan", "--format", "json"])
        .arg(&f)
        .output()
        .unwrap();
    expect_code(&out, 0);
    let ms = json_lines(&out.stdout);
    let blob: Vec<&Value> = ms
        .iter()
        .filter(|m| m["rule"] == "store.no-such-blob")
        .collect();
    assert_eq!(blob.len(), 1, "{ms:?}");
    let m = blob[0];
    let keys: Vec<&str> = m.as_object().unwrap().keys().map(String::as_str).collect();
    for k in [
        "ts", "host", "file", "line", "offset", "kind", "level", "program", "rule", "severity",
        "title", "fields", "kb", "text",
    ] {
        assert!(keys.contains(&k), "missing {k} in {keys:?}");
    }
    assert_eq!(m["line"], 2);
    assert_eq!(m["offset"], ORDINARY.len());
    assert_eq!(m["host"], "mbx1");
    assert_eq!(m["kind"], "mailbox");
    assert_eq!(m["level"], "ERROR");
    assert_eq!(m["severity"], "critical");
    assert_eq!(m["ts"], "2025-03-01T10:00:03.001+00:00");
    assert_eq!(m["fields"]["mailbox"], "41");
    assert_eq!(m["fields"]["item"], "257");
    assert_eq!(m["fields"]["name"], "a@example.com");
    assert_eq!(m["text"], BLOB.trim_end());
    let kb: Vec<&str> = m["kb"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap())
        .collect();
    assert!(kb.contains(&"store/hsm-volume-not-mounted"));
    assert!(m["kb"][0]["fix"].as_str().is_some_and(|f| !f.is_empty()));
}

#[test]
fn human_output_shows_severity_place_and_fix() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("mailbox.log");
    write(&f, BLOB.as_bytes());
    let out = zkb().arg("scan").arg(&f).output().unwrap();
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("CRITICAL"), "{s}");
    assert!(s.contains("mailbox.log:1"), "{s}");
    assert!(s.contains("mailbox=41"), "{s}");
    assert!(s.contains("fix:"), "{s}");
    assert!(!s.contains('\u{1b}'), "colour despite NO_COLOR");
    assert!(String::from_utf8_lossy(&out.stderr).contains("findings"));
}

#[test]
fn bad_input_is_reported_and_the_rest_is_scanned() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    write(&p.join("good/mailbox.log"), BLOB.as_bytes());
    let mut utf8 =
        b"2025-03-01 10:00:00,000 INFO  [x] [] soap - \xff\xfe\xc3\x28 bad bytes\n".to_vec();
    utf8.extend_from_slice(BLOB.as_bytes());
    write(&p.join("utf8/mailbox.log"), &utf8);
    let mut huge = b"2025-03-01 10:00:00,000 INFO  [x] [] soap - ".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 10_000_000));
    huge.push(b'\n');
    huge.extend_from_slice(BLOB.as_bytes());
    write(&p.join("huge/mailbox.log"), &huge);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    for i in 0..300 {
        gz.write_all(
            BLOB.replace("item=257", &format!("item={}", i * 7919 % 100_003))
                .as_bytes(),
        )
        .unwrap();
    }
    let gz = gz.finish().unwrap();
    write(&p.join("gz/mailbox.log.2025-03-01.gz"), &gz[..gz.len() / 2]);
    let noise: Vec<u8> = (0..100_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    write(&p.join("bin/mailbox.log.bin"), &noise);
    write(&p.join("empty/mailbox.log"), b"");
    let out = zkb()
        .args(["scan", "--format", "json"])
        .arg(p)
        .arg(p.join("missing.log"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(
        out.status.code(),
        Some(2),
        "input errors give exit 2: {err}"
    );
    let ms = json_lines(&out.stdout);
    for sub in ["good", "utf8", "huge"] {
        assert!(
            ms.iter().any(|m| m["file"]
                .as_str()
                .unwrap()
                .contains(&format!("{sub}/mailbox.log"))
                && m["rule"] == "store.no-such-blob"),
            "{sub}: {ms:?}"
        );
    }
    assert!(
        err.contains("mailbox.log.2025-03-01.gz"),
        "truncated gzip not named: {err}"
    );
    assert!(
        ms.iter()
            .any(|m| m["file"].as_str().unwrap().contains("gz/")),
        "events before the truncation are kept"
    );
    assert!(err.contains("missing.log"), "{err}");
    assert!(err.contains("binary file"), "{err}");
    let utf8_match = ms
        .iter()
        .find(|m| m["file"].as_str().unwrap().contains("utf8/"))
        .unwrap();
    assert_eq!(utf8_match["line"], 2);
}

#[test]
fn unreadable_file_is_named_and_skipped() {
    let d = tempfile::tempdir().unwrap();
    let bad = d.path().join("secret/mailbox.log");
    write(&bad, BLOB.as_bytes());
    let good = d.path().join("open/mailbox.log");
    write(&good, BLOB.as_bytes());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&bad, fs::Permissions::from_mode(0o000)).unwrap();
    }
    if fs::read(&bad).is_ok() {
        // Running as root: permissions do not stop reads; a dangling symlink stands in.
        fs::remove_file(&bad).unwrap();
        std::os::unix::fs::symlink(d.path().join("nowhere"), &bad).unwrap();
    }
    let out = zkb()
        .args(["scan", "--format", "json"])
        .arg(&bad)
        .arg(&good)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("secret/mailbox.log"), "{err}");
    assert_eq!(json_lines(&out.stdout).len(), 1);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn control_characters_never_reach_the_terminal() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("mailbox.log");
    let evil = BLOB
        .replace("change=1234", "change=1234 \u{1b}]0;pwned\u{7}\u{1b}[2J")
        .replace("a@example.com", "a\u{1b}[31m@example.com");
    write(&f, evil.as_bytes());
    let out = zkb().arg("scan").arg(&f).output().unwrap();
    assert!(!out.stdout.contains(&0x1b), "raw ESC in human output");
    assert!(String::from_utf8_lossy(&out.stdout).contains("\\e]0;pwned"));
    let json = zkb()
        .args(["scan", "--format", "json"])
        .arg(&f)
        .output()
        .unwrap();
    assert!(
        !json.stdout.contains(&0x1b),
        "JSON escapes control characters too"
    );
}

#[test]
fn syslog_year_is_inferred_across_new_year() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("zimbra.log");
    let lines = "Dec 31 23:59:58 mta1 postfix/lmtp[1]: 4F1A2B3C: to=<a@example.com>, relay=none, delay=1, delays=1/0/0/0, dsn=4.4.1, status=deferred (connect to mbx1.example.com[10.0.0.11]:7025: Connection refused)\n\
Jan  1 00:00:02 mta1 postfix/lmtp[1]: 5F1A2B3C: to=<b@example.com>, relay=none, delay=1, delays=1/0/0/0, dsn=4.4.1, status=deferred (connect to mbx1.example.com[10.0.0.11]:7025: Connection refused)\n";
    write(&f, lines.as_bytes());
    let jan2 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_312_000); // 2026-01-02
    fs::File::options()
        .write(true)
        .open(&f)
        .unwrap()
        .set_modified(jan2)
        .unwrap();
    let out = zkb()
        .args(["scan", "--format", "json"])
        .arg(&f)
        .output()
        .unwrap();
    let ts: Vec<String> = json_lines(&out.stdout)
        .iter()
        .map(|m| m["ts"].as_str().unwrap().to_string())
        .collect();
    assert!(
        ts.iter().any(|t| t.starts_with("2025-12-31T23:59:58")),
        "{ts:?}"
    );
    assert!(
        ts.iter().any(|t| t.starts_with("2026-01-01T00:00:02")),
        "{ts:?}"
    );
    let forced = zkb()
        .args(["scan", "--format", "json", "--year", "2021"])
        .arg(&f)
        .output()
        .unwrap();
    let ts: Vec<String> = json_lines(&forced.stdout)
        .iter()
        .map(|m| m["ts"].as_str().unwrap().to_string())
        .collect();
    assert!(ts.iter().any(|t| t.starts_with("2020-12-31")), "{ts:?}");
    assert!(ts.iter().any(|t| t.starts_with("2021-01-01")), "{ts:?}");
    let tz = zkb()
        .args(["scan", "--format", "json", "--tz", "Asia/Bangkok"])
        .arg(&f)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&tz.stdout).contains("+07:00"));
}

#[test]
fn context_filters_and_exit_codes() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("mailbox.log");
    write(
        &f,
        format!("{ORDINARY}{ORDINARY}{BLOB}{ORDINARY}").as_bytes(),
    );
    let out = zkb()
        .args([
            "scan", "--format", "json", "-B", "1", "-A", "1", "--rule", "store.*",
        ])
        .arg(&f)
        .output()
        .unwrap();
    let ms = json_lines(&out.stdout);
    assert_eq!(ms.len(), 1);
    assert_eq!(ms[0]["before"].as_array().unwrap().len(), 1);
    assert_eq!(ms[0]["after"].as_array().unwrap().len(), 1);
    let fail = zkb()
        .args(["scan", "-q", "--fail-on", "high"])
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(fail.status.code(), Some(1));
    let none = zkb()
        .args(["scan", "-q", "--format", "json", "--until", "2025-02-28"])
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(none.status.code(), Some(0));
    assert!(json_lines(&none.stdout).is_empty());
    let since = zkb()
        .args([
            "scan",
            "-q",
            "--format",
            "json",
            "--since",
            "2025-03-01 10:00:01",
        ])
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(json_lines(&since.stdout).len(), 1);
    let sev = zkb()
        .args([
            "scan",
            "-q",
            "--format",
            "json",
            "--min-severity",
            "critical",
            "--rule",
            "nothing.like-this",
        ])
        .arg(&f)
        .output()
        .unwrap();
    assert!(json_lines(&sev.stdout).is_empty());
    let usage = zkb()
        .args(["scan", "--min-severity", "loud"])
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn stdin_and_multi_member_gzip() {
    let out = zkb()
        .args(["scan", "--format", "json", "--kind", "mailbox", "-"])
        .write_stdin(BLOB)
        .output()
        .unwrap();
    let ms = json_lines(&out.stdout);
    assert_eq!(ms[0]["file"], "<stdin>");
    let d = tempfile::tempdir().unwrap();
    let mut bytes = Vec::new();
    for part in [ORDINARY, BLOB] {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(part.as_bytes()).unwrap();
        bytes.extend(gz.finish().unwrap());
    }
    let f = d.path().join("mailbox.log.2025-03-01.gz");
    write(&f, &bytes);
    let out = zkb()
        .args(["scan", "--format", "json"])
        .arg(&f)
        .output()
        .unwrap();
    let ms = json_lines(&out.stdout);
    assert!(
        ms.iter()
            .any(|m| m["rule"] == "store.no-such-blob" && m["line"] == 2),
        "{ms:?}"
    );
}

#[test]
fn output_order_is_stable_across_threads() {
    let d = tempfile::tempdir().unwrap();
    for i in 0..12 {
        write(
            &d.path().join(format!("h{i:02}/mailbox.log")),
            format!("{}{BLOB}", ORDINARY.repeat(i * 50)).as_bytes(),
        );
    }
    let run = |threads: &str| {
        let out = zkb()
            .args(["scan", "--format", "json", "--threads", threads])
            .arg(d.path())
            .output()
            .unwrap();
        out.stdout
    };
    let one = run("1");
    assert_eq!(one, run("4"));
    let files: Vec<String> = json_lines(&one)
        .iter()
        .map(|m| m["file"].as_str().unwrap().to_string())
        .collect();
    let mut sorted = files.clone();
    sorted.sort();
    assert_eq!(files, sorted);
}

#[test]
fn catastrophic_regex_in_a_user_rule_stays_linear() {
    let d = tempfile::tempdir().unwrap();
    let rules = d.path().join("rules/evil.yaml");
    write(
        &rules,
        br#"
- id: user.evil
  title: nested quantifiers
  severity: low
  kb: [store/hsm-volume-not-mounted]
  match: {regex: 'xyz(a+)+$'}
  tests:
    match: [{text: 'xyzaaa', fields: {}}]
    no_match: ['xyzaab']
"#,
    );
    let log = d.path().join("app.log");
    write(&log, format!("xyz{}b\n", "a".repeat(200_000)).as_bytes());
    let out = zkb()
        .timeout(Duration::from_secs(20))
        .args(["scan", "--kind", "generic", "--format", "json", "--rules"])
        .arg(d.path().join("rules"))
        .arg(&log)
        .output()
        .unwrap();
    expect_code(&out, 0);
}

#[test]
fn broken_rule_file_is_named_with_its_line_and_the_rest_runs() {
    let d = tempfile::tempdir().unwrap();
    write(
        &d.path().join("rules/bad.yaml"),
        b"- id: user.bad\n  title: x\n  severity: loud\n  match: {contains: abc}\n",
    );
    write(
        &d.path().join("rules/regex.yaml"),
        b"- id: user.regex\n  title: x\n  severity: low\n  match: {regex: 'abc('}\n",
    );
    write(&d.path().join("rules/notyaml.yaml"), b"- id: [unclosed\n");
    let f = d.path().join("mailbox.log");
    write(&f, BLOB.as_bytes());
    let check = zkb()
        .arg("check")
        .arg("--rules")
        .arg(d.path().join("rules"))
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(1));
    let err = String::from_utf8_lossy(&check.stderr);
    assert!(err.contains("bad.yaml:3"), "{err}");
    assert!(err.contains("regex.yaml:1: rule user.regex"), "{err}");
    assert!(err.contains("notyaml.yaml:"), "{err}");
    let scan = zkb()
        .args(["scan", "--format", "json", "--rules"])
        .arg(d.path().join("rules"))
        .arg(&f)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&scan.stderr).contains("bad.yaml:3"));
    assert!(!json_lines(&scan.stdout).is_empty());
}

#[test]
fn check_passes_on_the_shipped_rules_and_kb() {
    let out = zkb().arg("check").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(String::from_utf8_lossy(&out.stdout).contains(" 0 errors"));
}

#[test]
fn check_rejects_rules_without_tests() {
    let d = tempfile::tempdir().unwrap();
    write(&d.path().join("r.yaml"), b"id: user.untested\ntitle: t\nseverity: low\nkb: [store/hsm-volume-not-mounted]\nmatch: {contains: 'abcdef'}\n");
    let out = zkb()
        .args(["check", "--no-default-rules", "--rules"])
        .arg(d.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("no `match` test") && err.contains("no `no_match` test"),
        "{err}"
    );
}

#[test]
fn explain_shows_parse_literal_and_fields() {
    let out = zkb()
        .args(["explain", "--format", "json", BLOB])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["event"]["level"], "ERROR");
    assert_eq!(v["event"]["context"]["mid"], "41");
    assert_eq!(
        v["event"]["thread"],
        "qtp1-1:https://10.0.0.1:443/service/soap/GetMsgRequest"
    );
    let m = v["matches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["rule"] == "store.no-such-blob")
        .unwrap();
    assert_eq!(m["fields"]["item"], "257");
    assert!(!m["literals"].as_array().unwrap().is_empty());
    assert!(v["related"].is_array());
    let human = zkb()
        .arg("explain")
        .arg("-")
        .write_stdin(BLOB)
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&human.stdout);
    assert!(
        s.contains("store.no-such-blob")
            && s.contains("literal")
            && s.contains("field     item=257"),
        "{s}"
    );
}

#[test]
fn rules_list_and_kb_show() {
    let out = zkb()
        .args(["rules", "list", "--format", "json"])
        .output()
        .unwrap();
    let rules: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(rules.len() >= 40);
    for r in &rules {
        assert!(!r["patterns"].as_array().unwrap().is_empty(), "{}", r["id"]);
        assert!(r["source"].as_str().unwrap().starts_with("rules/"));
    }
    let kb = zkb()
        .args([
            "kb",
            "show",
            "store/hsm-volume-not-mounted",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let e: Value = serde_json::from_slice(&kb.stdout).unwrap();
    assert!(e["body"].as_str().unwrap().contains("fstab"));
    assert!(!e["references"].as_array().unwrap().is_empty());
    let missing = zkb().args(["kb", "show", "no/such"]).output().unwrap();
    assert_eq!(missing.status.code(), Some(2));
    let list = zkb()
        .args(["kb", "list", "--format", "json"])
        .output()
        .unwrap();
    let entries: Vec<Value> = serde_json::from_slice(&list.stdout).unwrap();
    assert!(entries.len() >= 100);
}

#[test]
fn search_finds_the_story_fixes_and_caches_its_index() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    let run = |q: &str| {
        let out = zkb()
            .args(["search", "--format", "json", "--data"])
            .arg(&data)
            .arg(q)
            .output()
            .unwrap();
        expect_code(&out, 0);
        serde_json::from_slice::<Vec<Value>>(&out.stdout).unwrap()
    };
    let hits = run("old emails blank after reboot missing blob");
    assert_eq!(hits[0]["id"], "store/hsm-volume-not-mounted");
    for k in ["id", "title", "score", "snippet"] {
        assert!(hits[0].get(k).is_some(), "{k}");
    }
    let index_dirs: Vec<_> = fs::read_dir(data.join("kb-index")).unwrap().collect();
    assert_eq!(index_dirs.len(), 1, "index built once in the data dir");
    let lic = run("installer cannot find license file during upgrade");
    assert!(
        lic.iter()
            .take(3)
            .any(|h| h["id"] == "license/file-not-found-installer"),
        "{lic:?}"
    );
    let pasted = run(
        "com.zimbra.cs.mailbox.MailServiceException: No such blob: mailbox=99, item=1234, change=5",
    );
    assert!(
        pasted
            .iter()
            .take(3)
            .any(|h| h["id"].as_str().unwrap().starts_with("store/")),
        "{pasted:?}"
    );
    // A data dir that cannot be written: the index is built in memory and search still works.
    let ro = d.path().join("file-not-dir");
    fs::write(&ro, b"x").unwrap();
    let out = zkb()
        .args(["search", "--format", "json", "--data"])
        .arg(&ro)
        .arg("licence activation")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(!serde_json::from_slice::<Vec<Value>>(&out.stdout)
        .unwrap()
        .is_empty());
}

#[test]
fn unmatched_errors_come_with_related_entries() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("mailbox.log");
    let odd = "2025-03-01 10:00:05,000 ERROR [qtp1-9] [name=c@example.com;] mailbox - volume /opt/zimbra/store2 unavailable while reading blob for item 77\n";
    write(&f, format!("{ORDINARY}{odd}{BLOB}").as_bytes());
    let out = zkb()
        .args(["scan", "--format", "json", "--unmatched", "--data"])
        .arg(d.path().join("data"))
        .arg(&f)
        .output()
        .unwrap();
    let ms = json_lines(&out.stdout);
    let un: Vec<&Value> = ms.iter().filter(|m| m["rule"].is_null()).collect();
    assert_eq!(un.len(), 1, "{ms:?}");
    assert_eq!(un[0]["line"], 2);
    assert!(!un[0]["related"].as_array().unwrap().is_empty());
    assert!(ms.iter().any(|m| m["rule"] == "store.no-such-blob"));
    let explain = zkb()
        .args(["explain", "--format", "json", "--data"])
        .arg(d.path().join("data"))
        .arg(odd.trim())
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&explain.stdout).unwrap();
    assert!(!v["related"].as_array().unwrap().is_empty());
}

#[test]
fn fix_variant_follows_the_release_the_host_logs_show() {
    let d = tempfile::tempdir().unwrap();
    let line = "Sat Mar 14 23:59:01 2026 failed to activate license.\n";
    write(
        &d.path().join("mbx9/zmsetup.20260314-230000.log"),
        format!(
            "Sat Mar 14 23:02:17 2026 Upgrading from 10.0.13_GA_4837 to 10.1.9_GA_4200001\n{line}"
        )
        .as_bytes(),
    );
    write(
        &d.path().join("mbx8/zmsetup.20260314-230000.log"),
        line.as_bytes(),
    );
    let out = zkb()
        .args([
            "scan",
            "--format",
            "json",
            "--rule",
            "license.activation-failed",
        ])
        .arg(d.path())
        .output()
        .unwrap();
    let ms = json_lines(&out.stdout);
    let fix = |host: &str| {
        let m = ms
            .iter()
            .find(|m| m["host"] == host)
            .unwrap_or_else(|| panic!("no finding from {host}: {ms:?}"));
        let k = m["kb"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["id"] == "license/not-activated-after-upgrade")
            .unwrap();
        k["fix"].as_str().unwrap().to_string()
    };
    let known = fix("mbx9");
    let unknown = fix("mbx8");
    assert!(
        known.contains("licence-key") || known.contains("license-key") || known.contains("<key>"),
        "{known}"
    );
    assert!(
        unknown.contains("Zimbra 10.1 and later") && unknown.contains("Zimbra 8.8.15 to 10.0"),
        "{unknown}"
    );
}

/// A large plain file is cut into segments scanned on several threads; the findings (line
/// numbers, offsets, thresholds counted across cuts) must be those of one pass.
#[test]
fn cut_files_give_the_same_findings_as_one_pass() {
    let d = tempfile::tempdir().unwrap();
    let out = zkb()
        .args(["generate", "--size", "2", "--seed", "3", "--out"])
        .arg(d.path())
        .output()
        .unwrap();
    expect_code(&out, 0);
    let mut mailbox = fs::read(d.path().join("mailbox.log")).unwrap();
    for i in 0..60 {
        mailbox.extend_from_slice(
            format!(
                "2025-08-21 14:10:{:02},555 WARN  [ImapSSLServer-3] [ip=10.0.0.5;oip=198.51.100.23;] \
                 security - cmd=Auth; account=anna@example.com; protocol=imap; \
                 error=authentication failed for [anna@example.com], invalid password;\n",
                i % 60
            )
            .as_bytes(),
        );
        mailbox.extend_from_slice(b"\tat com.example.Filler.line(Filler.java:1)\n");
        if i % 10 == 0 {
            mailbox.extend_from_slice(
                format!("2025-08-21 14:10:{i:02},556 ERROR [qtp1-2] [] misc - widget {i} failed\n")
                    .as_bytes(),
            );
        }
    }
    write(&d.path().join("mailbox.log"), &mailbox);
    let run_with = |segment: &str, extra: &[&str]| {
        let out = zkb()
            .args([
                "scan",
                "--format",
                "json",
                "--threads",
                "2",
                "--segment-size",
                segment,
            ])
            .args(extra)
            .arg(d.path().join("mailbox.log"))
            .arg(d.path().join("zimbra.log"))
            .output()
            .unwrap();
        out.stdout
    };
    let run = |segment: &str| run_with(segment, &[]);
    let whole = run("0");
    let findings = json_lines(&whole);
    assert!(findings.len() > 20, "{} findings", findings.len());
    let failed_logins = findings
        .iter()
        .filter(|f| f["rule"] == "auth.failed-login")
        .count();
    assert!(failed_logins >= 41, "{failed_logins} thresholded findings");
    for segment in ["3000", "65536"] {
        assert_eq!(whole, run(segment), "segment size {segment}");
    }
    // Error events no rule knew are whole events too, so cuts do not change them either.
    let whole = run_with("0", &["--unmatched"]);
    let unknown = json_lines(&whole)
        .iter()
        .filter(|f| f["rule"].is_null())
        .count();
    assert!(
        unknown > 0,
        "no unmatched error events in the generated logs"
    );
    assert_eq!(
        whole,
        run_with("3000", &["--unmatched"]),
        "--unmatched, cut"
    );
}

#[test]
fn a_console_capture_with_colours_and_redraws_is_matched_as_the_admin_saw_it() {
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("install-console.typescript");
    fs::write(
        &capture,
        "Checking for available license file...\r\n\
         \x1b[1;31mERROR:\x1b[0m The ZCS Network \x1b[1mupgrade\x1b[0m requires a license to be located in\r\n\
         /opt/zimbra/conf/ZCSLicense.xml or a license previously installed.\r\n\
         Progress 10%\rProgress 100%\r\n",
    )
    .unwrap();
    let out = zkb()
        .args(["scan", "-q", "--format", "json"])
        .arg(&capture)
        .output()
        .unwrap();
    expect_code(&out, 0);
    let found = json_lines(&out.stdout);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["rule"], "license.file-not-found-installer");
    let text = found[0]["text"].as_str().unwrap();
    assert!(
        text.starts_with("ERROR: The ZCS Network upgrade requires"),
        "{text:?}"
    );
}

/// A server's own logs and the same lines relayed by rsyslog to a receiver's per-host tree
/// give the same findings: rule, host, fields, text and time.
#[test]
fn a_relayed_tree_gives_the_same_findings_as_the_servers_own_files() {
    let d = tempfile::tempdir().unwrap();
    let out = zkb()
        .args(["generate", "--size", "1", "--seed", "5", "--out"])
        .arg(d.path().join("mbx1"))
        .output()
        .unwrap();
    expect_code(&out, 0);
    let local = fs::read_to_string(d.path().join("mbx1/mailbox.log")).unwrap();
    // Relay each event as rsyslog's imfile (escapeLF off) and RSYSLOG_FileFormat would.
    let mut relayed = String::new();
    let mut event = String::new();
    let flush = |event: &mut String, relayed: &mut String| {
        if !event.is_empty() {
            relayed.push_str(&format!(
                "2026-03-01T02:14:07.511203+00:00 mbx1.example.com zimbra-mailbox: {}\n",
                event
                    .trim_end_matches('\n')
                    .replace('\n', "#012")
                    .replace('\t', "#011")
            ));
            event.clear();
        }
    };
    for line in local.lines() {
        if line.len() > 23 && line.as_bytes()[4] == b'-' && line.as_bytes()[19] == b',' {
            flush(&mut event, &mut relayed);
        }
        event.push_str(line);
        event.push('\n');
    }
    flush(&mut event, &mut relayed);
    fs::create_dir_all(d.path().join("remote/mbx1")).unwrap();
    fs::write(d.path().join("remote/mbx1/zimbra-mailbox.log"), relayed).unwrap();
    let scan = |path: &std::path::Path| {
        let out = zkb()
            .args(["scan", "--format", "json", "--tz", "UTC"])
            .arg(path)
            .output()
            .unwrap();
        let mut found: Vec<String> = json_lines(&out.stdout)
            .iter()
            .map(|f| {
                format!(
                    "{} {} {} {} {}",
                    f["rule"], f["host"], f["fields"], f["ts"], f["text"]
                )
            })
            .collect();
        found.sort();
        found
    };
    let own = scan(&d.path().join("mbx1/mailbox.log"));
    assert!(own.len() > 10, "{} findings", own.len());
    assert_eq!(own, scan(&d.path().join("remote/mbx1/zimbra-mailbox.log")));
}

/// `--host` keeps one server's findings from a site's tree.
#[test]
fn host_filters_a_sites_findings() {
    let night = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/upgrade-night");
    let out = zkb()
        .args(["scan", "--format", "json", "--host", "mbx2"])
        .arg(&night)
        .output()
        .unwrap();
    let found = json_lines(&out.stdout);
    assert!(found.len() > 5, "{}", found.len());
    assert!(found.iter().all(|f| f["host"] == "mbx2"));
}
