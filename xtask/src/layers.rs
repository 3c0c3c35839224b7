//! The hypervisor image's module layering: `hv/src/main.rs` lists the image's modules bottom
//! to top, and a module may use only modules listed above it. Checked by a test here (the
//! host test run of `cargo xtask test`), so an import circle cannot creep back in.
#![cfg(test)]

use std::collections::BTreeMap;
use std::path::Path;

/// The modules of `mod image { … }` in `main`, in the order they are declared.
fn declared_order(main: &str) -> Vec<String> {
    let body = &main[main
        .find("mod image {")
        .expect("hv/src/main.rs declares `mod image`")..];
    let body = &body[..body.find("\n}").expect("`mod image` ends")];
    body.lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod "))
        .map(|l| l.trim_end_matches(';').to_string())
        .collect()
}

/// The image-level modules `source` (a file `depth` modules below the image: 1 for
/// `m.rs`, 2 for `m/x.rs`) names through `super::…` paths, outside comments.
fn uses(source: &str, depth: usize) -> Vec<String> {
    let prefix = "super::".repeat(depth);
    let mut out = Vec::new();
    for line in source.lines().filter(|l| !l.trim_start().starts_with("//")) {
        let mut rest = line;
        while let Some(i) = rest.find(&prefix) {
            let after = &rest[i + prefix.len()..];
            // `super::super::x` seen from depth 1 is not an image-level path.
            if !after.starts_with("super::") && (i < 7 || &rest[i - 7..i] != "super::") {
                let names: Vec<&str> = match after.strip_prefix('{') {
                    Some(group) => group[..group.find('}').unwrap_or(group.len())]
                        .split(',')
                        .collect(),
                    None => vec![after],
                };
                for n in names {
                    let n: String = n
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !n.is_empty() && n != "self" {
                        out.push(n);
                    }
                }
            }
            rest = after;
        }
    }
    out
}

/// Every use of a module declared later than the user: (user, used).
fn violations(
    order: &[String],
    sources: &BTreeMap<String, Vec<(usize, String)>>,
) -> Vec<(String, String)> {
    let pos = |m: &str| order.iter().position(|o| o == m);
    let mut bad = Vec::new();
    for (m, files) in sources {
        let Some(here) = pos(m) else { continue };
        for (depth, text) in files {
            for used in uses(text, *depth) {
                if let Some(there) = pos(&used)
                    && there > here
                    && !bad.contains(&(m.clone(), used.clone()))
                {
                    bad.push((m.clone(), used));
                }
            }
        }
    }
    bad
}

/// The source files of image module `m`: `m.rs` (depth 1) and everything under `m/`.
fn module_files(image: &Path, m: &str) -> Vec<(usize, String)> {
    let mut files = Vec::new();
    if let Ok(t) = std::fs::read_to_string(image.join(format!("{m}.rs"))) {
        files.push((1, t));
    }
    let mut stack = vec![(image.join(m), 2)];
    while let Some((dir, depth)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push((p, depth + 1));
            } else if p.extension().is_some_and(|x| x == "rs") {
                files.push((depth, std::fs::read_to_string(&p).unwrap()));
            }
        }
    }
    files
}

#[test]
fn image_modules_use_only_modules_below_them() {
    let hv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../hv/src");
    let order = declared_order(&std::fs::read_to_string(hv.join("main.rs")).unwrap());
    assert!(order.len() > 20, "modules found: {order:?}");
    let sources = order
        .iter()
        .map(|m| (m.clone(), module_files(&hv.join("image"), m)))
        .collect();
    let bad = violations(&order, &sources);
    assert!(
        bad.is_empty(),
        "modules that use a module declared after them in hv/src/main.rs: {bad:?}"
    );
}

#[test]
fn an_upward_use_is_reported() {
    let order: Vec<String> = ["low", "mid", "high"].map(String::from).to_vec();
    let mut sources = BTreeMap::new();
    sources.insert(
        "low".into(),
        vec![(
            1,
            "use super::{mid, generated};\n// super::high in a comment".into(),
        )],
    );
    sources.insert(
        "mid".into(),
        vec![(2, "use super::super::low::X;\nlet y = super::z;".into())],
    );
    sources.insert("high".into(), vec![(1, "use super::mid::Y;".into())]);
    assert_eq!(
        violations(&order, &sources),
        [("low".to_string(), "mid".to_string())]
    );
}
