//! `zkb config show`: the settings in force, each with where it came from (a flag, a config
//! file, or the built-in default), and the directories this mode uses.

use anyhow::Result;
use clap::Subcommand;
use serde_json::json;

use super::{Global, Outcome};
use crate::config::{Origin, Setting};
use crate::output::Format;
use crate::state;

#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Print the effective settings and where each one came from.
    Show,
}

/// One row: key, value as text, origin.
struct Row {
    key: &'static str,
    value: String,
    origin: Origin,
}

fn row<T>(key: &'static str, s: &Setting<T>, show: impl Fn(&T) -> String, default: &str) -> Row {
    Row {
        key,
        value: s
            .value
            .as_ref()
            .map(show)
            .unwrap_or_else(|| default.to_string()),
        origin: s.origin.clone(),
    }
}

fn list<T: std::fmt::Display>(xs: &[T]) -> String {
    let v: Vec<String> = xs.iter().map(|x| x.to_string()).collect();
    v.join(", ")
}

fn rows(g: &Global) -> Vec<Row> {
    let s = &g.settings;
    let data_default = state::data_dir(None)
        .map(|d| d.display().to_string())
        .unwrap_or_else(|| "(none: set --data)".into());
    vec![
        row(
            "paths",
            &s.paths,
            |p| list(p),
            "/opt/zimbra/log, /var/log/zimbra.log (and, for watch, the installer logs)",
        ),
        row(
            "rules",
            &s.rules,
            |p| list(&p.iter().map(|d| d.display()).collect::<Vec<_>>()),
            "(none beyond the shipped rules)",
        ),
        row(
            "kb",
            &s.kb,
            |p| list(&p.iter().map(|d| d.display()).collect::<Vec<_>>()),
            "(none beyond the shipped KB)",
        ),
        row("data", &s.data, |d| d.display().to_string(), &data_default),
        row(
            "min_severity",
            &s.min_severity,
            |v| v.as_str().to_string(),
            "info",
        ),
        row("silence", &s.silence, |v| v.clone(), "10m"),
        row("alert_command", &s.alert_command, |v| v.clone(), "(none)"),
    ]
}

pub fn run(g: &Global, c: &ConfigCommand) -> Result<Outcome> {
    let ConfigCommand::Show = c;
    let rows = rows(g);
    let mode = if state::system_mode() {
        "system"
    } else {
        "user"
    };
    let own_rules = super::config_dir("rules").map(|d| d.display().to_string());
    let own_kb = super::config_dir("kb").map(|d| d.display().to_string());
    let files: Vec<String> = g
        .settings
        .files
        .iter()
        .map(|f| f.display().to_string())
        .collect();
    if g.format == Format::Json {
        let settings: serde_json::Map<String, serde_json::Value> = rows
            .iter()
            .map(|r| {
                (
                    r.key.to_string(),
                    json!({"value": r.value, "from": r.origin.to_string()}),
                )
            })
            .collect();
        let out = json!({
            "mode": mode,
            "files": files,
            "settings": settings,
            "learned_rules_dir": own_rules,
            "learned_kb_dir": own_kb,
        });
        println!("{out}");
        return Ok(Outcome { code: 0 });
    }
    println!(
        "mode: {mode}  config files read: {}",
        if files.is_empty() {
            "none".to_string()
        } else {
            files.join(", ")
        }
    );
    let width = rows.iter().map(|r| r.key.len()).max().unwrap_or(0);
    for r in &rows {
        println!(
            "{:width$}  {}  [{}]",
            r.key,
            crate::output::escape(&r.value, false),
            r.origin
        );
    }
    if let Some(d) = own_rules {
        println!("{:width$}  {d}  [{mode} mode]", "learned rules");
    }
    if let Some(d) = own_kb {
        println!("{:width$}  {d}  [{mode} mode]", "learned KB");
    }
    Ok(Outcome { code: 0 })
}
