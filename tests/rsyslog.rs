//! The site's logs through real rsyslog, on loopback: the shipped `deploy/rsyslog` configs run
//! as two forwarders posing as `mbx1` (imfile on a mailbox.log with a stack trace) and `mta1`
//! (a Postfix line through a private syslog socket, as `logger` sends it) and one receiver
//! writing the per-host tree; `zkb scan` of that tree finds the blob error as a multi-line
//! mailbox event of mbx1 and the LMTP deferral of mta1; the installer log that appears later
//! arrives too. A receiver killed while a forwarder goes on sending loses nothing, and a
//! forwarder restarted (SIGTERM, as `systemctl restart`) sends nothing twice.
//!
//! rsyslogd is Debian's `rsyslog` package (`.ci/run` installs it). Where it is missing the test
//! says so and passes, unless `ZKB_REQUIRE_RSYSLOG` is set (CI sets it).

use std::fs;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const RSYSLOGD: &str = "/usr/sbin/rsyslogd";

fn deploy(name: &str) -> String {
    fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("deploy/rsyslog")
            .join(name),
    )
    .unwrap()
}

/// One rsyslogd of the trial, stopped when dropped.
struct Daemon {
    child: Child,
}

impl Daemon {
    /// Stops it as `systemctl stop` does (SIGTERM), letting imfile save where it was.
    fn stop(mut self) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &Path, name: &str, conf: &str) -> Daemon {
    let work = dir.join(format!("{name}.work"));
    fs::create_dir_all(&work).unwrap();
    let path = dir.join(format!("{name}.conf"));
    fs::write(&path, conf).unwrap();
    let check = Command::new(RSYSLOGD)
        .args(["-N1", "-f"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    let child = Command::new(RSYSLOGD)
        .args(["-n", "-f"])
        .arg(&path)
        .arg("-i")
        .arg(dir.join(format!("{name}.pid")))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Daemon { child }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until `file` holds `want` (a timeout, not a guess: it returns as soon as it does).
fn wait_for(file: &Path, want: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = fs::read_to_string(file).unwrap_or_default();
        if text.contains(want) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{} never held {want:?}; it has:\n{text}",
            file.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn receiver_conf(dir: &Path, port: u16) -> String {
    let remote = dir.join("remote");
    format!(
        "global(workDirectory=\"{}\")\n{}",
        dir.join("receiver.work").display(),
        deploy("zkb-receiver.conf")
            .replace("10514", &port.to_string())
            .replace("/var/log/remote", &remote.display().to_string())
    )
}

fn forwarder_conf(dir: &Path, host: &str, port: u16, logs: &Path, socket: Option<&Path>) -> String {
    let mut head = format!(
        "global(workDirectory=\"{}\" localHostname=\"{host}\")\n",
        dir.join(format!("{host}.work")).display()
    );
    if let Some(sock) = socket {
        head.push_str(&format!(
            "module(load=\"imuxsock\" SysSock.Use=\"off\")\ninput(type=\"imuxsock\" Socket=\"{}\")\n",
            sock.display()
        ));
    }
    head + &deploy("61-zkb-forward.conf")
        .replace("ZKB_HOST", "127.0.0.1")
        .replace("10514", &port.to_string())
        .replace("/tmp/install", &format!("{}/install", logs.display()))
        .replace("/tmp/zmsetup", &format!("{}/zmsetup", logs.display()))
        .replace("/opt/zimbra/log/", &format!("{}/", logs.display()))
}

const BLOB: &str = "2026-03-01 02:14:07,511 WARN  [qtp1-1:https://10.0.0.1:443/service/soap/GetMsgRequest] [name=ann@example.com;mid=41;] mailbox - Unable to get blob for item 257\n\
com.zimbra.cs.mailbox.MailServiceException: missing blob for id: 257, change: 9911\n\
\tat com.zimbra.cs.mailbox.MailServiceException.NO_SUCH_BLOB(MailServiceException.java:591)\n\
\tat com.zimbra.cs.mailbox.MailItem.getBlob(MailItem.java:1466)\n";

const LMTP: &str = "8F2D41A0B3: to=<ann@example.com>, relay=mbx1.example.com[10.0.0.5]:7025, delay=0.2, delays=0.01/0/0.19/0, dsn=4.4.1, status=deferred (connect to mbx1.example.com[10.0.0.5]:7025: Connection refused)";

#[test]
fn forwarded_logs_keep_their_host_kind_and_events() {
    if !Path::new(RSYSLOGD).exists() {
        assert!(
            std::env::var_os("ZKB_REQUIRE_RSYSLOG").is_none(),
            "ZKB_REQUIRE_RSYSLOG is set but rsyslogd is not installed"
        );
        eprintln!("skipped: no rsyslogd (apt-get install rsyslog)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = free_port();
    let logs = d.join("mbx1-logs");
    fs::create_dir_all(&logs).unwrap();
    fs::write(logs.join("mailbox.log"), "").unwrap();
    let receiver = start(d, "receiver", &receiver_conf(d, port));
    let mbx1 = start(d, "mbx1", &forwarder_conf(d, "mbx1", port, &logs, None));
    let sock = d.join("mta1.sock");
    let _mta1 = start(
        d,
        "mta1",
        &forwarder_conf(d, "mta1", port, &d.join("mta1-logs"), Some(&sock)),
    );

    // A whole stack trace, then the next event (imfile sends an event when the next starts, or
    // after readTimeout).
    let append = |text: &str| {
        use std::io::Write;
        let mut f = fs::OpenOptions::new()
            .append(true)
            .open(logs.join("mailbox.log"))
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    };
    append(BLOB);
    let remote_mailbox = d.join("remote/mbx1/zimbra-mailbox.log");
    wait_for(&remote_mailbox, "missing blob for id: 257");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !sock.exists() {
        assert!(
            Instant::now() < deadline,
            "the mta1 forwarder never opened its socket"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let logger = Command::new("logger")
        .arg("-u")
        .arg(&sock)
        .args(["-t", "postfix/lmtp", "-p", "mail.info", LMTP])
        .status()
        .unwrap();
    assert!(logger.success());
    wait_for(&d.join("remote/mta1/postfix.log"), "status=deferred");

    // The installer's log, which appears on upgrade night.
    fs::write(
        logs.join("install.log.Xy12ab"),
        "Operations logged to /tmp/install.log.Xy12ab\nChecking for existing installation...\n",
    )
    .unwrap();
    wait_for(
        &d.join("remote/mbx1/zimbra-install.log"),
        "Checking for existing installation",
    );

    // The receiver goes away and comes back; the forwarder's queue keeps what it sends meanwhile.
    drop(receiver);
    append(&BLOB.replace("257", "258"));
    let _receiver = start(d, "receiver", &receiver_conf(d, port));
    wait_for(&remote_mailbox, "missing blob for id: 258");

    // The forwarder is restarted: imfile resumes at its saved offset, sending nothing twice.
    mbx1.stop();
    append(&BLOB.replace("257", "259"));
    let _mbx1 = start(d, "mbx1", &forwarder_conf(d, "mbx1", port, &logs, None));
    wait_for(&remote_mailbox, "missing blob for id: 259");

    let out = Command::new(env!("CARGO_BIN_EXE_zkb"))
        .args(["scan", "--format", "json"])
        .arg(d.join("remote"))
        .env("XDG_CONFIG_HOME", d.join("config"))
        .output()
        .unwrap();
    let findings: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let blobs: Vec<&serde_json::Value> = findings
        .iter()
        .filter(|f| f["rule"] == "store.missing-blob-for-id")
        .collect();
    assert_eq!(blobs.len(), 3, "each stack trace once: {findings:?}");
    for b in &blobs {
        assert_eq!(b["host"], "mbx1");
        assert_eq!(b["kind"], "mailbox");
        assert!(
            b["text"]
                .as_str()
                .unwrap()
                .contains("\n\tat com.zimbra.cs.mailbox.MailItem.getBlob"),
            "{b}"
        );
    }
    let lmtp: Vec<&serde_json::Value> = findings.iter().filter(|f| f["host"] == "mta1").collect();
    assert!(
        lmtp.iter()
            .any(|f| f["text"].as_str().unwrap().contains("7025")),
        "{findings:?}"
    );
}
