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

#[test]
fn a_site_caught_mid_upgrade() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
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
