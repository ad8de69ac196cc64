//! Where state lives (design.md): `--data DIR`, else `$ZKB_DATA`, else `/var/lib/zkb` in system
//! mode (running as root, or when `/etc/zkb/config.toml` exists), else `$XDG_DATA_HOME/zkb`
//! (`~/.local/share/zkb`). Nothing is written next to the logs.

use std::path::{Path, PathBuf};

/// The data directory for this run.
pub fn data_dir(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("ZKB_DATA").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(p));
    }
    if system_mode() {
        return Some(PathBuf::from("/var/lib/zkb"));
    }
    let base = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))?;
    Some(base.join("zkb"))
}

/// Running as root or as the installed service.
pub fn system_mode() -> bool {
    Path::new("/etc/zkb/config.toml").exists() || is_root()
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}
