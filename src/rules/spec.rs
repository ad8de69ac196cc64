//! The YAML shape of a rule file, as serde types.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::kind::LogKind;

/// How bad a finding is. Ordered: `info` < `low` < `medium` < `high` < `critical`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL
            .into_iter()
            .find(|x| x.as_str().eq_ignore_ascii_case(s))
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub id: String,
    pub title: String,
    pub severity: Severity,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub kinds: Vec<LogKind>,
    #[serde(default)]
    pub levels: Vec<String>,
    #[serde(default)]
    pub programs: Vec<String>,
    #[serde(rename = "match")]
    pub matcher: MatchSpec,
    #[serde(default)]
    pub group_by: Vec<String>,
    #[serde(default)]
    pub threshold: Option<ThresholdSpec>,
    #[serde(default)]
    pub kb: Vec<String>,
    /// Rules whose open incident of the same group and host this rule's match closes (the line
    /// that proves recovery: a host sending again, a delivery that went through).
    #[serde(default)]
    pub resolves: Vec<String>,
    /// The match only closes the incidents of `resolves`: it is not shown, stored or alerted
    /// (a delivery that went through proves recovery, but every delivery is no incident).
    #[serde(default)]
    pub resolve_only: bool,
    /// An incident of the rule not seen for this long is closed (`30m`, `2h`; default 30m), and
    /// the next occurrence opens a new one.
    #[serde(default)]
    pub quiet: Option<String>,
    /// Situations in which the rule's lines are expected rather than a problem: `maintenance`
    /// (a server of the site stopped on purpose, see `maintenance` and `zkb maint`).
    #[serde(default)]
    pub expected_during: Vec<Expected>,
    /// The line opens or closes a maintenance window of its host (zmcontrol stopping and
    /// starting the services, zmsetup's upgrade run).
    #[serde(default)]
    pub maintenance: Option<WindowMark>,
    /// Read-only checks run when it matches, whose answer ranks its KB entries
    /// (`volume-mount`, see `preflight::probe`).
    #[serde(default)]
    pub probes: Vec<String>,
    #[serde(default)]
    pub tests: TestsSpec,
    /// Free text shown by `zkb explain` and `zkb rules list`.
    #[serde(default)]
    pub description: Option<String>,
}

/// When a rule's lines are expected (see [`RuleSpec::expected_during`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Expected {
    Maintenance,
}

/// What a line does to its host's maintenance window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WindowMark {
    Start,
    End,
}

/// A match node: a mapping with exactly one of the keys `regex`, `contains`, `any`, `all`, `not`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MatchSpec {
    Regex(String),
    Contains(String),
    Any(Vec<MatchSpec>),
    All(Vec<MatchSpec>),
    Not(Box<MatchSpec>),
}

impl<'de> Deserialize<'de> for MatchSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = BTreeMap::<String, serde_yaml_ng::Value>::deserialize(d)?;
        MatchSpec::from_map(map).map_err(serde::de::Error::custom)
    }
}

impl MatchSpec {
    fn from_map(map: BTreeMap<String, serde_yaml_ng::Value>) -> Result<Self, String> {
        if map.len() != 1 {
            let keys: Vec<_> = map.keys().collect();
            return Err(format!(
                "a match node needs exactly one of regex, contains, any, all, not; found {keys:?}"
            ));
        }
        let (key, value) = map.into_iter().next().expect("one entry");
        let text = |v: serde_yaml_ng::Value| -> Result<String, String> {
            match v {
                serde_yaml_ng::Value::String(s) => Ok(s),
                other => Err(format!("`{key}` needs a string, found {other:?}")),
            }
        };
        let list = |v: serde_yaml_ng::Value| -> Result<Vec<MatchSpec>, String> {
            serde_yaml_ng::from_value::<Vec<MatchSpec>>(v).map_err(|e| format!("`{key}`: {e}"))
        };
        match key.as_str() {
            "regex" => Ok(MatchSpec::Regex(text(value)?)),
            "contains" => Ok(MatchSpec::Contains(text(value)?)),
            "any" => Ok(MatchSpec::Any(list(value)?)),
            "all" => Ok(MatchSpec::All(list(value)?)),
            "not" => Ok(MatchSpec::Not(Box::new(
                serde_yaml_ng::from_value::<MatchSpec>(value).map_err(|e| format!("`not`: {e}"))?,
            ))),
            other => Err(format!(
                "unknown match key `{other}` (use regex, contains, any, all, not)"
            )),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdSpec {
    pub count: u32,
    pub window: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestsSpec {
    #[serde(default, rename = "match")]
    pub matches: Vec<MatchTest>,
    #[serde(default)]
    pub no_match: Vec<NoMatchTest>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchTest {
    pub text: String,
    #[serde(default)]
    pub kind: Option<LogKind>,
    #[serde(default)]
    pub fields: Option<BTreeMap<String, String>>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum NoMatchTest {
    Text(String),
    Full {
        text: String,
        #[serde(default)]
        kind: Option<LogKind>,
    },
}

impl NoMatchTest {
    pub fn text(&self) -> &str {
        match self {
            NoMatchTest::Text(t) | NoMatchTest::Full { text: t, .. } => t,
        }
    }

    pub fn kind(&self) -> Option<LogKind> {
        match self {
            NoMatchTest::Text(_) => None,
            NoMatchTest::Full { kind, .. } => *kind,
        }
    }
}

/// Parses a rule file: one rule or a list of rules.
pub fn parse_file(text: &str) -> Result<Vec<RuleSpec>, serde_yaml_ng::Error> {
    // A list (the usual layout) is recognised by its first content line, so the text is parsed
    // once and errors inside list items keep their real location.
    let first = text
        .lines()
        .map(str::trim_start)
        .find(|l| !l.is_empty() && !l.starts_with('#') && *l != "---");
    match first {
        None => Ok(Vec::new()),
        Some(l) if l.starts_with("- ") || l == "-" || l.starts_with('[') => {
            serde_yaml_ng::from_str::<Vec<RuleSpec>>(text)
        }
        Some(_) => serde_yaml_ng::from_str::<RuleSpec>(text).map(|r| vec![r]),
    }
}
