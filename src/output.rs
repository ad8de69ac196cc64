//! Output: prints findings for people (coloured when the terminal allows, every control
//! character from the logs escaped) and for scripts (the JSON-lines schema of design.md).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};

use serde::Serialize;

use crate::kb::Kb;
use crate::matcher::Matcher;
use crate::parse::format_ts;
use crate::rules::{Rule, Severity};
use crate::scan::Finding;
use crate::version::{self, Version};

/// `human` or `json`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
}

/// One KB reference in a JSON finding.
#[derive(Serialize)]
pub struct KbRef<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub fix: Option<String>,
}

/// The JSON-lines record of one finding (design.md, "JSON lines").
#[derive(Serialize)]
pub struct JsonFinding<'a> {
    pub ts: Option<String>,
    pub host: Option<&'a str>,
    pub file: &'a str,
    pub line: u64,
    pub offset: u64,
    pub kind: &'a str,
    pub level: Option<&'a str>,
    pub program: Option<&'a str>,
    pub rule: Option<&'a str>,
    pub severity: Option<&'a str>,
    pub title: Option<&'a str>,
    pub fields: BTreeMap<&'a str, &'a str>,
    pub kb: Vec<KbRef<'a>>,
    /// What a probe of the rule found on this host (it decides the order of `kb`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe: Option<crate::preflight::probe::ProbeResult>,
    pub text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truncated: Option<bool>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub before: Vec<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub after: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub related: Option<Vec<Related<'a>>>,
}

/// A KB entry related to an unmatched event.
#[derive(Serialize)]
pub struct Related<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub score: f32,
}

pub fn kb_refs<'a>(rule: &'a Rule, kb: &'a Kb, version: Option<Version>) -> Vec<KbRef<'a>> {
    kb_refs_ordered(
        crate::preflight::probe::ordered_kb(&rule.kb, None),
        kb,
        version,
    )
}

/// The KB entries of `ids`, in that order, with their first fix step for `version`.
fn kb_refs_ordered<'a>(
    ids: Vec<&'a String>,
    kb: &'a Kb,
    version: Option<Version>,
) -> Vec<KbRef<'a>> {
    ids.into_iter()
        .map(|id| match kb.get(id) {
            Some(e) => KbRef {
                id,
                title: e.title(),
                fix: e.first_fix_step_for(version),
            },
            None => KbRef {
                id,
                title: "",
                fix: None,
            },
        })
        .collect()
}

pub fn json_finding<'a>(
    f: &'a Finding,
    rule: Option<&'a Rule>,
    kb: &'a Kb,
    version: Option<Version>,
) -> JsonFinding<'a> {
    let probe = rule.and_then(|r| crate::preflight::probe::run(&r.probes, f));
    JsonFinding {
        ts: f.parsed.ts.as_ref().map(format_ts),
        host: f.host.as_deref(),
        file: &f.file,
        line: f.line,
        offset: f.offset,
        kind: f.kind.as_str(),
        level: f.parsed.level.as_deref(),
        program: f.parsed.program.as_deref(),
        rule: rule.map(|r| r.id.as_str()),
        severity: rule.map(|r| r.severity.as_str()),
        title: rule.map(|r| r.title.as_str()),
        fields: f
            .fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect(),
        kb: rule
            .map(|r| {
                kb_refs_ordered(
                    crate::preflight::probe::ordered_kb(&r.kb, probe.as_ref()),
                    kb,
                    version,
                )
            })
            .unwrap_or_default(),
        probe,
        text: &f.text,
        truncated: f.truncated.then_some(true),
        before: f.before.iter().map(String::as_str).collect(),
        after: f.after.iter().map(String::as_str).collect(),
        related: rule.is_none().then(|| {
            f.related
                .iter()
                .map(|h| Related {
                    id: &h.id,
                    title: &h.title,
                    score: h.score,
                })
                .collect()
        }),
    }
}

/// Escapes everything a terminal could act on: C0 and C1 controls, DEL, and Unicode
/// bidirectional overrides. Tabs are kept; newlines only when `keep_newlines`.
pub fn escape(s: &str, keep_newlines: bool) -> Cow<'_, str> {
    let bad = |c: char| {
        (c.is_control() && c != '\t' && !(keep_newlines && c == '\n'))
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
    };
    if !s.chars().any(bad) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if bad(c) {
            match c {
                '\u{1b}' => out.push_str("\\e"),
                '\r' => out.push_str("\\r"),
                '\n' => out.push_str("\\n"),
                c if (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
                c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Terminal styles; all empty when colour is off.
#[derive(Clone, Copy)]
pub struct Style {
    pub on: bool,
}

impl Style {
    pub fn paint(&self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    pub fn severity(&self, s: Severity) -> String {
        let code = match s {
            Severity::Critical => "1;31",
            Severity::High => "31",
            Severity::Medium => "33",
            Severity::Low => "36",
            Severity::Info => "2",
        };
        self.paint(code, &format!("{:<8}", s.as_str().to_uppercase()))
    }

    pub fn dim(&self, t: &str) -> String {
        self.paint("2", t)
    }

    pub fn bold(&self, t: &str) -> String {
        self.paint("1", t)
    }
}

/// Prints findings in the chosen format.
pub struct Printer<'a> {
    pub format: Format,
    pub style: Style,
    pub verbose: bool,
    pub kb: &'a Kb,
    pub matcher: &'a Matcher,
    /// The release of each host, from its installer logs.
    pub versions: &'a HashMap<String, Version>,
}

impl<'a> Printer<'a> {
    /// The same printer for the findings of another rule set (a watch that reloaded its rules).
    pub fn with_matcher<'b>(&self, matcher: &'b Matcher) -> Printer<'b>
    where
        'a: 'b,
    {
        Printer { matcher, ..*self }
    }

    pub fn finding(&self, w: &mut impl Write, f: &Finding) -> io::Result<()> {
        let rule = f.rule.map(|i| &self.matcher.rules[i]);
        let release = self.release(f);
        match self.format {
            Format::Json => {
                serde_json::to_writer(&mut *w, &json_finding(f, rule, self.kb, release))?;
                writeln!(w)
            }
            Format::Human => self.human(w, f, rule),
        }
    }

    /// A finding with its change against the baseline (`NEW`, `×3.5`): a `baseline` key in
    /// JSON, a tag before the title in human output.
    pub fn finding_marked(
        &self,
        w: &mut impl Write,
        f: &Finding,
        mark: Option<&str>,
    ) -> io::Result<()> {
        let Some(mark) = mark else {
            return self.finding(w, f);
        };
        match self.format {
            Format::Json => {
                let rule = f.rule.map(|i| &self.matcher.rules[i]);
                let json = json_finding(f, rule, self.kb, self.release(f));
                let mut v = serde_json::to_value(&json).map_err(io::Error::other)?;
                if let Some(o) = v.as_object_mut() {
                    o.insert("baseline".into(), mark.into());
                }
                serde_json::to_writer(&mut *w, &v)?;
                writeln!(w)
            }
            Format::Human => {
                write!(w, "[{mark}] ")?;
                self.finding(w, f)
            }
        }
    }

    /// The release the finding's host runs: from the event itself (jar versions in a stack
    /// trace), else from the host's installer logs.
    pub fn release(&self, f: &Finding) -> Option<Version> {
        version::find(&f.text)
            .or_else(|| f.host.as_ref().and_then(|h| self.versions.get(h).copied()))
    }

    fn human(&self, w: &mut impl Write, f: &Finding, rule: Option<&Rule>) -> io::Result<()> {
        let s = &self.style;
        let host = f
            .host
            .as_deref()
            .map(|h| escape(h, false).into_owned())
            .unwrap_or_else(|| "-".into());
        let when = f
            .parsed
            .ts
            .as_ref()
            .map(|z| z.strftime("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default();
        let (sev, title, id) = match rule {
            Some(r) => (s.severity(r.severity), r.title.as_str(), r.id.as_str()),
            None => (
                s.paint("35", &format!("{:<8}", "UNKNOWN")),
                "error event that no rule knows",
                "unmatched",
            ),
        };
        writeln!(
            w,
            "{} {} {} {}  {}",
            sev,
            s.bold(&host),
            s.dim(&format!("{}:{}", escape(&f.file, false), f.line)),
            s.bold(&escape(title, false)),
            s.dim(&format!("[{id}]")),
        )?;
        let pad = "         ";
        if !f.fields.is_empty() || !when.is_empty() {
            let fields: Vec<String> = f
                .fields
                .iter()
                .map(|(k, v)| format!("{k}={}", escape(v, false)))
                .collect();
            writeln!(w, "{pad}{} {}", s.dim(&when), fields.join(" "))?;
        }
        for line in f.before.iter().flat_map(|t| t.lines()) {
            writeln!(
                w,
                "{pad}{} {}",
                s.dim("-"),
                s.dim(&escape(&clip(line, 200), false))
            )?;
        }
        let lines: Vec<&str> = f.text.lines().collect();
        let shown = if self.verbose {
            lines.len()
        } else {
            lines.len().min(3)
        };
        for line in &lines[..shown] {
            writeln!(
                w,
                "{pad}{} {}",
                s.dim("|"),
                escape(&clip(line, if self.verbose { 2000 } else { 200 }), false)
            )?;
        }
        if shown < lines.len() {
            writeln!(
                w,
                "{pad}{}",
                s.dim(&format!(
                    "| … {} more lines (-v shows all)",
                    lines.len() - shown
                ))
            )?;
        }
        if f.truncated {
            writeln!(w, "{pad}{}", s.dim("| [event cut at the size cap]"))?;
        }
        for line in f.after.iter().flat_map(|t| t.lines()) {
            writeln!(
                w,
                "{pad}{} {}",
                s.dim("+"),
                s.dim(&escape(&clip(line, 200), false))
            )?;
        }
        match rule {
            Some(r) => self.kb_lines(w, r, f, pad, self.release(f)),
            None => {
                for h in &f.related {
                    writeln!(
                        w,
                        "{pad}{} {}  {}",
                        s.paint("35", "related"),
                        h.title,
                        s.dim(&format!("(zkb kb show {})", h.id))
                    )?;
                }
                writeln!(w)
            }
        }
    }

    fn kb_lines(
        &self,
        w: &mut impl Write,
        rule: &Rule,
        f: &Finding,
        pad: &str,
        release: Option<Version>,
    ) -> io::Result<()> {
        let s = &self.style;
        let probe = crate::preflight::probe::run(&rule.probes, f);
        if let Some(p) = &probe {
            writeln!(
                w,
                "{pad}{} {}",
                s.paint("35", "probe"),
                escape(&p.detail, false)
            )?;
        }
        for id in crate::preflight::probe::ordered_kb(&rule.kb, probe.as_ref()) {
            let Some(entry) = self.kb.get(id) else {
                writeln!(w, "{pad}{} {id}", s.paint("35", "KB"))?;
                continue;
            };
            writeln!(
                w,
                "{pad}{} {}  {}",
                s.paint("35", "KB"),
                entry.title(),
                s.dim(&format!("(zkb kb show {id})"))
            )?;
            let variants = entry.fix_variants_for(release);
            if variants.iter().any(|v| v.heading.is_some()) {
                let which = match release {
                    Some(r) if variants.len() < entry.fix_variants().len() => {
                        format!("fix for Zimbra {r}, the release this host's logs show")
                    }
                    _ => "release not known from the logs: every variant shown".to_string(),
                };
                writeln!(w, "{pad}   {}", s.dim(&which))?;
            }
            if self.verbose {
                for v in variants {
                    if let Some(h) = &v.heading {
                        writeln!(w, "{pad}   {}", s.bold(h))?;
                    }
                    for (i, step) in v.steps.iter().enumerate() {
                        writeln!(w, "{pad}   {}. {}", i + 1, strip_markdown(step))?;
                    }
                }
            } else if let Some(step) = entry.first_fix_step_for(release) {
                writeln!(
                    w,
                    "{pad}   {} {}",
                    s.paint("32", "fix:"),
                    strip_markdown(&step)
                )?;
            }
        }
        writeln!(w)
    }
}

fn clip(s: &str, max: usize) -> Cow<'_, str> {
    if s.chars().count() <= max {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(format!("{}…", s.chars().take(max).collect::<String>()))
    }
}

/// Drops `**` emphasis for the terminal; keeps backticks, which show what to type.
pub fn strip_markdown(s: &str) -> String {
    s.replace("**", "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_controls() {
        let s = "a\u{1b}]0;pwned\u{7}\u{1b}[2Jb\u{9b}c\u{202e}d\te";
        let e = escape(s, false);
        assert!(!e.chars().any(|c| c.is_control() && c != '\t'), "{e}");
        assert_eq!(e, "a\\e]0;pwned\\x07\\e[2Jb\\x9bc\\u{202e}d\te");
        assert_eq!(escape("plain", false), Cow::Borrowed("plain"));
    }
}
