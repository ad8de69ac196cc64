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
