//! The dependency rules of `docs/ARCHITECTURE.md`, checked.
//!
//! The rules are the two tables between `<!-- BEGIN DEPENDENCY RULES -->` and
//! `<!-- END DEPENDENCY RULES -->` in that page, so the page and this test cannot disagree:
//!
//! - **Modules**: each top-level module of `src/`, its kind, and the modules it may use
//!   besides the leaves. A *leaf* uses no other module of the crate, and every module may use
//!   it. A *pure* module (and every leaf) names none of [`IMPURE`]: no files, sockets, clocks,
//!   threads, processes or environment. An *entry* (the binaries, the crate root) may use
//!   every module.
//! - **Crates**: an external crate only the listed modules may name (`mio`: only `server`).
//!
//! Every `.rs` file under `src/` is read; comments and string literals are blanked out first,
//! then every path that starts at `crate::` (or `keel::`, in the binaries), `std::` or a listed
//! crate is expanded (`use crate::{a::X, b::{Y, Z}}` names `a` and `b`) and checked. A
//! violation fails the test naming the file, the line, the path and the rule. The module rules
//! hold for test code too (a module's tests use what the module may use); the purity rule
//! holds for production code only (test modules, `#[cfg(test)] mod x { .. }` blocks and files
//! declared `#[cfg(test)] mod x;`, may use temporary files).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Paths a pure module and a leaf must not name, with why.
const IMPURE: &[(&str, &str)] = &[
    ("std::fs", "files"),
    ("std::net", "sockets"),
    ("std::os", "operating-system specifics"),
    ("std::thread", "threads"),
    ("std::process", "processes"),
    ("std::env", "the environment"),
    ("std::time::Instant", "the clock"),
    ("std::time::SystemTime", "the clock"),
    ("mio", "the event loop"),
    ("libc", "system calls"),
    ("memmap2", "memory-mapped files"),
];

/// External crates whose paths are looked for (besides `std`).
const EXTERNAL_ROOTS: &[&str] = &["mio", "libc", "memmap2"];

const DOC: &str = "docs/ARCHITECTURE.md";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Leaf,
    Pure,
    Io,
    Entry,
}

#[derive(Debug)]
struct Rules {
    kinds: BTreeMap<String, Kind>,
    may_use: BTreeMap<String, BTreeSet<String>>,
    crates: BTreeMap<String, BTreeSet<String>>,
}

impl Rules {
    fn leaves(&self) -> impl Iterator<Item = &String> {
        self.kinds
            .iter()
            .filter(|(_, k)| **k == Kind::Leaf)
            .map(|(m, _)| m)
    }

    /// Whether module `from` may use module `to`.
    fn allows(&self, from: &str, to: &str) -> bool {
        if from == to {
            return true;
        }
        match self.kinds[from] {
            Kind::Entry => true,
            Kind::Leaf => false,
            Kind::Pure | Kind::Io => {
                self.kinds.get(to) == Some(&Kind::Leaf) || self.may_use[from].contains(to)
            }
        }
    }
}

/// The backticked names in a table cell.
fn names(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

fn table_rows(section: &str, header: &str) -> Vec<Vec<String>> {
    let mut lines = section.lines().skip_while(|l| !l.starts_with(header));
    assert!(
        lines.next().is_some(),
        "{DOC}: no table starting with `{header}` between the DEPENDENCY RULES markers"
    );
    lines
        .skip(1) // the |---| line
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            l.trim()
                .trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect()
}

fn read_rules(root: &Path) -> Rules {
    let text = std::fs::read_to_string(root.join(DOC)).unwrap_or_else(|e| panic!("{DOC}: {e}"));
    let begin = text
        .find("<!-- BEGIN DEPENDENCY RULES -->")
        .unwrap_or_else(|| panic!("{DOC}: no <!-- BEGIN DEPENDENCY RULES --> marker"));
    let end = text
        .find("<!-- END DEPENDENCY RULES -->")
        .unwrap_or_else(|| panic!("{DOC}: no <!-- END DEPENDENCY RULES --> marker"));
    let section = &text[begin..end];

    let mut kinds = BTreeMap::new();
    let mut may_use = BTreeMap::new();
    for row in table_rows(section, "| Module |") {
        assert!(row.len() >= 3, "{DOC}: a module row needs 3 cells: {row:?}");
        let modules = names(&row[0]);
        assert!(!modules.is_empty(), "{DOC}: no `module` in {row:?}");
        let kind = match row[1].to_lowercase().as_str() {
            k if k.starts_with("leaf") => Kind::Leaf,
            k if k.starts_with("pure") => Kind::Pure,
            k if k.starts_with("i/o") || k.starts_with("io") => Kind::Io,
            k if k.starts_with("entry") => Kind::Entry,
            other => panic!("{DOC}: kind `{other}` is not leaf, pure, I/O or entry: {row:?}"),
        };
        let uses: BTreeSet<String> = names(&row[2]).into_iter().collect();
        assert!(
            kind != Kind::Leaf || uses.is_empty(),
            "{DOC}: a leaf uses no module: {row:?}"
        );
        for module in modules {
            assert!(
                kinds.insert(module.clone(), kind).is_none(),
                "{DOC}: `{module}` has two rows"
            );
            may_use.insert(module, uses.clone());
        }
    }
    let mut crates = BTreeMap::new();
    for row in table_rows(section, "| Crate |") {
        assert!(row.len() >= 2, "{DOC}: a crate row needs 2 cells: {row:?}");
        let krate = names(&row[0]);
        assert_eq!(krate.len(), 1, "{DOC}: one `crate` per row: {row:?}");
        crates.insert(krate[0].clone(), names(&row[1]).into_iter().collect());
    }
    let rules = Rules {
        kinds,
        may_use,
        crates,
    };
    for (module, uses) in &rules.may_use {
        for used in uses {
            assert!(
                rules.kinds.contains_key(used),
                "{DOC}: `{module}` may use `{used}`, which has no row"
            );
        }
    }
    for (krate, modules) in &rules.crates {
        for module in modules {
            assert!(
                rules.kinds.contains_key(module),
                "{DOC}: crate `{krate}` names module `{module}`, which has no row"
            );
        }
    }
    rules
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable directory") {
        let path = entry.expect("readable entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file of `src/` belongs to: `src/raft/core.rs` -> `raft`,
/// `src/config.rs` -> `config`, `src/bin/keel-sim.rs` -> `bin`.
fn module_of(relative: &Path) -> String {
    let first = relative
        .components()
        .next()
        .expect("a path under src/")
        .as_os_str()
        .to_string_lossy()
        .into_owned();
    first.strip_suffix(".rs").unwrap_or(&first).to_string()
}

/// `text` with every comment and the contents of every string and character literal replaced
/// by spaces, newlines kept, so that positions and line numbers stay those of the file.
fn code_only(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = b.to_vec();
    let blank = |out: &mut Vec<u8>, from: usize, to: usize| {
        for c in &mut out[from..to] {
            if *c != b'\n' {
                *c = b' ';
            }
        }
    };
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            let end = b[i..]
                .iter()
                .position(|&c| c == b'\n')
                .map_or(b.len(), |p| i + p);
            blank(&mut out, i, end);
            i = end;
        } else if b[i..].starts_with(b"/*") {
            let (mut depth, mut j) = (1, i + 2);
            while j < b.len() && depth > 0 {
                if b[j..].starts_with(b"/*") {
                    depth += 1;
                    j += 2;
                } else if b[j..].starts_with(b"*/") {
                    depth -= 1;
                    j += 2;
                } else {
                    j += 1;
                }
            }
            blank(&mut out, i, j);
            i = j;
        } else if (b[i] == b'r' || b[i..].starts_with(b"br")) && (i == 0 || !ident(b[i - 1])) && {
            let k = if b[i] == b'r' { i + 1 } else { i + 2 };
            let hashes = b[k..].iter().take_while(|&&c| c == b'#').count();
            b.get(k + hashes) == Some(&b'"')
        } {
            let k = if b[i] == b'r' { i + 1 } else { i + 2 };
            let hashes = b[k..].iter().take_while(|&&c| c == b'#').count();
            let start = k + hashes + 1;
            let mut close = vec![b'"'];
            close.extend(std::iter::repeat_n(b'#', hashes));
            let end = b[start..]
                .windows(close.len())
                .position(|w| w == close.as_slice())
                .map_or(b.len(), |p| start + p);
            blank(&mut out, start, end);
            i = (end + close.len()).min(b.len());
        } else if b[i] == b'"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            blank(&mut out, i + 1, j.min(b.len()));
            i = j + 1;
        } else if b[i] == b'\'' {
            // A character literal ('x', '\n', '\u{1F600}', 'é') or a lifetime ('a).
            let rest = &text[i + 1..];
            let mut chars = rest.char_indices();
            match chars.next() {
                Some((_, '\\')) => {
                    let end = rest.find('\'').map_or(b.len(), |p| i + 1 + p);
                    let end = if rest.starts_with("\\'") { i + 3 } else { end };
                    blank(&mut out, i + 1, end);
                    i = end + 1;
                }
                Some((_, c)) if rest[c.len_utf8()..].starts_with('\'') => {
                    blank(&mut out, i + 1, i + 1 + c.len_utf8());
                    i += 2 + c.len_utf8();
                }
                _ => i += 1,
            }
        } else {
            i += 1;
        }
    }
    String::from_utf8(out).expect("blanking keeps UTF-8 (only whole characters are replaced)")
}

/// Every path that starts at one of `roots`, as its segments (root first), with the 1-based
/// line of its last segment. Groups are expanded: `crate::{a::X, b::{Y, Z}}` gives
/// `crate::a::X`, `crate::b::Y`, `crate::b::Z`.
fn paths(code: &str, roots: &[&str]) -> Vec<(usize, Vec<String>)> {
    let b = code.as_bytes();
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let line_at = |pos: usize| code[..pos].bytes().filter(|&c| c == b'\n').count() + 1;
    let skip_ws = |mut i: usize| {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        i
    };
    let read_ident = |i: usize| {
        let end = b[i..]
            .iter()
            .position(|&c| !ident(c))
            .map_or(b.len(), |p| i + p);
        (&code[i..end], end)
    };

    // Parses what follows `prefix::` at `i`; returns the position after it. `ctx(i)` is the
    // token at `i`: (its position, its line, its text, the position after it).
    fn tree<'a>(
        i: usize,
        prefix: &mut Vec<String>,
        out: &mut Vec<(usize, Vec<String>)>,
        ctx: &dyn Fn(usize) -> (usize, usize, &'a str, usize),
    ) -> usize {
        let (i, line, word, after) = ctx(i);
        let is_ident = word
            .bytes()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_');
        if word == "{" {
            let mut j = after;
            loop {
                j = tree(j, prefix, out, ctx);
                let (k, _, sep, after_sep) = ctx(j);
                match sep {
                    "," => {
                        let (_, _, next, after_next) = ctx(after_sep);
                        if next == "}" {
                            return after_next;
                        }
                        j = after_sep;
                    }
                    "}" => return after_sep,
                    _ => return k,
                }
            }
        } else if is_ident {
            prefix.push(word.to_string());
            let (k, _, next, after_next) = ctx(after);
            let end = if next == "::" {
                tree(after_next, prefix, out, ctx)
            } else if next == "as" {
                // `path as alias`: the path ends here; the alias names nothing new.
                out.push((line, prefix.clone()));
                ctx(after_next).3
            } else {
                out.push((line, prefix.clone()));
                k
            };
            prefix.pop();
            end
        } else {
            // `*`, or a path that ends before `::<T>` and the like.
            out.push((line, prefix.clone()));
            if word == "*" { after } else { i }
        }
    }

    // The token at `i`: an identifier, `::`, or one punctuation character.
    let ctx = |i: usize| -> (usize, usize, &str, usize) {
        let i = skip_ws(i);
        if i >= b.len() {
            return (i, line_at(i), "", i);
        }
        if ident(b[i]) {
            let (word, end) = read_ident(i);
            (i, line_at(i), word, end)
        } else if b[i..].starts_with(b"::") {
            (i, line_at(i), "::", i + 2)
        } else {
            let len = code[i..].chars().next().map_or(1, char::len_utf8);
            (i, line_at(i), &code[i..i + len], i + len)
        }
    };

    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !ident(b[i]) {
            i += 1;
            continue;
        }
        let (word, end) = read_ident(i);
        let before = code[..i].trim_end();
        let is_root = roots.contains(&word)
            && !before.ends_with("::")
            && !before.ends_with('.')
            && !before.ends_with('$');
        if is_root {
            let (_, _, next, after_next) = ctx(end);
            if next == "::" {
                let mut prefix = vec![word.to_string()];
                i = tree(after_next, &mut prefix, &mut out, &ctx).max(end);
                continue;
            }
            if before.ends_with("use") || before.ends_with("extern crate") {
                out.push((line_at(i), vec![word.to_string()]));
            }
        }
        i = end;
    }
    out
}

/// Lines (1-based) that belong to an inline `#[cfg(test)] mod x { .. }`, and the names of the
/// modules declared `#[cfg(test)] mod x;`.
fn test_code(code: &str) -> (BTreeSet<usize>, BTreeSet<String>) {
    let lines: Vec<&str> = code.lines().collect();
    let mut inline = BTreeSet::new();
    let mut files = BTreeSet::new();
    let mut n = 0;
    while n < lines.len() {
        if lines[n].trim() != "#[cfg(test)]" {
            n += 1;
            continue;
        }
        let mut m = n + 1;
        while m < lines.len() && lines[m].trim_start().starts_with("#[") {
            m += 1;
        }
        let Some(item) = lines.get(m) else { break };
        let indent = &item[..item.len() - item.trim_start().len()];
        let declaration = item
            .trim()
            .trim_start_matches("pub(crate) ")
            .trim_start_matches("pub ");
        if let Some(name) = declaration.strip_prefix("mod ") {
            if let Some(name) = name.strip_suffix(';') {
                files.insert(name.trim().to_string());
            } else if name.trim_end().ends_with('{') {
                let close = format!("{indent}}}");
                let mut k = m + 1;
                while k < lines.len() && lines[k] != close {
                    k += 1;
                }
                inline.extend(n + 1..=k + 1);
                n = k;
            }
        }
        n += 1;
    }
    (inline, files)
}

/// The file a `mod name;` in `parent` declares.
fn child_file(parent: &Path, name: &str) -> Option<PathBuf> {
    let stem = parent.file_stem()?.to_string_lossy();
    let dir = if matches!(stem.as_ref(), "mod" | "lib" | "main") {
        parent.parent()?.to_path_buf()
    } else {
        parent.with_extension("")
    };
    [
        dir.join(format!("{name}.rs")),
        dir.join(name).join("mod.rs"),
    ]
    .into_iter()
    .find(|p| p.exists())
}

/// Every violation of `rules` in the files under `src` (paths relative to `root`).
fn violations(root: &Path, rules: &Rules) -> Vec<String> {
    let src = root.join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    assert!(files.len() > 50, "found the crate's files: {}", files.len());

    let mut test_files = BTreeSet::new();
    let mut texts = BTreeMap::new();
    for file in &files {
        let code = code_only(&std::fs::read_to_string(file).expect("readable"));
        let (_, declared) = test_code(&code);
        for name in declared {
            if let Some(child) = child_file(file, &name) {
                test_files.insert(child);
            }
        }
        texts.insert(file.clone(), code);
    }
    // A file under a test-only module's directory is test code too.
    let under_test = |file: &Path| {
        test_files
            .iter()
            .any(|t| file == t || file.starts_with(t.with_extension("")))
    };

    let mut found = Vec::new();
    for (file, code) in &texts {
        let relative = file.strip_prefix(&src).expect("under src");
        let shown = Path::new("src").join(relative);
        let module = module_of(relative);
        let Some(&kind) = rules.kinds.get(&module) else {
            found.push(format!(
                "{}: module `{module}` has no row in the table of {DOC}",
                shown.display()
            ));
            continue;
        };
        let whole_file_is_test = under_test(file);
        let (test_lines, _) = test_code(code);
        let crate_root = if matches!(module.as_str(), "main" | "bin") {
            "keel"
        } else {
            "crate"
        };
        let mut roots = vec![crate_root, "std"];
        roots.extend(EXTERNAL_ROOTS);
        for (line, path) in paths(code, &roots) {
            let text = path.join("::");
            let is_test = whole_file_is_test || test_lines.contains(&line);
            let at = format!("{}:{line}: `{text}`", shown.display());
            if path[0] == crate_root {
                let Some(used) = path.get(1) else { continue };
                if !rules.kinds.contains_key(used.as_str()) {
                    found.push(format!(
                        "{at}: `{used}` is not a module in the table of {DOC}"
                    ));
                } else if !rules.allows(&module, used) {
                    let allowed: Vec<&str> =
                        rules.may_use[&module].iter().map(String::as_str).collect();
                    let leaves: Vec<&str> = rules.leaves().map(String::as_str).collect();
                    found.push(format!(
                        "{at}: `{module}` may not use `{used}`; it may use [{}] and the leaves \
                         [{}] ({DOC}, \"Who may use whom\")",
                        allowed.join(", "),
                        leaves.join(", ")
                    ));
                }
                continue;
            }
            if let Some(only) = rules.crates.get(&path[0])
                && !only.contains(&module)
            {
                let only: Vec<&str> = only.iter().map(String::as_str).collect();
                found.push(format!(
                    "{at}: only [{}] may name the crate `{}` ({DOC}, \"Who may use whom\")",
                    only.join(", "),
                    path[0]
                ));
            }
            if matches!(kind, Kind::Leaf | Kind::Pure) && !is_test {
                for (forbidden, why) in IMPURE {
                    if text == *forbidden || text.starts_with(&format!("{forbidden}::")) {
                        let kind = if kind == Kind::Leaf { "a leaf" } else { "pure" };
                        found.push(format!(
                            "{at}: `{module}` is {kind} and must not name `{forbidden}` ({why}; \
                             {DOC}, \"Who may use whom\")"
                        ));
                    }
                }
            }
        }
    }
    for module in rules.kinds.keys() {
        let exists = src.join(format!("{module}.rs")).exists() || src.join(module).is_dir();
        if !exists {
            found.push(format!(
                "{DOC}: module `{module}` has a row but no file under src/"
            ));
        }
    }
    found
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_module_uses_only_what_the_architecture_allows() {
    let root = root();
    let rules = read_rules(&root);
    assert!(
        rules.kinds.len() >= 15,
        "{DOC}: the table lists the modules"
    );
    let found = violations(&root, &rules);
    assert!(
        found.is_empty(),
        "{} dependency rule violation(s):\n{}",
        found.len(),
        found.join("\n")
    );
}

#[test]
fn paths_are_found_in_every_form() {
    let code = code_only(
        "use crate::a::X;\nuse crate::{b::Y as W, c::{d::Z, e}};\nfn f() { crate::g::h(); \
         let s = \"crate::no\"; // crate::no\n x.crate::no; $crate::no::x; }\n\
         use std::{fs, time::{Duration, Instant}};\nuse mio;\nlet c = '\"'; crate::i::j;\n\
         r#\"crate::no\"#; 'a: loop {} std::net::TcpStream::connect();",
    );
    let found: Vec<(usize, String)> = paths(&code, &["crate", "std", "mio"])
        .into_iter()
        .map(|(l, p)| (l, p.join("::")))
        .collect();
    let want = [
        (1, "crate::a::X"),
        (2, "crate::b::Y"),
        (2, "crate::c::d::Z"),
        (2, "crate::c::e"),
        (3, "crate::g::h"),
        (5, "std::fs"),
        (5, "std::time::Duration"),
        (5, "std::time::Instant"),
        (6, "mio"),
        (7, "crate::i::j"),
        (8, "std::net::TcpStream::connect"),
    ];
    let want: Vec<(usize, String)> = want.iter().map(|(l, p)| (*l, p.to_string())).collect();
    assert_eq!(found, want);
}

#[test]
fn test_modules_are_told_apart() {
    let code = "fn a() {}\n#[cfg(test)]\nmod tests {\n    use std::fs;\n}\nfn b() {}\n\
                #[cfg(test)]\nmod spec;\n";
    let (lines, files) = test_code(code);
    assert_eq!(lines, (2..=5).collect());
    assert_eq!(files, ["spec".to_string()].into_iter().collect());
}
