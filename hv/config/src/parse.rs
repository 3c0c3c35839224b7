//! TOML → typed model, with errors that name the file, the field path and the position.
//!
//! `serde_path_to_error` records the path of the field being read when deserialization
//! fails; the TOML parser contributes the byte span, turned into line:column here.

use crate::error::{ConfigError, Diagnostic, suggest};
use serde::de::DeserializeOwned;
use std::path::Path;

/// Parses `text` (the contents of `file`) into `T`.
pub fn parse_toml<T: DeserializeOwned>(file: &Path, text: &str) -> Result<T, ConfigError> {
    let de = toml::Deserializer::parse(text).map_err(|e| to_diag(file, text, "", &e))?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        to_diag(file, text, &path, e.inner())
    })
}

fn to_diag(file: &Path, text: &str, field: &str, e: &toml::de::Error) -> ConfigError {
    let mut d = Diagnostic::new(file, field, with_suggestion(e.message().trim()));
    d.pos = e.span().map(|s| line_col(text, s.start));
    ConfigError::Invalid(vec![d])
}

/// Turns serde's "unknown field `x`, expected one of `a`, `b`" into "unknown field `x` —
/// did you mean \"a\"?" when one is close, keeping the list otherwise.
fn with_suggestion(msg: &str) -> String {
    let mut names = msg.split('`').skip(1).step_by(2);
    let (Some(bad), true) = (names.next(), msg.starts_with("unknown ")) else {
        return msg.to_string();
    };
    let hint = suggest(bad, names);
    match msg.split_once(", expected") {
        Some((head, _)) if !hint.is_empty() => format!("{head}{hint}"),
        _ => msg.to_string(),
    }
}

/// 1-based line and column of byte `offset` in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rfind('\n')
        .map_or(before.len(), |nl| before.len() - nl - 1)
        + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one() {
        assert_eq!(line_col("ab\ncd", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
    }
}
