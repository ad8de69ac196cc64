//! `zkb maint start|stop|list`: maintenance windows by hand, in the incident store that the
//! watch reads (see [`crate::maint`] for what a window does).

use std::io::{self, Write};

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

use super::{Global, Outcome};
use crate::maint::{Scope, Window};
use crate::output::{escape, Format};
use crate::state;
use crate::store::Store;

#[derive(Subcommand, Debug)]
pub enum MaintCommand {
    /// Open a window now: the expected errors about the server (LMTP refused, proxy upstream
    /// down, LDAP unreachable, services stopped) are held as one info group with no alert.
    Start(StartArgs),
    /// Close the open window of the server (or of the site).
    Stop(StopArgs),
    /// The windows open now and those of the last days, by hand and inferred from the logs.
    List(ListArgs),
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  zkb maint start --host mbx1 --reason 'upgrade to 10.1.9'\n  zkb maint stop --host mbx1\n  zkb maint start --reason 'site-wide LDAP restart'   every server\n\nA watch also opens a window by itself when zmcontrol logs that it stops a server's services\n(and closes it when zmcontrol starts them), and for zmsetup's upgrade run."
)]
pub struct StartArgs {
    /// The server that goes down, as its logs name it (mbx1 or mbx1.example.com). Default:
    /// the whole site.
    #[arg(long)]
    pub host: Option<String>,
    /// Why, for `zkb maint list` and the report.
    #[arg(long, default_value = "opened by hand")]
    pub reason: String,
}

#[derive(Args, Debug)]
pub struct StopArgs {
    /// The server whose window closes. Default: the site-wide window.
    #[arg(long)]
    pub host: Option<String>,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Windows closed within this age are listed too (e.g. 12h, 7d).
    #[arg(long, default_value = "7d")]
    pub since: String,
}

pub fn run(g: &Global, command: &MaintCommand) -> Result<Outcome> {
    let dir =
        state::data_dir(g.data.as_deref()).context("no data directory (set --data or ZKB_DATA)")?;
    let mut store = Store::open(&dir)?;
    let now = jiff::Timestamp::now().as_millisecond();
    match command {
        MaintCommand::Start(a) => {
            let w = Window {
                scope: Scope::from_host(a.host.clone()),
                start_ms: now,
                end_ms: None,
                reason: a.reason.clone(),
                source: "manual".into(),
                id: None,
            };
            let id = store.maint_start(&w)?;
            if !g.quiet {
                eprintln!(
                    "zkb: maintenance window #{id} of {} open; `zkb maint stop{}` closes it",
                    w.scope.label(),
                    a.host
                        .as_deref()
                        .map(|h| format!(" --host {h}"))
                        .unwrap_or_default()
                );
            }
        }
        MaintCommand::Stop(a) => {
            let scope = Scope::from_host(a.host.clone());
            let n = store.maint_stop(&scope, now, false)?;
            if n == 0 {
                anyhow::bail!(
                    "no open maintenance window of {} (see `zkb maint list`)",
                    scope.label()
                );
            }
            if !g.quiet {
                eprintln!("zkb: maintenance of {} closed", scope.label());
            }
        }
        MaintCommand::List(a) => {
            let age = crate::rules::parse_duration(&a.since)
                .with_context(|| format!("{:?} is not an age (use 12h, 7d)", a.since))?;
            let windows = store.maint_windows(now - age.as_millis() as i64, &[])?;
            list(g, &windows)?;
        }
    }
    Ok(Outcome { code: 0 })
}

fn time(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(
        |_| "?".into(),
        |t| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string(),
    )
}

fn list(g: &Global, windows: &[Window]) -> Result<()> {
    let out = io::stdout();
    let mut w = io::BufWriter::new(out.lock());
    if g.format == Format::Json {
        let rows: Vec<serde_json::Value> = windows
            .iter()
            .map(|x| {
                serde_json::json!({
                    "id": x.id,
                    "host": x.scope.host(),
                    "start": time(x.start_ms),
                    "end": x.end_ms.map(time),
                    "open": x.end_ms.is_none(),
                    "reason": x.reason,
                    "source": x.source,
                })
            })
            .collect();
        serde_json::to_writer_pretty(&mut w, &rows)?;
        writeln!(w)?;
    } else {
        if windows.is_empty() {
            writeln!(w, "no maintenance windows")?;
        }
        for x in windows {
            writeln!(
                w,
                "#{:<4} {:<12} {} .. {:<23} {} ({})",
                x.id.unwrap_or(0),
                escape(x.scope.label(), false),
                time(x.start_ms),
                x.end_ms.map_or("open".to_string(), time),
                escape(&x.reason, false),
                escape(&x.source, false)
            )?;
        }
    }
    w.flush()?;
    Ok(())
}
