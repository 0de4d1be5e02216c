//! The consensus core is pure: no I/O, no clock, no threads, no randomness of its own, and
//! nothing whose iteration order is unspecified. This scans every source file under
//! `src/raft/` and fails naming the offending line.

use std::path::{Path, PathBuf};

/// Substrings that must not appear in `src/raft/` code, with why.
const FORBIDDEN: &[(&str, &str)] = &[
    ("std::fs", "file I/O"),
    ("std::net", "network I/O"),
    ("std::io", "I/O"),
    ("std::time", "the clock"),
    ("Instant", "the clock"),
    ("SystemTime", "the clock"),
    ("std::thread", "threads"),
    ("std::sync", "shared-memory concurrency"),
    ("std::process", "processes"),
    ("std::env", "the environment"),
    ("rand::", "randomness of its own"),
    ("getrandom", "randomness of its own"),
    ("HashMap", "iteration order that differs between runs"),
    ("HashSet", "iteration order that differs between runs"),
    ("RandomState", "randomness of its own"),
    ("mio", "the event loop"),
    ("unsafe", "unchecked code"),
    ("static mut", "global state"),
    ("thread_local", "global state"),
    ("println!", "output"),
    ("eprintln!", "output"),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/raft exists") {
        let path = entry.expect("readable").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn the_raft_core_has_no_io_clock_threads_or_randomness() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/raft");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    files.sort();
    assert!(files.len() >= 5, "found the core's files: {files:?}");
    let mut offences = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).expect("readable");
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for (word, why) in FORBIDDEN {
                if code.contains(word) {
                    offences.push(format!(
                        "{}:{}: `{word}` ({why}): {}",
                        f.display(),
                        n + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(
        offences.is_empty(),
        "the raft core must stay pure:\n{}",
        offences.join("\n")
    );
}

#[test]
fn the_scan_would_catch_an_offence() {
    // A check that cannot fail is not a check: the scanner flags a line that uses the clock.
    let line = "    let t = std::time::Instant::now(); // why not";
    let code = line.split("//").next().unwrap();
    assert!(FORBIDDEN.iter().any(|(w, _)| code.contains(w)));
    let comment_only = "    // std::time is not used here";
    assert!(
        !FORBIDDEN
            .iter()
            .any(|(w, _)| comment_only.split("//").next().unwrap().contains(w))
    );
}
