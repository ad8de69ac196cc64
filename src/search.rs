//! KB search: a tantivy index over id, title, tags, signatures and body, with English stemming.
//! The index is built in the data directory under a name derived from a hash of the KB content,
//! so it is rebuilt only when the KB changes; when that directory cannot be written (a read-only
//! service user) it is built in memory. Serves `zkb search` and the related-entries lookup for
//! events that no rule matched (variable parts masked first).

use std::ops::Range;
use std::path::{Path, PathBuf};

use tantivy::collector::TopDocs;
use tantivy::query::QueryParser;
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, STORED, STRING,
};
use tantivy::{doc, Index, IndexReader, ReloadPolicy, TantivyDocument};

use crate::kb::Kb;

/// One hit.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Hit {
    pub id: String,
    pub title: String,
    pub score: f32,
    pub snippet: String,
    /// Byte ranges of `snippet` that matched the query.
    #[serde(skip)]
    pub highlighted: Vec<Range<usize>>,
}

struct Fields {
    id: Field,
    id_text: Field,
    title: Field,
    tags: Field,
    signatures: Field,
    body: Field,
}

/// An opened (or freshly built) KB index.
pub struct KbIndex {
    index: Index,
    reader: IndexReader,
    fields: Fields,
    /// Where the index lives; `None` when it was built in memory.
    pub location: Option<PathBuf>,
    /// Whether this call built it (false when an up-to-date one was opened).
    pub built: bool,
}

fn schema() -> (Schema, Fields) {
    let text = TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("en_stem")
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        )
        .set_stored();
    let mut b = Schema::builder();
    let fields = Fields {
        id: b.add_text_field("id", STRING | STORED),
        id_text: b.add_text_field("id_text", text.clone()),
        title: b.add_text_field("title", text.clone()),
        tags: b.add_text_field("tags", text.clone()),
        signatures: b.add_text_field("signatures", text.clone()),
        body: b.add_text_field("body", text),
    };
    (b.build(), fields)
}

/// A stable 64-bit FNV-1a hash of every entry's source and text.
pub fn kb_hash(kb: &Kb) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x100000001b3);
        }
    };
    eat(b"zkb-kb-index-v1");
    for e in kb.entries.values() {
        eat(e.id().as_bytes());
        eat(e.title().as_bytes());
        eat(e.front.tags.join(",").as_bytes());
        eat(e.front.signatures.join("\n").as_bytes());
        eat(e.body.as_bytes());
    }
    h
}

impl KbIndex {
    /// Opens the index for this KB under `data_dir`, building it when missing or stale; builds
    /// it in memory when the directory cannot be used.
    pub fn open(kb: &Kb, data_dir: Option<&Path>) -> tantivy::Result<KbIndex> {
        let (schema, fields) = schema();
        if let Some(dir) = data_dir {
            let path = dir.join("kb-index").join(format!("{:016x}", kb_hash(kb)));
            if let Ok(index) = Index::open_in_dir(&path) {
                if let Ok(reader) = index
                    .reader_builder()
                    .reload_policy(ReloadPolicy::Manual)
                    .try_into()
                {
                    return Ok(KbIndex {
                        index,
                        reader,
                        fields,
                        location: Some(path),
                        built: false,
                    });
                }
            }
            if let Ok(index) = build_on_disk(kb, &schema, &fields, &path) {
                let reader = index
                    .reader_builder()
                    .reload_policy(ReloadPolicy::Manual)
                    .try_into()?;
                return Ok(KbIndex {
                    index,
                    reader,
                    fields,
                    location: Some(path),
                    built: true,
                });
            }
        }
        let index = Index::create_in_ram(schema);
        fill(&index, kb, &fields)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(KbIndex {
            index,
            reader,
            fields,
            location: None,
            built: true,
        })
    }

    /// The best `limit` entries for a free-text query (a symptom or a pasted log line).
    pub fn search(&self, query: &str, limit: usize) -> tantivy::Result<Vec<Hit>> {
        let f = &self.fields;
        let mut parser = QueryParser::for_index(
            &self.index,
            vec![f.title, f.tags, f.signatures, f.body, f.id_text],
        );
        parser.set_field_boost(f.title, 3.0);
        parser.set_field_boost(f.signatures, 2.0);
        parser.set_field_boost(f.tags, 2.0);
        parser.set_field_boost(f.id_text, 2.0);
        let cleaned = query_text(query);
        if cleaned.trim().is_empty() {
            return Ok(Vec::new());
        }
        let (q, _errors) = parser.parse_query_lenient(&cleaned);
        let searcher = self.reader.searcher();
        let top = searcher.search(&q, &TopDocs::with_limit(limit).order_by_score())?;
        let mut snippets = tantivy::snippet::SnippetGenerator::create(&searcher, &*q, f.body)?;
        snippets.set_max_num_chars(180);
        let mut hits = Vec::with_capacity(top.len());
        for (score, addr) in top {
            let d: TantivyDocument = searcher.doc(addr)?;
            let get = |field: Field| {
                d.get_first(field)
                    .and_then(|v| v.as_str())
                    .unwrap_or("")
                    .to_string()
            };
            let snippet = snippets.snippet_from_doc(&d);
            hits.push(Hit {
                id: get(f.id),
                title: get(f.title),
                score,
                snippet: snippet.fragment().to_string(),
                highlighted: snippet.highlighted().to_vec(),
            });
        }
        Ok(hits)
    }
}

fn build_on_disk(kb: &Kb, schema: &Schema, fields: &Fields, path: &Path) -> tantivy::Result<Index> {
    let parent = path
        .parent()
        .ok_or_else(|| tantivy::TantivyError::SystemError("no parent".into()))?;
    std::fs::create_dir_all(parent)?;
    let tmp = parent.join(format!(".build-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp)?;
    let index = Index::create_in_dir(&tmp, schema.clone())?;
    fill(&index, kb, fields)?;
    drop(index);
    if std::fs::rename(&tmp, path).is_err() {
        // Another process won the race; use its index.
        let _ = std::fs::remove_dir_all(&tmp);
    }
    prune_old(parent, path);
    Index::open_in_dir(path)
}

/// Removes indexes of earlier KB versions.
fn prune_old(parent: &Path, keep: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p != keep
            && p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.len() == 16)
        {
            let _ = std::fs::remove_dir_all(p);
        }
    }
}

fn fill(index: &Index, kb: &Kb, f: &Fields) -> tantivy::Result<()> {
    let mut writer: tantivy::IndexWriter = index.writer_with_num_threads(1, 15_000_000)?;
    for e in kb.entries.values() {
        writer.add_document(doc!(
            f.id => e.id(),
            f.id_text => e.id().replace(['/', '-'], " "),
            f.title => e.title(),
            f.tags => e.front.tags.join(" "),
            f.signatures => e.front.signatures.join("\n"),
            f.body => e.body.as_str(),
        ))?;
    }
    writer.commit()?;
    Ok(())
}

/// Turns free text into a query the parser takes literally: query syntax characters become
/// spaces, so a pasted log line (`mailbox=41, item=257:`) cannot be read as field queries.
fn query_text(q: &str) -> String {
    q.chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '_' {
                c
            } else {
                ' '
            }
        })
        .collect::<String>()
        .split_whitespace()
        .filter(|w| !matches!(*w, "AND" | "OR" | "NOT" | "IN" | "TO"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Masks the variable parts of a log message (numbers, hex ids, UUIDs, addresses, IPs, paths,
/// quoted values) so that what is left is the message's constant wording.
pub fn mask_variables(text: &str) -> String {
    let mut out = Vec::new();
    for word in text.split_whitespace() {
        let w = word.trim_matches(|c: char| ",;:()[]<>\"'".contains(c));
        let variable = w.contains('@')
            || w.starts_with('/')
            || w.contains("://")
            || w.chars().filter(|c| c.is_ascii_digit()).count() * 3 >= w.len().max(1)
            || (w.len() >= 8 && w.chars().all(|c| c.is_ascii_hexdigit() || c == '-'))
            || (w.contains('=')
                && w.split('=')
                    .nth(1)
                    .is_some_and(|v| v.chars().any(|c| c.is_ascii_digit())));
        if variable {
            if let Some((k, _)) = w.split_once('=') {
                out.push(k.to_string());
            }
            continue;
        }
        out.push(w.to_string());
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_ids_addresses_and_paths() {
        let m = mask_variables("No such blob: mailbox=41, item=257 for a@example.com at /opt/zimbra/store2/0/41 id 4f1a2b3c9d");
        assert_eq!(m, "No such blob mailbox item for at id");
    }

    #[test]
    fn query_syntax_is_neutralised() {
        assert_eq!(query_text("title:x AND (y OR z)"), "title x y z");
    }

    #[test]
    fn finds_the_hsm_entry_for_a_symptom_and_a_pasted_line() {
        let kb = Kb::embedded();
        let idx = KbIndex::open(&kb, None).unwrap();
        let hits = idx
            .search("old emails blank after reboot missing blob", 3)
            .unwrap();
        assert!(
            hits.iter().any(|h| h.id == "store/hsm-volume-not-mounted"),
            "{hits:?}"
        );
        let pasted = idx
            .search("com.zimbra.cs.mailbox.MailServiceException: No such blob: mailbox=41, item=257, change=1", 3)
            .unwrap();
        assert!(
            pasted.iter().any(|h| h.id.starts_with("store/")),
            "{pasted:?}"
        );
    }

    #[test]
    fn builds_on_disk_once_and_reopens() {
        let kb = Kb::embedded();
        let d = tempfile::tempdir().unwrap();
        let first = KbIndex::open(&kb, Some(d.path())).unwrap();
        assert!(first.built && first.location.is_some());
        let second = KbIndex::open(&kb, Some(d.path())).unwrap();
        assert!(!second.built);
        assert!(!second.search("licence activation", 3).unwrap().is_empty());
    }
}
