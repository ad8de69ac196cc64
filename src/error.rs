//! Typed errors of the library. Every error that comes from a file names the file (and the
//! line where one is known).

use thiserror::Error;

#[derive(Debug, Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}:{line}: {message}")]
    RuleFile {
        file: String,
        line: usize,
        message: String,
    },
    #[error("{file}:{line}: rule {id}: {message}")]
    Rule {
        file: String,
        line: usize,
        id: String,
        message: String,
    },
    #[error("{file}:{line}: {message}")]
    KbFile {
        file: String,
        line: usize,
        message: String,
    },
    #[error("{0}")]
    Usage(String),
    /// A reload of the rules (`zkb watch`) met files that do not load: the rules in force stay.
    #[error("rules not reloaded, the previous rules stay in force: {}", joined(.0))]
    RulesNotReloaded(Vec<Error>),
}

fn joined(errors: &[Error]) -> String {
    let each: Vec<String> = errors.iter().map(Error::to_string).collect();
    each.join("; ")
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
