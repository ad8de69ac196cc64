//! The command line: argument definitions (clap derive) and the code that runs each command.
//! Library errors become `anyhow` errors here, the only place that uses it.

use std::io::{self, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use jiff::tz::TimeZone;
use jiff::Timestamp;

use crate::config::Config;
use crate::kb::{self, Kb};
use crate::kind::LogKind;
use crate::matcher::Matcher;
use crate::output::{escape, Format, Printer, Style};
use crate::rules::{self, RuleSet, Severity};
use crate::scan::{self, ScanOptions};
use crate::search::KbIndex;
use crate::state;
use crate::{check, explain, sources};

mod baseline;
mod config;
mod demo;
mod diff;
mod incidents;
mod learn;
mod maint;
mod preflight;
mod run;
mod status;
mod watch;

#[derive(Parser, Debug)]
#[command(
    name = "zkb",
    version,
    about = "Reads Zimbra logs, recognises known problems and shows the fix for each.",
    long_about = "zkb reads Zimbra Collaboration Suite logs (mailbox.log, zimbra.log, nginx.log, \
zmsetup and installer output, MariaDB and ClamAV logs), matches every event against its rules \
and answers each known problem with the fix from its knowledge base.",
    after_help = "Examples:\n  zkb scan /opt/zimbra/log /var/log/zimbra.log        everything zkb knows, in the current logs\n  zkb scan --min-severity high --since 2h /opt/zimbra/log\n  zkb scan --format json mailbox.log.2025-03-01.gz | jq .rule\n  zkb explain '2025-03-01 10:00:03,001 WARN  [x] [] mailbox - No such blob: mailbox=5, item=7, change=1'\n  zkb kb show store/hsm-volume-not-mounted\n  zkb check --rules ~/my-rules"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct Global {
    /// Extra rule directory or file (repeatable); added to the shipped rules.
    #[arg(long = "rules", value_name = "DIR", global = true)]
    pub rules: Vec<PathBuf>,
    /// Use only the rules given with --rules, not the shipped ones.
    #[arg(long, global = true)]
    pub no_default_rules: bool,
    /// Extra knowledge-base directory (repeatable).
    #[arg(long = "kb", value_name = "DIR", global = true)]
    pub kb: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "human", global = true)]
    pub format: Format,
    /// No colours (the NO_COLOR environment variable does the same).
    #[arg(long, global = true)]
    pub no_color: bool,
    /// Print less: no summary, no notes.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Print more: whole events and every fix step.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Read inputs as this log kind instead of detecting it
    /// (mailbox, syslog, mailboxd, nginx, setup, mysql, mysql-slow, clamav, generic).
    #[arg(long, value_parser = parse_kind, global = true)]
    pub kind: Option<LogKind>,
    /// Time zone of timestamps that carry none (IANA name such as Europe/Paris); default: this host's.
    #[arg(long, global = true)]
    pub tz: Option<String>,
    /// Year of the last lines of syslog files (which carry no year); default: from the file's mtime.
    #[arg(long, global = true)]
    pub year: Option<i16>,
    /// Data directory (KB index cache, state); default: $ZKB_DATA, /var/lib/zkb as root,
    /// else ~/.local/share/zkb.
    #[arg(long, value_name = "DIR", global = true)]
    pub data: Option<PathBuf>,
    /// Read only this configuration file (default: /etc/zkb/config.toml, then
    /// ~/.config/zkb/config.toml; $ZKB_CONFIG does the same as this flag).
    #[arg(long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
    /// The settings of the configuration files (filled in by [`apply_config`]).
    #[arg(skip)]
    pub settings: Config,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Read files, directories (recursively), .gz rotations or stdin once and report problems.
    Scan(ScanArgs),
    /// Follow logs live through rotations and restarts, and show each known problem with its fix
    /// as it is written.
    Watch(watch::WatchArgs),
    /// Replay the bundled upgrade night (six hosts) into a temporary directory while watching
    /// it: the live experience without a Zimbra server.
    Demo(demo::DemoArgs),
    /// Run an installer (or any command) in a pseudo-terminal, exactly as run bare, and record
    /// and match what it prints only to the terminal; its problems and fixes are listed at the end.
    Run(run::RunArgs),
    /// List, search and show the incidents recorded by `watch` and `scan --store`.
    Incidents {
        #[command(subcommand)]
        command: incidents::IncidentsCommand,
    },
    /// Acknowledge an incident: no more alerts for it, shown as acknowledged, until the time is
    /// up or its severity changes.
    Ack(incidents::AckArgs),
    /// Maintenance windows: while a server is down on purpose, the errors it causes on the
    /// others are one info group with no alert (also opened by zmcontrol stop and zmsetup).
    Maint {
        #[command(subcommand)]
        command: maint::MaintCommand,
    },
    /// A self-contained HTML (or Markdown) report of a time window from the incident store.
    Report(incidents::ReportArgs),
    /// The upgrade board: where each server of the site stands (not started, running, done,
    /// failed, interrupted; versions, schema step, elapsed), and order or version problems.
    Status(status::StatusArgs),
    /// Read-only checks before an upgrade: every store/index/HSM volume on a filesystem that
    /// comes back at boot, the licence file, free space. Exit 1 when one fails.
    Preflight(preflight::PreflightArgs),
    /// The ordinary rates of the site (per rule, unknown template and host) from the store or
    /// rotated logs, for `zkb watch --baseline`.
    Baseline {
        #[command(subcommand)]
        command: baseline::BaselineCommand,
    },
    /// What changed between two windows of the incident store: NEW first, then rates that
    /// moved, GONE; chronic problems at their usual rate folded away.
    Diff(diff::DiffArgs),
    /// The warning and error events no rule knows, grouped into templates (variable parts
    /// masked), most frequent first, each with the `zkb learn` command that adopts it.
    Unknown(learn::UnknownArgs),
    /// Turn a log event into a rule (regex with named captures, tests) and a KB note skeleton,
    /// tried on your logs; --write saves them where every scan and watch reads rules.
    Learn(learn::LearnArgs),
    /// Show how one event parses, which rules match it and why, and which KB entries apply.
    Explain(ExplainArgs),
    /// List or inspect the loaded rules.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Validate rules and KB: YAML, regexes, duplicate ids, rule tests, KB structure.
    Check,
    /// The configuration in force (/etc/zkb/config.toml, ~/.config/zkb/config.toml, flags).
    Config {
        #[command(subcommand)]
        command: config::ConfigCommand,
    },
    /// Write seeded benchmark logs (mailbox.log, zimbra.log, nginx.log) into a directory.
    #[command(hide = true)]
    Generate(GenerateArgs),
    /// Print the shell completion script for bash, zsh or fish.
    #[command(
        after_help = "Examples:\n  zkb completions bash > /etc/bash_completion.d/zkb\n  zkb completions zsh > \"${fpath[1]}/_zkb\"\n  zkb completions fish > ~/.config/fish/completions/zkb.fish\n\nThe packages install them already."
    )]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the man pages (zkb.1 and one per command) into a directory (for packaging).
    #[command(hide = true)]
    Man {
        #[arg(long)]
        out: PathBuf,
    },
    /// Full-text search of the knowledge base (symptoms, error text, ids).
    Search(SearchArgs),
    /// Read the knowledge base.
    Kb {
        #[command(subcommand)]
        command: KbCommand,
    },
}

#[derive(Args, Debug)]
pub struct ScanArgs {
    /// Files, directories or `-` for stdin. Default: /opt/zimbra/log and /var/log/zimbra.log.
    pub paths: Vec<String>,
    /// Only events at or after this time (RFC 3339, `YYYY-MM-DD[ HH:MM[:SS]]`, or an age like `2h`, `3d`).
    #[arg(long)]
    pub since: Option<String>,
    /// Only events at or before this time (same forms as --since).
    #[arg(long)]
    pub until: Option<String>,
    /// Only findings at or above this severity (info, low, medium, high, critical).
    /// Default: info, or min_severity in the config file.
    #[arg(long, value_parser = parse_severity)]
    pub min_severity: Option<Severity>,
    /// Only findings of this host (as a per-host tree names it, or the logs say).
    #[arg(long)]
    pub host: Option<String>,
    /// Only these rules (an id, or a prefix ending in `*`; repeatable or comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub rule: Vec<String>,
    /// Exit with status 1 when a finding at or above this severity is reported.
    #[arg(long, value_parser = parse_severity)]
    pub fail_on: Option<Severity>,
    /// Show N events after each match.
    #[arg(short = 'A', long, value_name = "N", default_value_t = 0)]
    pub after_context: usize,
    /// Show N events before each match.
    #[arg(short = 'B', long, value_name = "N", default_value_t = 0)]
    pub before_context: usize,
    /// Show N events before and after each match.
    #[arg(short = 'C', long, value_name = "N")]
    pub context: Option<usize>,
    /// Worker threads (default: the number of cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Run as a good neighbour: idle CPU and I/O priority, and scanned files are not kept in
    /// the page cache (so mailboxd's working set stays in memory).
    #[arg(long)]
    pub low_priority: bool,
    /// Record the findings in the incident store in the data dir (scanning the same files again,
    /// or their .gz rotations, adds nothing). With --unmatched, the error events no rule knew
    /// are kept too; with -B/-A, the samples keep that context.
    #[arg(long)]
    pub store: bool,
    /// Print no findings: with --store, only record them (a daily timer, or the rotated logs
    /// of a baseline); the summary still goes to stderr unless -q.
    #[arg(long)]
    pub no_output: bool,
    /// Cut plain files into pieces of about this many bytes for parallel scanning (0: never).
    #[arg(long, hide = true, value_name = "BYTES")]
    pub segment_size: Option<u64>,
    /// Also print error-level events that no rule matched, with related KB entries
    /// (frames every event, so it is slower).
    #[arg(long)]
    pub unmatched: bool,
}

#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
    /// Total size in MB (45% mailbox.log, 45% zimbra.log, 10% nginx.log).
    #[arg(long, default_value_t = 100)]
    pub size: u64,
    /// Seed; the same seed and size give the same bytes.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Problem events per thousand lines, drawn from the rules' own match tests.
    #[arg(long, default_value_t = 10)]
    pub problems_per_mille: u64,
}

#[derive(Args, Debug)]
pub struct SearchArgs {
    /// Words, a symptom or a pasted log line.
    #[arg(required = true)]
    pub query: Vec<String>,
    /// How many entries to show.
    #[arg(long, default_value_t = 5)]
    pub limit: usize,
}

#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// The event text, or `-` (or nothing) to read it from stdin.
    pub text: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum RulesCommand {
    /// Every loaded rule with its patterns, KB ids and source file.
    List,
}

#[derive(Subcommand, Debug)]
pub enum KbCommand {
    /// Print one entry in full.
    Show { id: String },
    /// List every entry.
    List,
}

fn parse_kind(s: &str) -> Result<LogKind, String> {
    LogKind::parse(s).ok_or_else(|| {
        let all: Vec<&str> = LogKind::ALL.iter().map(|k| k.as_str()).collect();
        format!("unknown kind {s:?}; one of: {}", all.join(", "))
    })
}

pub(crate) fn parse_severity(s: &str) -> Result<Severity, String> {
    Severity::parse(s)
        .ok_or_else(|| format!("unknown severity {s:?}; one of: info, low, medium, high, critical"))
}

/// What `zkb --version` prints: the version, the commit, and what is built in.
pub fn version_text() -> String {
    let rules = RuleSet::embedded();
    let kb = Kb::embedded();
    format!(
        "{} (commit {})\n{} rules and {} KB entries built in",
        env!("CARGO_PKG_VERSION"),
        crate::embedded::GIT_COMMIT,
        rules.rules.len(),
        kb.entries.len()
    )
}

/// The severity floor: the flag, else the config file's, else info.
pub(crate) fn min_severity(g: &Global, flag: Option<Severity>) -> Severity {
    flag.or(g.settings.min_severity.value)
        .unwrap_or(Severity::Info)
}

/// Reads the configuration files (`--config`, `$ZKB_CONFIG`, or the system and user files)
/// and fills in the global settings that no flag gave.
pub fn apply_config(cli: &mut Cli) -> Result<()> {
    let g = &mut cli.global;
    let explicit = g.config.clone().or_else(|| {
        std::env::var_os("ZKB_CONFIG")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    });
    g.settings = crate::config::load(explicit.as_deref())?;
    let s = &mut g.settings;
    if g.rules.is_empty() {
        g.rules = s.rules.value.clone().unwrap_or_default();
    } else {
        s.rules = flag_setting(g.rules.clone());
    }
    if g.kb.is_empty() {
        g.kb = s.kb.value.clone().unwrap_or_default();
    } else {
        s.kb = flag_setting(g.kb.clone());
    }
    match &g.data {
        None => g.data = s.data.value.clone(),
        Some(d) => s.data = flag_setting(d.clone()),
    }
    Ok(())
}

fn flag_setting<T>(value: T) -> crate::config::Setting<T> {
    crate::config::Setting {
        value: Some(value),
        origin: crate::config::Origin::Flag,
    }
}

/// Exit status of a run.
pub struct Outcome {
    pub code: i32,
}

pub fn run(cli: Cli) -> Result<Outcome> {
    let g = &cli.global;
    match &cli.command {
        Command::Scan(a) => run_scan(g, a),
        Command::Watch(a) => watch::run(g, a),
        Command::Demo(a) => demo::run(g, a),
        Command::Run(a) => run::run(g, a),
        Command::Incidents { command } => incidents::run(g, command),
        Command::Report(a) => incidents::report(g, a),
        Command::Ack(a) => incidents::ack(g, a),
        Command::Maint { command } => maint::run(g, command),
        Command::Unknown(a) => learn::unknown(g, a),
        Command::Diff(a) => diff::run(g, a),
        Command::Baseline { command } => baseline::run(g, command),
        Command::Preflight(a) => preflight::run(g, a),
        Command::Status(a) => status::run(g, a),
        Command::Learn(a) => learn::learn(g, a),
        Command::Explain(a) => explain::run(g, &read_text_arg(a.text.as_deref())?),
        Command::Rules {
            command: RulesCommand::List,
        } => rules_list(g),
        Command::Check => check::run(g),
        Command::Config { command } => config::run(g, command),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(*shell, &mut Cli::command(), "zkb", &mut io::stdout());
            Ok(Outcome { code: 0 })
        }
        Command::Man { out } => {
            use clap::CommandFactory;
            std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
            clap_mangen::generate_to(Cli::command(), out)
                .with_context(|| format!("writing man pages into {}", out.display()))?;
            Ok(Outcome { code: 0 })
        }
        Command::Kb { command } => kb_command(g, command),
        Command::Search(a) => search(g, a),
        Command::Generate(a) => {
            let (set, _kb) = load_with(g, rules::Tests::Load);
            crate::generate::generate(&a.out, a.size, a.seed, &set.rules, a.problems_per_mille)
                .with_context(|| format!("writing logs into {}", a.out.display()))?;
            Ok(Outcome { code: 0 })
        }
    }
}

pub(crate) fn read_text_arg(text: Option<&str>) -> Result<String> {
    match text {
        Some(t) if t != "-" => Ok(t.to_string()),
        _ => {
            let mut s = String::new();
            io::stdin()
                .read_to_string(&mut s)
                .context("reading the event from stdin")?;
            Ok(s)
        }
    }
}

/// Loads rules (without the shipped rules' tests) and KB, printing load errors (which do not
/// stop the run).
pub fn load(g: &Global) -> (RuleSet, Kb) {
    load_with(g, rules::Tests::Skip)
}

/// [`load`], choosing whether the shipped rules come with their tests.
pub fn load_with(g: &Global, tests: rules::Tests) -> (RuleSet, Kb) {
    let mut set = rule_sources(g).load(tests);
    for e in &set.errors {
        eprintln!("zkb: {e}");
    }
    for (id, places) in set.duplicates() {
        eprintln!(
            "zkb: duplicate rule id {id} in {}; the first one is used",
            places.join(", ")
        );
    }
    set.dedup();
    let kb = load_kb_only(g);
    for e in &kb.errors {
        eprintln!("zkb: {e}");
    }
    (set, kb)
}

/// The KB alone (embedded, --kb directories, the user's config dir).
pub fn load_kb_only(g: &Global) -> Kb {
    let mut kb_dirs = g.kb.clone();
    if let Some(dir) = user_dir("kb") {
        kb_dirs.push(dir);
    }
    kb::load(&kb_dirs, false)
}

/// Where the rules come from: the shipped ones (unless --no-default-rules), the --rules
/// directories, and the user's config dir (whenever it exists).
pub fn rule_sources(g: &Global) -> rules::RuleSources {
    rules::RuleSources {
        no_default: g.no_default_rules,
        extra: g.rules.clone(),
        optional: config_dir("rules").into_iter().collect(),
    }
}

/// The site's own `rules` or `kb` dir when it exists.
fn user_dir(what: &str) -> Option<PathBuf> {
    config_dir(what).filter(|d| d.is_dir())
}

/// The site's own `rules` or `kb` dir ([`state::config_dir`]), whether it exists or not.
pub(crate) fn config_dir(what: &str) -> Option<PathBuf> {
    state::config_dir(what)
}

/// The printer of findings the global flags ask for.
pub fn printer<'a>(
    g: &Global,
    kb: &'a Kb,
    matcher: &'a Matcher,
    versions: &'a std::collections::HashMap<String, crate::version::Version>,
) -> Printer<'a> {
    Printer {
        format: g.format,
        style: style(g),
        verbose: g.verbose,
        kb,
        matcher,
        versions,
    }
}

pub fn style(g: &Global) -> Style {
    let no_color = g.no_color || std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    Style {
        on: !no_color && io::stdout().is_terminal() && g.format == Format::Human,
    }
}

pub fn time_zone(g: &Global) -> Result<TimeZone> {
    match &g.tz {
        None => Ok(TimeZone::system()),
        Some(name) => TimeZone::get(name).with_context(|| format!("unknown time zone {name:?}")),
    }
}

/// RFC 3339, `YYYY-MM-DD`, `YYYY-MM-DD HH:MM[:SS]` (in `tz`), or an age (`90m`, `2h`, `3d`).
pub fn parse_time(s: &str, tz: &TimeZone) -> Result<Timestamp> {
    if let Ok(t) = s.parse::<Timestamp>() {
        return Ok(t);
    }
    if let Some(d) = rules::parse_duration(s) {
        let d = jiff::SignedDuration::try_from(d)?;
        return Ok(Timestamp::now().checked_sub(d)?);
    }
    let dt: Result<jiff::civil::DateTime, _> = s.replace(' ', "T").parse();
    let dt = match dt {
        Ok(dt) => dt,
        Err(_) => s
            .parse::<jiff::civil::Date>()
            .map(|d| d.to_datetime(jiff::civil::Time::midnight()))
            .with_context(|| format!("cannot read time {s:?}: use 2025-03-01, \"2025-03-01 10:00\", RFC 3339 or an age like 2h"))?,
    };
    Ok(tz.to_ambiguous_zoned(dt).compatible()?.timestamp())
}

fn run_scan(g: &Global, a: &ScanArgs) -> Result<Outcome> {
    if a.low_priority {
        for problem in crate::priority::lower() {
            eprintln!("zkb: --low-priority: could not set {problem}");
        }
    }
    let tz = time_zone(g)?;
    let (set, kb) = load(g);
    let opts = ScanOptions {
        kind: g.kind,
        tz: tz.clone(),
        year: g.year,
        since: a.since.as_deref().map(|s| parse_time(s, &tz)).transpose()?,
        until: a.until.as_deref().map(|s| parse_time(s, &tz)).transpose()?,
        min_severity: min_severity(g, a.min_severity),
        // Lines that only close incidents matter only to the store.
        resolutions: a.store,
        rule_filter: a.rule.clone(),
        before: a.context.unwrap_or(a.before_context),
        after: a.context.unwrap_or(a.after_context),
        threads: a.threads.unwrap_or_else(|| ScanOptions::default().threads),
        unmatched: a.unmatched,
        low_priority: a.low_priority,
        segment: match a.segment_size {
            Some(0) => u64::MAX / 4,
            Some(n) => n,
            None => ScanOptions::default().segment,
        },
        ..ScanOptions::default()
    };
    let matcher = Matcher::new(set.rules);
    let paths = if a.paths.is_empty() {
        default_paths(g)
    } else {
        a.paths.clone()
    };
    let mut errors = Vec::new();
    let inputs = sources::expand(&paths, &mut errors);
    let mut had_error = !errors.is_empty();
    for e in &errors {
        eprintln!("zkb: {e}");
    }
    let versions = crate::version::detect_hosts(&inputs);
    let printer = printer(g, &kb, &matcher, &versions);
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let mut summary = Summary::new(matcher.rules.len());
    let mut progress = Progress::new(g.quiet, &inputs);
    let mut write_failed = None;
    let index = if a.unmatched {
        Some(open_index(g, &kb)?)
    } else {
        None
    };
    let mut store = if a.store {
        let dir = state::data_dir(g.data.as_deref())
            .context("no data directory for the incident store (set --data or ZKB_DATA)")?;
        Some(crate::store::Store::open(&dir)?)
    } else {
        None
    };
    let mut stored = crate::store::Added::default();
    scan::scan_inputs(&inputs, &matcher, &opts, index.as_ref(), |mut report| {
        progress.tick(report.bytes);
        if let Some(host) = &a.host {
            report.findings.retain(|f| f.host.as_ref() == Some(host));
        }
        if let Some(store) = store.as_mut() {
            let source = incidents::source_identity(&report.name);
            match store.add(&source, &matcher.rules, &report.findings) {
                Ok(added) => {
                    stored.new += added.new;
                    stored.known += added.known;
                }
                Err(e) => {
                    had_error = true;
                    eprintln!("zkb: {e}");
                }
            }
        }
        // What only closes incidents has done its work in the store.
        report
            .findings
            .retain(|f| f.rule.is_none_or(|r| !matcher.rules[r].resolve_only));
        for e in &report.errors {
            had_error = true;
            eprintln!("zkb: {e}");
        }
        if !g.quiet {
            for n in &report.notes {
                eprintln!("zkb: {}", escape(n, false));
            }
            if g.verbose {
                for n in &report.quiet_notes {
                    eprintln!("zkb: {}", escape(n, false));
                }
            }
        }
        for f in &report.findings {
            match f.rule {
                Some(i) => summary.add(i, &matcher.rules[i]),
                None => summary.unmatched += 1,
            }
            if write_failed.is_none() && !a.no_output {
                if let Err(e) = printer.finding(&mut out, f) {
                    write_failed = Some(e);
                }
            }
        }
        if report.complete {
            summary.files += 1;
        }
        summary.events += report.events;
        summary.bytes += report.bytes;
    });
    progress.done();
    match write_failed {
        Some(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(Outcome { code: 0 }),
        Some(e) => return Err(e).context("writing output"),
        None => out.flush().ok(),
    };
    if !g.quiet {
        summary.print(&matcher, &style_stderr(g));
        if store.is_some() {
            eprintln!(
                "zkb: stored {} new occurrence(s), {} already known",
                stored.new, stored.known
            );
        }
    }
    let failed = a.fail_on.is_some_and(|s| summary.at_or_above(s) > 0);
    Ok(Outcome {
        code: if had_error {
            2
        } else if failed {
            1
        } else {
            0
        },
    })
}

fn style_stderr(g: &Global) -> Style {
    let no_color = g.no_color || std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    Style {
        on: !no_color && io::stderr().is_terminal(),
    }
}

/// The logs read when none are named: `paths` in the config file, else the standard Zimbra
/// log locations that exist on this host.
pub(crate) fn default_paths(g: &Global) -> Vec<String> {
    if let Some(paths) = &g.settings.paths.value {
        return paths.clone();
    }
    ["/opt/zimbra/log", "/var/log/zimbra.log"]
        .into_iter()
        .filter(|p| std::path::Path::new(p).exists())
        .map(str::to_string)
        .collect()
}

/// Counts for the closing summary on stderr.
struct Summary {
    started: Instant,
    files: u64,
    events: u64,
    bytes: u64,
    by_severity: [u64; 5],
    by_rule: Vec<u64>,
    unmatched: u64,
}

impl Summary {
    fn new(rules: usize) -> Self {
        Summary {
            started: Instant::now(),
            files: 0,
            events: 0,
            bytes: 0,
            by_severity: [0; 5],
            by_rule: vec![0; rules],
            unmatched: 0,
        }
    }

    fn add(&mut self, index: usize, rule: &rules::Rule) {
        self.by_severity[rule.severity as usize] += 1;
        self.by_rule[index] += 1;
    }

    fn at_or_above(&self, s: Severity) -> u64 {
        self.by_severity[s as usize..].iter().sum()
    }

    fn print(&self, matcher: &Matcher, style: &Style) {
        let secs = self.started.elapsed().as_secs_f64().max(1e-6);
        let mb = self.bytes as f64 / 1e6;
        let sev: Vec<String> = Severity::ALL
            .iter()
            .rev()
            .filter(|s| self.by_severity[**s as usize] > 0)
            .map(|s| format!("{} {}", self.by_severity[*s as usize], s.as_str()))
            .collect();
        let total: u64 = self.by_severity.iter().sum();
        eprintln!(
            "{} {} files, {} events, {:.1} MB in {:.2}s ({:.0} MB/s); {} findings{}",
            style.bold("zkb:"),
            self.files,
            self.events,
            mb,
            secs,
            mb / secs,
            total,
            if sev.is_empty() {
                String::new()
            } else {
                format!(" ({})", sev.join(", "))
            }
        );
        let mut top: Vec<(u64, &str)> = self
            .by_rule
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(i, n)| (*n, matcher.rules[i].id.as_str()))
            .collect();
        top.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
        if !top.is_empty() {
            let list: Vec<String> = top
                .iter()
                .take(5)
                .map(|(n, id)| format!("{id} {n}"))
                .collect();
            eprintln!("{} top rules: {}", style.bold("zkb:"), list.join(", "));
        }
    }
}

/// A progress line on stderr for long scans on a terminal.
struct Progress {
    on: bool,
    total: u64,
    done: u64,
    files: usize,
    seen: usize,
    last: Instant,
}

impl Progress {
    fn new(quiet: bool, inputs: &[sources::Input]) -> Self {
        let total: u64 = inputs
            .iter()
            .filter_map(|i| i.path.as_ref())
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum();
        Progress {
            on: !quiet && io::stderr().is_terminal() && total > 64 << 20,
            total,
            done: 0,
            files: inputs.len(),
            seen: 0,
            last: Instant::now(),
        }
    }

    fn tick(&mut self, bytes: u64) {
        self.seen += 1;
        self.done += bytes;
        if self.on && self.last.elapsed().as_millis() > 200 {
            self.last = Instant::now();
            eprint!(
                "\rzkb: {}/{} files, {} MB read of ~{} MB on disk   ",
                self.seen,
                self.files,
                self.done >> 20,
                self.total >> 20
            );
        }
    }

    fn done(&self) {
        if self.on {
            eprint!("\r\x1b[2K");
        }
    }
}

/// Opens (or builds) the KB index in the data directory, in memory when that fails.
pub fn open_index(g: &Global, kb: &Kb) -> Result<KbIndex> {
    let dir = state::data_dir(g.data.as_deref());
    KbIndex::open(kb, dir.as_deref()).context("opening the KB search index")
}

fn search(g: &Global, a: &SearchArgs) -> Result<Outcome> {
    let (_set, kb) = load(g);
    let index = open_index(g, &kb)?;
    let hits = index.search(&a.query.join(" "), a.limit)?;
    let out = io::stdout();
    let mut w = io::BufWriter::new(out.lock());
    match g.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut w, &hits)?;
            writeln!(w)?;
        }
        Format::Human => {
            let s = style(g);
            if hits.is_empty() {
                writeln!(w, "nothing found (zkb kb list shows every entry)")?;
            }
            for h in &hits {
                writeln!(
                    w,
                    "{}  {}  {}",
                    s.bold(&h.title),
                    s.dim(&h.id),
                    s.dim(&format!("{:.2}", h.score))
                )?;
                writeln!(
                    w,
                    "    {}",
                    highlight(&h.snippet, &h.highlighted, &s).replace('\n', " ")
                )?;
            }
        }
    }
    Ok(Outcome { code: 0 })
}

/// Marks the matched ranges of a snippet: bold on a colour terminal, `[…]` otherwise.
fn highlight(text: &str, ranges: &[std::ops::Range<usize>], s: &Style) -> String {
    let mut out = String::new();
    let mut last = 0;
    for r in ranges {
        if r.start < last
            || r.end > text.len()
            || !text.is_char_boundary(r.start)
            || !text.is_char_boundary(r.end)
        {
            continue;
        }
        out.push_str(&text[last..r.start]);
        let word = &text[r.clone()];
        out.push_str(&if s.on {
            s.bold(word)
        } else {
            format!("[{word}]")
        });
        last = r.end;
    }
    out.push_str(&text[last..]);
    out
}

fn rules_list(g: &Global) -> Result<Outcome> {
    let (set, _kb) = load(g);
    let out = io::stdout();
    let mut w = io::BufWriter::new(out.lock());
    match g.format {
        Format::Json => {
            let list: Vec<serde_json::Value> = set
                .rules
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "id": r.id, "title": r.title, "severity": r.severity.as_str(),
                        "kinds": r.kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
                        "patterns": r.patterns(), "kb": r.kb, "source": r.source,
                    })
                })
                .collect();
            serde_json::to_writer_pretty(&mut w, &list)?;
            writeln!(w)?;
        }
        Format::Human => {
            let s = style(g);
            for r in &set.rules {
                let kinds: Vec<&str> = r.kinds.iter().map(|k| k.as_str()).collect();
                writeln!(
                    w,
                    "{} {:<45} {}  {}",
                    s.severity(r.severity),
                    r.id,
                    r.title,
                    s.dim(&format!("[{}] {}", kinds.join(","), r.source))
                )?;
            }
            writeln!(w, "{} rules", set.rules.len())?;
        }
    }
    Ok(Outcome { code: 0 })
}

fn kb_command(g: &Global, cmd: &KbCommand) -> Result<Outcome> {
    let (_set, kb) = load(g);
    let out = io::stdout();
    let mut w = io::BufWriter::new(out.lock());
    match cmd {
        KbCommand::List => match g.format {
            Format::Json => {
                let list: Vec<serde_json::Value> = kb
                    .entries
                    .values()
                    .map(|e| serde_json::json!({"id": e.id(), "title": e.title(), "components": e.front.components, "tags": e.front.tags}))
                    .collect();
                serde_json::to_writer_pretty(&mut w, &list)?;
                writeln!(w)?;
            }
            Format::Human => {
                for e in kb.entries.values() {
                    writeln!(w, "{:<50} {}", e.id(), e.title())?;
                }
                writeln!(w, "{} entries", kb.entries.len())?;
            }
        },
        KbCommand::Show { id } => {
            let Some(e) = kb.get(id) else {
                bail!("no KB entry {id:?} (zkb kb list shows them all)");
            };
            match g.format {
                Format::Json => {
                    serde_json::to_writer_pretty(&mut w, e)?;
                    writeln!(w)?;
                }
                Format::Human => {
                    let s = style(g);
                    writeln!(
                        w,
                        "{}  {}",
                        s.bold(e.title()),
                        s.dim(&format!("[{}]", e.id()))
                    )?;
                    if let Some(v) = &e.front.versions {
                        writeln!(w, "{}", s.dim(&format!("versions: {}", yaml_scalar(v))))?;
                    }
                    writeln!(w)?;
                    writeln!(w, "{}", e.body.trim_end())?;
                    if !e.front.references.is_empty() {
                        writeln!(w, "\n{}", s.bold("References"))?;
                        for r in &e.front.references {
                            writeln!(w, "- {r}")?;
                        }
                    }
                }
            }
        }
    }
    Ok(Outcome { code: 0 })
}

fn yaml_scalar(v: &serde_yaml_ng::Value) -> String {
    match v {
        serde_yaml_ng::Value::String(s) => s.clone(),
        other => serde_yaml_ng::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}
