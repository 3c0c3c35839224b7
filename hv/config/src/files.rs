//! Where payload files are found, and reading them (or a placeholder instead).
//!
//! A plain name (`image = "hello"`, `kernel = "Image"`) is a file in the images
//! directory (the built guests); a value with a `/` is a path relative to the folder of
//! the system description (or absolute), e.g. `kernel = "../../../target/linux/current/Image"`
//! from `boards/<b>/systems/`.
//!
//! `layout` may run before the guests are built: then a missing file becomes a
//! zero-filled placeholder of a given size and a warning, so the memory map can be seen.
//! The VMs' payloads ([`crate::payload`]) and the extensions' guests read their files
//! through the same [`Fetcher`], so both record inputs and warnings alike.

use crate::config::Config;
use crate::error::{ConfigError, Diagnostic, read_bytes};
use crate::image::Blob;
use std::path::{Path, PathBuf};

/// Where the payload file `name` is: in the images directory when it is a plain name,
/// else relative to the system description's folder.
pub fn resolve(cfg: &Config, images_dir: &Path, name: &str) -> PathBuf {
    if name.contains('/') {
        cfg.system_file.parent().unwrap_or(Path::new("")).join(name)
    } else {
        images_dir.join(name)
    }
}

/// Reads payload files, recording what it read and the placeholders it used.
#[derive(Debug)]
pub struct Fetcher<'a> {
    /// The images directory.
    pub images_dir: &'a Path,
    /// With `Some(size)`, a missing file becomes `size` zero bytes and a warning.
    pub placeholder: Option<u64>,
    /// Files read (for `rerun-if-changed`).
    pub inputs: Vec<PathBuf>,
    /// Placeholders used instead of missing files.
    pub warnings: Vec<String>,
}

impl<'a> Fetcher<'a> {
    /// A fetcher for `images_dir`.
    pub fn new(images_dir: &'a Path, placeholder: Option<u64>) -> Self {
        Fetcher {
            images_dir,
            placeholder,
            inputs: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// Where `name` is (see [`resolve`]).
    pub fn resolve(&self, cfg: &Config, name: &str) -> PathBuf {
        resolve(cfg, self.images_dir, name)
    }

    /// The placeholder blob for a missing file, loaded at `load_ipa`.
    pub fn filler(&self, load_ipa: u64) -> Blob {
        Blob {
            bytes: vec![0; self.placeholder.unwrap_or(0) as usize],
            load_ipa,
        }
    }

    /// Reads the payload file `name` named by `field`: `Ok(None)` when it is missing
    /// and placeholders are allowed (a warning is recorded), else an error naming the
    /// field.
    pub fn fetch(
        &mut self,
        cfg: &Config,
        field: &str,
        name: &str,
    ) -> Result<Option<Vec<u8>>, Diagnostic> {
        let path = self.resolve(cfg, name);
        match read_bytes(&path) {
            Ok(b) => {
                self.inputs.push(path);
                Ok(Some(b))
            }
            Err(e) => match self.placeholder {
                Some(_) => {
                    self.warnings.push(format!(
                        "{field}: {} is missing; using a placeholder",
                        path.display()
                    ));
                    Ok(None)
                }
                None => {
                    let why = match &e {
                        ConfigError::Io { source, .. } => source.to_string(),
                        other => other.to_string(),
                    };
                    Err(Diagnostic::new(
                        &cfg.system_file,
                        field,
                        format!(
                            "cannot read {}: {why} (build the guest first, or check the images directory)",
                            path.display()
                        ),
                    ))
                }
            },
        }
    }
}
