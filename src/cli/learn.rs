//! `zkb unknown` (the warning and error events no rule knows, grouped into templates) and
//! `zkb learn` (one event made into a tested rule and a KB note skeleton).

use std::fs;
use std::io::{self, BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::json;

use super::{config_dir, parse_severity, parse_time, state, time_zone, Global, Outcome};
use crate::learn::unknown::{Group, Grouper};
use crate::learn::{self, Derived, LearnError, RuleMeta};
use crate::matcher::Matcher;
use crate::output::{escape, Format};
use crate::rules::{self, RuleSet, Severity};
use crate::scan::{self, Finding, ScanOptions};
use crate::sources;

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  zkb unknown /opt/zimbra/log               what went wrong that zkb has no rule for\n  zkb unknown --since 2d --limit 10 /opt/zimbra/log/mailbox.log\n  zkb unknown --format json /var/log/zimbra.log | jq -r .template"
)]
pub struct UnknownArgs {
    /// Files, directories or `-` for stdin. Default: /opt/zimbra/log and /var/log/zimbra.log.
    pub paths: Vec<String>,
    /// Only events at or after this time (RFC 3339, `YYYY-MM-DD[ HH:MM]`, or an age like `2h`).
    #[arg(long)]
    pub since: Option<String>,
    /// Only events before this time.
    #[arg(long)]
    pub until: Option<String>,
    /// Show at most this many templates (0: all).
    #[arg(long, default_value_t = 30)]
    pub limit: usize,
    /// Worker threads (default: the number of cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  zkb learn '2025-03-02 09:14:07,511 ERROR [MailboxPurge] [] purge - Frobnicator refused lease for volume hsm-3' --test-on /opt/zimbra/log\n  sed -n '120,124p' mailbox.log | zkb learn - --id local.lease-refused --severity high --write\n  zkb learn --from-incident 42 --kb store/hsm-volume-not-mounted --write\n\nThe rule is written to the user rules dir (~/.config/zkb/rules), which every scan and watch\nreads (a running watch reloads it), and its KB note skeleton to ~/.config/zkb/kb/local/\n(in system mode, when /etc/zkb/config.toml exists: /etc/zkb/rules and /etc/zkb/kb)."
)]
pub struct LearnArgs {
    /// The event: a log line (or several, for a Java stack trace), or `-` to read it from stdin.
    pub text: Option<String>,
    /// Learn from the sample event of an incident in the store (see `zkb incidents list`).
    #[arg(long, value_name = "ID", conflicts_with = "text")]
    pub from_incident: Option<i64>,
    /// The rule's id (default: `local.` and the first constant words).
    #[arg(long)]
    pub id: Option<String>,
    /// The rule's title.
    #[arg(long)]
    pub title: Option<String>,
    /// info, low, medium, high or critical (default: medium).
    #[arg(long, value_parser = parse_severity)]
    pub severity: Option<Severity>,
    /// Link existing KB entries instead of writing a note skeleton (repeatable).
    #[arg(long = "kb-id", value_name = "KB_ID")]
    pub kb_ids: Vec<String>,
    /// Logs to try the rule on: hits with samples, and the closest events it does not match.
    #[arg(long, num_args = 1.., value_name = "PATH")]
    pub test_on: Vec<String>,
    /// Where --write puts the rule (default: ~/.config/zkb/rules, or /etc/zkb/rules in system mode).
    #[arg(long, value_name = "DIR")]
    pub rules_dir: Option<PathBuf>,
    /// Where --write puts the KB note (default: ~/.config/zkb/kb, or /etc/zkb/kb in system mode).
    #[arg(long, value_name = "DIR")]
    pub kb_dir: Option<PathBuf>,
    /// Save the rule (and the KB note); without it the rule is only shown.
    #[arg(long)]
    pub write: bool,
    /// Learn a preflight check instead of a log rule: it reads this file of the host (TEXT is
    /// what to do when it fails). With --fail-if or --fail-unless.
    #[arg(long, value_name = "PATH", conflicts_with = "from_incident")]
    pub check_file: Option<String>,
    /// The check fails when this regex matches the file.
    #[arg(
        long,
        value_name = "REGEX",
        requires = "check_file",
        conflicts_with = "fail_unless"
    )]
    pub fail_if: Option<String>,
    /// The check fails when this regex does not match the file.
    #[arg(long, value_name = "REGEX", requires = "check_file")]
    pub fail_unless: Option<String>,
    /// A text the check must fail on (its test; default: the file as it is now when it fails,
    /// or an empty file for --fail-unless).
    #[arg(long, value_name = "TEXT", requires = "check_file")]
    pub fail_example: Option<String>,
    /// Where --write puts the check (default: ~/.config/zkb/checks, or /etc/zkb/checks in
    /// system mode).
    #[arg(long, value_name = "DIR")]
    pub checks_dir: Option<PathBuf>,
}

pub fn unknown(g: &Global, a: &UnknownArgs) -> Result<Outcome> {
    let tz = time_zone(g)?;
    let (set, _kb) = super::load(g);
    let matcher = Matcher::new(set.rules);
    let opts = ScanOptions {
        kind: g.kind,
        tz: tz.clone(),
        year: g.year,
        since: a.since.as_deref().map(|s| parse_time(s, &tz)).transpose()?,
        until: a.until.as_deref().map(|s| parse_time(s, &tz)).transpose()?,
        threads: a.threads.unwrap_or_else(|| ScanOptions::default().threads),
        unmatched: true,
        unmatched_warnings: true,
        ..ScanOptions::default()
    };
    let paths = if a.paths.is_empty() {
        super::default_paths(g)
    } else {
        a.paths.clone()
    };
    let (groups, had_error, bytes) = group_unknown(&paths, &matcher, &opts);
    let shown = if a.limit == 0 {
        &groups[..]
    } else {
        &groups[..groups.len().min(a.limit)]
    };
    let out = io::stdout();
    let mut w = io::BufWriter::new(out.lock());
    let written = match g.format {
        Format::Json => shown.iter().try_for_each(|gr| {
            let mut v = serde_json::to_value(gr)?;
            v["learn"] = learn_command(gr).into();
            writeln!(w, "{v}").map_err(anyhow::Error::from)
        }),
        Format::Human => human_unknown(&mut w, shown).map_err(anyhow::Error::from),
    };
    match written.and_then(|_| w.flush().map_err(anyhow::Error::from)) {
        Err(e)
            if e.downcast_ref::<io::Error>().map(io::Error::kind)
                == Some(io::ErrorKind::BrokenPipe) =>
        {
            return Ok(Outcome { code: 0 })
        }
        r => r?,
    }
    if !g.quiet {
        let total: u64 = groups.iter().map(|g| g.count).sum();
        eprintln!(
            "zkb: {total} event(s) no rule knew, in {} template(s){}; {:.1} MB read",
            groups.len(),
            if shown.len() < groups.len() {
                format!(" ({} shown; --limit 0 for all)", shown.len())
            } else {
                String::new()
            },
            bytes as f64 / 1e6
        );
    }
    Ok(Outcome {
        code: if had_error { 2 } else { 0 },
    })
}

/// Scans `paths` and groups the events no rule matched; (groups, any input error, bytes read).
fn group_unknown(
    paths: &[String],
    matcher: &Matcher,
    opts: &ScanOptions,
) -> (Vec<Group>, bool, u64) {
    let mut errors = Vec::new();
    let inputs = sources::expand(paths, &mut errors);
    let mut had_error = !errors.is_empty();
    for e in &errors {
        eprintln!("zkb: {e}");
    }
    let mut grouper = Grouper::default();
    let mut bytes = 0;
    scan::scan_inputs(&inputs, matcher, opts, None, |report| {
        bytes += report.bytes;
        for e in &report.errors {
            had_error = true;
            eprintln!("zkb: {e}");
        }
        for f in report.findings.iter().filter(|f| f.rule.is_none()) {
            grouper.add(f);
        }
    });
    (grouper.finish(), had_error, bytes)
}

fn human_unknown(w: &mut impl Write, groups: &[Group]) -> io::Result<()> {
    if groups.is_empty() {
        return writeln!(w, "no warning or error event that no rule knows");
    }
    for (n, gr) in groups.iter().enumerate() {
        let when = match (gr.first_seen, gr.last_seen) {
            (Some(a), Some(b)) => format!("{} .. {}", short(a), short(b)),
            _ => "-".into(),
        };
        let hosts: Vec<&str> = gr.hosts.iter().map(String::as_str).collect();
        writeln!(
            w,
            "{:>3}. {:>6}x  {} {}  {}  hosts: {}",
            n + 1,
            gr.count,
            gr.level.as_deref().unwrap_or("-"),
            gr.kind,
            when,
            if hosts.is_empty() {
                "-".into()
            } else {
                escape(&hosts.join(", "), false).into_owned()
            }
        )?;
        writeln!(w, "     {}", escape(&gr.template, false))?;
        let first = gr.example.text.lines().next().unwrap_or("");
        writeln!(
            w,
            "     e.g. {}:{}  {}",
            escape(&gr.example.file, false),
            gr.example.line,
            escape(&first[..first.floor_char_boundary(200)], false)
        )?;
        writeln!(w, "     adopt: {}", escape(&learn_command(gr), false))?;
    }
    Ok(())
}

fn short(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M").to_string()
}

/// The command that turns a group's example into a rule.
fn learn_command(gr: &Group) -> String {
    let lines = gr.example.text.lines().count().max(1) as u64;
    if lines == 1 {
        return format!("zkb learn {}", shell_quote(&gr.example.text));
    }
    let range = format!("{},{}p", gr.example.line, gr.example.line + lines - 1);
    let file = shell_quote(&gr.example.file);
    if gr.example.file.ends_with(".gz") {
        format!("zcat {file} | sed -n '{range}' | zkb learn -")
    } else {
        format!("sed -n '{range}' {file} | zkb learn -")
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

pub fn learn(g: &Global, a: &LearnArgs) -> Result<Outcome> {
    if let Some(file) = &a.check_file {
        return learn_check(g, a, file);
    }
    let (text, origin) = event_text(g, a)?;
    let derived = learn::derive(&text, g.kind)?;
    let interactive = a.text.as_deref() != Some("-")
        && a.from_incident.is_none()
        && io::stdin().is_terminal()
        && io::stderr().is_terminal();
    let rules_dir = match &a.rules_dir {
        Some(d) => d.clone(),
        None => config_dir("rules")
            .context("no home directory for the user rules dir (give --rules-dir)")?,
    };
    let existing = existing_rules(g, &rules_dir);
    let id = match &a.id {
        Some(id) => id.clone(),
        None if interactive => ask("rule id", &learn::suggested_id(&derived))?,
        None => learn::suggested_id(&derived),
    };
    learn::check_id(&id)?;
    if let Some(r) = existing.rules.iter().find(|r| r.id == id) {
        return Err(LearnError::IdTaken {
            id,
            place: format!("{}:{}", r.source, r.line),
        }
        .into());
    }
    let default_title = format!(
        "Learned: {}",
        derived
            .words
            .iter()
            .take(8)
            .cloned()
            .collect::<Vec<_>>()
            .join(" ")
    );
    let title = match &a.title {
        Some(t) => t.clone(),
        None if interactive => ask("title", &default_title)?,
        None => default_title,
    };
    let severity = match a.severity {
        Some(s) => s,
        None if interactive => {
            let s = ask("severity (info, low, medium, high, critical)", "medium")?;
            parse_severity(&s).map_err(anyhow::Error::msg)?
        }
        None => Severity::Medium,
    };
    let kb_ids = if a.kb_ids.is_empty() {
        vec![learn::kb_id_for(&id)]
    } else {
        a.kb_ids.clone()
    };
    let probe = compile(&derived, &id, &title, severity, &kb_ids, &origin)?;
    let trial = if a.test_on.is_empty() {
        None
    } else {
        Some(try_on(g, &a.test_on, probe, &derived)?)
    };
    let near_miss = trial
        .as_ref()
        .and_then(|t| t.near.first().map(|(_, f)| f.text.clone()))
        .or_else(|| learn::synthetic_near_miss(&derived))
        .unwrap_or_default();
    let meta = RuleMeta {
        id: &id,
        title: &title,
        severity,
        kb: &kb_ids,
        near_miss: &near_miss,
        origin: &origin,
    };
    let yaml = learn::rule_yaml(&derived, &meta);
    validate(&yaml, &id)?;
    let written = if a.write {
        Some(write_files(
            a, &rules_dir, &yaml, &id, &title, &derived, &origin,
        )?)
    } else {
        None
    };
    print_result(g, &derived, &id, &yaml, trial.as_ref(), written.as_ref())?;
    Ok(Outcome { code: 0 })
}

/// The event and where it came from.
fn event_text(g: &Global, a: &LearnArgs) -> Result<(String, String)> {
    if let Some(n) = a.from_incident {
        let dir = state::data_dir(g.data.as_deref())
            .context("no data directory (set --data or ZKB_DATA)")?;
        let store = crate::store::Store::open(&dir)?;
        let Some(i) = store.get(n)? else {
            bail!(
                "no incident #{n} in {} (see `zkb incidents list`)",
                dir.display()
            );
        };
        return Ok((
            i.sample,
            format!("incident #{n} ({}:{})", i.sample_file, i.sample_line),
        ));
    }
    let text = super::read_text_arg(a.text.as_deref())?;
    let origin = format!("an event given on {}", jiff::Zoned::now().date());
    Ok((text, origin))
}

/// Every rule the learned one must not clash with: the loaded set and the target dir.
fn existing_rules(g: &Global, rules_dir: &Path) -> RuleSet {
    let mut dirs = g.rules.clone();
    dirs.extend(config_dir("rules").filter(|d| d.is_dir()));
    if rules_dir.is_dir() {
        dirs.push(rules_dir.to_path_buf());
    }
    rules::load(&dirs, g.no_default_rules, rules::Tests::Skip)
}

fn ask(what: &str, default: &str) -> Result<String> {
    eprint!("{what} [{default}]: ");
    io::stderr().flush().ok();
    let mut line = String::new();
    io::stdin().lock().read_line(&mut line)?;
    let line = line.trim();
    Ok(if line.is_empty() {
        default.to_string()
    } else {
        line.to_string()
    })
}

/// The rule compiled the way a scan loads it (tests included).
fn compile(
    d: &Derived,
    id: &str,
    title: &str,
    severity: Severity,
    kb: &[String],
    origin: &str,
) -> Result<rules::Rule> {
    let meta = RuleMeta {
        id,
        title,
        severity,
        kb,
        near_miss: "",
        origin,
    };
    let mut set = RuleSet::default();
    set.add_text("(learned rule)", &learn::rule_yaml(d, &meta));
    if let Some(e) = set.errors.first() {
        bail!("the derived rule does not load: {e}");
    }
    set.rules.pop().context("the derived rule did not load")
}

/// Loads the rule file as `zkb check` will and runs its tests; any problem is an error.
fn validate(yaml: &str, id: &str) -> Result<()> {
    let mut set = RuleSet::default();
    set.add_text(&format!("{id}.yaml"), yaml);
    if let Some(e) = set.errors.first() {
        bail!("the derived rule does not load: {e}");
    }
    let matcher = Matcher::new(set.rules);
    let mut report = crate::check::Report::default();
    for (i, rule) in matcher.rules.iter().enumerate() {
        crate::check::check_rule(&matcher, i, rule, &mut report);
    }
    if let Some(e) = report.errors.first() {
        bail!("the derived rule fails its own test: {e}");
    }
    Ok(())
}

/// What the rule did on the --test-on logs.
struct Trial {
    hits: u64,
    samples: Vec<Finding>,
    /// The closest events it does not match, with their share of its constant words.
    near: Vec<(f64, Finding)>,
    events: u64,
}

fn try_on(g: &Global, paths: &[String], rule: rules::Rule, d: &Derived) -> Result<Trial> {
    let tz = time_zone(g)?;
    let matcher = Matcher::new(vec![rule]);
    let opts = ScanOptions {
        kind: g.kind,
        tz,
        year: g.year,
        unmatched: true,
        unmatched_warnings: true,
        ..ScanOptions::default()
    };
    let mut errors = Vec::new();
    let inputs = sources::expand(paths, &mut errors);
    for e in &errors {
        eprintln!("zkb: {e}");
    }
    let words: Vec<String> = d.words.iter().map(|w| w.to_ascii_lowercase()).collect();
    let mut trial = Trial {
        hits: 0,
        samples: Vec::new(),
        near: Vec::new(),
        events: 0,
    };
    scan::scan_inputs(&inputs, &matcher, &opts, None, |report| {
        trial.events += report.events;
        for e in &report.errors {
            eprintln!("zkb: {e}");
        }
        for f in report.findings {
            if f.rule.is_some() {
                trial.hits += 1;
                if trial.samples.len() < 3 {
                    trial.samples.push(f);
                }
                continue;
            }
            let share = shared_words(&words, &f.text);
            if share >= 0.5 {
                trial.near.push((share, f));
                trial.near.sort_by(|a, b| b.0.total_cmp(&a.0));
                trial.near.truncate(3);
            }
        }
    });
    Ok(trial)
}

/// The share of `words` found in the first line of `text`.
fn shared_words(words: &[String], text: &str) -> f64 {
    if words.is_empty() {
        return 0.0;
    }
    let line = text.lines().next().unwrap_or("").to_ascii_lowercase();
    let found = words.iter().filter(|w| line.contains(w.as_str())).count();
    found as f64 / words.len() as f64
}

/// Where --write put things.
struct Written {
    rule: PathBuf,
    kb: Option<(PathBuf, bool)>,
}

fn write_files(
    a: &LearnArgs,
    rules_dir: &Path,
    yaml: &str,
    id: &str,
    title: &str,
    d: &Derived,
    origin: &str,
) -> Result<Written> {
    fs::create_dir_all(rules_dir).with_context(|| format!("creating {}", rules_dir.display()))?;
    let rule = rules_dir.join(format!("{id}.yaml"));
    if rule.exists() {
        bail!(
            "{} exists already; choose another --id or edit that file",
            rule.display()
        );
    }
    fs::write(&rule, yaml).with_context(|| format!("writing {}", rule.display()))?;
    if !a.kb_ids.is_empty() {
        return Ok(Written { rule, kb: None });
    }
    let kb_dir = match &a.kb_dir {
        Some(d) => d.clone(),
        None => {
            config_dir("kb").context("no home directory for the user KB dir (give --kb-dir)")?
        }
    };
    let kb_id = learn::kb_id_for(id);
    let path = kb_dir.join(format!("{kb_id}.md"));
    if path.exists() {
        return Ok(Written {
            rule,
            kb: Some((path, false)),
        });
    }
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    fs::write(&path, learn::kb_note(&kb_id, title, d, origin))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(Written {
        rule,
        kb: Some((path, true)),
    })
}

fn print_result(
    g: &Global,
    d: &Derived,
    id: &str,
    yaml: &str,
    trial: Option<&Trial>,
    written: Option<&Written>,
) -> Result<()> {
    let out = io::stdout();
    let mut w = io::BufWriter::new(out.lock());
    let brief = |f: &Finding| json!({"file": f.file, "line": f.line, "text": f.text.lines().next().unwrap_or("")});
    if g.format == Format::Json {
        let v = json!({
            "id": id,
            "template": d.template,
            "regex": d.regex,
            "kind": d.kind.as_str(),
            "level": d.level,
            "fields": d.fields.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
            "test_on": trial.map(|t| json!({
                "events": t.events,
                "hits": t.hits,
                "samples": t.samples.iter().map(brief).collect::<Vec<_>>(),
                "near_misses": t.near.iter().map(|(s, f)| { let mut b = brief(f); b["shared_words"] = json!(s); b }).collect::<Vec<_>>(),
            })),
            "rule_file": written.map(|x| x.rule.display().to_string()),
            "kb_note": written.and_then(|x| x.kb.as_ref()).map(|(p, _)| p.display().to_string()),
            "yaml": yaml,
        });
        writeln!(w, "{v}")?;
        return Ok(w.flush()?);
    }
    writeln!(w, "template  {}", escape(&d.template, false))?;
    writeln!(w, "regex     {}", escape(&d.regex, false))?;
    writeln!(
        w,
        "filters   kind {}{}",
        d.kind,
        d.level
            .as_deref()
            .map(|l| format!(", level {l}"))
            .unwrap_or_default()
    )?;
    for (k, v) in &d.fields {
        writeln!(w, "field     {k} = {}", escape(v, false))?;
    }
    if let Some(t) = trial {
        writeln!(
            w,
            "\non the --test-on logs ({} events): {} hit(s)",
            t.events, t.hits
        )?;
        for f in &t.samples {
            writeln!(
                w,
                "  hit   {}:{}  {}",
                escape(&f.file, false),
                f.line,
                escape(f.text.lines().next().unwrap_or(""), false)
            )?;
        }
        for (s, f) in &t.near {
            writeln!(
                w,
                "  near  {}:{}  ({:.0}% of its words, not matched)  {}",
                escape(&f.file, false),
                f.line,
                s * 100.0,
                escape(f.text.lines().next().unwrap_or(""), false)
            )?;
        }
    }
    match written {
        Some(x) => {
            writeln!(w, "\nwrote {}", x.rule.display())?;
            match &x.kb {
                Some((p, true)) => writeln!(
                    w,
                    "wrote {} (a skeleton: fill in Cause, Fix and Verify)",
                    p.display()
                )?,
                Some((p, false)) => writeln!(w, "kept {} (it exists already)", p.display())?,
                None => {}
            }
            writeln!(w, "`zkb check` runs its tests; the next scan uses it, and a running watch reloads it.")?;
        }
        None => writeln!(w, "\n{}\n(add --write to save it)", yaml.trim_end())?,
    }
    Ok(w.flush()?)
}

/// A preflight check as `checks/*.yaml` writes it (see `crate::preflight::data`).
#[derive(serde::Serialize)]
struct CheckOut<'a> {
    id: &'a str,
    title: &'a str,
    severity: &'a str,
    file: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    fail_if: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fail_unless: Option<&'a str>,
    message: &'a str,
    kb: &'a [String],
    tests: CheckTestsOut,
}

#[derive(serde::Serialize)]
struct CheckTestsOut {
    fail: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pass: Vec<String>,
}

/// `zkb learn --check-file PATH --fail-if|--fail-unless REGEX [TEXT]`: a lesson as a preflight
/// check, tested on its examples (and on the file as it is now) before it is shown or written.
fn learn_check(g: &Global, a: &LearnArgs, file: &str) -> Result<Outcome> {
    let (pattern, fail_on_match) = match (&a.fail_if, &a.fail_unless) {
        (Some(p), None) => (p.as_str(), true),
        (None, Some(p)) => (p.as_str(), false),
        _ => anyhow::bail!("--check-file needs --fail-if REGEX or --fail-unless REGEX"),
    };
    let regex = regex::Regex::new(pattern).with_context(|| format!("bad regex {pattern:?}"))?;
    let fails = |t: &str| regex.is_match(t) == fail_on_match;
    let name = std::path::Path::new(file)
        .file_name()
        .map_or("file".into(), |n| n.to_string_lossy().replace('.', "-"));
    let id =
        a.id.clone()
            .unwrap_or_else(|| format!("local.check-{name}"));
    learn::check_id(&id)?;
    let now = std::fs::read_to_string(file).ok();
    let mut fail = Vec::new();
    let mut pass = Vec::new();
    match (&a.fail_example, &now) {
        (Some(e), _) => fail.push(e.clone()),
        (None, Some(n)) if fails(n) => fail.push(n.clone()),
        (None, _) if !fail_on_match => fail.push(String::new()),
        (None, _) => anyhow::bail!(
            "{file} does not fail this check now: give a text it must fail on with --fail-example"
        ),
    }
    if let Some(n) = now.filter(|n| !fails(n)) {
        pass.push(n);
    }
    if let Some(bad) = fail.iter().find(|t| !fails(t)) {
        anyhow::bail!("the check does not fail on its --fail-example {bad:?}");
    }
    let title = a
        .title
        .clone()
        .unwrap_or_else(|| format!("Learned check on {file}"));
    let message = a
        .text
        .clone()
        .unwrap_or_else(|| "see the KB entry".to_string());
    let severity = a.severity.unwrap_or(Severity::Medium);
    let out = CheckOut {
        id: &id,
        title: &title,
        severity: severity.as_str(),
        file,
        fail_if: a.fail_if.as_deref(),
        fail_unless: a.fail_unless.as_deref(),
        message: &message,
        kb: &a.kb_ids,
        tests: CheckTestsOut { fail, pass },
    };
    let yaml = serde_yaml_ng::to_string(&vec![out]).context("writing the check as YAML")?;
    if !a.write {
        print!("{yaml}");
        if !g.quiet {
            eprintln!("zkb: not written (add --write)");
        }
        return Ok(Outcome { code: 0 });
    }
    let dir = match &a.checks_dir {
        Some(d) => d.clone(),
        None => config_dir("checks")
            .context("no home directory for the user checks dir (give --checks-dir)")?,
    };
    let path = dir.join(format!("{id}.yaml"));
    if path.exists() {
        anyhow::bail!("{} exists: choose another --id", path.display());
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(&path, yaml).with_context(|| format!("writing {}", path.display()))?;
    if !g.quiet {
        eprintln!(
            "zkb: check {id} written to {}; `zkb preflight` runs it, `zkb check` tests it",
            path.display()
        );
    }
    Ok(Outcome { code: 0 })
}
