//! The configuration file: `/etc/zkb/config.toml` (system) and `~/.config/zkb/config.toml`
//! (`$XDG_CONFIG_HOME`, per user), or only the file that `--config` or `$ZKB_CONFIG` names.
//! Each key is a setting that is also a flag; flags override the files, the user's file
//! overrides the system's, and the files override the built-in defaults. An unknown key or a
//! value of the wrong kind is an error naming the file and line.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

use crate::rules::{self, Severity};

/// The system configuration file; its existence also turns on system mode (see [`crate::state`]).
pub const SYSTEM_FILE: &str = "/etc/zkb/config.toml";

/// What one file may set. Every field is optional: a missing key leaves the default.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSettings {
    /// Logs that `scan` and `watch` read when given no paths.
    pub paths: Option<Vec<String>>,
    /// Extra rule directories (as `--rules`).
    pub rules: Option<Vec<PathBuf>>,
    /// Extra KB directories (as `--kb`).
    pub kb: Option<Vec<PathBuf>>,
    /// The data directory (as `--data`).
    pub data: Option<PathBuf>,
    /// The severity floor of `scan` and `watch` (as `--min-severity`).
    pub min_severity: Option<String>,
    /// How long a host may say nothing before `watch` reports it (as `watch --silence`).
    pub silence: Option<String>,
    /// The command `watch` runs once per new incident (as `watch --exec`).
    pub alert_command: Option<String>,
}

/// A problem with a configuration file.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Origin {
    #[default]
    Default,
    File(PathBuf),
    Flag,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("default"),
            Origin::File(p) => write!(f, "{}", p.display()),
            Origin::Flag => f.write_str("command line"),
        }
    }
}

/// A value with its origin.
#[derive(Debug, Clone)]
pub struct Setting<T> {
    pub value: Option<T>,
    pub origin: Origin,
}

impl<T> Default for Setting<T> {
    fn default() -> Self {
        Setting {
            value: None,
            origin: Origin::Default,
        }
    }
}

impl<T> Setting<T> {
    fn set(&mut self, value: Option<T>, origin: &Origin) {
        if value.is_some() {
            self.value = value;
            self.origin = origin.clone();
        }
    }
}

/// The settings of every file read, merged (later files win), before the flags.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub files: Vec<PathBuf>,
    pub paths: Setting<Vec<String>>,
    pub rules: Setting<Vec<PathBuf>>,
    pub kb: Setting<Vec<PathBuf>>,
    pub data: Setting<PathBuf>,
    pub min_severity: Setting<Severity>,
    pub silence: Setting<String>,
    pub alert_command: Setting<String>,
}

/// The files to read: `explicit` alone (which must exist), else the system file and the
/// user's file, those that exist.
pub fn files(explicit: Option<&Path>) -> Vec<(PathBuf, bool)> {
    if let Some(p) = explicit {
        return vec![(p.to_path_buf(), true)];
    }
    let mut out = vec![(PathBuf::from(SYSTEM_FILE), false)];
    if let Some(user) = user_file() {
        out.push((user, false));
    }
    out
}

/// `$XDG_CONFIG_HOME/zkb/config.toml`, else `~/.config/zkb/config.toml`.
pub fn user_file() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("zkb/config.toml"))
}

/// Reads and merges the files. A missing optional file is skipped; a missing explicit one, an
/// unreadable one or one that does not parse is an error.
pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
    let mut config = Config::default();
    for (path, required) in files(explicit) {
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => continue,
            Err(source) => return Err(ConfigError::Read { path, source }),
        };
        let settings = parse(&text).map_err(|message| ConfigError::Invalid {
            path: path.clone(),
            message,
        })?;
        config.merge(settings, &path)?;
        config.files.push(path);
    }
    Ok(config)
}

/// Parses one file's text; the error names the line (and column).
pub fn parse(text: &str) -> Result<FileSettings, String> {
    toml::from_str(text).map_err(|e| {
        let at = e
            .span()
            .map(|s| {
                let line = text[..s.start.min(text.len())].matches('\n').count() + 1;
                format!("line {line}: ")
            })
            .unwrap_or_default();
        format!("{at}{}", e.message())
    })
}

impl Config {
    fn merge(&mut self, s: FileSettings, path: &Path) -> Result<(), ConfigError> {
        let origin = Origin::File(path.to_path_buf());
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        let severity = match s.min_severity.as_deref() {
            None => None,
            Some(v) => Some(Severity::parse(v).ok_or_else(|| {
                invalid(format!(
                    "min_severity {v:?} is not one of info, low, medium, high, critical"
                ))
            })?),
        };
        if let Some(v) = s.silence.as_deref() {
            if rules::parse_duration(v).is_none() {
                return Err(invalid(format!(
                    "silence {v:?} is not a duration (10m, 1h, or 0 for none)"
                )));
            }
        }
        self.paths.set(s.paths, &origin);
        self.rules.set(s.rules, &origin);
        self.kb.set(s.kb, &origin);
        self.data.set(s.data, &origin);
        self.min_severity.set(severity, &origin);
        self.silence.set(s.silence, &origin);
        self.alert_command.set(s.alert_command, &origin);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_key_names_its_line() {
        let err = parse("paths = [\"/var/log/zimbra.log\"]\n\nsilense = \"5m\"\n").unwrap_err();
        assert!(err.starts_with("line 3: "), "{err}");
        assert!(err.contains("silense"), "{err}");
    }

    #[test]
    fn a_value_of_the_wrong_kind_names_its_line() {
        let err = parse("# comment\nrules = \"/etc/zkb/rules\"\n").unwrap_err();
        assert!(err.starts_with("line 2: "), "{err}");
    }

    #[test]
    fn later_files_override_earlier_ones_key_by_key() {
        let mut c = Config::default();
        let a = parse("min_severity = \"high\"\nsilence = \"5m\"\n").unwrap();
        let b = parse("silence = \"1h\"\n").unwrap();
        c.merge(a, Path::new("/etc/zkb/config.toml")).unwrap();
        c.merge(b, Path::new("/home/u/.config/zkb/config.toml"))
            .unwrap();
        assert_eq!(c.min_severity.value, Some(Severity::High));
        assert_eq!(
            c.min_severity.origin,
            Origin::File("/etc/zkb/config.toml".into())
        );
        assert_eq!(c.silence.value.as_deref(), Some("1h"));
        assert_eq!(
            c.silence.origin,
            Origin::File("/home/u/.config/zkb/config.toml".into())
        );
    }

    #[test]
    fn a_bad_severity_is_refused() {
        let mut c = Config::default();
        let s = parse("min_severity = \"loud\"\n").unwrap();
        let err = c.merge(s, Path::new("x.toml")).unwrap_err().to_string();
        assert!(err.contains("x.toml") && err.contains("loud"), "{err}");
    }

    #[test]
    fn the_shipped_default_config_parses_and_sets_nothing() {
        let text = include_str!("../deploy/config.toml");
        let s = parse(text).unwrap();
        assert!(s.paths.is_none() && s.min_severity.is_none() && s.alert_command.is_none());
    }
}
