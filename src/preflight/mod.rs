//! `zkb preflight`: read-only checks of a host before an upgrade (or of a copied tree under
//! `--root`), each a small unit that reads files and, where it must, the output of Zimbra's
//! own commands, and answers with pass, warn or fail and the KB entry that fixes a failure.
//! Nothing here changes the host.
//!
//! - [`mounts`]: every store, index and HSM volume is on a filesystem that comes back at boot.
//! - [`volumes`]: the volume list, from `zmvolume -l` or, with mailboxd down, the `volume` table.
//! - [`host`]: the licence file of a Network Edition mailstore, free space for the installer,
//!   the hostname in `/etc/hosts` as install.sh checks it.
//! - [`ports`]: the ports zmsetup checks, held by a program that is not Zimbra's.
//! - [`ldap`]: the LDAP masters already at the release being installed (their server entries).
//! - [`data`]: the checks written as YAML (`checks/`, and the site's own checks dir).
//! - [`custom`]: templates edited by hand, third-party Zimlets and Postfix `hash:` tables,
//!   which an upgrade overwrites, disables or breaks.

pub mod custom;
pub mod data;
pub mod host;
pub mod ldap;
pub mod mounts;
pub mod ports;
pub mod probe;
pub mod volumes;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Serialize;

/// How a check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Warn,
    Fail,
}

/// One check's answer.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    /// The check (`volumes.boot-mount`).
    pub check: &'static str,
    pub status: Status,
    /// `critical`, `high`… for a warn or fail; `info` for a pass.
    pub severity: &'static str,
    /// What it is about (a volume path, a file, a filesystem).
    pub subject: String,
    pub message: String,
    /// KB entries with the fix, first the most likely.
    pub kb: Vec<&'static str>,
}

/// A preflight run kept for the upgrade report (`zkb preflight --report`, in
/// `<data>/preflight.json`; `zkb report` shows it).
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct Saved {
    pub host: String,
    /// RFC 3339.
    pub at: String,
    pub findings: Vec<SavedFinding>,
}

/// A [`Finding`] as saved.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct SavedFinding {
    pub check: String,
    pub status: Status,
    pub severity: String,
    pub subject: String,
    pub message: String,
    pub kb: Vec<String>,
}

impl Saved {
    pub fn new(host: String, findings: &[Finding]) -> Saved {
        Saved {
            host,
            at: jiff::Timestamp::now().to_string(),
            findings: findings
                .iter()
                .map(|f| SavedFinding {
                    check: f.check.to_string(),
                    status: f.status,
                    severity: f.severity.to_string(),
                    subject: f.subject.clone(),
                    message: f.message.clone(),
                    kb: f.kb.iter().map(|k| k.to_string()).collect(),
                })
                .collect(),
        }
    }
}

/// Where the checks look: the host's `/`, or a tree standing for it.
pub struct Host {
    pub root: PathBuf,
    /// Run Zimbra's commands as found on `PATH` (a test tree, or already the zimbra user)
    /// rather than through `su - zimbra -c`.
    pub direct_commands: bool,
    /// Where the last volume list read is kept (`<data>/volumes.json`), for when neither
    /// mailboxd nor mysql runs, as at boot before Zimbra starts.
    pub volume_cache: Option<PathBuf>,
    /// The release about to be installed (`--to`), for the LDAP masters check.
    pub to_version: Option<String>,
    /// Where the admin keeps the backup (`--backup`, a host path): it needs room, and a copy of
    /// the licence file.
    pub backup: Option<String>,
}

impl Host {
    /// A host path (`/etc/fstab`) under the root.
    pub fn path(&self, p: &str) -> PathBuf {
        self.root.join(p.trim_start_matches('/'))
    }

    pub fn read(&self, p: &str) -> Option<String> {
        std::fs::read_to_string(self.path(p)).ok()
    }

    /// Runs one of Zimbra's commands as the zimbra user; its stdout when it succeeds.
    pub fn zimbra_command(&self, program: &str, args: &[&str]) -> Option<String> {
        self.run_as_zimbra(program, args, None)
    }

    /// The same, with `input` on the command's stdin (a password, kept off command lines).
    pub fn zimbra_command_with_input(
        &self,
        program: &str,
        args: &[&str],
        input: &str,
    ) -> Option<String> {
        self.run_as_zimbra(program, args, Some(input))
    }

    fn run_as_zimbra(&self, program: &str, args: &[&str], input: Option<&str>) -> Option<String> {
        use std::io::Write;
        use std::process::Stdio;
        // `su` would ask a non-root user for a password on the terminal: never from here.
        // SAFETY: geteuid has no preconditions.
        if !self.direct_commands && unsafe { libc::geteuid() } != 0 {
            return None;
        }
        let mut cmd = if self.direct_commands {
            let mut c = Command::new(program);
            c.args(args);
            c
        } else {
            let line = std::iter::once(program)
                .chain(args.iter().copied())
                .map(shell_word)
                .collect::<Vec<_>>()
                .join(" ");
            let mut c = Command::new("su");
            c.args(["-", "zimbra", "-c", &line]);
            c
        };
        cmd.stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = cmd.spawn().ok()?;
        if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
            // A command that does not read it gets a broken pipe: fine.
            let _ = stdin.write_all(text.as_bytes());
        }
        let out = child.wait_with_output().ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

fn shell_word(w: &str) -> String {
    if w.bytes()
        .all(|c| c.is_ascii_alphanumeric() || b"-_./=".contains(&c))
    {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', r"'\''"))
    }
}

/// Runs every check: those in code, then `data` (see [`data`]).
pub fn run(host: &Host, data: &[data::DataCheck]) -> Vec<Finding> {
    let mut out = Vec::new();
    let vols = volumes::list(host);
    out.extend(mounts::check(host, &vols));
    out.extend(host::licence(host));
    out.extend(host::free_space(host));
    out.extend(host::etc_hosts(host));
    out.extend(ports::check(host));
    out.extend(custom::check(host));
    out.extend(ldap::masters(host, host.to_version.as_deref()));
    out.extend(data::run(host, data));
    out
}

/// Whether `path` is `dir` or under it (whole components).
pub fn under(path: &Path, dir: &Path) -> bool {
    path.starts_with(dir)
}
