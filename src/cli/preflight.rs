//! `zkb preflight`: the pre-upgrade checks, as a table (human) or JSON lines; exit 1 on a fail.

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::{style, Global, Outcome};
use crate::output::{escape, Format};
use crate::preflight::{self, Host, Status};

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  zkb preflight                         as root on each server, before ./install.sh\n  zkb preflight --format json | jq 'select(.status != \"pass\")'\n  zkb preflight --root /mnt/copy-of-mbx2  a copied system (its Zimbra commands come from PATH)\n\nNothing is changed. Zimbra's commands (zmvolume, zmlicense, mysql) run as the zimbra user\n(`su - zimbra -c`); with --root they are taken from PATH as they are. Exit 1 when a check fails."
)]
pub struct PreflightArgs {
    /// Check the tree under DIR instead of this host's /.
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// At boot, before Zimbra starts (deploy/systemd/zkb-preflight-boot.service): only the
    /// volume mounts, each failure also to the journal; exit 1 keeps mailboxd from serving
    /// blank messages off an unmounted volume.
    #[arg(long)]
    pub boot: bool,
    /// Keep the results for the upgrade report (`preflight.json` in the data dir; `zkb report`
    /// shows them in its "Pre-upgrade checks" section).
    #[arg(long)]
    pub report: bool,
    /// The release you are about to install (10.1.9, or 10.1.9_GA_4200001): on a server that
    /// is not an LDAP master, each master must already be at it, as the installer checks.
    #[arg(long, value_name = "VERSION")]
    pub to: Option<String>,
    /// The backup target (a directory of this host): it needs as much free space as the
    /// filesystem of /opt/zimbra uses, and a copy of the licence file.
    #[arg(long, value_name = "DIR")]
    pub backup: Option<String>,
}

/// Writes the results where `zkb report` finds them.
fn save_for_report(g: &Global, a: &PreflightArgs, findings: &[preflight::Finding]) -> Result<()> {
    use anyhow::Context;
    let dir = super::state::data_dir(g.data.as_deref())
        .context("--report: no data directory (set --data or ZKB_DATA)")?;
    let host = match &a.root {
        Some(r) => r.display().to_string(),
        None => crate::sources::local_hostname().unwrap_or_else(|| "this host".into()),
    };
    let saved = preflight::Saved::new(host, findings);
    let path = dir.join("preflight.json");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(&path, serde_json::to_string_pretty(&saved)? + "\n")
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

pub fn run(g: &Global, a: &PreflightArgs) -> Result<Outcome> {
    let host = Host {
        volume_cache: super::state::data_dir(g.data.as_deref()).map(|d| d.join("volumes.json")),
        root: a.root.clone().unwrap_or_else(|| PathBuf::from("/")),
        direct_commands: a.root.is_some() || running_as_zimbra(),
        to_version: a.to.clone(),
        backup: a.backup.clone(),
    };
    let findings = if a.boot {
        let vols = preflight::volumes::list(&host);
        preflight::mounts::check(&host, &vols)
    } else {
        let (data, errors) =
            preflight::data::load(&preflight::data::user_dir().into_iter().collect::<Vec<_>>());
        for e in &errors {
            eprintln!("zkb: {e}");
        }
        preflight::run(&host, &data)
    };
    if a.report {
        save_for_report(g, a, &findings)?;
    }
    // At boot a volume that only looks missing is reason enough to keep Zimbra from starting.
    let blocks = |f: &&preflight::Finding| {
        f.status == Status::Fail
            || (a.boot && f.status == Status::Warn && f.check == "volumes.boot-mount")
    };
    if a.boot {
        for f in findings.iter().filter(blocks) {
            eprintln!("zkb preflight: {}: {}", f.subject, f.message);
        }
    }
    let out = io::stdout();
    let mut w = io::BufWriter::new(out.lock());
    let s = style(g);
    for f in &findings {
        match g.format {
            Format::Json => writeln!(w, "{}", serde_json::to_string(f)?)?,
            Format::Human => {
                let label = match f.status {
                    Status::Pass => "pass".to_string(),
                    Status::Warn => s.bold("WARN"),
                    Status::Fail => s.bold("FAIL"),
                };
                writeln!(
                    w,
                    "{label:<4}  {:<18}  {}",
                    f.check,
                    escape(&f.subject, false)
                )?;
                if f.status != Status::Pass || g.verbose {
                    writeln!(w, "      {}", escape(&f.message, false))?;
                }
                for kb in &f.kb {
                    writeln!(w, "      fix: zkb kb show {kb}")?;
                }
            }
        }
    }
    w.flush()?;
    let failed = findings.iter().filter(blocks).count();
    if !g.quiet && g.format == Format::Human {
        let warned = findings.iter().filter(|f| f.status == Status::Warn).count();
        eprintln!(
            "zkb: {} check(s): {failed} failed, {warned} warned",
            findings.len()
        );
    }
    Ok(Outcome {
        code: i32::from(failed > 0),
    })
}

fn running_as_zimbra() -> bool {
    std::env::var("USER").is_ok_and(|u| u == "zimbra")
}
