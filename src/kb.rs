//! Knowledge base: Markdown entries with YAML front matter (see `docs/kb.md`), embedded in the
//! binary and extended from extra directories. Gives each match its title and fix steps, and
//! lints entries for `zkb check`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// Sections every entry must have, in this order.
pub const REQUIRED_SECTIONS: [&str; 4] = ["Symptoms", "Cause", "Fix", "Verify"];

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FrontMatter {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub components: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub versions: Option<serde_yaml_ng::Value>,
    #[serde(default)]
    pub references: Vec<String>,
    #[serde(default)]
    pub signatures: Vec<String>,
}

/// The tag of a note written by `zkb learn` from the admin's own logs: it needs no public
/// reference URL (its reference is where it was learned), and no loaded rule need name it.
pub const LOCAL_LESSON: &str = "local-lesson";

/// One KB entry.
#[derive(Clone, Debug, Serialize)]
pub struct Entry {
    #[serde(flatten)]
    pub front: FrontMatter,
    pub body: String,
    pub source: String,
    /// `## ` sections of the body, in order: (heading, text).
    #[serde(skip)]
    pub sections: Vec<(String, String)>,
    /// The Fix section split into variants, computed once at load.
    #[serde(skip)]
    variants: Vec<FixVariant>,
}

/// One way to fix, for a range of releases (or for all when `heading` is `None`).
#[derive(Clone, Debug, Serialize)]
pub struct FixVariant {
    pub heading: Option<String>,
    pub steps: Vec<String>,
}

impl Entry {
    pub fn id(&self) -> &str {
        &self.front.id
    }

    pub fn title(&self) -> &str {
        &self.front.title
    }

    pub fn section(&self, name: &str) -> Option<&str> {
        self.sections
            .iter()
            .find(|(h, _)| h.eq_ignore_ascii_case(name))
            .map(|(_, t)| t.as_str())
    }

    /// The Fix section split into its version variants (one unnamed variant when it has none).
    pub fn fix_variants(&self) -> Vec<FixVariant> {
        self.variants.clone()
    }

    fn split_fix(&self) -> Vec<FixVariant> {
        let Some(fix) = self.section("Fix") else {
            return Vec::new();
        };
        let mut variants = vec![FixVariant {
            heading: None,
            steps: Vec::new(),
        }];
        for line in fix.lines() {
            if let Some(h) = line.strip_prefix("### ") {
                variants.push(FixVariant {
                    heading: Some(h.trim().to_string()),
                    steps: Vec::new(),
                });
                continue;
            }
            let current = variants.last_mut().expect("at least one variant");
            if let Some(step) = numbered_item(line) {
                current.steps.push(step.to_string());
            } else if let Some(last) = current.steps.last_mut() {
                let t = line.trim();
                if !t.is_empty() && line.starts_with(' ') {
                    last.push(' ');
                    last.push_str(t);
                }
            }
        }
        variants.retain(|v| !v.steps.is_empty());
        variants
    }

    /// The fix variants that apply to a release: the unnamed steps, plus the variant whose
    /// heading range holds `version`; every variant when the release is unknown or none fits.
    pub fn fix_variants_for(&self, version: Option<crate::version::Version>) -> Vec<FixVariant> {
        let all = self.fix_variants();
        let Some(v) = version else { return all };
        let fitting: Vec<FixVariant> = all
            .iter()
            .filter(|x| {
                x.heading
                    .as_deref()
                    .is_some_and(|h| crate::version::heading_contains(h, v))
            })
            .cloned()
            .collect();
        if fitting.is_empty() {
            return all;
        }
        all.into_iter()
            .filter(|x| x.heading.is_none() || fitting.iter().any(|f| f.heading == x.heading))
            .collect()
    }

    /// The first fix step (of each variant, joined, when there are several).
    pub fn first_fix_step(&self) -> Option<String> {
        self.first_fix_step_for(None)
    }

    /// The first fix step for a release (see [`Entry::fix_variants_for`]).
    pub fn first_fix_step_for(&self, version: Option<crate::version::Version>) -> Option<String> {
        let variants = self.fix_variants_for(version);
        match variants.as_slice() {
            [] => None,
            [one] => one.steps.first().cloned(),
            many => Some(
                many.iter()
                    .filter_map(|v| {
                        let step = v.steps.first()?;
                        Some(match &v.heading {
                            Some(h) => format!("[{h}] {step}"),
                            None => step.clone(),
                        })
                    })
                    .collect::<Vec<_>>()
                    .join(" | "),
            ),
        }
    }

    /// Problems with the entry's shape, for `zkb check`.
    pub fn lint(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let headings: Vec<&str> = self.sections.iter().map(|(h, _)| h.as_str()).collect();
        let mut last = 0;
        for want in REQUIRED_SECTIONS {
            match headings.iter().position(|h| h.eq_ignore_ascii_case(want)) {
                None => problems.push(format!("missing section `## {want}`")),
                Some(i) if i < last => problems.push(format!("section `## {want}` out of order")),
                Some(i) => last = i,
            }
        }
        if self.fix_variants().is_empty() {
            problems.push("Fix has no numbered steps".into());
        }
        let lesson = self.front.tags.iter().any(|t| t == LOCAL_LESSON);
        if !lesson
            && !self
                .front
                .references
                .iter()
                .any(|r| r.starts_with("http://") || r.starts_with("https://"))
        {
            problems.push("no reference URL".into());
        }
        if self.front.title.trim().is_empty() {
            problems.push("empty title".into());
        }
        if self.front.components.is_empty() {
            problems.push("front matter lists no `components`".into());
        }
        if self.front.tags.is_empty() {
            problems.push("front matter lists no `tags`".into());
        }
        if self.front.versions.is_none() {
            problems.push(
                "front matter has no `versions` (write `all` when no boundary is known)".into(),
            );
        }
        let no_log_line = self
            .front
            .tags
            .iter()
            .any(|t| t == "reference-only" || t == "symptom-only");
        if self.front.signatures.is_empty() && !no_log_line {
            problems.push(
                "front matter lists no `signatures` (tag it `symptom-only` or `reference-only` if it has no log line)".into(),
            );
        }
        let expected_id = self
            .source
            .rsplit_once("kb/")
            .map(|(_, rel)| rel.trim_end_matches(".md").to_string());
        if let Some(exp) = expected_id {
            if exp != self.front.id && !self.source.starts_with('/') {
                problems.push(format!(
                    "id `{}` differs from its path `{exp}`",
                    self.front.id
                ));
            }
        }
        problems
    }
}

fn numbered_item(line: &str) -> Option<&str> {
    let t = line.trim_start();
    if line.len() - t.len() > 1 {
        return None;
    }
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    t[digits..].strip_prefix(". ").map(str::trim)
}

/// Parses one entry file.
pub fn parse_entry(source: &str, text: &str) -> Result<Entry, Error> {
    let err = |line: usize, message: String| Error::KbFile {
        file: source.to_string(),
        line,
        message,
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let rest = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))
        .ok_or_else(|| {
            err(
                1,
                "no YAML front matter (the file must start with `---`)".into(),
            )
        })?;
    let end = rest
        .find("\n---\n")
        .or_else(|| rest.find("\n---\r\n"))
        .or_else(|| rest.strip_suffix("\n---").map(str::len))
        .ok_or_else(|| err(1, "front matter is not closed by a `---` line".into()))?;
    let yaml = &rest[..end];
    let front: FrontMatter = serde_yaml_ng::from_str(yaml)
        .map_err(|e| err(e.location().map_or(1, |l| l.line() + 1), e.to_string()))?;
    let body = rest[end..]
        .trim_start_matches('\n')
        .trim_start_matches("---")
        .trim_start()
        .to_string();
    let sections = split_sections(&body);
    let mut entry = Entry {
        front,
        body,
        source: source.to_string(),
        sections,
        variants: Vec::new(),
    };
    entry.variants = entry.split_fix();
    Ok(entry)
}

fn split_sections(body: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in body.lines() {
        if let Some(h) = line.strip_prefix("## ") {
            out.push((h.trim().to_string(), String::new()));
        } else if let Some((_, text)) = out.last_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    for (_, t) in &mut out {
        *t = t.trim().to_string();
    }
    out
}

/// All entries, keyed by id, and the errors met while loading.
#[derive(Default)]
pub struct Kb {
    pub entries: BTreeMap<String, Entry>,
    pub errors: Vec<Error>,
    pub duplicates: Vec<(String, String)>,
}

impl Kb {
    pub fn embedded() -> Kb {
        let mut kb = Kb::default();
        for (path, text) in crate::embedded::KB {
            kb.add_text(path, text);
        }
        kb
    }

    pub fn add_text(&mut self, source: &str, text: &str) {
        match parse_entry(source, text) {
            Ok(e) => {
                if let Some(old) = self.entries.get(e.id()) {
                    self.duplicates
                        .push((e.id().to_string(), format!("{} and {}", old.source, source)));
                }
                self.entries.insert(e.id().to_string(), e);
            }
            Err(e) => self.errors.push(e),
        }
    }

    pub fn add_dir(&mut self, dir: &Path) {
        let (texts, errors) = crate::sources::read_tree(dir, &["md"]);
        self.errors.extend(errors);
        for (name, text) in texts {
            self.add_text(&name, &text);
        }
    }

    pub fn get(&self, id: &str) -> Option<&Entry> {
        self.entries.get(id)
    }
}

/// Loads the KB for a run: embedded unless `no_default`, then the extra directories.
pub fn load(extra: &[std::path::PathBuf], no_default: bool) -> Kb {
    let mut kb = if no_default {
        Kb::default()
    } else {
        Kb::embedded()
    };
    for d in extra {
        kb.add_dir(d);
    }
    kb
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENTRY: &str = "---\nid: store/x\ntitle: A title\ncomponents: [store]\ntags: [hsm]\nversions: all\nsignatures: [x]\nreferences: [https://wiki.zimbra.com/wiki/HSM]\n---\n\n## Symptoms\nS\n\n## Cause\nC\n\n## Fix\n1. As **zimbra**: `zmvolume -l`\n   then look.\n2. As **root**: `mount -a`\n\n### Zimbra 10.1 and later\n1. As **zimbra**: `zmlicense -a KEY`\n\n## Verify\nV\n";

    #[test]
    fn parses_sections_and_fix_steps() {
        let e = parse_entry("kb/store/x.md", ENTRY).unwrap();
        assert_eq!(e.id(), "store/x");
        assert_eq!(e.section("Cause"), Some("C"));
        let v = e.fix_variants();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].steps[0], "As **zimbra**: `zmvolume -l` then look.");
        assert_eq!(v[1].heading.as_deref(), Some("Zimbra 10.1 and later"));
        assert!(e.lint().is_empty(), "{:?}", e.lint());
    }

    #[test]
    fn reports_front_matter_errors_with_a_line() {
        let e = parse_entry("kb/a/b.md", "---\nid: a/b\ntitle: [unclosed\n---\nbody").unwrap_err();
        assert!(e.to_string().starts_with("kb/a/b.md:"), "{e}");
        assert!(parse_entry("kb/a/b.md", "no front matter").is_err());
    }
}
