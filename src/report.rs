//! `zkb report`: a self-contained HTML page (or Markdown) of a time window from the incident
//! store. It opens with "the night at a glance": one line per server with where it stands in
//! the upgrade (the board of [`crate::board`], when a site tree is given) and its incidents,
//! and the site's findings; then a timeline drawn as inline SVG (occurrences per interval stacked by severity, first
//! occurrences of incidents marked), a table per host, every incident with the values of its
//! fields, a sample event in its context and its KB fix, and the error events no rule knew. No
//! script, no external style or font. Log text is attacker-controlled: every piece of it goes
//! through [`html`]; `--redact` masks accounts, addresses and IPs first.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::board::{self, Board, HostStatus, State};
use crate::kb::Kb;
use crate::rules::Severity;
use crate::store::query::{FieldValues, Sample, Unknown};
use crate::store::Incident;

/// Intervals in the timeline.
const BINS: usize = 48;

/// What the report shows.
pub struct ReportData<'a> {
    pub title: String,
    pub incidents: &'a [Incident],
    /// Occurrence times (ms) and severities.
    pub times: &'a [(i64, String)],
    pub kb: &'a Kb,
    pub redact: bool,
    /// Per incident id: the values of its fields and its samples.
    pub values: &'a BTreeMap<i64, Vec<FieldValues>>,
    pub samples: &'a BTreeMap<i64, Vec<Sample>>,
    /// Error events no rule knew, grouped by wording and host.
    pub unknown: &'a [Unknown],
    /// The upgrade board of the site, when a site tree was given.
    pub board: Option<&'a Board>,
    /// The last `zkb preflight --report`, when one was kept.
    pub preflight: Option<&'a crate::preflight::Saved>,
}

/// One server in "the night at a glance".
#[derive(Debug, Default, PartialEq)]
pub struct GlanceRow {
    pub host: String,
    pub role: String,
    /// The upgrade state, versions, schema step and elapsed time, or `-` without a board line.
    pub upgrade: String,
    /// zmsetup's last step, for a server that is running, failed or interrupted.
    pub step: String,
    pub incidents: usize,
    pub occurrences: i64,
    /// The worst severity among its incidents.
    pub worst: Option<String>,
}

/// The servers of the board and of the incidents, in host order.
pub fn glance_rows(d: &ReportData) -> Vec<GlanceRow> {
    let mut rows: BTreeMap<String, GlanceRow> = BTreeMap::new();
    for h in d.board.map(|b| b.hosts.as_slice()).unwrap_or_default() {
        rows.insert(
            h.host.clone(),
            GlanceRow {
                host: h.host.clone(),
                role: h.role.clone(),
                upgrade: upgrade_cell(h),
                step: step_cell(h),
                ..GlanceRow::default()
            },
        );
    }
    for i in d.incidents {
        let host = i.host.clone().unwrap_or_else(|| "-".into());
        let row = rows.entry(host.clone()).or_insert_with(|| GlanceRow {
            host,
            role: "-".into(),
            upgrade: "-".into(),
            ..GlanceRow::default()
        });
        row.incidents += 1;
        row.occurrences += i.count;
        let current = row.worst.as_deref().and_then(Severity::parse);
        if row.worst.is_none() || Severity::parse(&i.severity) > current {
            row.worst = Some(i.severity.clone());
        }
    }
    rows.into_values().collect()
}

fn upgrade_cell(h: &HostStatus) -> String {
    let mut s = board::state_label(h.state).to_string();
    if let (Some(a), Some(b)) = (&h.from_version, &h.to_version) {
        let _ = write!(s, " {a} -> {b}");
    }
    if let Some((n, m)) = h.schema_step {
        let _ = write!(s, ", schema {n}/{m}");
    }
    if let Some(m) = h.elapsed_min {
        let _ = write!(s, ", {m} min");
    }
    s
}

fn step_cell(h: &HostStatus) -> String {
    match h.state {
        State::Running | State::Failed | State::Interrupted => h.step.clone().unwrap_or_default(),
        _ => String::new(),
    }
}

fn glance(d: &ReportData) -> String {
    let mut s = String::from("<h2>The night at a glance</h2>\n");
    if d.board.is_none() {
        s.push_str(
            "<p>No site tree given (<code>zkb report --site DIR</code>): the incidents per server only.</p>\n",
        );
    }
    s.push_str("<div class=\"scroll\"><table><tr><th>server</th><th>role</th><th>upgrade</th><th>last step</th><th>incidents</th><th>worst</th></tr>\n");
    for r in glance_rows(d) {
        let worst = r.worst.as_deref().unwrap_or("-");
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} ({} &times;)</td><td class=\"sev\" style=\"color:{}\">{}</td></tr>",
            shown(d, &r.host),
            html(&r.role),
            html(&r.upgrade),
            shown(d, &r.step),
            r.incidents,
            r.occurrences,
            color(worst),
            html(worst)
        );
    }
    s.push_str("</table></div>\n");
    for f in d.board.map(|b| b.findings.as_slice()).unwrap_or_default() {
        let _ = writeln!(
            s,
            "<p><b style=\"color:{}\">{}</b> {}: {} (fix: {})</p>",
            color(f.severity),
            html(&f.severity.to_uppercase()),
            html(f.id),
            shown(d, &f.message),
            html(&f.kb.join(", "))
        );
    }
    s
}

/// Escapes text for HTML element content and attribute values.
pub fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Masks e-mail addresses, `name=` accounts and IPv4 addresses.
pub fn redact(text: &str) -> String {
    use std::sync::OnceLock;
    static RES: OnceLock<[regex::Regex; 3]> = OnceLock::new();
    let [mail, name, ip] = RES.get_or_init(|| {
        [
            regex::Regex::new(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+").expect("valid"),
            regex::Regex::new(r"(name|account|user)=[^;\],\s]+").expect("valid"),
            regex::Regex::new(r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b").expect("valid"),
        ]
    });
    let t = mail.replace_all(text, "<account>");
    let t = name.replace_all(&t, "$1=<account>");
    ip.replace_all(&t, "<ip>").into_owned()
}

fn shown(d: &ReportData, text: &str) -> String {
    if d.redact {
        html(&redact(text))
    } else {
        html(text)
    }
}

fn color(sev: &str) -> &'static str {
    match sev {
        "critical" => "#b71c1c",
        "high" => "#e65100",
        "medium" => "#f9a825",
        "low" => "#0277bd",
        _ => "#9e9e9e",
    }
}

/// The HTML page.
pub fn to_html(d: &ReportData) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{CSS}</style></head><body>\n<h1>{}</h1>\n",
        html(&d.title),
        html(&d.title)
    );
    let _ = writeln!(
        s,
        "<p>{} incidents, {} occurrences.</p>",
        d.incidents.len(),
        d.incidents.iter().map(|i| i.count).sum::<i64>()
    );
    s.push_str(&glance(d));
    s.push_str(&preflight_section(d));
    s.push_str(&timeline(d));
    s.push_str(&hosts_tables(d));
    s.push_str("<h2>Incidents and fixes</h2>\n");
    for i in d.incidents {
        incident_section(&mut s, d, i);
    }
    unknown_section(&mut s, d);
    s.push_str("</body></html>\n");
    s
}

/// The checks of the last `zkb preflight --report`, failures and warnings first.
pub fn preflight_rows<'a>(d: &ReportData<'a>) -> Vec<&'a crate::preflight::SavedFinding> {
    let mut rows: Vec<&'a crate::preflight::SavedFinding> = d
        .preflight
        .map(|p| p.findings.iter().collect())
        .unwrap_or_default();
    rows.sort_by_key(|f| std::cmp::Reverse(f.status));
    rows
}

fn preflight_section(d: &ReportData) -> String {
    let Some(p) = d.preflight else {
        return String::new();
    };
    let mut s = format!(
        "<h2>Pre-upgrade checks</h2>\n<p><code>zkb preflight</code> on {} at {}.</p>\n<div class=\"scroll\"><table><tr><th>status</th><th>check</th><th>subject</th><th>what it found</th><th>fix</th></tr>\n",
        shown(d, &p.host),
        html(&p.at)
    );
    for f in preflight_rows(d) {
        let status = match f.status {
            crate::preflight::Status::Pass => "pass",
            crate::preflight::Status::Warn => "WARN",
            crate::preflight::Status::Fail => "FAIL",
        };
        let _ = writeln!(
            s,
            "<tr><td class=\"sev\" style=\"color:{}\">{status}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            color(&f.severity),
            html(&f.check),
            shown(d, &f.subject),
            shown(d, &f.message),
            html(&f.kb.join(", "))
        );
    }
    s.push_str("</table></div>\n");
    s
}

fn timeline(d: &ReportData) -> String {
    let (Some(first), Some(last)) = (d.times.first(), d.times.last()) else {
        return "<p>No timed occurrences in this window.</p>\n".into();
    };
    let (t0, t1) = (first.0, last.0.max(first.0 + 1));
    let width = (t1 - t0) as f64 / BINS as f64;
    let mut bins = vec![[0u32; 5]; BINS];
    for (t, sev) in d.times {
        let b = (((t - t0) as f64 / width) as usize).min(BINS - 1);
        let k = Severity::parse(sev).map_or(0, |s| s as usize);
        bins[b][k] += 1;
    }
    let max = bins
        .iter()
        .map(|b| b.iter().sum::<u32>())
        .max()
        .unwrap_or(1)
        .max(1);
    let (w, h) = (960.0, 200.0);
    let bw = w / BINS as f64;
    let mut svg = format!(
        "<h2>Timeline</h2>\n<svg viewBox=\"0 0 {w} {}\" role=\"img\" aria-label=\"occurrences over time, stacked by severity\">\n",
        h + 30.0
    );
    for (i, b) in bins.iter().enumerate() {
        let mut y = h;
        for k in (0..5).rev() {
            if b[k] == 0 {
                continue;
            }
            let bh = b[k] as f64 / max as f64 * (h - 10.0);
            y -= bh;
            let sev = Severity::ALL[k].as_str();
            let _ = writeln!(
                svg,
                "<rect x=\"{:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"{}\"><title>{} {sev}</title></rect>",
                i as f64 * bw,
                bw - 1.0,
                color(sev),
                b[k]
            );
        }
    }
    for inc in d.incidents {
        if let Some(f) = inc.first_ms.filter(|f| (t0..=t1).contains(f)) {
            let x = (f - t0) as f64 / (t1 - t0) as f64 * w;
            let _ = writeln!(
                svg,
                "<path d=\"M{x:.1} {} l-4 8 h8 z\" fill=\"{}\"><title>first: {}</title></path>",
                h + 2.0,
                color(&inc.severity),
                html(&inc.title)
            );
        }
    }
    let label = |ms: i64| {
        jiff::Timestamp::from_millisecond(ms).map_or_else(
            |_| "?".into(),
            |t| t.strftime("%Y-%m-%d %H:%M UTC").to_string(),
        )
    };
    let _ = writeln!(
        svg,
        "<text x=\"0\" y=\"{}\" class=\"axis\">{}</text><text x=\"{w}\" y=\"{}\" text-anchor=\"end\" class=\"axis\">{}</text></svg>",
        h + 26.0,
        label(t0),
        h + 26.0,
        label(t1)
    );
    svg.push_str("<p class=\"legend\">");
    for sev in Severity::ALL.iter().rev() {
        let _ = write!(
            svg,
            "<span style=\"color:{}\">&#9632;</span> {} ",
            color(sev.as_str()),
            sev.as_str()
        );
    }
    svg.push_str(" &#9650; first occurrence of an incident</p>\n");
    svg
}

fn hosts_tables(d: &ReportData) -> String {
    let mut by_host: BTreeMap<String, Vec<&Incident>> = BTreeMap::new();
    for i in d.incidents {
        by_host
            .entry(i.host.clone().unwrap_or_else(|| "-".into()))
            .or_default()
            .push(i);
    }
    let mut s = String::from("<h2>By host</h2>\n");
    for (host, mut list) in by_host {
        // The worst first; in time order within a severity.
        list.sort_by_key(|i| {
            (
                std::cmp::Reverse(Severity::parse(&i.severity)),
                i.first_ms.unwrap_or(i64::MAX),
            )
        });
        let _ = write!(
            s,
            "<h3>{}</h3>\n<div class=\"scroll\"><table><tr><th>severity</th><th>count</th><th>first seen</th><th>state</th><th>problem</th></tr>\n",
            html(&host)
        );
        for i in list {
            let _ = writeln!(
                s,
                "<tr><td class=\"sev\" style=\"color:{}\">{}</td><td>{}</td><td>{}</td><td>{}</td><td><a href=\"#i{}\">{}</a></td></tr>",
                color(&i.severity),
                html(&i.severity),
                i.count,
                html(&short_time(i.first_seen.as_deref())),
                i.state,
                i.id,
                html(&i.title)
            );
        }
        s.push_str("</table></div>\n");
    }
    s
}

fn incident_section(s: &mut String, d: &ReportData, i: &Incident) {
    let _ = write!(
        s,
        "<section id=\"i{}\"><h3><span style=\"color:{}\">{}</span> {}</h3>\n\
         <p>{} &middot; {} &middot; {} &times; &middot; {} .. {} &middot; <code>{}</code> {}</p>\n",
        i.id,
        color(&i.severity),
        html(&i.severity.to_uppercase()),
        html(&i.title),
        i.state,
        shown(d, i.host.as_deref().unwrap_or("-")),
        i.count,
        html(&short_time(i.first_seen.as_deref())),
        html(&short_time(i.last_seen.as_deref())),
        html(&i.rule),
        shown(d, &i.group),
    );
    if let Some(values) = d.values.get(&i.id).filter(|v| !v.is_empty()) {
        s.push_str("<ul class=\"values\">");
        for v in values {
            let _ = write!(s, "<li>{}</li>", shown(d, &values_line(v, d.redact)));
        }
        s.push_str("</ul>\n");
    }
    match d.samples.get(&i.id).and_then(|v| v.first()) {
        Some(sample) => {
            s.push_str("<pre>");
            for l in &sample.before {
                let _ = writeln!(s, "<span class=\"ctx\">{}</span>", shown(d, l));
            }
            let _ = writeln!(s, "<b>{}</b>", shown(d, &sample.text));
            for l in &sample.after {
                let _ = writeln!(s, "<span class=\"ctx\">{}</span>", shown(d, l));
            }
            s.push_str("</pre>\n");
        }
        None => {
            let _ = writeln!(s, "<pre>{}</pre>", shown(d, &i.sample));
        }
    }
    for id in &i.kb {
        if let Some(e) = d.kb.get(id) {
            let _ = write!(
                s,
                "<h4>Fix: {}</h4>\n<pre class=\"fix\">{}</pre>\n",
                html(e.title()),
                html(e.section("Fix").unwrap_or(""))
            );
        }
    }
    s.push_str("</section>\n");
}

/// A stored time for a table: `2026-03-15 02:14:07 +07:00` (seconds, its zone's offset).
fn short_time(t: Option<&str>) -> String {
    let Some(t) = t else { return "-".into() };
    let Some((date, rest)) = t.split_once('T') else {
        return t.to_string();
    };
    let clock: String = rest.chars().take(8).collect();
    let zone = rest.find(['+', '-', 'Z']).map_or("", |i| &rest[i..]);
    let zone = if zone == "Z" { "UTC" } else { zone };
    format!("{date} {clock} {zone}")
}

/// `mailbox: 300 distinct, all under /opt/zimbra/store2: 12 (40), 7 (31), ...`
/// With `redact`, the values of fields that name people or machines are masked whole.
pub fn values_line(v: &FieldValues, redact: bool) -> String {
    let masked = redact
        && matches!(
            v.field.as_str(),
            "name"
                | "account"
                | "user"
                | "rcpt"
                | "sender"
                | "from"
                | "to"
                | "email"
                | "ip"
                | "oip"
                | "client"
                | "addr"
        );
    let top: Vec<String> = v
        .top
        .iter()
        .map(|(x, n)| {
            let x = if masked { "<masked>" } else { x.as_str() };
            format!("{x} ({n})")
        })
        .collect();
    let under = v
        .all_under
        .as_deref()
        .filter(|_| !masked)
        .map_or(String::new(), |u| format!(", all under {u}"));
    let more = if v.distinct as usize > v.top.len() {
        ", ..."
    } else {
        ""
    };
    format!(
        "{}: {} distinct{under}: {}{more}",
        v.field,
        v.distinct,
        top.join(", ")
    )
}

fn unknown_section(s: &mut String, d: &ReportData) {
    s.push_str("<h2>Error events no rule knew</h2>\n");
    if d.unknown.is_empty() {
        s.push_str("<p>None recorded in this window.</p>\n");
        return;
    }
    s.push_str(
        "<div class=\"scroll\"><table><tr><th>count</th><th>host</th><th>first seen</th><th>wording (variable parts masked)</th></tr>\n",
    );
    for u in d.unknown {
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><details><summary><code>{}</code></summary><pre>{}</pre></details></td></tr>",
            u.count,
            shown(d, u.host.as_deref().unwrap_or("-")),
            html(&short_time(u.first_seen.as_deref())),
            shown(d, &u.template),
            shown(d, &u.sample)
        );
    }
    s.push_str(
        "</table></div>\n<p>Each is a candidate for a new rule: <code>zkb learn</code>.</p>\n",
    );
}

const CSS: &str = "body{font-family:system-ui,sans-serif;max-width:70rem;margin:auto;padding:1rem;line-height:1.4}\
pre{white-space:pre-wrap;word-break:break-word;background:#f5f5f5;padding:.5rem;font-size:.85rem}\
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.25rem;text-align:left;vertical-align:top}\
.scroll{overflow-x:auto}svg{width:100%;height:auto}.axis{font-size:12px}.sev{font-weight:bold}\
section{border-top:1px solid #ccc;margin-top:1rem}.ctx{color:#666}.values{font-size:.9rem}@media print{a{color:inherit;text-decoration:none}section{break-inside:avoid}}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_times_keep_their_offset() {
        assert_eq!(
            short_time(Some("2026-03-15T02:14:07.511+07:00")),
            "2026-03-15 02:14:07 +07:00"
        );
        assert_eq!(
            short_time(Some("2026-03-15T02:14:07.511Z")),
            "2026-03-15 02:14:07 UTC"
        );
        assert_eq!(short_time(None), "-");
    }

    #[test]
    fn log_text_is_escaped_and_redacted() {
        assert_eq!(
            html(r#"<script>alert(1)</script>"><img src=x onerror=alert(2)>"#),
            "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"
        );
        assert_eq!(
            redact("[name=ann@example.com;ip=10.0.0.5;] from 203.0.113.9"),
            "[name=<account>;ip=<ip>;] from <ip>"
        );
    }
}
