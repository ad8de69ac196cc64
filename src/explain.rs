//! `zkb explain`: one event, shown the way zkb sees it — its parsed fields, the rules whose
//! literal and pattern fired and what they captured, and the KB entries that apply.

use std::io::{self, Write};

use anyhow::Result;
use serde_json::json;

use crate::cli::{load, open_index, style, time_zone, Global, Outcome};
use crate::framing::frame_all;
use crate::kind::LogKind;
use crate::matcher::{Matcher, RuleHit};
use crate::output::{escape, kb_refs, strip_markdown, Format};
use crate::parse::{format_ts, parse, Event, Parsed, TimeContext};
use crate::search::mask_variables;

pub fn run(g: &Global, text: &str) -> Result<Outcome> {
    let (set, kb) = load(g);
    let matcher = Matcher::new(set.rules);
    let index = open_index(g, &kb)?;
    let tz = time_zone(g)?;
    let time = TimeContext::new(tz, g.year, None);
    let text = text.trim_end_matches('\n');
    let kind = g.kind.unwrap_or_else(|| LogKind::sniff(text.as_bytes()));
    let out = io::stdout();
    let mut w = io::BufWriter::new(out.lock());
    let s = style(g);
    for (span, bytes) in frame_all(text.as_bytes(), kind, 1 << 16) {
        let event = Event::from_bytes(kind, &bytes, span.line, span.offset, span.truncated);
        let parsed = parse(&event, &time);
        let mut cands = Vec::new();
        matcher.candidates(kind, event.text.as_bytes(), &mut cands);
        let mut hits = Vec::new();
        matcher.confirm(&event, &parsed, &cands, &mut hits);
        let matches: Vec<serde_json::Value> = hits
            .iter()
            .map(|h| match_json(&matcher, &event, h, &kb))
            .collect();
        let second = event.text.lines().nth(1).unwrap_or("");
        let related = index.search(&mask_variables(&format!("{} {second}", parsed.message)), 3)?;
        let related_json: Vec<serde_json::Value> = related
            .iter()
            .map(|h| json!({"id": h.id, "title": h.title, "score": h.score}))
            .collect();
        match g.format {
            Format::Json => {
                let obj = json!({"event": event_json(&event, &parsed), "matches": matches, "related": related_json});
                serde_json::to_writer(&mut w, &obj)?;
                writeln!(w)?;
            }
            Format::Human => {
                writeln!(w, "{} line {} ({} kind)", s.bold("event"), event.line, kind)?;
                for (k, v) in field_lines(&parsed) {
                    writeln!(w, "  {k:<9} {}", escape(&v, false))?;
                }
                if hits.is_empty() {
                    writeln!(
                        w,
                        "{}: none of {} rules ({} had a literal in this event)",
                        s.bold("matches"),
                        matcher.rules.len(),
                        cands.len()
                    )?;
                }
                for h in &hits {
                    let r = &matcher.rules[h.rule];
                    writeln!(
                        w,
                        "{} {} {}  {}",
                        s.bold("match"),
                        s.severity(r.severity),
                        r.id,
                        r.title
                    )?;
                    writeln!(
                        w,
                        "  literal   {:?}",
                        matcher.literals_found(h.rule, event.text.as_bytes())
                    )?;
                    for p in r.patterns() {
                        writeln!(w, "  pattern   {p}")?;
                    }
                    for (k, v) in &h.fields {
                        writeln!(w, "  field     {k}={}", escape(v, false))?;
                    }
                    for id in &r.kb {
                        if let Some(e) = kb.get(id) {
                            writeln!(w, "  KB        {id}: {}", e.title())?;
                            if let Some(step) =
                                e.first_fix_step_for(crate::version::find(&event.text))
                            {
                                writeln!(w, "  fix       {}", strip_markdown(&step))?;
                            }
                        }
                    }
                }
                for h in &related {
                    writeln!(
                        w,
                        "{} {}  {}  {}",
                        s.bold("related"),
                        h.id,
                        h.title,
                        s.dim(&format!("{:.2}", h.score))
                    )?;
                }
                writeln!(w)?;
            }
        }
    }
    Ok(Outcome { code: 0 })
}

fn field_lines(p: &Parsed) -> Vec<(&'static str, String)> {
    let mut v = Vec::new();
    let mut add = |k: &'static str, x: &Option<String>| {
        if let Some(x) = x {
            v.push((k, x.clone()));
        }
    };
    add("ts", &p.ts.as_ref().map(format_ts));
    add("host", &p.host);
    add("program", &p.program);
    add("pid", &p.pid);
    add("level", &p.level);
    add("thread", &p.thread);
    add("category", &p.category);
    for (k, val) in &p.context {
        v.push(("context", format!("{k}={val}")));
    }
    v.push(("message", p.message.clone()));
    v
}

fn event_json(e: &Event<'_>, p: &Parsed) -> serde_json::Value {
    let context: serde_json::Map<String, serde_json::Value> = p
        .context
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    json!({
        "kind": e.kind.as_str(), "line": e.line, "ts": p.ts.as_ref().map(format_ts), "host": p.host,
        "program": p.program, "pid": p.pid, "level": p.level, "thread": p.thread,
        "category": p.category, "context": context, "message": p.message, "text": e.text,
        "truncated": e.truncated,
    })
}

fn match_json(m: &Matcher, e: &Event<'_>, h: &RuleHit, kb: &crate::kb::Kb) -> serde_json::Value {
    let r = &m.rules[h.rule];
    let fields: serde_json::Map<String, serde_json::Value> = h
        .fields
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    json!({
        "rule": r.id, "title": r.title, "severity": r.severity.as_str(), "fields": fields,
        "literals": m.literals_found(h.rule, e.text.as_bytes()), "patterns": r.patterns(),
        "kb": kb_refs(r, kb, crate::version::find(&e.text)), "source": format!("{}:{}", r.source, r.line),
    })
}
