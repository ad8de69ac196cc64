//! The configuration files: the user's file is read, `--config` names another, flags override
//! the file, the file overrides the defaults, `zkb config show` says where each value came
//! from, and an unknown key stops zkb with the file and line named.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

fn zkb(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zkb"))
        .args(args)
        .env("NO_COLOR", "1")
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("HOME", home)
        .env_remove("ZKB_CONFIG")
        .env_remove("ZKB_DATA")
        .output()
        .unwrap()
}

fn severities(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["severity"].as_str().unwrap().to_string()
        })
        .collect()
}

const NIGHT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/upgrade-night");

#[test]
fn the_user_file_sets_the_floor_and_a_flag_overrides_it() {
    let home = tempfile::tempdir().unwrap();
    let cfg = home.path().join("config/zkb");
    fs::create_dir_all(&cfg).unwrap();
    fs::write(cfg.join("config.toml"), "min_severity = \"critical\"\n").unwrap();

    let from_file = zkb(home.path(), &["scan", "--format", "json", NIGHT]);
    let sev = severities(&from_file);
    assert!(!sev.is_empty());
    assert!(sev.iter().all(|s| s == "critical"), "{sev:?}");

    let flag = zkb(
        home.path(),
        &["scan", "--format", "json", "--min-severity", "high", NIGHT],
    );
    let sev = severities(&flag);
    assert!(sev.iter().any(|s| s == "high"), "{sev:?}");
    assert!(sev.iter().all(|s| s == "high" || s == "critical"));
}

#[test]
fn config_show_names_where_each_value_came_from() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("site.toml");
    fs::write(
        &file,
        "# site settings\nsilence = \"30m\"\nrules = [\"/srv/zkb/rules\"]\n",
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let out = zkb(
        home.path(),
        &[
            "--config",
            f,
            "--data",
            "/tmp/zkb-flag",
            "config",
            "show",
            "--format",
            "json",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = &v["settings"];
    assert_eq!(s["silence"]["value"], "30m");
    assert_eq!(s["silence"]["from"], f);
    assert_eq!(s["rules"]["value"], "/srv/zkb/rules");
    assert_eq!(s["data"]["value"], "/tmp/zkb-flag");
    assert_eq!(s["data"]["from"], "command line");
    assert_eq!(s["min_severity"]["value"], "info");
    assert_eq!(s["min_severity"]["from"], "default");
    assert_eq!(v["files"][0], f);

    let human = zkb(home.path(), &["--config", f, "config", "show"]);
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.lines()
            .any(|l| l.starts_with("silence") && l.contains("30m") && l.contains(f)),
        "{text}"
    );
}

#[test]
fn an_unknown_key_is_an_error_naming_the_file_and_line() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("bad.toml");
    fs::write(&file, "min_severity = \"high\"\n\nsilense = \"5m\"\n").unwrap();
    let out = zkb(
        home.path(),
        &["--config", file.to_str().unwrap(), "scan", NIGHT],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}: line 3:", file.display())) && err.contains("silense"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn a_named_file_that_is_missing_is_an_error() {
    let home = tempfile::tempdir().unwrap();
    let out = zkb(home.path(), &["--config", "/nonexistent/zkb.toml", "check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/zkb.toml"));
}

#[test]
fn the_config_names_the_logs_that_scan_reads_by_default() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("c.toml");
    let log = format!("{NIGHT}/mbx2");
    fs::write(&file, format!("paths = [{log:?}]\n")).unwrap();
    let out = zkb(
        home.path(),
        &[
            "--config",
            file.to_str().unwrap(),
            "scan",
            "--format",
            "json",
        ],
    );
    assert!(out.status.code().is_some_and(|c| c <= 1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !text.is_empty() && text.lines().all(|l| l.contains("mbx2")),
        "{text}"
    );
}

#[test]
fn version_names_the_commit_and_what_is_built_in() {
    let home = tempfile::tempdir().unwrap();
    let out = zkb(home.path(), &["--version"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with(concat!("zkb ", env!("CARGO_PKG_VERSION"), " (commit ")));
    let counts = text.lines().nth(1).unwrap_or_default();
    let n: Vec<usize> = counts
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert!(n.len() == 2 && n[0] > 100 && n[1] > 50, "{text}");
}

#[test]
fn completions_and_man_pages_are_generated() {
    let home = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let out = zkb(home.path(), &["completions", shell]);
        assert!(out.status.success());
        assert!(String::from_utf8_lossy(&out.stdout).contains("incidents"));
    }
    let man = home.path().join("man");
    let out = zkb(home.path(), &["man", "--out", man.to_str().unwrap()]);
    assert!(out.status.success());
    let page = fs::read_to_string(man.join("zkb-watch.1")).unwrap();
    assert!(page.starts_with(".ie") || page.contains(".TH"), "{page}");
    assert!(man.join("zkb.1").exists() && man.join("zkb-incidents-search.1").exists());
}
