//! Assembles the document catalogue: every `src/catalogue/documents/NN_<id>.rs`
//! defines `pub static DOCUMENT`, and this lists them (in file-name order,
//! hence the `NN_` prefix) so that a new document type is one new file, its
//! schema and its seed data — no other source changes.

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let dir = root.join("src/catalogue/documents");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("src/catalogue/documents")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    files.sort();
    let mut modules = String::new();
    let mut list = String::from(
        "/// Every document type the issuer knows, in display order.\npub static DOCUMENTS: &[&DocumentType] = &[\n",
    );
    for path in &files {
        println!("cargo:rerun-if-changed={}", path.display());
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("a UTF-8 file name");
        let module = stem
            .split_once('_')
            .filter(|(n, _)| n.bytes().all(|b| b.is_ascii_digit()))
            .map_or(stem, |(_, m)| m);
        assert!(
            module
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "{stem}: document files are named NN_<snake_case>.rs"
        );
        let _ = writeln!(
            modules,
            "#[path = {:?}]\nmod {module};",
            path.display().to_string()
        );
        let _ = writeln!(list, "    &{module}::DOCUMENT,");
    }
    list.push_str("];\n");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    std::fs::write(out_dir.join("documents.rs"), format!("{modules}\n{list}"))
        .expect("write documents.rs");
    embed_registry(&root, &out_dir);
}

/// The demo registry's seed files, embedded so that the binary runs from
/// any directory: `registry_seed.rs` lists `(file name, contents)` of every
/// `examples/registry/*.json`, in name order.
fn embed_registry(root: &std::path::Path, out_dir: &std::path::Path) {
    let dir = root.join("examples/registry");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("examples/registry")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut seed = String::from(
        "/// `examples/registry/*.json` as `(file name, contents)`, in name order.\npub static EMBEDDED: &[(&str, &str)] = &[\n",
    );
    for path in &files {
        println!("cargo:rerun-if-changed={}", path.display());
        let name = path
            .file_name()
            .and_then(|s| s.to_str())
            .expect("a UTF-8 file name");
        let _ = writeln!(
            seed,
            "    ({name:?}, include_str!({:?})),",
            path.display().to_string()
        );
    }
    seed.push_str("];\n");
    std::fs::write(out_dir.join("registry_seed.rs"), seed).expect("write registry_seed.rs");
}
