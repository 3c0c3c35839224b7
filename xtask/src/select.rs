//! What the user asked for, checked before anything is built: the board, the system (a
//! name in `boards/<board>/systems/` or a path), the hypervisor's cargo features, and the
//! system description itself (parsed and validated by `hv-config`, so a mistake is printed
//! once, not inside cargo's build-script dump).
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use crate::paths;

/// Names of the boards (folders of `boards/` with a `board.toml`).
pub fn boards() -> Vec<String> {
    names_in(&paths::root().join("boards"), |p| {
        p.join("board.toml")
            .is_file()
            .then(|| file_name(p))
            .flatten()
    })
}

/// Names of the systems of `board` (`boards/<board>/systems/*.toml`, without `.toml`).
pub fn systems(board: &str) -> Vec<String> {
    let dir = paths::root().join("boards").join(board).join("systems");
    names_in(&dir, |p| {
        (p.extension().is_some_and(|e| e == "toml") && p.is_file())
            .then(|| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .flatten()
    })
}

fn file_name(p: &Path) -> Option<String> {
    p.file_name().map(|s| s.to_string_lossy().into_owned())
}

fn names_in(dir: &Path, f: impl Fn(&Path) -> Option<String>) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| f(&e.path()))
        .collect();
    v.sort();
    v
}

/// The closest of `known` to `name`, if it is close enough to be a typo.
pub fn near_miss<'a>(name: &str, known: &'a [String]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (strsim::jaro_winkler(name, k), k.as_str()))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

/// `unknown system `helo` — did you mean `hello`?` plus the list of what exists.
fn unknown(kind: &str, name: &str, known: &[String], where_: &str) -> anyhow::Error {
    let hint = near_miss(name, known).map_or(String::new(), |k| format!(" — did you mean `{k}`?"));
    anyhow::anyhow!(
        "unknown {kind} `{name}`{hint}\n{kind}s {where_}: {}",
        known.join(", ")
    )
}

/// Checks the board name.
pub fn board(board: &str) -> Result<()> {
    let known = boards();
    if known.iter().any(|b| b == board) {
        Ok(())
    } else {
        Err(unknown("board", board, &known, "in boards/"))
    }
}

/// Boards `cargo xtask run` can boot: the ones QEMU models. The others (the Rockchip
/// boards) are built and certified only (docs/BOARDS.md).
pub const BOOTABLE: [&str; 1] = ["qemu-virt"];

/// Refuses to boot a board QEMU does not model, saying what can be done with it.
pub fn bootable(board_name: &str) -> Result<()> {
    board(board_name)?;
    if BOOTABLE.contains(&board_name) {
        return Ok(());
    }
    bail!(
        "board {board_name} cannot be booted here: QEMU models only {} (and this machine has \
         no {board_name}).\nBuild and certify its systems instead: `cargo xtask build <system> \
         --board {board_name}`, `cargo xtask certify --board {board_name}` (docs/BOARDS.md)",
        BOOTABLE.join(", ")
    )
}

/// Resolves `system` (a name on `board`, or a path to a TOML file) to its file.
pub fn system(board_name: &str, system: &str) -> Result<PathBuf> {
    board(board_name)?;
    let as_path = PathBuf::from(system);
    if system.ends_with(".toml") || as_path.components().count() > 1 {
        if as_path.is_file() {
            return Ok(as_path);
        }
        bail!("no system description at {}", as_path.display());
    }
    let known = systems(board_name);
    if known.iter().any(|s| s == system) {
        return Ok(paths::root()
            .join("boards")
            .join(board_name)
            .join("systems")
            .join(format!("{system}.toml")));
    }
    Err(unknown(
        "system",
        system,
        &known,
        &format!("of board {board_name}"),
    ))
}

/// The hypervisor's cargo features (the `[features]` table of `hv/Cargo.toml`, without
/// `default`).
pub fn hv_features() -> Result<Vec<String>> {
    let text = std::fs::read_to_string(paths::root().join("hv").join("Cargo.toml"))?;
    let doc: toml::Table = toml::from_str(&text)?;
    let mut v: Vec<String> = doc
        .get("features")
        .and_then(|f| f.as_table())
        .map(|t| t.keys().filter(|k| *k != "default").cloned().collect())
        .unwrap_or_default();
    v.sort();
    Ok(v)
}

/// Checks every requested feature against [`hv_features`].
pub fn features(requested: &[String]) -> Result<()> {
    let known = hv_features()?;
    let bad: Vec<&String> = requested.iter().filter(|f| !known.contains(f)).collect();
    let Some(first) = bad.first() else {
        return Ok(());
    };
    let hint =
        near_miss(first, &known).map_or(String::new(), |k| format!(" — did you mean `{k}`?"));
    let names: Vec<String> = bad.iter().map(|b| format!("`{b}`")).collect();
    bail!(
        "unknown hypervisor feature{} {}{hint}\nfeatures of hv/Cargo.toml: {}",
        if bad.len() > 1 { "s" } else { "" },
        names.join(", "),
        known.join(", ")
    )
}

/// Parses and validates the system description with the configuration toolkit, for an
/// image with the cargo `features` (a system with lwVMs needs `lwvm`, one with elastic
/// memory `balloon`); its diagnostics (file, field, conflict) are the error, printed once,
/// before cargo runs.
pub fn config(board_name: &str, system: &Path, features: &[String]) -> Result<()> {
    let board = paths::root()
        .join("boards")
        .join(board_name)
        .join("board.toml");
    let img = hv_config::ImageFeatures::from_names(features);
    match hv_config::check_image(&board, system, img) {
        Ok(_) => Ok(()),
        Err(e) => bail!("{e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_near_miss_and_lists_the_systems() {
        let e = system("qemu-virt", "helo").unwrap_err().to_string();
        let (first, list) = e.split_once('\n').unwrap();
        assert_eq!(
            first, "unknown system `helo` — did you mean `hello`?",
            "{e}"
        );
        let listed: Vec<&str> = list.split_once(": ").unwrap().1.split(", ").collect();
        assert_eq!(listed, systems("qemu-virt"));
        assert!(listed.contains(&"pingpong"));
    }

    #[test]
    fn resolves_names_and_paths() {
        let p = system("qemu-virt", "hello").unwrap();
        assert!(p.ends_with("boards/qemu-virt/systems/hello.toml"));
        assert_eq!(system("qemu-virt", p.to_str().unwrap()).unwrap(), p);
        assert!(system("nosuchboard", "hello").is_err());
    }

    #[test]
    fn features_are_checked_against_hv_cargo_toml() {
        let known = hv_features().unwrap();
        assert!(known.iter().any(|f| f == "telemetry-net"));
        assert!(!known.iter().any(|f| f == "default"));
        features(&["telemetry-net".into()]).unwrap();
        let e = features(&["telemetry-nett".into()])
            .unwrap_err()
            .to_string();
        let (first, list) = e.split_once('\n').unwrap();
        assert!(first.ends_with("did you mean `telemetry-net`?"), "{e}");
        let listed: Vec<String> = list
            .split_once(": ")
            .unwrap()
            .1
            .split(", ")
            .map(String::from)
            .collect();
        assert_eq!(listed, known);
    }

    #[test]
    fn every_shipped_system_passes_the_precheck() {
        let all: Vec<String> = ["lwvm", "balloon", "big-little", "shadow-paging"]
            .map(String::from)
            .to_vec();
        for b in boards() {
            for s in systems(&b) {
                let p = system(&b, &s).unwrap();
                config(&b, &p, &all).unwrap_or_else(|e| panic!("{b}/{s}: {e}"));
            }
        }
    }

    #[test]
    fn only_qemu_virt_is_booted_and_the_others_say_what_to_do() {
        assert!(boards().iter().any(|b| b == "rk3588") && boards().iter().any(|b| b == "rk3399"));
        bootable("qemu-virt").unwrap();
        let e = bootable("rk3588").unwrap_err().to_string();
        assert!(e.contains("cannot be booted here"), "{e}");
        assert!(
            e.contains("cargo xtask build <system> --board rk3588"),
            "{e}"
        );
        assert!(bootable("rk3589").is_err());
    }

    #[test]
    fn a_system_needing_a_feature_is_refused_before_cargo_and_names_it() {
        let p = system("qemu-virt", "balloon").unwrap();
        let e = config("qemu-virt", &p, &[]).unwrap_err().to_string();
        assert!(
            e.contains("balloon.toml: elastic") && e.contains("--features balloon"),
            "{e}"
        );
        let p = system("qemu-virt", "lwvm-pingpong").unwrap();
        let e = config("qemu-virt", &p, &[]).unwrap_err().to_string();
        assert!(e.contains("--features lwvm"), "{e}");
        config("qemu-virt", &p, &["lwvm".to_string()]).unwrap();
    }
}
