//! The shape of a log message: its text cut into constant words and variable parts (numbers,
//! hex ids, UUIDs, accounts and addresses, IPs, paths, URLs, quoted values, durations, words
//! with digits in them such as `hsm-archive-3`). `zkb unknown` groups events by this shape, and
//! `zkb learn` turns it into a rule's regex with a named capture for each variable part.

use std::fmt::Write as _;

/// What kind of variable part a piece is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Var {
    Number,
    Duration,
    Hex,
    Uuid,
    Email,
    Ip,
    Path,
    Url,
    Quoted,
    /// A word with digits in it: a host, a thread, a volume name, a version.
    Id,
}

impl Var {
    /// The placeholder shown in templates.
    pub fn placeholder(self) -> &'static str {
        match self {
            Var::Number => "<num>",
            Var::Duration => "<duration>",
            Var::Hex => "<hex>",
            Var::Uuid => "<uuid>",
            Var::Email => "<email>",
            Var::Ip => "<ip>",
            Var::Path => "<path>",
            Var::Url => "<url>",
            Var::Quoted => "<quoted>",
            Var::Id => "<id>",
        }
    }

    /// The regex a capture of this kind uses: wide enough for other values of the kind, and
    /// stopping at the punctuation that ends such a value in Zimbra's logs.
    pub fn pattern(self) -> &'static str {
        match self {
            Var::Number => r"-?\d+(?:[.,]\d+)?",
            Var::Duration => r"\d+(?:\.\d+)?[a-zA-Z]+",
            Var::Hex => r"(?:0x)?[0-9a-fA-F]+",
            Var::Uuid => {
                r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
            }
            Var::Email => r"[^\s@\[\];,<>]+@[^\s\[\];,<>]+",
            Var::Ip => r"[0-9a-fA-F.:]*[0-9a-fA-F]",
            Var::Path => r"/[^\s,;]*[^\s,;.:)\]]",
            Var::Url => r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s,;]*[^\s,;.:)\]]",
            Var::Quoted => r"[^\x22\x27\n]*",
            Var::Id => r"[^\s,;:()\[\]<>=]*[^\s,;:()\[\]<>=.]",
        }
    }

    /// The capture name for a value with no better name from its neighbours.
    fn default_name(self) -> &'static str {
        match self {
            Var::Number => "n",
            Var::Duration => "duration",
            Var::Hex => "id",
            Var::Uuid => "uuid",
            Var::Email => "account",
            Var::Ip => "ip",
            Var::Path => "path",
            Var::Url => "url",
            Var::Quoted => "value",
            Var::Id => "name",
        }
    }
}

/// One piece of a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Constant text (no white space in it).
    Const(&'a str),
    /// A variable part, with what names it (`mailbox` of `mailbox=41`, `shard` of `shard 17`).
    Var(Var, &'a str),
    /// A run of white space.
    Space,
}

/// Cuts `text` into pieces.
pub fn pieces(text: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let space = rest.len() - rest.trim_start().len();
        if space > 0 {
            out.push(Piece::Space);
            rest = &rest[space..];
            continue;
        }
        if let Some(n) = quoted(rest, &mut out) {
            rest = &rest[n..];
            continue;
        }
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        // `key="a value"`: the key, then the quoted value (which may hold spaces).
        if let Some(eq) = rest[..end].find(['=']) {
            let mut value = Vec::new();
            if let Some(n) = quoted(&rest[eq + 1..], &mut value) {
                word(&rest[..=eq], &mut out);
                out.extend(value);
                rest = &rest[eq + 1 + n..];
                continue;
            }
        }
        word(&rest[..end], &mut out);
        rest = &rest[end..];
    }
    out
}

/// A quoted value at the start of `rest` (which may hold spaces), as quote, value, quote;
/// returns the bytes taken.
fn quoted<'a>(rest: &'a str, out: &mut Vec<Piece<'a>>) -> Option<usize> {
    let q = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let close = rest[1..].find([q, '\n'])? + 1;
    if rest[close..].starts_with('\n') {
        return None;
    }
    let after = rest[close + 1..].chars().next();
    if after.is_some_and(|c| c.is_alphanumeric()) {
        return None;
    }
    out.push(Piece::Const(&rest[..1]));
    if close > 1 {
        out.push(Piece::Var(Var::Quoted, &rest[1..close]));
    }
    out.push(Piece::Const(&rest[close..close + 1]));
    Some(close + 1)
}

const LEADING: &[char] = &['(', '[', '{', '<', '"', '\''];
const TRAILING: &[char] = &[',', ';', ':', '.', ')', ']', '}', '>', '"', '\'', '!', '?'];

/// One white-space-free word: its punctuation, then `key=value` or a value of its own.
fn word<'a>(w: &'a str, out: &mut Vec<Piece<'a>>) {
    let core_start = w.len() - w.trim_start_matches(LEADING).len();
    let mut core_end = w.trim_end_matches(TRAILING).len().max(core_start);
    // Keep a path's or an address's own last character when it is not punctuation of the
    // sentence (`/opt/zimbra/store2/` stays whole).
    if core_end < w.len() && w[core_start..].starts_with('/') && w.as_bytes()[core_end] == b'/' {
        core_end += 1;
    }
    if core_start > 0 {
        out.push(Piece::Const(&w[..core_start]));
    }
    core(&w[core_start..core_end], out);
    if core_end < w.len() {
        out.push(Piece::Const(&w[core_end..]));
    }
}

fn core<'a>(c: &'a str, out: &mut Vec<Piece<'a>>) {
    if c.is_empty() {
        return;
    }
    let whole = c.contains("://") || c.starts_with('/');
    if let Some(eq) = c.find('=').filter(|_| !whole) {
        let (key, value) = (&c[..=eq], &c[eq + 1..]);
        if !value.is_empty() {
            out.push(Piece::Const(key));
            core(value, out);
            return;
        }
    }
    match classify(c) {
        Some(v) => out.push(Piece::Var(v, c)),
        None => out.push(Piece::Const(c)),
    }
}

/// The kind of a variable word, `None` for a constant one.
pub fn classify(w: &str) -> Option<Var> {
    let digits = w.bytes().filter(u8::is_ascii_digit).count();
    if w.contains("://") {
        return Some(Var::Url);
    }
    if w.starts_with('/') && w.len() > 1 {
        return Some(Var::Path);
    }
    if let Some((user, domain)) = w.split_once('@') {
        if !user.is_empty() && domain.contains('.') && !domain.contains('@') {
            return Some(Var::Email);
        }
    }
    if is_uuid(w) {
        return Some(Var::Uuid);
    }
    if is_ip(w) {
        return Some(Var::Ip);
    }
    if digits == 0 {
        return None;
    }
    let b = w.as_bytes();
    let number = b
        .iter()
        .all(|c| c.is_ascii_digit() || *c == b'.' || *c == b',')
        || (b[0] == b'-' && b.len() > 1 && b[1..].iter().all(u8::is_ascii_digit));
    if number && b.iter().any(u8::is_ascii_digit) {
        return Some(Var::Number);
    }
    let unit = w.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.');
    if unit.len() < w.len() && ["ms", "s", "sec", "m", "min", "h", "d", "us", "ns"].contains(&unit)
    {
        return Some(Var::Duration);
    }
    if (w.len() >= 8 && w.bytes().all(|c| c.is_ascii_hexdigit()))
        || (w.starts_with("0x") && w.len() > 2 && w[2..].bytes().all(|c| c.is_ascii_hexdigit()))
    {
        return Some(Var::Hex);
    }
    Some(Var::Id)
}

fn is_uuid(w: &str) -> bool {
    let parts: Vec<&str> = w.split('-').collect();
    parts.len() == 5
        && parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && parts
            .iter()
            .all(|p| p.bytes().all(|c| c.is_ascii_hexdigit()))
}

fn is_ip(w: &str) -> bool {
    let host = w.rsplit_once(':').map_or(w, |(h, port)| {
        if port.bytes().all(|c| c.is_ascii_digit()) && h.contains('.') {
            h
        } else {
            w
        }
    });
    let quads: Vec<&str> = host.split('.').collect();
    if quads.len() == 4
        && quads
            .iter()
            .all(|q| !q.is_empty() && q.len() <= 3 && q.bytes().all(|c| c.is_ascii_digit()))
    {
        return true;
    }
    w.matches(':').count() >= 2
        && w.bytes().all(|c| c.is_ascii_hexdigit() || c == b':')
        && w.bytes().any(|c| c.is_ascii_hexdigit())
}

/// The template of `text`: constant words kept, each variable part as its placeholder, white
/// space as one space.
pub fn template(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for p in pieces(text) {
        match p {
            Piece::Const(c) => out.push_str(c),
            Piece::Var(v, _) => out.push_str(v.placeholder()),
            Piece::Space => out.push(' '),
        }
    }
    out.trim().to_string()
}

/// Words that do not name the value after them.
const NOT_NAMES: &[&str] = &[
    "a", "an", "the", "for", "of", "to", "in", "on", "at", "by", "from", "with", "after", "before",
    "and", "or", "is", "was", "are", "be", "as", "into", "than", "via", "within", "over", "under",
    "took", "got", "has", "have", "had",
];

/// Units that name the number before them.
const UNITS: &[&str] = &[
    "ms", "s", "sec", "secs", "seconds", "minutes", "min", "hours", "days", "bytes", "kb", "mb",
    "gb", "tries", "attempts", "times", "retries",
];

/// A capture name for each variable piece, in order: from `key=` before it, a unit after it, or
/// the word before it, else from its kind; made unique with `_2`, `_3`…
pub fn capture_names(pieces: &[Piece<'_>]) -> Vec<String> {
    let words: Vec<Option<&str>> = pieces
        .iter()
        .map(|p| match p {
            Piece::Const(c) => Some(*c),
            _ => None,
        })
        .collect();
    let mut names: Vec<String> = Vec::new();
    for (i, p) in pieces.iter().enumerate() {
        let Piece::Var(v, _) = p else { continue };
        let before = i.checked_sub(1).and_then(|j| words[j]);
        let before_word = i
            .checked_sub(2)
            .and_then(|j| words[j])
            .filter(|_| matches!(i.checked_sub(1).map(|j| &pieces[j]), Some(Piece::Space)));
        let after_word = words
            .get(i + 2)
            .copied()
            .flatten()
            .filter(|_| matches!(pieces.get(i + 1), Some(Piece::Space)));
        let name = before
            .and_then(|b| b.strip_suffix('='))
            .map(str::to_string)
            .or_else(|| {
                after_word
                    .map(|w| w.to_ascii_lowercase())
                    .filter(|w| matches!(v, Var::Number) && UNITS.contains(&w.as_str()))
            })
            .or_else(|| {
                before_word
                    .map(|w| w.trim_end_matches(':').to_ascii_lowercase())
                    .filter(|w| !NOT_NAMES.contains(&w.as_str()) && !w.is_empty())
            })
            .map(|n| identifier(&n))
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| v.default_name().to_string());
        names.push(unique(&names, name));
    }
    names
}

/// `name` as a regex group name: lower-case letters, digits and `_`, not starting with a digit.
fn identifier(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    s = s.trim_matches('_').to_string();
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, 'v');
    }
    s.truncate(24);
    s
}

fn unique(taken: &[String], name: String) -> String {
    if !taken.contains(&name) {
        return name;
    }
    let mut n = 2;
    loop {
        let mut candidate = name.clone();
        let _ = write!(candidate, "_{n}");
        if !taken.contains(&candidate) {
            return candidate;
        }
        n += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_parts_are_masked_by_kind() {
        assert_eq!(
            template(
                "Frobnicator quota shard 17 refused lease for volume hsm-archive-3 after 5000 ms"
            ),
            "Frobnicator quota shard <num> refused lease for volume <id> after <num> ms"
        );
        assert_eq!(
            template("No such blob: mailbox=41, item=257 for [anna@example.com] at /opt/zimbra/store2/0/41 from 10.0.0.5:7071"),
            "No such blob: mailbox=<num>, item=<num> for [<email>] at <path> from <ip>"
        );
        assert_eq!(
            template("id 6f1c2a9b3d4e5f60 session 0b1e8c5a-3f4d-4e2b-9a7c-1d2e3f4a5b6c took 1.5s, user \"Ann Smith\" url https://mail.example.com/x"),
            "id <hex> session <uuid> took <duration>, user \"<quoted>\" url <url>"
        );
    }

    #[test]
    fn lines_of_one_shape_share_a_template() {
        let a = template("widget 3 failed after 17 tries on /opt/zimbra/data/tmp/1234");
        let b = template("widget 39   failed after 996 tries on /opt/zimbra/data/tmp/88");
        assert_eq!(a, b);
        assert_ne!(a, template("widget 3 succeeded after 17 tries on /tmp/1"));
    }

    #[test]
    fn captures_are_named_from_their_neighbours() {
        let p = pieces("Frobnicator quota shard 17 refused lease for volume hsm-archive-3 after 5000 ms mailbox=4 for bob@example.org shard 2");
        assert_eq!(
            capture_names(&p),
            ["shard", "volume", "ms", "mailbox", "account", "shard_2"]
        );
    }

    #[test]
    fn nothing_is_lost_when_pieces_are_joined_back() {
        for text in [
            "a (b) [c@d.e]: x=1, y='two words' /p/q. end?",
            "'unclosed quote and \"odd\"thing",
            "== ++ -- ::1 ::",
        ] {
            let joined: String = pieces(text)
                .iter()
                .map(|p| match p {
                    Piece::Const(c) | Piece::Var(_, c) => c.to_string(),
                    Piece::Space => " ".into(),
                })
                .collect();
            assert_eq!(joined, text);
        }
    }
}
