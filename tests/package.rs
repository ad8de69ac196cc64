//! The packages that `deploy/package.sh` builds: the .deb unpacked into a throwaway root runs
//! `zkb --version` and `zkb check` from its installed path; the binary needs nothing newer than
//! GLIBC_2.17; the unit runs as `zkb` with the hardening the docs promise; man pages and
//! completions are in place; the .rpm holds the same files (its list read with `rpm -qlp`).
//!
//! The packages take a glibc 2.17 toolchain to build, so `cargo test` alone skips this when
//! they are missing; CI builds them first and sets `ZKB_REQUIRE_PACKAGE=1`, which turns a
//! missing package into a failure.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn built(dir: &str, prefix: &str, suffix: &str) -> Option<PathBuf> {
    let name = format!("{prefix}{}", env!("CARGO_PKG_VERSION"));
    fs::read_dir(Path::new(ROOT).join(dir))
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            let f = p.file_name().unwrap().to_string_lossy();
            f.starts_with(&name) && f.ends_with(suffix)
        })
}

fn package(dir: &str, prefix: &str, suffix: &str) -> Option<PathBuf> {
    let found = built(dir, prefix, suffix);
    if found.is_none() {
        assert!(
            std::env::var_os("ZKB_REQUIRE_PACKAGE").is_none(),
            "no {prefix}*{suffix} in {dir}: run deploy/package.sh"
        );
        eprintln!("skipped: no {prefix}*{suffix} in {dir} (deploy/package.sh builds it)");
    }
    found
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Unpacks the .deb as dpkg would install it, into a throwaway root.
fn unpacked_deb() -> Option<tempfile::TempDir> {
    let deb = package("target/debian", "zkb_", "_amd64.deb")?;
    let root = tempfile::tempdir().unwrap();
    run(Command::new("dpkg-deb")
        .arg("-x")
        .arg(&deb)
        .arg(root.path()));
    Some(root)
}

fn newest_glibc(bin: &Path) -> (u32, u32) {
    let dump = run(Command::new("objdump").arg("-T").arg(bin));
    dump.split(|c: char| c.is_whitespace() || c == '(' || c == ')')
        .filter_map(|w| w.strip_prefix("GLIBC_"))
        .filter_map(|v| {
            let mut n = v.split('.').map(|p| p.parse::<u32>().ok());
            Some((n.next()??, n.next().flatten().unwrap_or(0)))
        })
        .max()
        .unwrap_or((0, 0))
}

#[test]
fn the_installed_binary_runs_and_checks_its_rules() {
    let Some(root) = unpacked_deb() else { return };
    let bin = root.path().join("usr/bin/zkb");
    let home = root.path().join("home");
    let zkb = |args: &[&str]| {
        let mut c = Command::new(&bin);
        c.args(args)
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("ZKB_DATA", home.join("data"))
            .env("NO_COLOR", "1");
        c
    };
    let version = run(&mut zkb(&["--version"]));
    assert!(
        version.starts_with(concat!("zkb ", env!("CARGO_PKG_VERSION"), " (commit ")),
        "{version}"
    );
    assert!(version.contains("rules and") && version.contains("KB entries built in"));
    let check = run(&mut zkb(&["check"]));
    assert!(!check.is_empty());
    let night = Path::new(ROOT).join("examples/upgrade-night");
    let scan = zkb(&["scan", "--format", "json"])
        .arg(night)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&scan.stdout).contains("\"rule\":\"store.no-such-blob\""));
}

#[test]
fn the_packaged_binary_needs_nothing_newer_than_glibc_2_17() {
    let Some(root) = unpacked_deb() else { return };
    let newest = newest_glibc(&root.path().join("usr/bin/zkb"));
    assert!(newest <= (2, 17), "needs GLIBC_{}.{}", newest.0, newest.1);
    assert!(newest >= (2, 2), "no versioned glibc symbols read");
}

#[test]
fn the_deb_ships_man_pages_completions_config_and_units() {
    let Some(root) = unpacked_deb() else { return };
    let r = root.path();
    for f in [
        "usr/share/man/man1/zkb.1.gz",
        "usr/share/man/man1/zkb-watch.1.gz",
        "usr/share/man/man1/zkb-incidents-search.1.gz",
        "usr/share/bash-completion/completions/zkb",
        "usr/share/zsh/vendor-completions/_zkb",
        "usr/share/fish/vendor_completions.d/zkb.fish",
        "lib/systemd/system/zkb.service",
        "lib/systemd/system/zkb-preflight-boot.service",
        "etc/zkb/config.toml",
        "usr/share/doc/zkb/README.md",
    ] {
        assert!(r.join(f).is_file(), "{f} is not in the .deb");
    }
    let mut page = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(
            fs::File::open(r.join("usr/share/man/man1/zkb-watch.1.gz")).unwrap(),
        ),
        &mut page,
    )
    .unwrap();
    assert!(
        page.contains(".TH zkb-watch 1"),
        "{}",
        &page[..200.min(page.len())]
    );
    assert_eq!(
        fs::read(r.join("etc/zkb/config.toml")).unwrap(),
        fs::read(Path::new(ROOT).join("deploy/config.toml")).unwrap()
    );
}

#[test]
fn the_unit_runs_as_its_own_user_with_least_privilege() {
    let unit = Path::new(ROOT).join("deploy/systemd/zkb.service");
    let text = fs::read_to_string(&unit).unwrap();
    let has = |line: &str| text.lines().any(|l| l.trim() == line);
    for line in [
        "User=zkb",
        "ExecStart=/usr/bin/zkb watch --format json --no-tui",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "Restart=on-failure",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "ReadWritePaths=/var/lib/zkb",
        "StateDirectory=zkb",
        "CapabilityBoundingSet=",
        "PrivateTmp=no",
    ] {
        assert!(has(line), "zkb.service lacks {line}");
    }
    assert!(text.lines().any(|l| l.starts_with("MemoryMax=")));
    assert!(!text.lines().any(|l| l.starts_with("User=root")));
    // The exposure score the unit's comment and the README give.
    let Ok(out) = Command::new("systemd-analyze")
        .args(["security", "--offline=yes"])
        .arg(&unit)
        .output()
    else {
        eprintln!("skipped the score: no systemd-analyze");
        return;
    };
    let report = String::from_utf8_lossy(&out.stdout);
    let score: f64 = report
        .lines()
        .find_map(|l| l.split("exposure level for zkb.service:").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no score in: {report}"));
    assert!(score <= 2.0, "exposure {score}");
    assert!(
        text.contains(&format!("{score:.1} OK")),
        "the unit's comment says another score than {score}"
    );
}

#[test]
fn the_rpm_holds_the_same_files() {
    let Some(rpm) = package("target/generate-rpm", "zkb-", ".x86_64.rpm") else {
        return;
    };
    let Ok(out) = Command::new("rpm").arg("-qlp").arg(&rpm).output() else {
        assert!(
            std::env::var_os("ZKB_REQUIRE_PACKAGE").is_none(),
            "rpm is needed to read the .rpm's file list"
        );
        return;
    };
    let files = String::from_utf8_lossy(&out.stdout);
    for f in [
        "/usr/bin/zkb",
        "/usr/lib/systemd/system/zkb.service",
        "/usr/lib/systemd/system/zkb-preflight-boot.service",
        "/etc/zkb/config.toml",
        "/usr/share/man/man1/zkb.1.gz",
        "/usr/share/bash-completion/completions/zkb",
        "/usr/share/zsh/site-functions/_zkb",
        "/usr/share/fish/vendor_completions.d/zkb.fish",
        "/usr/share/doc/zkb/README.md",
    ] {
        assert!(
            files.lines().any(|l| l == f),
            "{f} is not in the .rpm:\n{files}"
        );
    }
    let scripts = run(Command::new("rpm").args(["-qp", "--scripts"]).arg(&rpm));
    assert!(scripts.contains("useradd -r -g zkb"), "{scripts}");
    let conf = run(Command::new("rpm").args(["-qpc"]).arg(&rpm));
    assert!(conf.lines().any(|l| l == "/etc/zkb/config.toml"));
}
