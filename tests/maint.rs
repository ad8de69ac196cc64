//! Maintenance windows and resolution: a night where mbx1 is stopped with zmcontrol from 22:00
//! to 22:40. The MTA's refused LMTP deliveries to mbx1 meanwhile are one info group with no
//! alert; the same lines at 23:10 are a high incident with exactly one alert, which the first
//! successful delivery resolves; the proxy's failed upstream connections to mbx1's address are
//! held with them. `zkb maint start|stop` opens a window by hand.

use std::fs::{self, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(20);

fn stopping(t: &str) -> String {
    format!(
        "Mar 14 {t} mbx1 zimbramon[20511]: 20511:info: Stopping services initiated by zmcontrol\n"
    )
}

fn starting(t: &str) -> String {
    format!(
        "Mar 14 {t} mbx1 zimbramon[21877]: 21877:info: Starting services initiated by zmcontrol\n"
    )
}

fn refused(t: &str, qid: &str) -> String {
    format!(
        "Mar 14 {t} mta1 postfix/lmtp[8812]: {qid}: to=<ann@example.com>, relay=none, delay=3, \
         delays=3/0/0/0, dsn=4.4.1, status=deferred (connect to mbx1.example.com[10.0.0.5]:7025: Connection refused)\n"
    )
}

fn upstream_refused(t: &str) -> String {
    format!(
        "{t} [error] 4243#0: *9812 connect() failed (111: Connection refused) while connecting \
         to upstream, client: 203.0.113.7, server: mail.example.com, request: \"POST \
         /service/soap/NoOpRequest HTTP/1.1\", upstream: \"https://10.0.0.5:8443/service/soap/NoOpRequest\", \
         host: \"mail.example.com\"\n"
    )
}

fn delivered(t: &str, qid: &str) -> String {
    format!(
        "Mar 14 {t} mta1 postfix/lmtp[8990]: {qid}: to=<ann@example.com>, \
         relay=mbx1.example.com[10.0.0.5]:7025, delay=900, delays=899/0/0.01/0.2, dsn=2.1.5, \
         status=sent (250 2.1.5 Delivery OK)\n"
    )
}

fn append(path: &Path, text: &str) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

fn lines(r: impl std::io::Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

struct Site {
    tmp: tempfile::TempDir,
}

impl Site {
    fn new() -> Site {
        let tmp = tempfile::tempdir().unwrap();
        for (h, log) in [
            ("mbx1", "zimbra.log"),
            ("mta1", "zimbra.log"),
            ("proxy1", "nginx.log"),
        ] {
            fs::create_dir_all(tmp.path().join("site").join(h)).unwrap();
            fs::write(tmp.path().join("site").join(h).join(log), "").unwrap();
        }
        Site { tmp }
    }

    fn log(&self, host: &str) -> PathBuf {
        let name = if host.starts_with("proxy") {
            "nginx.log"
        } else {
            "zimbra.log"
        };
        self.tmp.path().join("site").join(host).join(name)
    }

    fn data(&self) -> PathBuf {
        self.tmp.path().join("data")
    }

    fn alerts(&self) -> PathBuf {
        self.tmp.path().join("alerts")
    }

    fn zkb(&self, args: &[&str]) -> (bool, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_zkb"))
            .env("XDG_CONFIG_HOME", self.tmp.path().join("config"))
            .env("TZ", "UTC")
            .arg("--data")
            .arg(self.data())
            .args(args)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn incidents(&self) -> Vec<serde_json::Value> {
        let (ok, out, err) = self.zkb(&["incidents", "list", "--format", "json"]);
        assert!(ok, "{err}");
        serde_json::from_str(&out).unwrap()
    }

    fn alert_count(&self) -> usize {
        fs::read_to_string(self.alerts())
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with('{'))
            .count()
    }
}

/// `zkb watch --format json` on the site's tree, with every new incident alerted into a file.
struct Watch {
    child: Child,
    out: Receiver<String>,
    err: Receiver<String>,
    notes: Vec<String>,
    findings: Vec<serde_json::Value>,
}

impl Watch {
    fn start(site: &Site) -> Watch {
        let glob = site.tmp.path().join("site/*/zimbra.log");
        let proxy = site.tmp.path().join("site/*/nginx.log");
        let exec = format!(
            "cat >> '{}'; echo >> '{}'",
            site.alerts().display(),
            site.alerts().display()
        );
        let mut child = Command::new(env!("CARGO_BIN_EXE_zkb"))
            .env("XDG_CONFIG_HOME", site.tmp.path().join("config"))
            .env("TZ", "UTC")
            .env("NO_COLOR", "1")
            .arg("--data")
            .arg(site.data())
            .args([
                "watch",
                "--format",
                "json",
                "--normal-priority",
                "--silence",
                "0",
            ])
            .args(["--from-start", "--exec", &exec])
            .arg(glob)
            .arg(proxy)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = lines(child.stdout.take().unwrap());
        let err = lines(child.stderr.take().unwrap());
        let mut w = Watch {
            child,
            out,
            err,
            notes: Vec::new(),
            findings: Vec::new(),
        };
        w.note("watching");
        w
    }

    fn note(&mut self, what: &str) {
        let end = Instant::now() + WAIT;
        if self.notes.iter().any(|n| n.contains(what)) {
            return;
        }
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            let Ok(line) = self.err.recv_timeout(left) else {
                break;
            };
            let hit = line.contains(what);
            self.notes.push(line);
            if hit {
                return;
            }
        }
        panic!("no note {what:?} in {:#?}", self.notes);
    }

    /// Waits until `n` findings of `rule` have been printed in all.
    fn findings_of(&mut self, rule: &str, n: usize) {
        let end = Instant::now() + WAIT;
        let count = |f: &[serde_json::Value]| f.iter().filter(|v| v["rule"] == rule).count();
        while count(&self.findings) < n {
            let left = end
                .checked_duration_since(Instant::now())
                .unwrap_or_else(|| panic!("{n} findings of {rule}: {:#?}", self.findings));
            let line = self
                .out
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("{n} findings of {rule}: {:#?}", self.findings));
            self.findings.push(serde_json::from_str(&line).unwrap());
        }
    }

    fn stop(mut self) {
        let ok = Command::new("kill")
            .arg(self.child.id().to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok);
        assert!(self.child.wait().unwrap().success());
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_planned_stop_is_one_info_group_and_the_same_lines_later_alert_once() {
    let site = Site::new();
    let mut w = Watch::start(&site);
    append(&site.log("mbx1"), &stopping("22:00:02"));
    w.note("maintenance of mbx1 begins");
    for (t, q) in [
        ("22:05:11", "4A1B2C3D4E"),
        ("22:20:40", "4A1B2C3D4F"),
        ("22:35:09", "4A1B2C3D50"),
    ] {
        append(&site.log("mta1"), &refused(t, q));
    }
    // The proxy names mbx1 only by the address the MTA's lines gave for it.
    append(
        &site.log("proxy1"),
        &upstream_refused("2026/03/14 22:10:12"),
    );
    w.findings_of("maint.expected", 4);
    append(&site.log("mbx1"), &starting("22:40:05"));
    w.note("maintenance of mbx1 ends");
    // Half an hour later the same lines are what they are.
    append(&site.log("mta1"), &refused("23:10:00", "4B1B2C3D4E"));
    append(&site.log("mta1"), &refused("23:10:30", "4B1B2C3D4F"));
    w.findings_of("mta.lmtp-connect-failed", 2);
    append(&site.log("mta1"), &delivered("23:15:00", "4B1B2C3D4E"));
    // The delivery is no finding of its own; a line after it shows that it was read.
    append(&site.log("mbx1"), &starting("23:16:00"));
    w.findings_of("zmcontrol.services-starting", 2);
    // Refused again after the recovery: a new incident, and it alerts again.
    append(&site.log("mta1"), &refused("23:20:00", "4D1B2C3D4E"));
    w.findings_of("mta.lmtp-connect-failed", 3);
    w.stop();

    let incidents = site.incidents();
    let of = |rule: &str| -> Vec<&serde_json::Value> {
        incidents.iter().filter(|i| i["rule"] == rule).collect()
    };
    let held = of("maint.expected");
    assert_eq!(held.len(), 1, "one info group: {incidents:#?}");
    assert_eq!(held[0]["severity"], "info");
    assert_eq!(held[0]["count"], 4, "the MTA's three lines and the proxy's");
    assert_eq!(
        held[0]["host"], "mbx1",
        "grouped under the server that is down"
    );
    let lmtp = of("mta.lmtp-connect-failed");
    assert_eq!(lmtp.len(), 2, "{lmtp:#?}");
    let night = lmtp
        .iter()
        .find(|i| i["count"] == 2)
        .expect("the 23:10 lines");
    assert_eq!(night["severity"], "high");
    assert!(
        night["resolved"]
            .as_str()
            .is_some_and(|r| r.contains("23:15:00")),
        "resolved by the first delivery: {lmtp:#?}"
    );
    assert_eq!(night["state"], "resolved");
    assert!(
        of("mta.lmtp-delivered").is_empty(),
        "a delivery is no incident"
    );
    let alerts = fs::read_to_string(site.alerts()).unwrap_or_default();
    let alerts: Vec<&str> = alerts.lines().filter(|l| l.starts_with('{')).collect();
    assert_eq!(alerts.len(), 2, "one for 23:10, one for 23:20: {alerts:#?}");
    assert!(
        alerts[0].contains("23:10:00") && alerts[1].contains("23:20:00"),
        "{alerts:#?}"
    );
    assert!(alerts
        .iter()
        .all(|a| a.contains("\"rule\":\"mta.lmtp-connect-failed\"")));
    let (ok, list, err) = site.zkb(&["maint", "list", "--since", "3650d", "--format", "json"]);
    assert!(ok, "{err}");
    let list: Vec<serde_json::Value> = serde_json::from_str(&list).unwrap();
    assert_eq!(list.len(), 1, "{list:#?}");
    assert_eq!(list[0]["host"], "mbx1");
    assert_eq!(list[0]["source"], "zmcontrol.services-stopping");
    assert_eq!(list[0]["open"], false);
}

/// Now, as syslog writes it (`Mar 14 22:05:11`), in UTC.
fn syslog_now() -> String {
    let out = Command::new("date")
        .env("TZ", "UTC")
        .env("LC_ALL", "C")
        .arg("+%H:%M:%S")
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn today() -> String {
    let out = Command::new("date")
        .env("TZ", "UTC")
        .env("LC_ALL", "C")
        .arg("+%b %e")
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .trim_end()
        .to_string()
}

#[test]
fn a_window_opened_by_hand_holds_the_lines_until_it_is_closed() {
    let site = Site::new();
    let (ok, _, err) = site.zkb(&[
        "maint",
        "start",
        "--host",
        "mbx1",
        "--reason",
        "upgrade to 10.1.9",
    ]);
    assert!(ok, "{err}");
    let (ok, _, err) = site.zkb(&["maint", "stop", "--host", "mbx2"]);
    assert!(
        !ok && err.contains("no open maintenance window of mbx2"),
        "{err}"
    );
    let mut w = Watch::start(&site);
    let line = refused("00:00:00", "4D1B2C3D4E").replacen(
        "Mar 14 00:00:00",
        &format!("{} {}", today(), syslog_now()),
        1,
    );
    append(&site.log("mta1"), &line);
    w.findings_of("maint.expected", 1);
    w.stop();
    let (ok, _, err) = site.zkb(&["maint", "stop", "--host", "mbx1"]);
    assert!(ok, "{err}");
    let (ok, list, err) = site.zkb(&["maint", "list"]);
    assert!(ok, "{err}");
    assert!(
        list.contains("mbx1") && list.contains("upgrade to 10.1.9 (manual)"),
        "{list}"
    );
    assert!(!list.contains("open"), "closed: {list}");
    assert_eq!(site.alert_count(), 0);
}

/// An installer run through `zkb run` is a maintenance window of this host while it runs.
#[test]
fn zkb_run_is_a_window_while_the_installer_runs() {
    let site = Site::new();
    let (ok, _, err) = site.zkb(&["-q", "run", "--", "sh", "-c", "exit 0"]);
    assert!(ok, "{err}");
    let (ok, list, err) = site.zkb(&["maint", "list", "--format", "json"]);
    assert!(ok, "{err}");
    let list: Vec<serde_json::Value> = serde_json::from_str(&list).unwrap();
    assert_eq!(list.len(), 1, "{list:#?}");
    assert_eq!(list[0]["source"], "zkb run");
    assert_eq!(list[0]["reason"], "zkb run -- sh -c exit 0");
    assert_eq!(list[0]["open"], false, "closed when the command ended");
}
