//! `zkb preflight --root`: the seed's HSM case on a fixture tree, with Zimbra's `zmvolume`
//! stood in for by a script on PATH that prints its layout.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

fn preflight(root: &Path, bin: &Path) -> (i32, Vec<serde_json::Value>) {
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new(env!("CARGO_BIN_EXE_zkb"))
        .args(["preflight", "--format", "json", "--root"])
        .arg(root)
        .env("PATH", path)
        .output()
        .unwrap();
    let rows = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (out.status.code().unwrap(), rows)
}

#[test]
fn a_hand_mounted_hsm_volume_fails_until_fstab_names_it() {
    let d = tempfile::tempdir().unwrap();
    let (root, bin) = (d.path().join("root"), d.path().join("bin"));
    write(&root.join("etc/fstab"), "UUID=1111 / ext4 defaults 0 1\n");
    write(
        &root.join("proc/self/mounts"),
        "/dev/sda1 / ext4 rw 0 0\n/dev/sdb1 /mnt/hsm ext4 rw,relatime 0 0\n",
    );
    fs::create_dir_all(root.join("tmp")).unwrap();
    let zmvolume = bin.join("zmvolume");
    write(
        &zmvolume,
        "#!/bin/sh\nprintf '   Volume id: 1\\n   name: message1\\n   type: primaryMessage\\n   path: /opt/zimbra/store\\n\\n   Volume id: 3\\n   name: hsm1\\n   type: secondaryMessage\\n   path: /mnt/hsm/store\\n'\n",
    );
    fs::set_permissions(&zmvolume, fs::Permissions::from_mode(0o755)).unwrap();
    let (code, rows) = preflight(&root, &bin);
    assert_eq!(code, 1);
    let hsm: Vec<_> = rows
        .iter()
        .filter(|r| r["subject"].as_str().unwrap().contains("/mnt/hsm"))
        .collect();
    assert_eq!(hsm.len(), 1);
    assert_eq!(hsm[0]["status"], "fail");
    assert_eq!(hsm[0]["severity"], "critical");
    assert_eq!(hsm[0]["kb"][0], "store/hsm-volume-not-mounted");
    assert!(hsm[0]["message"].as_str().unwrap().contains("fstab"));

    write(
        &root.join("etc/fstab"),
        "UUID=1111 / ext4 defaults 0 1\n/dev/sdb1 /mnt/hsm ext4 defaults 0 2\n",
    );
    let (code, rows) = preflight(&root, &bin);
    assert_eq!(code, 0, "{rows:?}");
    assert!(rows.iter().all(|r| r["status"] != "fail"));
}

/// The probe on a blob match: with the HSM volume an empty directory and no mount, the
/// not-mounted fix comes first; with it mounted (and declared) and holding blobs, the
/// restore/corruption fix does.
#[test]
fn a_blob_match_ranks_its_fixes_by_what_the_volume_probe_finds() {
    let d = tempfile::tempdir().unwrap();
    let (root, bin) = (d.path().join("root"), d.path().join("bin"));
    write(&root.join("etc/fstab"), "UUID=1111 / ext4 defaults 0 1\n");
    write(&root.join("proc/self/mounts"), "/dev/sda1 / ext4 rw 0 0\n");
    fs::create_dir_all(root.join("mnt/hsm/store")).unwrap();
    let zmvolume = bin.join("zmvolume");
    write(
        &zmvolume,
        "#!/bin/sh\nprintf '   Volume id: 3\\n   name: hsm1\\n   type: secondaryMessage\\n   path: /mnt/hsm/store\\n'\n",
    );
    fs::set_permissions(&zmvolume, fs::Permissions::from_mode(0o755)).unwrap();
    let log = d.path().join("mailbox.log");
    write(
        &log,
        "2025-03-01 10:00:03,001 ERROR [qtp1-187] [name=anna@example.com;mid=41;] mailbox - Unable to get blob while encoding message\n\
         com.zimbra.cs.mailbox.MailServiceException: No such blob: mailbox=41, item=257, change=1234\n",
    );
    let scan = || -> serde_json::Value {
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let out = Command::new(env!("CARGO_BIN_EXE_zkb"))
            .args(["scan", "--format", "json"])
            .arg(&log)
            .env("PATH", path)
            .env("ZKB_PROBE_ROOT", &root)
            .env("XDG_CONFIG_HOME", d.path().join("config"))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        serde_json::from_str(text.lines().next().expect("a finding")).unwrap()
    };
    let f = scan();
    assert_eq!(f["probe"]["verdict"], "not-mounted", "{f}");
    assert_eq!(f["kb"][0]["id"], "store/hsm-volume-not-mounted");

    write(
        &root.join("proc/self/mounts"),
        "/dev/sda1 / ext4 rw 0 0\n/dev/sdb1 /mnt/hsm ext4 rw 0 0\n",
    );
    write(
        &root.join("etc/fstab"),
        "UUID=1111 / ext4 defaults 0 1\n/dev/sdb1 /mnt/hsm ext4 defaults 0 2\n",
    );
    write(&root.join("mnt/hsm/store/0/41/msg/0/100-1.msg"), "a blob");
    let f = scan();
    assert_eq!(f["probe"]["verdict"], "mounted", "{f}");
    assert_eq!(
        f["kb"][0]["id"],
        "store/missing-blobs-after-restore-or-corruption"
    );
}

/// `--boot`, before Zimbra starts: neither mailboxd nor mysql answers, so the volume list comes
/// from the last run that read it; a volume whose filesystem did not come back fails.
#[test]
fn at_boot_the_volume_list_of_the_last_run_is_checked() {
    let d = tempfile::tempdir().unwrap();
    let (root, bin, data) = (
        d.path().join("root"),
        d.path().join("bin"),
        d.path().join("data"),
    );
    write(&root.join("etc/fstab"), "UUID=1111 / ext4 defaults 0 1\n");
    write(
        &root.join("proc/self/mounts"),
        "/dev/sda1 / ext4 rw 0 0\n/dev/sdb1 /mnt/hsm ext4 rw 0 0\n",
    );
    let zmvolume = bin.join("zmvolume");
    write(
        &zmvolume,
        "#!/bin/sh\nprintf '   Volume id: 3\\n   name: hsm1\\n   type: secondaryMessage\\n   path: /mnt/hsm/store\\n'\n",
    );
    fs::set_permissions(&zmvolume, fs::Permissions::from_mode(0o755)).unwrap();
    let run = |path: &str, boot: bool| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_zkb"));
        c.args(["preflight", "--format", "json", "--root"])
            .arg(&root)
            .arg("--data")
            .arg(&data)
            .env("PATH", path);
        if boot {
            c.arg("--boot");
        }
        c.output().unwrap()
    };
    let with_zimbra = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    run(&with_zimbra, false);
    // The reboot: the hand-made mount is gone, and Zimbra's commands do not answer yet.
    write(&root.join("proc/self/mounts"), "/dev/sda1 / ext4 rw 0 0\n");
    fs::create_dir_all(root.join("mnt/hsm/store")).unwrap();
    let out = run(&std::env::var("PATH").unwrap_or_default(), true);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("/mnt/hsm/store"));
}

/// A port zmsetup checks, held by a program that is not Zimbra's (apache on 80), fails with
/// the port-conflict fix; Zimbra's own listener (mailboxd on 7025, uid zimbra) does not.
#[test]
fn a_zimbra_port_held_by_another_program_fails() {
    let d = tempfile::tempdir().unwrap();
    let (root, bin) = (d.path().join("root"), d.path().join("bin"));
    fs::create_dir_all(root.join("opt/zimbra")).unwrap();
    fs::create_dir_all(&bin).unwrap();
    write(
        &root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/bash\nzimbra:x:999:999::/opt/zimbra:/bin/bash\n",
    );
    write(
        &root.join("proc/net/tcp"),
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   \
         0: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0 100 0 0 10 0\n   \
         1: 00000000:1B81 00000000:0000 0A 00000000:00000000 00:00000000 00000000   999        0 5151 1 0 100 0 0 10 0\n",
    );
    for (pid, comm, uid, inode) in [(100, "apache2", 0, 4242), (200, "java", 999, 5151)] {
        let p = root.join(format!("proc/{pid}"));
        write(&p.join("comm"), &format!("{comm}\n"));
        write(
            &p.join("status"),
            &format!("Name:\t{comm}\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\n"),
        );
        fs::create_dir_all(p.join("fd")).unwrap();
        std::os::unix::fs::symlink(format!("socket:[{inode}]"), p.join("fd/3")).unwrap();
    }
    let (code, rows) = preflight(&root, &bin);
    assert_eq!(code, 1, "{rows:#?}");
    let ports: Vec<_> = rows
        .iter()
        .filter(|r| r["check"] == "ports.held-by-another-program")
        .collect();
    assert_eq!(ports.len(), 1, "only port 80: {ports:#?}");
    assert_eq!(ports[0]["status"], "fail");
    assert_eq!(ports[0]["subject"], "port 80");
    assert_eq!(ports[0]["kb"][0], "upgrade/port-conflicts");
    assert!(ports[0]["message"]
        .as_str()
        .unwrap()
        .contains("apache2 (pid 100, uid 0)"));
}

/// Templates edited after the last install, a third-party Zimlet and a Postfix hash: table are
/// listed with the command that saves them; an untouched template and Zimbra's own Zimlets are not.
#[test]
fn customisations_an_upgrade_overwrites_are_listed_with_a_backup_command() {
    let d = tempfile::tempdir().unwrap();
    let (root, bin) = (d.path().join("root"), d.path().join("bin"));
    fs::create_dir_all(&bin).unwrap();
    // The last upgrade completed on 2026-03-14 22:00 UTC.
    write(
        &root.join("opt/zimbra/.install_history"),
        "1773525600: INSTALL SESSION START\n1773525700: UPGRADED zimbra-core-10.1.9\n1773525800: INSTALL SESSION COMPLETE\n",
    );
    let conf = root.join("opt/zimbra/conf");
    write(&conf.join("amavisd.conf.in"), "# edited by hand\n");
    write(&conf.join("salocal.cf.in"), "# as shipped\n");
    let touched = Command::new("touch")
        .args(["-d", "@1773525900"])
        .arg(conf.join("salocal.cf.in"))
        .status()
        .unwrap();
    assert!(touched.success());
    for z in ["com_zimbra_email", "com_example_crm"] {
        fs::create_dir_all(root.join("opt/zimbra/zimlets-deployed").join(z)).unwrap();
    }
    write(
        &root.join("opt/zimbra/common/conf/main.cf"),
        "smtpd_sender_restrictions = check_sender_access hash:/opt/zimbra/conf/blocked_senders\n# x = hash:/old\nmyhostname = mta1\n",
    );
    let (_, rows) = preflight(&root, &bin);
    let custom = rows
        .iter()
        .find(|r| r["check"] == "custom.overwritten-by-upgrade")
        .unwrap();
    assert_eq!(custom["status"], "warn");
    assert_eq!(
        custom["subject"],
        "/opt/zimbra/conf/amavisd.conf.in, /opt/zimbra/zimlets-deployed/com_example_crm"
    );
    assert!(custom["message"]
        .as_str()
        .unwrap()
        .contains("tar czf /root/zimbra-custom-$(date +%F).tgz /opt/zimbra/conf/amavisd.conf.in"));
    assert_eq!(custom["kb"][0], "upgrade/custom-config-overwritten");
    let hash = rows
        .iter()
        .find(|r| r["check"] == "postfix.hash-maps")
        .unwrap();
    assert_eq!(hash["status"], "fail");
    assert_eq!(hash["subject"], "/opt/zimbra/common/conf/main.cf");
    assert!(hash["message"]
        .as_str()
        .unwrap()
        .starts_with("Postfix settings still name hash tables: "));
    assert_eq!(hash["kb"][0], "upgrade/postfix-hash-maps-lost");
}

/// `--report` keeps the results for `zkb report`, whose "Pre-upgrade checks" section lists the
/// failures first.
#[test]
fn the_report_shows_the_last_preflight_kept_for_it() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("root");
    let data = d.path().join("data");
    write(&root.join("etc/hostname"), "mbx2.example.com\n");
    write(&root.join("etc/hosts"), "127.0.0.1 localhost\n");
    fs::create_dir_all(root.join("tmp")).unwrap();
    let zkb = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_zkb"))
            .env("XDG_CONFIG_HOME", d.path().join("config"))
            .arg("--data")
            .arg(&data)
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = zkb(&["preflight", "--report", "--root", root.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    let md = d.path().join("r.md");
    let html = d.path().join("r.html");
    let (code, err) = zkb(&[
        "report",
        "--md",
        md.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let md = fs::read_to_string(md).unwrap();
    let section = md
        .split("## Pre-upgrade checks")
        .nth(1)
        .expect("the section");
    let first_row = section.lines().find(|l| l.starts_with("| Fail")).unwrap();
    assert!(
        first_row.contains("mbx2.example.com is not in /etc/hosts"),
        "{section}"
    );
    let html = fs::read_to_string(html).unwrap();
    assert!(html.contains("<h2>Pre-upgrade checks</h2>"));
}

/// On a mailstore, each LDAP master of `ldap_master_url` must already be at the release about
/// to be installed: read from its server entry by Zimbra's ldapsearch (a fake here, printing
/// LDIF), with the bind password on stdin, never on the command line.
#[test]
fn an_ldap_master_not_yet_upgraded_fails_before_the_installer_does() {
    let d = tempfile::tempdir().unwrap();
    let (root, bin) = (d.path().join("root"), d.path().join("bin"));
    write(
        &root.join("opt/zimbra/conf/localconfig.xml"),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<localconfig>\n  <key name=\"ldap_is_master\">\n    <value>false</value>\n  </key>\n  <key name=\"ldap_master_url\">\n    <value>ldap://ldap1.example.com:389 ldap://ldap2.example.com:389</value>\n  </key>\n  <key name=\"zimbra_ldap_userdn\">\n    <value>uid=zimbra,cn=admins,cn=zimbra</value>\n  </key>\n  <key name=\"zimbra_ldap_password\">\n    <value>s3cret</value>\n  </key>\n</localconfig>\n",
    );
    let args_log = d.path().join("ldapsearch.args");
    let ldapsearch = bin.join("ldapsearch");
    write(
        &ldapsearch,
        &format!(
            "#!/bin/sh\necho \"$@\" >> '{}'\npw=$(cat)\n[ \"$pw\" = s3cret ] || exit 49\ncase \"$*\" in\n  *ldap1.example.com*) v=10.1.9 ;;\n  *) v=10.0.13 ;;\nesac\nhost=$(echo \"$*\" | sed 's/.*(cn=\\([^)]*\\)).*/\\1/')\nprintf 'dn: cn=%s,cn=servers,cn=zimbra\\nzimbraServerVersionMajor: %s\\nzimbraServerVersionMinor: %s\\nzimbraServerVersionMicro: %s\\n' \"$host\" $(echo $v | tr . ' ')\n",
            args_log.display()
        ),
    );
    fs::set_permissions(&ldapsearch, fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new(env!("CARGO_BIN_EXE_zkb"))
        .args([
            "preflight",
            "--format",
            "json",
            "--to",
            "10.1.9_GA_4200001",
            "--root",
        ])
        .arg(&root)
        .env("PATH", path)
        .output()
        .unwrap();
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|r: &serde_json::Value| r["check"] == "ldap.masters-upgraded-first")
        .collect();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(rows.len(), 2, "{rows:#?}");
    assert_eq!(rows[0]["subject"], "LDAP master ldap1.example.com");
    assert_eq!(rows[0]["status"], "pass");
    assert_eq!(rows[1]["subject"], "LDAP master ldap2.example.com");
    assert_eq!(rows[1]["status"], "fail");
    assert!(rows[1]["message"]
        .as_str()
        .unwrap()
        .starts_with("ldap2.example.com is at 10.0.13, not 10.1.9_GA_4200001"));
    assert_eq!(rows[1]["kb"][0], "upgrade/multi-server-order");
    let args = fs::read_to_string(args_log).unwrap();
    assert!(
        !args.contains("s3cret"),
        "the password is not on a command line: {args}"
    );
}

/// A lesson as a check, with no rebuild: a YAML file in the site's checks dir runs in preflight,
/// `zkb check` runs its tests, and a broken one is named with its file and line.
#[test]
fn a_check_written_as_data_in_the_site_dir_runs_and_is_tested() {
    let d = tempfile::tempdir().unwrap();
    let (root, bin) = (d.path().join("root"), d.path().join("bin"));
    fs::create_dir_all(&bin).unwrap();
    let checks = d.path().join("config/zkb/checks");
    write(
        &checks.join("backup.yaml"),
        "- id: site.backup-target-mounted\n  title: The backup target is not in fstab\n  severity: high\n  file: /etc/fstab\n  fail_unless: '(?m)^\\S+\\s+/backup\\s'\n  message: as root, add /backup to /etc/fstab before the upgrade\n  kb: [store/hsm-volume-not-mounted]\n  tests:\n    fail: ['UUID=1 / ext4 defaults 0 1']\n    pass: ['UUID=2 /backup ext4 defaults 0 2']\n",
    );
    write(&root.join("etc/fstab"), "UUID=1111 / ext4 defaults 0 1\n");
    let zkb = |args: &[&str], root_arg: bool| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_zkb"));
        c.env("XDG_CONFIG_HOME", d.path().join("config")).args(args);
        if root_arg {
            c.arg("--root").arg(&root);
        }
        let out = c.output().unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, _) = zkb(&["preflight", "--format", "json"], true);
    assert_eq!(code, 1);
    let row: serde_json::Value = out
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|r| r["check"] == "site.backup-target-mounted")
        .expect("the site's check ran");
    assert_eq!(row["status"], "fail");
    assert_eq!(row["severity"], "high");
    let (code, out, err) = zkb(&["check"], false);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("2 preflight checks: 0 errors"), "{out}");

    write(
        &checks.join("broken.yaml"),
        "- id: site.broken\n  title: t\n  severity: high\n  file: /etc/x\n  fail_if: '(unclosed'\n  message: m\n",
    );
    let (code, _, err) = zkb(&["check"], false);
    assert_eq!(code, 1);
    assert!(
        err.contains("broken.yaml:1: check site.broken: bad regex"),
        "{err}"
    );
}

/// A Network Edition mailstore with no licence installed and no licence file fails; a backup
/// target without a copy of it warns; a full /tmp and a backup target too small warn.
#[test]
fn a_missing_licence_and_a_full_tmp_are_caught() {
    let d = tempfile::tempdir().unwrap();
    let (root, bin) = (d.path().join("root"), d.path().join("bin"));
    fs::create_dir_all(root.join("tmp")).unwrap();
    fs::create_dir_all(root.join("backup")).unwrap();
    // zmlicense exists on a Network Edition mailstore; the fake says what Zimbra's says.
    write(&root.join("opt/zimbra/bin/zmlicense"), "");
    let zmlicense = bin.join("zmlicense");
    write(&zmlicense, "#!/bin/sh\necho 'license not installed'\n");
    fs::set_permissions(&zmlicense, fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new(env!("CARGO_BIN_EXE_zkb"))
        .args([
            "preflight",
            "--format",
            "json",
            "--backup",
            "/backup",
            "--root",
        ])
        .arg(&root)
        .env("PATH", path)
        .env("ZKB_TEST_FREE_BYTES", "/tmp=104857600,/backup=1048576")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let row = |check: &str, subject: &str| {
        rows.iter()
            .find(|r| r["check"] == check && r["subject"] == subject)
            .unwrap_or_else(|| panic!("{check} {subject}: {rows:#?}"))
    };
    let licence = row("licence.file", "/opt/zimbra/conf/ZCSLicense.xml");
    assert_eq!(licence["status"], "fail");
    assert_eq!(licence["severity"], "critical");
    assert_eq!(licence["kb"][0], "license/file-not-found-installer");
    let copy = row("licence.backup-copy", "/backup/ZCSLicense.xml");
    assert_eq!(copy["status"], "warn");
    let tmp = row("space.free", "/tmp");
    assert_eq!(tmp["status"], "warn");
    assert!(tmp["message"].as_str().unwrap().starts_with("0.1 GiB free"));
    assert_eq!(tmp["kb"][0], "disk/no-space-left");
    assert_eq!(row("space.free", "/backup")["status"], "warn");
}

/// `zkb learn --check-file` turns a lesson into a preflight check in the site's checks dir,
/// tested before it is written; `zkb check` and `zkb preflight` use it at once.
#[test]
fn zkb_learn_writes_a_lesson_as_a_preflight_check() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("root");
    write(&root.join("etc/fstab"), "UUID=1111 / ext4 defaults 0 1\n");
    let zkb = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_zkb"))
            .env("XDG_CONFIG_HOME", d.path().join("config"))
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let learn = [
        "learn",
        "As root, add the backup disk to /etc/fstab before the reboot",
        "--check-file",
        "/etc/fstab",
        "--fail-unless",
        r"(?m)^\S+\s+/backup\s",
        "--fail-example",
        "UUID=1 / ext4 defaults 0 1",
        "--id",
        "local.backup-in-fstab",
        "--severity",
        "high",
        "--kb-id",
        "store/hsm-volume-not-mounted",
    ];
    let (code, shown, err) = zkb(&learn);
    assert_eq!(code, 0, "{err}");
    assert!(
        shown.contains("fail_unless:") && shown.contains("local.backup-in-fstab"),
        "{shown}"
    );
    let mut write_it = learn.to_vec();
    write_it.push("--write");
    let (code, _, err) = zkb(&write_it);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("local.backup-in-fstab.yaml"), "{err}");
    let (code, out, err) = zkb(&["check"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("2 preflight checks: 0 errors"), "{out}");
    let (_, out, _) = zkb(&[
        "preflight",
        "--format",
        "json",
        "--root",
        root.to_str().unwrap(),
    ]);
    let row: serde_json::Value = out
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|r| r["check"] == "local.backup-in-fstab")
        .expect("the learned check ran");
    assert_eq!(row["status"], "fail");
    assert!(row["message"]
        .as_str()
        .unwrap()
        .contains("add the backup disk"));
    let bad = [
        "learn",
        "--check-file",
        "/etc/fstab",
        "--fail-if",
        "(unclosed",
    ];
    let (code, _, err) = zkb(&bad);
    assert_eq!(code, 2);
    assert!(err.contains("bad regex"), "{err}");
}
