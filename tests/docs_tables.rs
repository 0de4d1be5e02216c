//! The tables of `docs/operations.md` that are generated from the code, checked: the
//! configuration keys (`keel::config::keys::markdown_table`, from the key table that
//! `Config::parse` reads through) and the exit statuses (`keel::exit::ExitStatus`). Each table
//! sits between a `<!-- BEGIN ... -->` and an `<!-- END ... -->` line; when the page and the
//! code differ the test fails with a line diff and the command that rewrites the page:
//! `KEEL_UPDATE_DOCS=1 cargo test --release --test docs_tables`.

use std::path::PathBuf;

const PAGE: &str = "docs/operations.md";
const UPDATE: &str = "KEEL_UPDATE_DOCS";

/// One generated table: its markers and what the code says it is.
struct Generated {
    begin: &'static str,
    end: &'static str,
    expected: String,
}

fn page_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(PAGE)
}

/// The byte range of the text between the line holding `begin` and the line starting with
/// `end`.
fn section(text: &str, begin: &str, end: &str) -> std::ops::Range<usize> {
    let start = text
        .find(begin)
        .unwrap_or_else(|| panic!("{PAGE}: no line with {begin:?}"));
    let start = start
        + text[start..]
            .find('\n')
            .unwrap_or_else(|| panic!("{PAGE}: nothing after {begin:?}"))
        + 1;
    let stop = start
        + text[start..]
            .find(end)
            .unwrap_or_else(|| panic!("{PAGE}: no {end:?} after {begin:?}"));
    assert!(
        stop == start || text[..stop].ends_with('\n'),
        "{PAGE}: {end:?} must start a line"
    );
    start..stop
}

/// A line diff (longest common subsequence): `-` lines only the page has, `+` lines only the
/// code has, two lines of context around each change.
fn diff(page: &str, code: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (page.lines().collect(), code.lines().collect());
    let mut common = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            common[i][j] = if a[i] == b[j] {
                common[i + 1][j + 1] + 1
            } else {
                common[i + 1][j].max(common[i][j + 1])
            };
        }
    }
    let mut lines: Vec<(char, &str)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            lines.push((' ', a[i]));
            (i, j) = (i + 1, j + 1);
        } else if i < a.len() && (j == b.len() || common[i + 1][j] >= common[i][j + 1]) {
            lines.push(('-', a[i]));
            i += 1;
        } else {
            lines.push(('+', b[j]));
            j += 1;
        }
    }
    let changed: Vec<usize> = (0..lines.len()).filter(|&k| lines[k].0 != ' ').collect();
    let near_change = |k: usize| changed.iter().any(|&c| c.abs_diff(k) <= 2);
    let mut out = String::new();
    for (k, (mark, line)) in lines.iter().enumerate() {
        if near_change(k) {
            out.push_str(&format!("{mark} {line}\n"));
        } else if k > 0 && near_change(k - 1) {
            out.push_str("  ...\n");
        }
    }
    out
}

/// Checks every table of the page; with `KEEL_UPDATE_DOCS` set, rewrites the ones that differ.
fn check(tables: &[Generated]) {
    let path = page_path();
    let mut text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{PAGE}: {e}"));
    let mut stale = Vec::new();
    for table in tables {
        let range = section(&text, table.begin, table.end);
        if text[range.clone()] != table.expected {
            stale.push(format!(
                "{PAGE}: the table between {:?} and {:?} is not what the code generates \
                 (- the page, + the code):\n{}",
                table.begin,
                table.end,
                diff(&text[range.clone()], &table.expected)
            ));
            text.replace_range(range, &table.expected);
        }
    }
    if stale.is_empty() {
        return;
    }
    if std::env::var_os(UPDATE).is_some() {
        std::fs::write(&path, &text).unwrap_or_else(|e| panic!("{PAGE}: {e}"));
        eprintln!("rewrote {PAGE}:\n{}", stale.join("\n"));
        return;
    }
    panic!(
        "{}\nRegenerate the page with `{UPDATE}=1 cargo test --release --test docs_tables` \
         (after changing the code, not the page).",
        stale.join("\n")
    );
}

#[test]
fn the_pages_tables_are_the_ones_the_code_generates() {
    check(&[
        Generated {
            begin: "<!-- BEGIN CONFIG KEYS",
            end: "<!-- END CONFIG KEYS -->",
            expected: keel::config::keys::markdown_table(),
        },
        Generated {
            begin: "<!-- BEGIN EXIT STATUS",
            end: "<!-- END EXIT STATUS -->",
            expected: keel::exit::ExitStatus::markdown_table(),
        },
    ]);
}

#[test]
fn the_diff_shows_what_changed_and_where() {
    let page = "| a |\n| b |\n| c |\n| d |\n| e |\n| f |\n";
    let code = "| a |\n| b |\n| c |\n| D |\n| e |\n| f |\n| g |\n";
    assert_eq!(
        diff(page, code),
        "  | b |\n  | c |\n- | d |\n+ | D |\n  | e |\n  | f |\n+ | g |\n"
    );
    assert_eq!(diff(page, page), "");
    let text = "x\n<!-- BEGIN T: y -->\n| a |\n<!-- END T -->\nz\n";
    assert_eq!(
        &text[section(text, "<!-- BEGIN T", "<!-- END T -->")],
        "| a |\n"
    );
}
