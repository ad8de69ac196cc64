//! `zkb status`: the upgrade board of a six-host site caught mid-upgrade, from zmsetup logs and
//! `.install_history` files in per-host folders.

use std::fs;
use std::path::Path;
use std::process::Command;

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

fn zmsetup(lines: &[(&str, &str)]) -> String {
    lines.iter().map(|(t, m)| format!("{t} {m}\n")).collect()
}

fn board(root: &Path) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_zkb"))
        .args(["status", "--format", "json"])
        .arg(root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn host<'a>(b: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    b["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["host"] == name)
        .unwrap()
}

const FROM_TO: &str = "Upgrading from 10.0.13_GA_4837 to 10.1.9_GA_4200001";

/// Six servers caught mid-upgrade: ldap1 done, mbx1 in the schema step for 40 minutes, mbx2
/// failed, mta1 and proxy1 not started, archive1 interrupted (its .install_history).
fn six_hosts_mid_upgrade(r: &Path) {
    write(
        &r.join("ldap1/zmsetup.20260314-220512.log"),
        &zmsetup(&[
            ("Sat Mar 14 22:05:26 2026", FROM_TO),
            ("Sat Mar 14 22:07:29 2026", "Stopping ldap..."),
            ("Sat Mar 14 22:07:38 2026", "Upgrade complete."),
        ]),
    );
    write(
        &r.join("mbx1/zmsetup.20260314-230217.log"),
        &zmsetup(&[
            ("Sat Mar 14 23:02:22 2026", FROM_TO),
            (
                "Sat Mar 14 23:15:02 2026",
                "Schema upgrade required from version 117 to 119.",
            ),
            (
                "Sat Mar 14 23:15:02 2026",
                "Running /opt/zimbra/libexec/scripts/migrate20230224-UpdateOnlyOffice-7.2.1.pl",
            ),
            (
                "Sat Mar 14 23:42:10 2026",
                "Sat Mar 14 23:42:10 2026: Verified schema version 117.",
            ),
        ]),
    );
    write(&r.join("mbx1/mailbox.log"), "");
    write(
        &r.join("mbx2/zmsetup.20260315-000611.log"),
        &zmsetup(&[
            ("Sun Mar 15 00:06:16 2026", FROM_TO),
            (
                "Sun Mar 15 00:17:10 2026",
                "Schema upgrade required from version 117 to 118.",
            ),
            (
                "Sun Mar 15 00:17:10 2026",
                "Running /opt/zimbra/libexec/scripts/migrate20230224-UpdateOnlyOffice-7.2.1.pl",
            ),
            (
                "Sun Mar 15 00:17:30 2026",
                "Script failed with code 256: - exiting",
            ),
            ("Sun Mar 15 00:17:30 2026", "UPGRADE FAILED - exiting."),
        ]),
    );
    write(&r.join("mbx2/mailbox.log"), "");
    write(
        &r.join("mta1/zimbra.log"),
        "Mar 14 21:00:00 mta1 postfix/smtpd[1]: connect from x[192.0.2.1]\n",
    );
    write(&r.join("proxy1/nginx.log"), "");
    write(
        &r.join("archive1/.install_history"),
        "1773525600: INSTALL SESSION START\n1773525700: UPGRADED zimbra-core-10.1.9\n",
    );
    write(&r.join("archive1/mailbox.log"), "");
}

#[test]
fn a_site_caught_mid_upgrade() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    six_hosts_mid_upgrade(r);
    let b = board(r);
    let states: Vec<(String, String, String)> = b["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["host"].as_str().unwrap().into(),
                h["role"].as_str().unwrap().into(),
                h["state"].as_str().unwrap().into(),
            )
        })
        .collect();
    let want = [
        ("archive1", "mailstore", "interrupted"),
        ("ldap1", "ldap", "done"),
        ("mbx1", "mailstore", "running"),
        ("mbx2", "mailstore", "failed"),
        ("mta1", "mta", "not-started"),
        ("proxy1", "proxy", "not-started"),
    ];
    let want: Vec<(String, String, String)> = want
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(states, want);
    let mbx1 = host(&b, "mbx1");
    assert_eq!(mbx1["schema_step"], serde_json::json!([1, 2]));
    assert_eq!(mbx1["elapsed_min"], 39, "in the schema step since 23:02");
    assert_eq!(mbx1["to_version"], "10.1.9_GA_4200001");
    assert!(host(&b, "mbx2")["step"]
        .as_str()
        .unwrap()
        .contains("UPGRADE FAILED"));
    let ids: Vec<&str> = b["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["upgrade.mixed-versions"],
        "LDAP went first: no order finding"
    );

    // A mailstore that began before its LDAP master finished.
    write(
        &r.join("mbx3/zmsetup.20260314-220000.log"),
        &zmsetup(&[("Sat Mar 14 22:00:00 2026", FROM_TO)]),
    );
    write(&r.join("mbx3/mailbox.log"), "");
    let b = board(r);
    let order: Vec<&serde_json::Value> = b["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == "upgrade.order-ldap-first")
        .collect();
    assert_eq!(order.len(), 1, "{b}");
    assert!(order[0]["message"].as_str().unwrap().contains("mbx3"));
    assert_eq!(order[0]["kb"][0], "upgrade/multi-server-order");
}

/// The KB fix a board shows for a host's problem is the variant for that host's release.
#[test]
fn each_host_gets_the_fix_for_its_own_release() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    let night = |to: &str| {
        zmsetup(&[
            (
                "Sat Mar 14 23:02:22 2026",
                &format!("Upgrading from 9.0.0_GA_4273 to {to}"),
            ),
            ("Sat Mar 14 23:05:10 2026", "failed to activate license."),
            ("Sat Mar 14 23:09:41 2026", "Upgrade complete."),
        ])
    };
    write(
        &r.join("mbx1/zmsetup.20260314-230217.log"),
        &night("10.1.9_GA_4200001"),
    );
    write(&r.join("mbx1/mailbox.log"), "");
    write(
        &r.join("mbx2/zmsetup.20260314-230217.log"),
        &night("10.0.13_GA_4837"),
    );
    write(&r.join("mbx2/mailbox.log"), "");
    let b = board(r);
    let problem = |h: &str| host(&b, h)["problems"][0].clone();
    for (h, variant) in [
        ("mbx1", "Zimbra 10.1 and later"),
        ("mbx2", "Zimbra 8.8.15 to 10.0"),
    ] {
        let p = problem(h);
        assert_eq!(p["rule"], "license.activation-failed", "{h}: {p}");
        assert_eq!(p["kb"], "license/not-activated-after-upgrade");
        assert_eq!(p["fix_for"], variant, "{h}: {p}");
        assert!(p["fix"].as_str().is_some_and(|f| !f.is_empty()));
    }
    assert_ne!(problem("mbx1")["fix"], problem("mbx2")["fix"]);

    // --no-problems: only where each server stands.
    let out = Command::new(env!("CARGO_BIN_EXE_zkb"))
        .args(["status", "--no-problems", "--format", "json"])
        .arg(r)
        .output()
        .unwrap();
    let quiet: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(quiet["hosts"][0].get("problems").is_none());
}

/// A terminal of 160x45 in its own tmux server, running `zkb watch` on the site's tree.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(command: &str) -> Option<Tmux> {
        let socket = format!("zkb-board-{}", std::process::id());
        let started = Command::new("tmux")
            .args([
                "-L",
                &socket,
                "new-session",
                "-d",
                "-x",
                "160",
                "-y",
                "45",
                command,
            ])
            .status();
        match started {
            Ok(s) if s.success() => Some(Tmux { socket }),
            _ => {
                assert!(
                    std::env::var_os("ZKB_REQUIRE_TMUX").is_none(),
                    "tmux is needed for the dashboard test"
                );
                eprintln!("skipped: no tmux");
                None
            }
        }
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The screen once `done` holds for it (10 s at most).
    fn wait_for(&self, done: impl Fn(&str) -> bool) -> String {
        let end = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let screen = self.screen();
            if done(&screen) {
                return screen;
            }
            assert!(
                std::time::Instant::now() < end,
                "timed out; the screen:\n{screen}"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    fn keys(&self, keys: &str) {
        Command::new("tmux")
            .args(["-L", &self.socket, "send-keys", keys])
            .status()
            .unwrap();
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

#[test]
fn the_watch_dashboard_has_the_board_as_a_pane() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path().join("site");
    six_hosts_mid_upgrade(&r);
    let command = format!(
        "env NO_COLOR=1 TZ=UTC XDG_CONFIG_HOME='{cfg}' '{zkb}' watch --tui --no-store --data '{data}' '{site}/*/*.log'",
        cfg = d.path().join("config").display(),
        zkb = env!("CARGO_BIN_EXE_zkb"),
        data = d.path().join("data").display(),
        site = r.display(),
    );
    let Some(tmux) = Tmux::start(&command) else {
        return;
    };
    let screen = tmux.wait_for(|s| s.contains("upgrade (u hides)") && s.contains("proxy1"));
    let line = |host: &str| -> String {
        screen
            .lines()
            .find(|l| l.contains(&format!(" {host} ")) || l.contains(&format!("│{host} ")))
            .unwrap_or_else(|| panic!("no line for {host}:\n{screen}"))
            .to_string()
    };
    for (host, role, state) in [
        ("archive1", "mailstore", "INTERRUPTED"),
        ("ldap1", "ldap", "done"),
        ("mbx1", "mailstore", "RUNNING"),
        ("mbx2", "mailstore", "FAILED"),
        ("mta1", "mta", "not started"),
        ("proxy1", "proxy", "not started"),
    ] {
        let l = line(host);
        assert!(l.contains(role) && l.contains(state), "{host}: {l}");
    }
    let mbx1 = line("mbx1");
    assert!(
        mbx1.contains("10.0.13_GA_4837 → 10.1.9_GA_4200001") && mbx1.contains("schema 1/2"),
        "{mbx1}"
    );
    assert!(mbx1.contains("39 min"), "{mbx1}");
    assert!(line("mbx2").contains("UPGRADE FAILED"));
    assert!(screen.contains("upgrade.mixed-versions"), "{screen}");
    // `u` hides the pane, and brings it back.
    tmux.keys("u");
    tmux.wait_for(|s| !s.contains("upgrade (u hides)"));
    tmux.keys("u");
    tmux.wait_for(|s| s.contains("upgrade (u hides)"));
    tmux.keys("q");
}

/// The report of the incident store opens with the board: "the night at a glance".
#[test]
fn the_report_opens_with_the_night_at_a_glance() {
    let d = tempfile::tempdir().unwrap();
    let site = d.path().join("site");
    six_hosts_mid_upgrade(&site);
    let zkb = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_zkb"))
            .env("XDG_CONFIG_HOME", d.path().join("config"))
            .arg("--data")
            .arg(d.path().join("data"))
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let site_arg = site.to_str().unwrap();
    zkb(&["scan", "--store", "--quiet", site_arg]);
    let (page, md) = (d.path().join("r.html"), d.path().join("r.md"));
    zkb(&[
        "report",
        "--site",
        site_arg,
        "--html",
        page.to_str().unwrap(),
        "--md",
        md.to_str().unwrap(),
    ]);
    let html = fs::read_to_string(&page).unwrap();
    let glance = html
        .find("<h2>The night at a glance</h2>")
        .expect("a glance");
    assert!(
        glance < html.find("<h2>Timeline").unwrap(),
        "it comes first"
    );
    let first: &str = &html[glance..html.find("<h2>Timeline").unwrap()];
    for want in [
        "<td>mbx1</td><td>mailstore</td><td>RUNNING 10.0.13_GA_4837 -&gt; 10.1.9_GA_4200001, schema 1/2, 39 min</td>",
        "<td>mbx2</td><td>mailstore</td><td>FAILED",
        "<td>archive1</td><td>mailstore</td><td>INTERRUPTED",
        "<td>proxy1</td><td>proxy</td><td>not started</td>",
        "upgrade.mixed-versions",
    ] {
        assert!(first.contains(want), "{want} in {first}");
    }
    let md = fs::read_to_string(&md).unwrap();
    assert!(md.contains("## The night at a glance"), "{md}");
    assert!(
        md.contains("| ldap1 | ldap | done 10.0.13_GA_4837 -> 10.1.9_GA_4200001"),
        "{md}"
    );
    assert_eq!(
        md.find("## "),
        md.find("## The night at a glance"),
        "the first section: {md}"
    );
}
