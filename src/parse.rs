//! Parsing: turns the text of one event into fields — timestamp (with syslog's missing year
//! inferred), host, program and pid, level, thread, the mailbox.log context block, and the
//! message. Parsing runs only on events that a rule may match, so framing stays cheap.

use std::borrow::Cow;

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};
use serde::Serialize;

use crate::kind::{self, LogKind};

/// One event: a record and its continuation lines, with where it came from.
#[derive(Clone, Debug)]
pub struct Event<'a> {
    pub kind: LogKind,
    pub text: Cow<'a, str>,
    pub line: u64,
    pub offset: u64,
    pub truncated: bool,
}

impl<'a> Event<'a> {
    /// Builds an event from raw bytes, decoding invalid UTF-8 lossily and dropping `\r`
    /// before newlines.
    pub fn from_bytes(
        kind: LogKind,
        bytes: &'a [u8],
        line: u64,
        offset: u64,
        truncated: bool,
    ) -> Self {
        let text = String::from_utf8_lossy(bytes);
        let text = if text.contains('\r') {
            Cow::Owned(
                text.replace("\r\n", "\n")
                    .trim_end_matches('\r')
                    .to_string(),
            )
        } else {
            text
        };
        Event {
            kind,
            text,
            line,
            offset,
            truncated,
        }
    }

    pub fn first_line(&self) -> &str {
        self.text.split('\n').next().unwrap_or("")
    }
}

/// How to read times that carry no year or no zone.
#[derive(Clone, Debug)]
pub struct TimeContext {
    pub tz: TimeZone,
    /// Dates after this day (plus one day of slack) belong to the year before.
    pub reference: Date,
}

impl TimeContext {
    /// `year` forces the year the file ends in; `mtime` is the file's modification time.
    pub fn new(tz: TimeZone, year: Option<i16>, mtime: Option<Timestamp>) -> Self {
        let now = mtime.unwrap_or_else(Timestamp::now);
        let mut reference = now.to_zoned(tz.clone()).date();
        if let Some(y) = year {
            reference = if reference.year() >= y {
                Date::new(y, reference.month(), reference.day()).unwrap_or_else(|_| last_day(y))
            } else {
                last_day(y)
            };
        }
        TimeContext { tz, reference }
    }

    /// The year of a syslog `Mmm dd` date: the reference year, or the one before when the
    /// date lies after the reference day (a file that spans New Year).
    pub fn infer_year(&self, month: i8, day: i8) -> i16 {
        let year = self.reference.year();
        let Ok(date) = Date::new(year, month, day) else {
            return year;
        };
        match self.reference.tomorrow() {
            Ok(limit) if date > limit => year - 1,
            _ => year,
        }
    }

    fn zoned(&self, dt: DateTime) -> Option<Zoned> {
        self.tz.to_ambiguous_zoned(dt).compatible().ok()
    }
}

fn last_day(y: i16) -> Date {
    Date::new(y, 12, 31).unwrap_or(Date::MAX)
}

/// The fields of one event. Absent fields are `None`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Parsed {
    #[serde(serialize_with = "ser_ts")]
    pub ts: Option<Zoned>,
    pub host: Option<String>,
    pub program: Option<String>,
    pub pid: Option<String>,
    pub level: Option<String>,
    pub thread: Option<String>,
    pub category: Option<String>,
    pub context: Vec<(String, String)>,
    pub message: String,
}

fn ser_ts<S: serde::Serializer>(ts: &Option<Zoned>, s: S) -> Result<S::Ok, S::Error> {
    match ts {
        Some(z) => s.serialize_str(&format_ts(z)),
        None => s.serialize_none(),
    }
}

/// RFC 3339 with milliseconds and the offset: `2025-03-01T10:00:00.123+07:00`.
pub fn format_ts(z: &Zoned) -> String {
    let ms = z.subsec_nanosecond() / 1_000_000;
    format!(
        "{}.{ms:03}{}",
        z.strftime("%Y-%m-%dT%H:%M:%S"),
        z.strftime("%:z")
    )
}

impl Parsed {
    pub fn context_value(&self, key: &str) -> Option<&str> {
        self.context
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses an event of any kind.
pub fn parse(event: &Event<'_>, time: &TimeContext) -> Parsed {
    let line = event.first_line();
    let mut p = match event.kind {
        LogKind::Mailbox => parse_log4j(line, time),
        LogKind::Syslog => parse_syslog(line, time),
        LogKind::Mailboxd => parse_mailboxd(line, time),
        LogKind::Nginx => parse_nginx(line, time),
        LogKind::Setup => parse_setup(line, time),
        LogKind::Mysql => parse_mysql(line, time),
        LogKind::MysqlSlow => parse_generic(line, time),
        LogKind::Clamav => parse_clamav(line, time),
        LogKind::Generic => parse_generic(line, time),
    };
    if p.message.is_empty() && p.ts.is_none() {
        p.message = line.to_string();
    }
    p
}

fn num<T: std::str::FromStr>(s: &str, range: std::ops::Range<usize>) -> Option<T> {
    s.get(range)?.trim_start().parse().ok()
}

/// `YYYY-MM-DD HH:MM:SS` at the start of `s`, with any of `-`/`/` as date separator.
fn ymd_hms(s: &str, time: &TimeContext, frac_sep: char) -> Option<(Zoned, usize)> {
    let y: i16 = num(s, 0..4)?;
    let mo: i8 = num(s, 5..7)?;
    let d: i8 = num(s, 8..10)?;
    let (h, mi, sec): (i8, i8, i8) = (num(s, 11..13)?, num(s, 14..16)?, num(s, 17..19)?);
    let mut end = 19;
    let mut nanos = 0;
    if s[end..].starts_with(frac_sep) {
        let digits = s[end + 1..]
            .bytes()
            .take_while(u8::is_ascii_digit)
            .count()
            .min(9);
        if digits > 0 {
            let v: i32 = s[end + 1..end + 1 + digits].parse().ok()?;
            nanos = v * 10i32.pow(9 - digits as u32);
            end += 1 + digits;
        }
    }
    let dt = DateTime::new(y, mo, d, h, mi, sec, nanos).ok()?;
    Some((time.zoned(dt)?, end))
}

/// `2025-03-01 10:00:00,123 LEVEL [thread] [ctx] category - message`.
fn parse_log4j(line: &str, time: &TimeContext) -> Parsed {
    let mut p = Parsed::default();
    let Some((ts, end)) = ymd_hms(line, time, ',') else {
        return p;
    };
    p.ts = Some(ts);
    let rest = line[end..].trim_start();
    let (level, rest) = split_word(rest);
    p.level = Some(level.to_string());
    let rest = rest.trim_start();
    let Some(after_open) = rest.strip_prefix('[') else {
        p.message = rest.to_string();
        return p;
    };
    let Some(close) = after_open.find("] [") else {
        p.message = rest.to_string();
        return p;
    };
    p.thread = Some(after_open[..close].to_string());
    let ctx_and_rest = &after_open[close + 3..];
    let (ctx, rest) = match ctx_and_rest.strip_prefix(']') {
        Some(r) => ("", r),
        None => match ctx_and_rest.find(";] ") {
            Some(i) => (&ctx_and_rest[..i + 1], &ctx_and_rest[i + 2..]),
            None => match ctx_and_rest.strip_suffix(";]") {
                Some(c) => (c, ""),
                None => ("", ctx_and_rest),
            },
        },
    };
    p.context = parse_context(ctx);
    let rest = rest.trim_start();
    match rest.find(" - ") {
        Some(i) => {
            p.category = Some(rest[..i].to_string());
            p.message = rest[i + 3..].to_string();
        }
        None => p.message = rest.to_string(),
    }
    p
}

/// `name=a@b.c;mid=7;ua=x;;y;` → pairs; `;;` is an escaped `;`.
pub fn parse_context(ctx: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = ctx.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ';' {
            if chars.peek() == Some(&';') {
                chars.next();
                cur.push(';');
                continue;
            }
            push_pair(&mut out, &cur);
            cur.clear();
        } else {
            cur.push(c);
        }
    }
    push_pair(&mut out, &cur);
    out
}

fn push_pair(out: &mut Vec<(String, String)>, pair: &str) {
    if let Some((k, v)) = pair.split_once('=') {
        if !k.is_empty() {
            out.push((k.to_string(), v.to_string()));
        }
    }
}

fn split_word(s: &str) -> (&str, &str) {
    match s.find(' ') {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, ""),
    }
}

/// Traditional `Mmm dd HH:MM:SS host prog[pid]: msg`, RFC 3339 and RFC 5424 syslog.
fn parse_syslog(line: &str, time: &TimeContext) -> Parsed {
    let mut p = Parsed::default();
    let rest = if let Some(r) = line.strip_prefix('<') {
        parse_rfc5424(r, time, &mut p)
    } else if kind::month_index(line.as_bytes()).is_some() {
        parse_bsd_time(line, time, &mut p)
    } else {
        parse_rfc3339_prefix(line, &mut p)
    };
    let Some(rest) = rest else {
        p.message = line.to_string();
        return p;
    };
    if p.message.is_empty() {
        let (host, rest) = split_word(rest);
        p.host = Some(host.to_string()).filter(|h| !h.is_empty());
        parse_tag(rest.trim_start(), &mut p);
    }
    if p.level.is_none() {
        p.level = level_from_message(&p.message);
    }
    p
}

fn parse_bsd_time<'a>(line: &'a str, time: &TimeContext, p: &mut Parsed) -> Option<&'a str> {
    let month = kind::month_index(line.as_bytes())? as i8;
    let rest = line.get(3..)?.trim_start_matches(' ');
    let dlen = rest.bytes().take_while(u8::is_ascii_digit).count();
    let day: i8 = rest.get(..dlen)?.parse().ok()?;
    let rest = rest.get(dlen + 1..)?;
    let (h, mi, s): (i8, i8, i8) = (num(rest, 0..2)?, num(rest, 3..5)?, num(rest, 6..8)?);
    let year = time.infer_year(month, day);
    let dt = DateTime::new(year, month, day, h, mi, s, 0).ok()?;
    p.ts = time.zoned(dt);
    rest.get(9..)
}

fn parse_rfc3339_prefix<'a>(line: &'a str, p: &mut Parsed) -> Option<&'a str> {
    let (ts, rest) = split_word(line);
    p.ts = Some(parse_rfc3339(ts)?);
    Some(rest.trim_start())
}

/// An RFC 3339 timestamp that keeps its own offset.
pub fn parse_rfc3339(ts: &str) -> Option<Zoned> {
    let t: Timestamp = ts.parse().ok()?;
    let offset = rfc3339_offset(ts)?;
    Some(t.to_zoned(TimeZone::fixed(offset)))
}

fn rfc3339_offset(ts: &str) -> Option<jiff::tz::Offset> {
    if ts.ends_with('Z') || ts.ends_with('z') {
        return Some(jiff::tz::Offset::UTC);
    }
    let i = ts.rfind(['+', '-'])?;
    let (sign, hm) = (&ts[i..i + 1], &ts[i + 1..]);
    let (h, m) = hm.split_once(':').unwrap_or((hm.get(..2)?, hm.get(2..)?));
    let secs = h.parse::<i32>().ok()? * 3600 + m.parse::<i32>().ok()? * 60;
    jiff::tz::Offset::from_seconds(if sign == "-" { -secs } else { secs }).ok()
}

/// `<pri>1 TS HOST APP PROCID MSGID SD MSG`.
fn parse_rfc5424<'a>(r: &'a str, _time: &TimeContext, p: &mut Parsed) -> Option<&'a str> {
    let close = r.find('>')?;
    let pri: u32 = r[..close].parse().ok()?;
    p.level = Some(syslog_severity(pri % 8).to_string());
    let rest = r[close + 1..].trim_start();
    if !rest.starts_with("1 ") {
        // RFC 3164 with a priority: `<13>Mar  1 10:00:00 host prog: msg`
        return if kind::month_index(rest.as_bytes()).is_some() {
            parse_bsd_time(rest, _time, p)
        } else {
            parse_rfc3339_prefix(rest, p)
        };
    }
    let mut parts = rest[2..].splitn(6, ' ');
    let ts = parts.next()?;
    p.ts = parse_rfc3339(ts);
    p.host = parts.next().filter(|h| *h != "-").map(str::to_string);
    p.program = parts.next().filter(|h| *h != "-").map(str::to_string);
    p.pid = parts.next().filter(|h| *h != "-").map(str::to_string);
    let _msgid = parts.next();
    let sd_and_msg = parts.next().unwrap_or("");
    p.message = skip_structured_data(sd_and_msg).to_string();
    Some("")
}

fn skip_structured_data(s: &str) -> &str {
    if let Some(r) = s.strip_prefix("- ") {
        return r;
    }
    if s == "-" {
        return "";
    }
    if s.starts_with('[') {
        let mut depth = 0;
        let mut escaped = false;
        for (i, c) in s.char_indices() {
            match c {
                '\\' if !escaped => {
                    escaped = true;
                    continue;
                }
                '[' if !escaped => depth += 1,
                ']' if !escaped => {
                    depth -= 1;
                    if depth == 0 && !s[i + 1..].starts_with('[') {
                        return s[i + 1..].trim_start();
                    }
                }
                _ => {}
            }
            escaped = false;
        }
    }
    s
}

fn syslog_severity(sev: u32) -> &'static str {
    [
        "EMERG", "ALERT", "CRIT", "ERROR", "WARN", "NOTICE", "INFO", "DEBUG",
    ][sev as usize % 8]
}

/// `prog[pid]: msg` or `prog: msg`.
fn parse_tag(rest: &str, p: &mut Parsed) {
    let Some(colon) = rest
        .find(": ")
        .or_else(|| rest.strip_suffix(':').map(|r| r.len()))
    else {
        p.message = rest.to_string();
        return;
    };
    let tag = &rest[..colon];
    if tag.contains(' ') {
        p.message = rest.to_string();
        return;
    }
    match tag.find('[') {
        Some(b) if tag.ends_with(']') => {
            p.program = Some(tag[..b].to_string());
            p.pid = Some(tag[b + 1..tag.len() - 1].to_string());
        }
        _ => p.program = Some(tag.to_string()),
    }
    p.message = rest.get(colon + 2..).unwrap_or("").to_string();
}

/// Postfix and friends prefix problems with `warning:`, `error:`, `fatal:`, `panic:`.
fn level_from_message(msg: &str) -> Option<String> {
    let lower = |p: &str| msg.len() >= p.len() && msg[..p.len()].eq_ignore_ascii_case(p);
    let level = if lower("warning:") || lower("warning ") || lower("###warning") {
        "WARN"
    } else if lower("error:") || lower("error ") || msg == "ERROR" || lower("*******error") {
        "ERROR"
    } else if lower("fatal:") || lower("panic:") {
        "FATAL"
    } else {
        return None;
    };
    Some(level.to_string())
}

/// zmmailboxd.out: Jetty `YYYY-MM-DD HH:MM:SS.mmm:LEVEL:logger:thread: msg`, log4j lines, JVM text.
fn parse_mailboxd(line: &str, time: &TimeContext) -> Parsed {
    if kind::is_log4j_start(line.as_bytes()) {
        return parse_log4j(line, time);
    }
    let mut p = Parsed::default();
    if let Some((ts, end)) = ymd_hms(line, time, '.') {
        p.ts = Some(ts);
        let rest = line[end..].strip_prefix(':').unwrap_or(&line[end..]);
        let mut parts = rest.splitn(3, ':');
        p.level = parts.next().map(str::to_string);
        p.category = parts.next().map(str::to_string);
        let tail = parts.next().unwrap_or("");
        match tail.find(": ") {
            Some(i) => {
                p.thread = Some(tail[..i].to_string());
                p.message = tail[i + 2..].to_string();
            }
            None => p.message = tail.trim_start().to_string(),
        }
        return p;
    }
    p.message = line.to_string();
    if line.starts_with("Exception in thread") {
        p.level = Some("ERROR".to_string());
    }
    p
}

/// nginx error log `YYYY/MM/DD HH:MM:SS [level] pid#tid: msg` or an access log line.
fn parse_nginx(line: &str, time: &TimeContext) -> Parsed {
    let mut p = Parsed::default();
    if kind::is_nginx_error_start(line.as_bytes()) {
        if let Some((ts, end)) = ymd_hms(line, time, '.') {
            p.ts = Some(ts);
            let rest = line[end..].trim_start();
            if let Some(close) = rest.find(']') {
                p.level = Some(rest[1..close].to_string());
                let rest = rest[close + 1..].trim_start();
                match rest.split_once(": ") {
                    Some((pid, msg)) if pid.contains('#') => {
                        p.pid = pid.split('#').next().map(str::to_string);
                        p.message = msg.to_string();
                    }
                    _ => p.message = rest.to_string(),
                }
            }
            return p;
        }
    }
    if let (Some(open), Some(close)) = (line.find('['), line.find(']')) {
        if open < close {
            p.ts = parse_clf_time(&line[open + 1..close]);
            p.message = line.to_string();
        }
    }
    p
}

/// `dd/Mon/YYYY:HH:MM:SS +zzzz`.
fn parse_clf_time(s: &str) -> Option<Zoned> {
    let day: i8 = num(s, 0..2)?;
    let month = kind::month_index(s.get(3..6)?.as_bytes())? as i8;
    let year: i16 = num(s, 7..11)?;
    let (h, mi, sec): (i8, i8, i8) = (num(s, 12..14)?, num(s, 15..17)?, num(s, 18..20)?);
    let off = s.get(21..)?;
    let sign = if off.starts_with('-') { -1 } else { 1 };
    let hh: i32 = num(off, 1..3)?;
    let mm: i32 = num(off, 3..5)?;
    let offset = jiff::tz::Offset::from_seconds(sign * (hh * 3600 + mm * 60)).ok()?;
    let dt = DateTime::new(year, month, day, h, mi, sec, 0).ok()?;
    TimeZone::fixed(offset)
        .to_ambiguous_zoned(dt)
        .compatible()
        .ok()
}

/// `Www Mmm dd HH:MM:SS YYYY` at the start of `s`.
fn ctime(s: &str, time: &TimeContext) -> Option<Zoned> {
    if !kind::is_ctime_start(s.as_bytes()) {
        return None;
    }
    let month = kind::month_index(&s.as_bytes()[4..])? as i8;
    let day: i8 = num(s, 8..10)?;
    let (h, mi, sec): (i8, i8, i8) = (num(s, 11..13)?, num(s, 14..16)?, num(s, 17..19)?);
    let year: i16 = num(s, 20..24)?;
    time.zoned(DateTime::new(year, month, day, h, mi, sec, 0).ok()?)
}

/// Installer and zmsetup lines: an optional ctime date, then text.
fn parse_setup(line: &str, time: &TimeContext) -> Parsed {
    let mut p = Parsed::default();
    let msg = match ctime(line, time) {
        Some(ts) => {
            p.ts = Some(ts);
            line[24..].trim_start_matches(':').trim_start()
        }
        None => match epoch_prefix(line) {
            Some((ts, rest)) => {
                p.ts = Some(ts.to_zoned(time.tz.clone()));
                rest
            }
            None => line,
        },
    };
    p.message = msg.to_string();
    p.level = level_from_message(msg);
    p
}

/// `.install_history`: `<epoch seconds>: text`.
fn epoch_prefix(line: &str) -> Option<(Timestamp, &str)> {
    let (secs, rest) = line.split_once(": ")?;
    if secs.len() < 9 || !secs.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((Timestamp::from_second(secs.parse().ok()?).ok()?, rest))
}

/// MariaDB `YYYY-MM-DD HH:MM:SS tid [Level] msg` or `YYMMDD HH:MM:SS [Level] msg`.
fn parse_mysql(line: &str, time: &TimeContext) -> Parsed {
    let mut p = Parsed::default();
    let b = line.as_bytes();
    let (date_end, year, month, day) = if b.len() > 10 && b[4] == b'-' {
        (
            10,
            num::<i16>(line, 0..4),
            num::<i8>(line, 5..7),
            num::<i8>(line, 8..10),
        )
    } else {
        (
            6,
            num::<i16>(line, 0..2).map(|y| 2000 + y),
            num::<i8>(line, 2..4),
            num::<i8>(line, 4..6),
        )
    };
    let rest = line.get(date_end..).unwrap_or("").trim_start();
    let hms_len = rest.find(' ').unwrap_or(rest.len());
    let hms: Vec<i8> = rest[..hms_len]
        .split(':')
        .filter_map(|x| x.parse().ok())
        .collect();
    if let (Some(y), Some(mo), Some(d), [h, mi, s]) = (year, month, day, hms.as_slice()) {
        if let Ok(dt) = DateTime::new(y, mo, d, *h, *mi, *s, 0) {
            p.ts = time.zoned(dt);
        }
    }
    let rest = rest[hms_len..].trim_start();
    if let (Some(open), Some(close)) = (rest.find('['), rest.find(']')) {
        if open < close && open < 24 {
            p.level = Some(rest[open + 1..close].to_string());
            p.message = rest[close + 1..].trim_start().to_string();
            return p;
        }
    }
    p.message = rest.to_string();
    p
}

/// clamd.log `Www Mmm dd HH:MM:SS YYYY -> [ERROR: |WARNING: ]msg`; freshclam lines have no time.
fn parse_clamav(line: &str, time: &TimeContext) -> Parsed {
    let mut p = Parsed::default();
    let msg = match ctime(line, time) {
        Some(ts) => {
            p.ts = Some(ts);
            line[24..]
                .trim_start()
                .trim_start_matches("->")
                .trim_start()
        }
        None => line,
    };
    p.message = msg.to_string();
    p.level = level_from_message(msg);
    p
}

/// Anything else: a leading timestamp of a common layout and a level word if one is near the
/// start.
fn parse_generic(line: &str, time: &TimeContext) -> Parsed {
    let mut p = Parsed::default();
    let b = line.as_bytes();
    let mut rest = line;
    if b.len() >= 19 && b[4] == b'-' && (b[10] == b' ' || b[10] == b'T') {
        let sep = if line[19..].starts_with(',') {
            ','
        } else {
            '.'
        };
        if let Some((ts, end)) = ymd_hms(line, time, sep) {
            p.ts = Some(ts);
            rest = line[end..].trim_start();
        }
    } else if kind::is_syslog_start(b) {
        return parse_syslog(line, time);
    } else if let Some(ts) = ctime(line, time) {
        p.ts = Some(ts);
        rest = line[24..].trim_start();
    }
    p.level = level_word(rest);
    p.message = rest.to_string();
    p
}

fn level_word(s: &str) -> Option<String> {
    const LEVELS: [&str; 9] = [
        "TRACE", "DEBUG", "INFO", "NOTICE", "WARN", "WARNING", "ERROR", "FATAL", "CRIT",
    ];
    s.split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| !w.is_empty())
        .take(4)
        .find(|w| LEVELS.contains(w))
        .map(str::to_string)
}

/// Normalises a level for comparison: upper case, `WARNING` → `WARN`, `ERR` → `ERROR`.
pub fn normalize_level(level: &str) -> String {
    let up = level.trim().to_ascii_uppercase();
    match up.as_str() {
        "WARNING" => "WARN".to_string(),
        "ERR" => "ERROR".to_string(),
        "CRITICAL" => "CRIT".to_string(),
        _ => up,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tc() -> TimeContext {
        TimeContext::new(
            TimeZone::fixed(jiff::tz::offset(7)),
            None,
            "2026-01-02T00:00:00Z".parse().ok(),
        )
    }

    fn ev(kind: LogKind, s: &str) -> Parsed {
        parse(&Event::from_bytes(kind, s.as_bytes(), 1, 0, false), &tc())
    }

    #[test]
    fn log4j_line() {
        let p = ev(LogKind::Mailbox, "2025-03-01 10:15:02,117 INFO  [qtp1-187:https://[::1]:443/service/soap/SearchRequest] [name=user@example.com;mid=42;ip=203.0.113.9;ua=Zimbra;;X;] mailbox - hello - world\n\tat x");
        assert_eq!(
            format_ts(p.ts.as_ref().unwrap()),
            "2025-03-01T10:15:02.117+07:00"
        );
        assert_eq!(p.level.as_deref(), Some("INFO"));
        assert_eq!(
            p.thread.as_deref(),
            Some("qtp1-187:https://[::1]:443/service/soap/SearchRequest")
        );
        assert_eq!(p.context_value("name"), Some("user@example.com"));
        assert_eq!(p.context_value("ua"), Some("Zimbra;X"));
        assert_eq!(p.category.as_deref(), Some("mailbox"));
        assert_eq!(p.message, "hello - world");
    }

    #[test]
    fn log4j_empty_context() {
        let p = ev(
            LogKind::Mailbox,
            "2025-03-01 10:15:02,117 FATAL [main] [] system - halting",
        );
        assert_eq!(p.level.as_deref(), Some("FATAL"));
        assert!(p.context.is_empty());
        assert_eq!(p.message, "halting");
    }

    #[test]
    fn syslog_infers_year_across_new_year() {
        let dec = ev(
            LogKind::Syslog,
            "Dec 31 23:59:59 mta1 postfix/smtpd[123]: warning: hostname x does not resolve",
        );
        let jan = ev(
            LogKind::Syslog,
            "Jan  1 00:00:01 mta1 postfix/smtpd[123]: connect from x",
        );
        assert_eq!(dec.ts.as_ref().unwrap().year(), 2025);
        assert_eq!(jan.ts.as_ref().unwrap().year(), 2026);
        assert_eq!(dec.host.as_deref(), Some("mta1"));
        assert_eq!(dec.program.as_deref(), Some("postfix/smtpd"));
        assert_eq!(dec.pid.as_deref(), Some("123"));
        assert_eq!(dec.level.as_deref(), Some("WARN"));
        assert_eq!(jan.message, "connect from x");
    }

    #[test]
    fn forced_year() {
        let t = TimeContext::new(
            TimeZone::UTC,
            Some(2024),
            "2026-05-02T00:00:00Z".parse().ok(),
        );
        assert_eq!(t.infer_year(5, 1), 2024);
        assert_eq!(t.infer_year(12, 1), 2023);
    }

    #[test]
    fn syslog_rfc3339_keeps_offset() {
        let p = ev(
            LogKind::Syslog,
            "2025-03-01T10:00:00.123456+02:00 mbx1 slapd[99]: conn=1 fd=2 closed",
        );
        assert_eq!(
            format_ts(p.ts.as_ref().unwrap()),
            "2025-03-01T10:00:00.123+02:00"
        );
        assert_eq!(p.program.as_deref(), Some("slapd"));
    }

    #[test]
    fn syslog_rfc5424() {
        let p = ev(
            LogKind::Syslog,
            "<131>1 2025-03-01T10:00:00Z mbx1 zmconfigd 77 - - Failed to do x",
        );
        assert_eq!(p.level.as_deref(), Some("ERROR"));
        assert_eq!(p.host.as_deref(), Some("mbx1"));
        assert_eq!(p.program.as_deref(), Some("zmconfigd"));
        assert_eq!(p.message, "Failed to do x");
    }

    #[test]
    fn nginx_lines() {
        let p = ev(LogKind::Nginx, "2026/03/14 23:10:01 [error] 2381#0: *52 connect() failed (111: Connection refused) while connecting to upstream");
        assert_eq!(p.level.as_deref(), Some("error"));
        assert_eq!(p.pid.as_deref(), Some("2381"));
        assert!(p.message.starts_with("*52 connect()"));
        let a = ev(LogKind::Nginx, "203.0.113.9:51234 - - [14/Mar/2026:23:10:01 +0100]  \"GET https://mail.example.com/ HTTP/1.1\" 200 512");
        assert_eq!(
            format_ts(a.ts.as_ref().unwrap()),
            "2026-03-14T23:10:01.000+01:00"
        );
    }

    #[test]
    fn setup_mysql_clamav_mailboxd() {
        let s = ev(
            LogKind::Setup,
            "Sat Mar 14 23:07:43 2026 failed to activate license.",
        );
        assert_eq!(s.ts.as_ref().unwrap().day(), 14);
        assert_eq!(s.message, "failed to activate license.");
        let e = ev(
            LogKind::Setup,
            "ERROR: The ZCS Network upgrade requires a license",
        );
        assert_eq!(e.level.as_deref(), Some("ERROR"));
        let m = ev(
            LogKind::Mysql,
            "2019-09-20 13:46:36 0 [ERROR] InnoDB: corrupt",
        );
        assert_eq!(m.level.as_deref(), Some("ERROR"));
        assert_eq!(m.message, "InnoDB: corrupt");
        let m2 = ev(LogKind::Mysql, "130324  0:04:00 [Warning] Access denied");
        assert_eq!(m2.ts.as_ref().unwrap().year(), 2013);
        let c = ev(
            LogKind::Clamav,
            "Sat Mar 14 23:07:43 2026 -> ERROR: Can't open file",
        );
        assert_eq!(c.level.as_deref(), Some("ERROR"));
        let j = ev(LogKind::Mailboxd, "2026-03-14 23:07:43.123:WARN:oejs.DoSFilter:qtp1-190:https://x:443/a: DOS ALERT: Request rejected ip=1.2.3.4");
        assert_eq!(j.level.as_deref(), Some("WARN"));
        assert_eq!(j.message, "DOS ALERT: Request rejected ip=1.2.3.4");
    }
}
