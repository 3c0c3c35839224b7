//! Errors of the configuration toolkit.
//!
//! Every problem is reported as a [`Diagnostic`] that names the *file*, the *field path*
//! inside it (`vm[1].memory`) and, where the TOML parser knows it, the line and column.
//! Validation collects all problems it finds instead of stopping at the first, so a user
//! fixes a description in one round. Nothing in this crate panics on bad input: every
//! failure ends up here.

use std::fmt;
use std::path::{Path, PathBuf};

/// One problem found in an input file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file the problem is in (board, system or guest image).
    pub file: PathBuf,
    /// 1-based line and column, when the parser knows them.
    pub pos: Option<(usize, usize)>,
    /// Dotted field path (`vm[1].memory`); empty for the file as a whole.
    pub field: String,
    /// What is wrong, naming the entities in conflict.
    pub message: String,
}

impl Diagnostic {
    /// A problem at `field` of `file`.
    pub fn new(file: &Path, field: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.to_path_buf(),
            pos: None,
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some((line, col)) = self.pos {
            write!(f, ":{line}:{col}")?;
        }
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Why a configuration could not be turned into a system.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// An input or output file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// One or more problems in the descriptions or images.
    #[error("{}", join(.0))]
    Invalid(Vec<Diagnostic>),
}

fn join(diags: &[Diagnostic]) -> String {
    let lines: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
    lines.join("\n")
}

impl ConfigError {
    /// A single-problem error.
    pub fn one(file: &Path, field: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError::Invalid(vec![Diagnostic::new(file, field, message)])
    }

    /// The diagnostics carried (empty for I/O errors).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            ConfigError::Invalid(d) => d,
            ConfigError::Io { .. } => &[],
        }
    }
}

/// Reads a file, naming it on failure.
pub fn read_text(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads a binary file, naming it on failure.
pub fn read_bytes(path: &Path) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes a file, naming it on failure.
pub fn write_file(path: &Path, data: impl AsRef<[u8]>) -> Result<(), ConfigError> {
    std::fs::write(path, data).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// `" — did you mean \"x\"?"` when one of `known` is close to `name`, else empty.
pub fn suggest<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    let best = known
        .into_iter()
        .map(|k| (strsim::jaro_winkler(name, k), k))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match best {
        Some((_, k)) => format!(" — did you mean \"{k}\"?"),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_file_position_and_field() {
        let mut d = Diagnostic::new(Path::new("x.toml"), "vm[1].memory", "bad");
        assert_eq!(d.to_string(), "x.toml: vm[1].memory: bad");
        d.pos = Some((3, 7));
        assert_eq!(d.to_string(), "x.toml:3:7: vm[1].memory: bad");
    }

    #[test]
    fn suggests_near_misses_only() {
        assert_eq!(
            suggest("linx", ["linux", "rtos"]),
            " — did you mean \"linux\"?"
        );
        assert_eq!(suggest("zzz", ["linux", "rtos"]), "");
    }
}
