//! Where state lives (design.md): `--data DIR` (or `data` in the config file), else `$ZKB_DATA`,
//! else `/var/lib/zkb` in system mode, else `$XDG_DATA_HOME/zkb` (`~/.local/share/zkb`).
//! System mode is on when `/etc/zkb/config.toml` exists (the package installs it, so the
//! service and an admin's commands share one store), or for root without `$XDG_CONFIG_HOME`;
//! it also puts the user's rules and KB additions in `/etc/zkb` instead of `~/.config/zkb`.
//! Nothing is written next to the logs.

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

/// Installed as a system service (the system config exists), or root with no per-user
/// config home of its own.
pub fn system_mode() -> bool {
    Path::new(crate::config::SYSTEM_FILE).exists()
        || (is_root() && std::env::var_os("XDG_CONFIG_HOME").is_none())
}

/// Where rules and KB notes of this site live (`rules`, `kb`): `/etc/zkb/<what>` in system
/// mode, else `$XDG_CONFIG_HOME/zkb/<what>` (`~/.config/zkb/<what>`).
pub fn config_dir(what: &str) -> Option<PathBuf> {
    if system_mode() {
        return Some(Path::new("/etc/zkb").join(what));
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("zkb").join(what))
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
