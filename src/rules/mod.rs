//! Rules: the YAML format of `docs/rules.md`, loading (embedded, extra directories), compiling
//! match trees, and evaluating one rule on one event. The matcher decides which rules to try.

pub mod literals;
mod spec;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use regex::Regex;
use serde::Serialize;

pub use spec::{
    Expected, MatchSpec, MatchTest, NoMatchTest, RuleSpec, Severity, TestsSpec, ThresholdSpec,
    WindowMark,
};

use crate::error::Error;
use crate::kind::LogKind;
use crate::parse::{normalize_level, Parsed};

/// A regex checked for syntax when the rule loads and compiled on first use, so start-up does
/// not pay for rules that never see a candidate event.
#[derive(Clone, Debug)]
pub struct LazyRegex {
    pattern: String,
    /// Its required literals, taken from the syntax tree parsed for the check.
    required: literals::Required,
    compiled: std::sync::OnceLock<Option<Regex>>,
}

impl LazyRegex {
    fn new(pattern: &str) -> std::result::Result<LazyRegex, String> {
        let hir = regex_syntax::ParserBuilder::new()
            .build()
            .parse(pattern)
            .map_err(|e| format!("bad regex {pattern:?}: {e}"))?;
        Ok(LazyRegex {
            pattern: pattern.to_string(),
            required: literals::of_hir(&hir),
            compiled: std::sync::OnceLock::new(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// The compiled regex; `None` (never matches) if it exceeds the size limit.
    pub fn get(&self) -> Option<&Regex> {
        self.compiled
            .get_or_init(|| {
                regex::RegexBuilder::new(&self.pattern)
                    .size_limit(10 * (1 << 20))
                    .build()
                    .ok()
            })
            .as_ref()
    }

    /// Compiles now and reports a failure (for `zkb check`).
    pub fn compile_error(&self) -> Option<String> {
        match regex::RegexBuilder::new(&self.pattern)
            .size_limit(10 * (1 << 20))
            .build()
        {
            Ok(_) => None,
            Err(e) => Some(format!("regex {:?} does not compile: {e}", self.pattern)),
        }
    }
}

/// A compiled match tree.
#[derive(Clone, Debug)]
pub enum Node {
    Regex(LazyRegex),
    Contains(String),
    Any(Vec<Node>),
    All(Vec<Node>),
    Not(Box<Node>),
}

/// Captured fields of one match, in capture order.
pub type Fields = Vec<(String, String)>;

impl Node {
    /// Evaluates the tree on the whole event text; `Some(fields)` on a match.
    pub fn eval(&self, text: &str) -> Option<Fields> {
        match self {
            Node::Regex(lazy) => {
                let re = lazy.get()?;
                let caps = re.captures(text)?;
                let mut fields = Fields::new();
                for name in re.capture_names().flatten() {
                    if let Some(m) = caps.name(name) {
                        fields.push((name.to_string(), m.as_str().to_string()));
                    }
                }
                Some(fields)
            }
            Node::Contains(s) => text.contains(s.as_str()).then(Fields::new),
            Node::Any(children) => {
                let mut hit = None::<Fields>;
                for c in children {
                    if let Some(f) = c.eval(text) {
                        hit.get_or_insert_with(Fields::new).extend(f);
                    }
                }
                hit
            }
            Node::All(children) => {
                let mut fields = Fields::new();
                for c in children {
                    fields.extend(c.eval(text)?);
                }
                Some(fields)
            }
            Node::Not(child) => child.eval(text).is_none().then(Fields::new),
        }
    }

    /// The literals one of which every match contains (see [`literals`]).
    pub fn required(&self) -> literals::Required {
        match self {
            Node::Regex(re) => re.required.clone(),
            Node::Contains(s) => literals::of_literal(s),
            Node::Any(children) => literals::union(children.iter().map(Node::required)),
            Node::All(children) => children
                .iter()
                .filter(|c| !matches!(c, Node::Not(_)))
                .map(Node::required)
                .fold(None, literals::better),
            Node::Not(_) => None,
        }
    }

    /// A regex (named groups dropped) that, searched with `^`/`$` as line anchors over a
    /// buffer of whole events, matches inside every event the tree matches; `None` when there
    /// is none (a negation alone, absolute anchors or flags that would change the meaning).
    pub fn buffer_prefilter(&self) -> Option<String> {
        match self {
            Node::Regex(re) => {
                let p = re.as_str();
                // Absolute anchors, and a flag group that could switch multi-line off again.
                let unsafe_in_buffer = [r"\A", r"\z", "(?-"].iter().any(|t| p.contains(t));
                (!unsafe_in_buffer).then(|| without_group_names(p))
            }
            Node::Contains(s) => Some(regex::escape(s)),
            Node::Any(cs) => cs
                .iter()
                .map(|c| c.buffer_prefilter().map(|p| format!("(?:{p})")))
                .collect::<Option<Vec<_>>>()
                .map(|ps| ps.join("|")),
            Node::All(cs) => cs.iter().find_map(Node::buffer_prefilter),
            Node::Not(_) => None,
        }
    }

    /// Compile errors of every regex in the tree (for `zkb check`).
    pub fn compile_errors(&self, out: &mut Vec<String>) {
        match self {
            Node::Regex(r) => out.extend(r.compile_error()),
            Node::Contains(_) => {}
            Node::Any(cs) | Node::All(cs) => cs.iter().for_each(|c| c.compile_errors(out)),
            Node::Not(c) => c.compile_errors(out),
        }
    }

    /// Every regex and literal the tree matches with, as regex strings (negations left out).
    /// Named groups become plain groups, so the list can be handed to other tools as one
    /// alternation (`rg -f`) without clashing group names.
    pub fn patterns(&self, out: &mut Vec<String>) {
        match self {
            Node::Regex(re) => out.push(without_group_names(re.as_str())),
            Node::Contains(s) => out.push(regex::escape(s)),
            Node::Any(cs) | Node::All(cs) => cs.iter().for_each(|c| c.patterns(out)),
            Node::Not(_) => {}
        }
    }

    fn compile(spec: &MatchSpec) -> std::result::Result<Node, String> {
        Ok(match spec {
            MatchSpec::Regex(p) => Node::Regex(LazyRegex::new(p)?),
            MatchSpec::Contains(s) if s.is_empty() => return Err("empty `contains`".into()),
            MatchSpec::Contains(s) => Node::Contains(s.clone()),
            MatchSpec::Any(cs) | MatchSpec::All(cs) if cs.is_empty() => {
                return Err("`any`/`all` needs at least one entry".into())
            }
            MatchSpec::Any(cs) => Node::Any(
                cs.iter()
                    .map(Node::compile)
                    .collect::<std::result::Result<_, _>>()?,
            ),
            MatchSpec::All(cs) => Node::All(
                cs.iter()
                    .map(Node::compile)
                    .collect::<std::result::Result<_, _>>()?,
            ),
            MatchSpec::Not(c) => Node::Not(Box::new(Node::compile(c)?)),
        })
    }
}

/// How many occurrences within how long make a thresholded rule report.
#[derive(Clone, Debug, Serialize)]
pub struct Threshold {
    pub count: u32,
    #[serde(skip)]
    pub window: Duration,
    #[serde(rename = "window")]
    pub window_text: String,
}

/// A compiled rule.
#[derive(Clone, Debug)]
pub struct Rule {
    pub id: String,
    pub title: String,
    pub severity: Severity,
    pub tags: Vec<String>,
    pub kinds: Vec<LogKind>,
    /// Normalised (`WARN`, `ERROR`, …).
    pub levels: Vec<String>,
    pub programs: Vec<String>,
    pub node: Node,
    pub group_by: Vec<String>,
    pub threshold: Option<Threshold>,
    pub kb: Vec<String>,
    /// See [`RuleSpec::resolves`].
    pub resolves: Vec<String>,
    /// See [`RuleSpec::resolve_only`].
    pub resolve_only: bool,
    /// See [`RuleSpec::quiet`].
    pub quiet: Option<Duration>,
    /// See [`RuleSpec::expected_during`].
    pub expected_during: Vec<Expected>,
    /// See [`RuleSpec::maintenance`].
    pub maintenance: Option<WindowMark>,
    /// See [`RuleSpec::probes`].
    pub probes: Vec<String>,
    pub tests: TestsSpec,
    /// File the rule came from (`rules/store.yaml` for embedded ones).
    pub source: String,
    /// Line of the rule's `id:` in that file.
    pub line: usize,
}

impl Rule {
    /// Compiles a parsed spec; `source`/`text` locate errors.
    pub fn compile(spec: RuleSpec, source: &str, text: &str) -> std::result::Result<Rule, Error> {
        let line = line_of_id(text, &spec.id);
        Self::compile_at(spec, source, line)
    }

    /// Compiles a parsed spec whose `id:` is at `line` of `source`.
    pub fn compile_at(
        spec: RuleSpec,
        source: &str,
        line: usize,
    ) -> std::result::Result<Rule, Error> {
        let err = |message: String| Error::Rule {
            file: source.to_string(),
            line,
            id: spec.id.clone(),
            message,
        };
        if spec.id.is_empty()
            || !spec
                .id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        {
            return Err(err(
                "id must be lower-case letters, digits, `.`, `_` and `-`".into(),
            ));
        }
        if spec.resolve_only && spec.resolves.is_empty() {
            return Err(err(
                "resolve_only needs the rules it resolves (resolves: [...])".into(),
            ));
        }
        let quiet = match spec.quiet.as_deref() {
            None => None,
            Some(q) => match parse_duration(q) {
                Some(d) if !d.is_zero() => Some(d),
                _ => return Err(err(format!("bad quiet time {q:?} (use 30m, 2h)"))),
            },
        };
        let node = Node::compile(&spec.matcher).map_err(err)?;
        let threshold = match &spec.threshold {
            None => None,
            Some(t) => Some(Threshold {
                count: t.count.max(1),
                window: parse_duration(&t.window)
                    .ok_or_else(|| err(format!("bad threshold window {:?}", t.window)))?,
                window_text: t.window.clone(),
            }),
        };
        Ok(Rule {
            title: spec.title,
            severity: spec.severity,
            tags: spec.tags,
            kinds: spec.kinds,
            levels: spec.levels.iter().map(|l| normalize_level(l)).collect(),
            programs: spec.programs,
            node,
            group_by: spec.group_by,
            threshold,
            kb: spec.kb,
            resolves: spec.resolves,
            resolve_only: spec.resolve_only,
            quiet,
            expected_during: spec.expected_during,
            maintenance: spec.maintenance,
            probes: spec.probes,
            tests: spec.tests,
            source: source.to_string(),
            line,
            id: spec.id,
        })
    }

    /// Whether the event's kind passes the `kinds` filter.
    pub fn accepts_kind(&self, kind: LogKind) -> bool {
        self.kinds.is_empty() || self.kinds.contains(&kind)
    }

    /// Whether the parsed event passes the `levels` and `programs` filters.
    pub fn accepts_fields(&self, p: &Parsed) -> bool {
        if !self.levels.is_empty() {
            match &p.level {
                Some(l) if self.levels.contains(&normalize_level(l)) => {}
                _ => return false,
            }
        }
        if !self.programs.is_empty() {
            let Some(prog) = &p.program else { return false };
            let ok = self
                .programs
                .iter()
                .any(|want| match want.strip_suffix('*') {
                    Some(prefix) => prog.starts_with(prefix),
                    None => prog == want,
                });
            if !ok {
                return false;
            }
        }
        true
    }

    /// Every regex and literal the rule matches with.
    pub fn patterns(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.node.patterns(&mut out);
        out
    }

    /// The kind a test event of this rule is read as.
    pub fn test_kind(&self, explicit: Option<LogKind>) -> LogKind {
        explicit
            .or_else(|| self.kinds.first().copied())
            .unwrap_or(LogKind::Generic)
    }
}

/// Rewrites `(?P<name>` and `(?<name>` as `(?:`, leaving escapes and classes alone.
pub fn without_group_names(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut rest = pattern;
    let mut in_class = false;
    while let Some(c) = rest.chars().next() {
        if c == '\\' {
            let n = rest.chars().nth(1).map_or(1, |x| 1 + x.len_utf8());
            out.push_str(&rest[..n]);
            rest = &rest[n..];
            continue;
        }
        if in_class {
            in_class = c != ']';
        } else if c == '[' {
            in_class = true;
            out.push(c);
            rest = &rest[1..];
            // A `]` right after `[` or `[^` is a literal member.
            for prefix in ["^]", "]", "^"] {
                if let Some(r) = rest.strip_prefix(prefix) {
                    out.push_str(prefix);
                    rest = r;
                    break;
                }
            }
            continue;
        } else if let Some(r) = rest.strip_prefix("(?P<").or_else(|| {
            rest.strip_prefix("(?<")
                .filter(|r| !r.starts_with(['=', '!']))
        }) {
            if let Some(end) = r.find('>') {
                out.push_str("(?:");
                rest = &r[end + 1..];
                continue;
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// `30s`, `10m`, `2h`, `1d`, or plain seconds.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num.parse().ok()?;
    let secs = match unit.trim() {
        "ms" => return Some(Duration::from_millis(n)),
        "" | "s" | "sec" => n,
        "m" | "min" => n * 60,
        "h" => n * 3600,
        "d" => n * 86400,
        _ => return None,
    };
    Some(Duration::from_secs(secs))
}

/// The 1-based line of every `id: <id>` in a rule file, in one pass.
fn id_lines(text: &str) -> std::collections::HashMap<&str, usize> {
    let mut out = std::collections::HashMap::new();
    for (i, l) in text.lines().enumerate() {
        let l = l.trim_start().trim_start_matches("- ").trim_start();
        if let Some(v) = l.strip_prefix("id:") {
            out.entry(v.trim().trim_matches(['"', '\'']))
                .or_insert(i + 1);
        }
    }
    out
}

/// 1-based line of `id: <id>` in a rule file (1 when not found).
fn line_of_id(text: &str, id: &str) -> usize {
    text.lines()
        .position(|l| {
            let l = l.trim_start().trim_start_matches("- ").trim_start();
            l.strip_prefix("id:")
                .map(|v| v.trim().trim_matches(['"', '\'']) == id)
                .unwrap_or(false)
        })
        .map_or(1, |i| i + 1)
}

/// Rules and the errors met while loading them (a broken file does not stop the others).
#[derive(Default)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
    pub errors: Vec<Error>,
}

impl RuleSet {
    /// The shipped rules embedded in the binary, without their tests (a scan does not read
    /// them, and they are most of the YAML to parse).
    pub fn embedded() -> RuleSet {
        Self::from_texts(crate::embedded::RULES_LEAN)
    }

    /// The shipped rules with their match and no-match tests (for `zkb check` and the
    /// generator, which draws problem events from them).
    pub fn embedded_with_tests() -> RuleSet {
        Self::from_texts(crate::embedded::RULES)
    }

    fn from_texts(files: &[(&str, &str)]) -> RuleSet {
        let mut set = RuleSet::default();
        for (path, text) in files {
            set.add_text(path, text);
        }
        set
    }

    /// Adds every `*.yaml`/`*.yml` file under `dir` (recursively).
    pub fn add_dir(&mut self, dir: &Path) {
        let (texts, errors) = crate::sources::read_tree(dir, &["yaml", "yml"]);
        self.errors.extend(errors);
        for (name, text) in texts {
            self.add_text(&name, &text);
        }
    }

    /// Parses one rule file's text: a mapping (one rule) or a list.
    pub fn add_text(&mut self, source: &str, text: &str) {
        let specs = match spec::parse_file(text) {
            Ok(s) => s,
            Err(e) => {
                let line = e.location().map_or(0, |l| l.line());
                self.errors.push(Error::RuleFile {
                    file: source.to_string(),
                    line,
                    message: e.to_string(),
                });
                return;
            }
        };
        let lines = id_lines(text);
        for s in specs {
            let line = lines.get(s.id.as_str()).copied().unwrap_or(1);
            match Rule::compile_at(s, source, line) {
                Ok(r) => self.rules.push(r),
                Err(e) => self.errors.push(e),
            }
        }
    }

    /// Ids that occur more than once, with the sources.
    pub fn duplicates(&self) -> Vec<(String, Vec<String>)> {
        let mut by_id: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for r in &self.rules {
            by_id
                .entry(&r.id)
                .or_default()
                .push(format!("{}:{}", r.source, r.line));
        }
        by_id
            .into_iter()
            .filter(|(_, v)| v.len() > 1)
            .map(|(k, v)| (k.to_string(), v))
            .collect()
    }

    /// Keeps the first rule of each id (later duplicates are reported by `zkb check`).
    pub fn dedup(&mut self) {
        let mut seen = std::collections::HashSet::new();
        self.rules.retain(|r| seen.insert(r.id.clone()));
    }
}

/// Whether the shipped rules are loaded with their tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tests {
    /// Only for matching: faster to load.
    Skip,
    /// With the `tests:` blocks (checking, generating logs).
    Load,
}

/// Where the rules of a run come from: the shipped ones unless `no_default`, then the `extra`
/// directories (or files) given on the command line, then the `optional` directories (the
/// user's `~/.config/zkb/rules`), read only while they exist.
#[derive(Clone, Debug, Default)]
pub struct RuleSources {
    pub no_default: bool,
    pub extra: Vec<PathBuf>,
    pub optional: Vec<PathBuf>,
}

impl RuleSources {
    /// The directories read now: every extra one, and the optional ones that exist.
    pub fn dirs(&self) -> Vec<PathBuf> {
        let present = self.optional.iter().filter(|d| d.is_dir());
        self.extra.iter().chain(present).cloned().collect()
    }

    /// Every path whose rule files make up the set, whether it exists now or not.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.extra
            .iter()
            .chain(&self.optional)
            .map(PathBuf::as_path)
    }

    /// Loads the rule set from these sources (see [`load`]).
    pub fn load(&self, tests: Tests) -> RuleSet {
        load(&self.dirs(), self.no_default, tests)
    }

    /// [`RuleSources::load`], with how many rules each directory read now gave (duplicates
    /// of earlier ids included).
    pub fn load_counted(&self, tests: Tests) -> (RuleSet, Vec<(PathBuf, usize)>) {
        let mut set = load(&[], self.no_default, tests);
        let mut counts = Vec::new();
        for dir in self.dirs() {
            let before = set.rules.len();
            set.add_dir(&dir);
            counts.push((dir, set.rules.len() - before));
        }
        (set, counts)
    }
}

/// Loads the rule set for a run: embedded unless `no_default`, then each extra directory (whose
/// files are always read whole).
pub fn load(extra: &[PathBuf], no_default: bool, tests: Tests) -> RuleSet {
    let mut set = match (no_default, tests) {
        (true, _) => RuleSet::default(),
        (false, Tests::Skip) => RuleSet::embedded(),
        (false, Tests::Load) => RuleSet::embedded_with_tests(),
    };
    for dir in extra {
        set.add_dir(dir);
    }
    set
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_names_are_dropped_outside_classes() {
        assert_eq!(
            without_group_names(r"a(?P<x>\d+)b(?<y>c)"),
            r"a(?:\d+)b(?:c)"
        );
        assert_eq!(without_group_names(r"\(?P<x>[(?P<]"), r"\(?P<x>[(?P<]");
        assert_eq!(without_group_names(r"[]](?P<z>q)"), r"[]](?:q)");
    }

    #[test]
    fn lean_rules_are_the_full_rules_without_tests() {
        let full = RuleSet::embedded_with_tests();
        let lean = RuleSet::embedded();
        assert!(full.errors.is_empty() && lean.errors.is_empty());
        assert_eq!(full.rules.len(), lean.rules.len());
        let tests: usize = full.rules.iter().map(|r| r.tests.matches.len()).sum();
        assert!(tests > full.rules.len(), "the full rules carry their tests");
        for (mut f, l) in full.rules.into_iter().zip(lean.rules) {
            assert!(l.tests.matches.is_empty() && l.tests.no_match.is_empty());
            f.tests = TestsSpec::default();
            assert_eq!(format!("{f:?}"), format!("{l:?}"), "rule {}", f.id);
        }
    }
}
