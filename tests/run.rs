//! `zkb run` under a pseudo-terminal, as an admin runs it: an interactive fake installer whose
//! prompt must reach the user and whose answer must reach it, its exit status passed through,
//! a clean recording, the summary with the licence fix; a killed child and a killed zkb both
//! leave the recording up to that point; a matcher that stalls or panics (test hooks) changes
//! nothing the user sees. Every wait is for output, with a timeout.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{native_pty_system, CommandBuilder, PtySize};

const WAIT: Duration = Duration::from_secs(20);

const INSTALLER: &str = r#"#!/bin/bash
echo 'Checking for available license file...'
printf '\033[1;31mERROR:\033[0m The ZCS Network upgrade requires a license to be located in\n'
echo '/opt/zimbra/conf/ZCSLicense.xml or a license previously installed.'
echo 'The upgrade will not continue without a license.'
printf 'Progress 10%%\rProgress 100%%\n'
read -p 'Do you want to continue? [N] ' a
echo "answer=$a"
[ "$a" = kill ] && kill -9 $$
if [ "$a" = resize ]; then
  for i in $(seq 100); do s=$(stty size); [ "$s" = "30 100" ] && break; sleep 0.1; done
  echo "size=$s"
fi
exit 3
"#;

/// zkb run in a pty, its screen collected by a thread.
struct Session {
    child: Box<dyn portable_pty::Child + Send + Sync>,
    writer: Box<dyn Write + Send>,
    screen: Arc<Mutex<String>>,
    pty: Box<dyn portable_pty::MasterPty + Send>,
}

impl Session {
    fn start(dir: &Path, hook: Option<&str>) -> Session {
        let script = dir.join("install.sh");
        fs::write(&script, INSTALLER).unwrap();
        let mut perm = fs::metadata(&script).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
        fs::set_permissions(&script, perm).unwrap();
        let pair = native_pty_system()
            .openpty(PtySize {
                rows: 40,
                cols: 120,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_zkb"));
        cmd.args(["run", "--data"]);
        cmd.arg(dir.join("data"));
        cmd.arg("--");
        cmd.arg(&script);
        cmd.cwd(dir);
        cmd.env("NO_COLOR", "1");
        cmd.env_remove("TMUX");
        match hook {
            Some(h) => cmd.env("ZKB_TEST_MATCHER_HOOK", h),
            None => cmd.env_remove("ZKB_TEST_MATCHER_HOOK"),
        }
        let child = pair.slave.spawn_command(cmd).unwrap();
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().unwrap();
        let writer = pair.master.take_writer().unwrap();
        let screen = Arc::new(Mutex::new(String::new()));
        let s = screen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                s.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Session {
            child,
            writer,
            screen,
            pty: pair.master,
        }
    }

    fn wait_for(&self, text: &str) {
        let end = Instant::now() + WAIT;
        while !self.screen.lock().unwrap().contains(text) {
            assert!(
                Instant::now() < end,
                "never saw {text:?} in:\n{}",
                self.screen.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn answer(&mut self, text: &str) {
        self.writer.write_all(text.as_bytes()).unwrap();
        self.writer.write_all(b"\r").unwrap();
        self.writer.flush().unwrap();
    }

    /// zkb's exit code, once it has ended.
    fn exit_code(&mut self) -> u32 {
        let end = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.exit_code();
            }
            assert!(Instant::now() < end, "zkb did not end");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn screen(&self) -> String {
        self.screen.lock().unwrap().clone()
    }
}

fn recording(dir: &Path) -> (PathBuf, String) {
    let runs = dir.join("data/runs");
    let path = fs::read_dir(&runs)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .next()
        .expect("a recording");
    let text = fs::read_to_string(&path).unwrap();
    (path, text)
}

#[test]
fn the_installer_behaves_as_when_run_bare_and_its_problem_comes_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut s = Session::start(dir.path(), None);
    s.wait_for("Do you want to continue? [N] ");
    assert!(
        s.screen().contains("\x1b[1;31mERROR:"),
        "colours pass through"
    );
    s.pty
        .resize(PtySize {
            rows: 30,
            cols: 100,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    s.answer("resize");
    s.wait_for("answer=resize");
    s.wait_for("size=30 100");
    assert_eq!(s.exit_code(), 3, "the installer's status is zkb's");
    s.wait_for("exit status 3");
    let screen = s.screen();
    assert!(
        screen.contains("license.file-not-found-installer"),
        "{screen}"
    );
    assert!(
        screen.contains("ZCSLicense.xml") && screen.contains("zmlicense"),
        "{screen}"
    );
    assert!(screen.contains("not inside tmux or screen"));
    let (path, text) = recording(dir.path());
    assert!(path.to_string_lossy().contains("install-console-"));
    assert!(
        !text.contains('\x1b') && !text.contains('\r'),
        "clean: {text:?}"
    );
    assert!(text.contains("ERROR: The ZCS Network upgrade requires a license"));
    assert!(
        text.contains("Progress 100%\n") && !text.contains("10%"),
        "{text:?}"
    );
    assert!(
        text.contains("Do you want to continue? [N] resize\nanswer=resize\n"),
        "{text:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn a_killed_installer_leaves_its_recording_and_its_status() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Session::start(dir.path(), None);
    s.wait_for("[N] ");
    s.answer("kill");
    assert_eq!(s.exit_code(), 128 + 9);
    let (_, text) = recording(dir.path());
    assert!(text.contains("answer=kill"), "{text}");
}

#[test]
fn a_killed_zkb_leaves_the_recording_up_to_that_point() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Session::start(dir.path(), None);
    s.wait_for("[N] ");
    // Lines are written as they complete and synced within 100 ms.
    let end = Instant::now() + WAIT;
    while !fs::read_dir(dir.path().join("data/runs"))
        .ok()
        .and_then(|mut d| d.next())
        .and_then(|e| e.ok())
        .is_some_and(|e| {
            fs::read_to_string(e.path())
                .unwrap_or_default()
                .contains("Progress")
        })
    {
        assert!(Instant::now() < end, "the recording never got the lines");
        std::thread::sleep(Duration::from_millis(10));
    }
    s.child.kill().unwrap();
    s.exit_code();
    let (_, text) = recording(dir.path());
    assert!(text.contains("ERROR: The ZCS Network upgrade requires a license"));
    assert!(text.contains("Progress 100%"));
}

#[test]
fn a_stalled_matcher_does_not_touch_the_prompt_the_answer_or_the_status() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut s = Session::start(dir.path(), Some("sleep"));
    s.wait_for("[N] ");
    s.answer("Y");
    s.wait_for("answer=Y");
    assert_eq!(s.exit_code(), 3);
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "the 10 s stall held the exit up: {:?}",
        started.elapsed()
    );
    let (_, text) = recording(dir.path());
    assert!(
        text.contains("answer=Y"),
        "recording does not wait for matching"
    );
}

#[test]
fn a_panicking_matcher_is_reported_and_nothing_else_changes() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Session::start(dir.path(), Some("panic"));
    s.wait_for("[N] ");
    s.answer("Y");
    s.wait_for("answer=Y");
    assert_eq!(s.exit_code(), 3);
    s.wait_for("exit status 3");
    let screen = s.screen();
    assert!(screen.contains("matching failed"), "{screen}");
    assert!(
        !screen.contains("panicked at"),
        "no panic text over the installer: {screen}"
    );
}

#[test]
fn ctrl_c_goes_to_the_installer_and_zkb_still_summarises() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Session::start(dir.path(), None);
    s.wait_for("[N] ");
    s.writer.write_all(b"\x03").unwrap();
    s.writer.flush().unwrap();
    assert_eq!(
        s.exit_code(),
        128 + 2,
        "the installer died of SIGINT, zkb passes it on"
    );
    s.wait_for("license.file-not-found-installer");
}

#[test]
fn watch_with_its_default_set_shows_the_recorded_console_live() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let mut watch = Command::new(env!("CARGO_BIN_EXE_zkb"))
        .args(["watch", "--format", "json", "--normal-priority", "--data"])
        .arg(dir.path().join("data"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let err = std::io::BufReader::new(watch.stderr.take().unwrap());
    let out = std::io::BufReader::new(watch.stdout.take().unwrap());
    let tx2 = tx.clone();
    std::thread::spawn(move || {
        err.lines()
            .map_while(Result::ok)
            .for_each(|l| drop(tx2.send(l)))
    });
    std::thread::spawn(move || {
        out.lines()
            .map_while(Result::ok)
            .for_each(|l| drop(tx.send(l)))
    });
    let wait_line = |what: &str| {
        let end = Instant::now() + WAIT;
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            match rx.recv_timeout(left) {
                Ok(l) if l.contains(what) => return l,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        panic!("watch never printed {what:?}");
    };
    wait_line("runs/*.log: not there");
    let mut s = Session::start(dir.path(), None);
    s.wait_for("[N] ");
    let finding = wait_line("license.file-not-found-installer");
    assert!(finding.contains("install-console-"), "{finding}");
    s.answer("Y");
    assert_eq!(s.exit_code(), 3);
    let _ = watch.kill();
    let _ = watch.wait();
}
