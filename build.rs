//! Generates the Kafka message codecs from the schemas in `protocol-spec/schemas/`.
//!
//! The schemas are the single description of every message keel speaks (Kafka's own JSON
//! message-definition format); `build/schema.rs` validates them and `build/emit.rs` writes
//! `$OUT_DIR/messages.rs`, which `src/protocol/messages.rs` includes. Adding an API is a schema,
//! not a page of code, and the spec and the code cannot drift.

#[path = "build/emit.rs"]
mod emit;
#[path = "build/schema.rs"]
mod schema;

use std::path::Path;

fn main() {
    let dir = Path::new("protocol-spec/schemas");
    println!("cargo:rerun-if-changed={}", dir.display());
    println!("cargo:rerun-if-changed=build/emit.rs");
    println!("cargo:rerun-if-changed=build/schema.rs");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("readable directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    let mut schemas = Vec::new();
    for path in &files {
        println!("cargo:rerun-if-changed={}", path.display());
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let file = path
            .file_name()
            .expect("file name")
            .to_string_lossy()
            .into_owned();
        match schema::parse(&file, &text) {
            Ok(parsed) => schemas.push(parsed),
            Err(message) => panic!("invalid schema: {message}"),
        }
    }
    let code = emit::emit(&schemas);
    let out = Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("messages.rs");
    std::fs::write(&out, code).unwrap_or_else(|e| panic!("cannot write {}: {e}", out.display()));
}
