//! Probes on a match: read-only checks run when a rule that names them first matches, whose
//! answer ranks its KB entries. `volume-mount`: a missing blob reads the same whether the volume
//! is not mounted or the blobs were lost in a restore. A volume directory that is no separate
//! mount and holds nothing (the HSM mount that was made by hand and did not come back), or one
//! that `volumes.boot-mount` fails, puts `store/hsm-volume-not-mounted` first; a volume that is
//! mounted and holds blobs puts `store/missing-blobs-after-restore-or-corruption` first.
//!
//! Probes look at this host only (the finding's host is this one), or at the tree named by
//! `ZKB_PROBE_ROOT` (a copied system, or a test's), with Zimbra's commands taken from PATH.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use serde::Serialize;

use super::mounts;
use super::volumes::{self, Volume, Volumes};
use super::{Host, Status};
use crate::scan::Finding;

/// The probes a rule may name.
pub const KNOWN: &[&str] = &["volume-mount"];

const NOT_MOUNTED: &str = "store/hsm-volume-not-mounted";
const LOST: &str = "store/missing-blobs-after-restore-or-corruption";

/// What a probe found.
#[derive(Clone, Debug, Serialize)]
pub struct ProbeResult {
    pub probe: &'static str,
    pub volume: String,
    /// `not-mounted` or `mounted`.
    pub verdict: &'static str,
    pub detail: String,
    /// The KB entry the verdict puts first.
    pub first_kb: &'static str,
}

struct Cache {
    host: Host,
    volumes: Option<Vec<Volume>>,
    results: HashMap<String, ProbeResult>,
}

fn cache() -> &'static Mutex<Cache> {
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    CACHE.get_or_init(|| {
        let root = std::env::var_os("ZKB_PROBE_ROOT").map(PathBuf::from);
        Mutex::new(Cache {
            host: Host {
                direct_commands: root.is_some(),
                root: root.unwrap_or_else(|| PathBuf::from("/")),
                volume_cache: None,
                to_version: None,
                backup: None,
            },
            volumes: None,
            results: HashMap::new(),
        })
    })
}

/// Runs the probes `names` for a finding (once per volume and process); `None` when none
/// applies (another host's finding, no volume known).
pub fn run(names: &[String], f: &Finding) -> Option<ProbeResult> {
    if !names.iter().any(|n| n == "volume-mount") || !local(f) {
        return None;
    }
    let mut c = cache().lock().unwrap_or_else(|p| p.into_inner());
    let volume = volume_of(&mut c, f)?;
    if let Some(r) = c.results.get(&volume.path) {
        return Some(r.clone());
    }
    let r = volume_mount(&c.host, &volume);
    c.results.insert(volume.path.clone(), r.clone());
    Some(r)
}

fn local(f: &Finding) -> bool {
    std::env::var_os("ZKB_PROBE_ROOT").is_some()
        || f.host.is_none()
        || f.host == crate::sources::local_hostname()
}

/// The volume a finding is about: its `volume` or `path` field when it has one, else the
/// secondary (HSM) volume, else the primary one.
fn volume_of(c: &mut Cache, f: &Finding) -> Option<Volume> {
    let field = |k: &str| {
        f.fields
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
    };
    if let Some(p) = field("volume").filter(|v| v.starts_with('/')) {
        return Some(Volume {
            name: String::new(),
            kind: "volume".into(),
            path: p,
        });
    }
    if c.volumes.is_none() {
        c.volumes = Some(volumes::list(&c.host).list);
    }
    let list = c.volumes.as_deref().unwrap_or_default();
    let path = field("path");
    list.iter()
        .find(|v| {
            path.as_deref()
                .is_some_and(|p| Path::new(p).starts_with(&v.path))
        })
        .or_else(|| list.iter().find(|v| v.kind == "secondaryMessage"))
        .or_else(|| list.iter().find(|v| v.kind == "primaryMessage"))
        .cloned()
}

fn volume_mount(host: &Host, v: &Volume) -> ProbeResult {
    let boot = mounts::check(
        host,
        &Volumes {
            list: vec![v.clone()],
            problem: None,
        },
    );
    let empty = mounts::empty_dir(&host.path(&v.path));
    let (verdict, detail) = match boot.first() {
        Some(b) if b.status == Status::Fail => ("not-mounted", b.message.clone()),
        Some(b) if b.message.contains("root filesystem") && empty => (
            "not-mounted",
            format!("{} is an empty directory on the root filesystem, no mount of its own: the volume's filesystem is not mounted", v.path),
        ),
        Some(b) => ("mounted", format!("{} {}; its blobs are there, so these ones were lost", v.path, b.message)),
        None => ("mounted", String::new()),
    };
    ProbeResult {
        probe: "volume-mount",
        volume: v.path.clone(),
        verdict,
        detail,
        first_kb: if verdict == "not-mounted" {
            NOT_MOUNTED
        } else {
            LOST
        },
    }
}

/// The rule's KB ids in the order a probe's answer gives them.
pub fn ordered_kb<'a>(kb: &'a [String], probe: Option<&ProbeResult>) -> Vec<&'a String> {
    let mut ids: Vec<&String> = kb.iter().collect();
    if let Some(p) = probe {
        ids.sort_by_key(|id| id.as_str() != p.first_kb);
    }
    ids
}
