//! Keeps `protocol-spec/` true to the code: the parts of the spec pages that restate the schemas
//! (field tables), the supported API versions and the error codes are generated sections, and
//! this test fails when a page and the code disagree, or when the spec documents an API the code
//! does not implement.
//!
//! A generated section is delimited by `<!-- BEGIN GENERATED: name -->` and
//! `<!-- END GENERATED: name -->`. After changing a schema, run
//! `KEEL_UPDATE_SPEC=1 cargo test --lib spec_pages` to rewrite the sections, then review the diff.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

use super::envelope::{request_header_version, response_header_version};
use super::error_code::ErrorCode;
use super::messages::{ApiKey, SCHEMA_FIELD_TABLES};

const BEGIN: &str = "<!-- BEGIN GENERATED: ";
const END: &str = "<!-- END GENERATED: ";
const CLOSE: &str = " -->";

fn spec_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("protocol-spec")
}

fn first_flexible(flexible: impl Fn(i16) -> bool, api: ApiKey) -> String {
    match api.versions().find(|&v| flexible(v)) {
        Some(v) => v.to_string(),
        None => "never".into(),
    }
}

fn api_table() -> String {
    let mut out = String::from(
        "| API | Key | Versions | Flexible from | Request header | Response header | Page |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for &api in ApiKey::ALL {
        let versions = api.versions();
        let headers = |header: fn(ApiKey, i16) -> i16| {
            let low = header(api, *versions.start());
            let high = header(api, *versions.end());
            if low == high {
                format!("v{low}")
            } else {
                format!("v{low} (v{}) / v{high}", versions.start())
            }
        };
        writeln!(
            out,
            "| {} | {} | {}-{} | {} | {} | {} | [apis/{}.md](apis/{}.md) |",
            api.name(),
            api as i16,
            versions.start(),
            versions.end(),
            first_flexible(|v| api.request_is_flexible(v), api),
            headers(request_header_version),
            headers(response_header_version),
            api.name(),
            api.name()
        )
        .unwrap();
    }
    out
}

fn error_table() -> String {
    let mut out = String::from("| Code | Name | Meaning |\n|---|---|---|\n");
    for &error in ErrorCode::ALL {
        writeln!(
            out,
            "| {} | `{}` | {} |",
            error.code(),
            error.name(),
            error.meaning()
        )
        .unwrap();
    }
    out
}

fn expected_sections() -> BTreeMap<String, String> {
    let mut sections = BTreeMap::new();
    for (schema, table) in SCHEMA_FIELD_TABLES {
        sections.insert(format!("fields {schema}"), (*table).to_owned());
    }
    sections.insert("api table".into(), api_table());
    sections.insert("error codes".into(), error_table());
    sections
}

fn markdown_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            markdown_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "md") {
            out.push(path);
        }
    }
}

/// Splits a page into (section name, byte range of the section's content).
fn sections_of(path: &Path, text: &str) -> Vec<(String, std::ops::Range<usize>)> {
    let mut found = Vec::new();
    let mut rest = 0;
    while let Some(at) = text[rest..].find(BEGIN) {
        let name_start = rest + at + BEGIN.len();
        let name_end = name_start + text[name_start..].find(CLOSE).expect("BEGIN marker closes");
        let name = text[name_start..name_end].to_owned();
        let content_start = name_end + CLOSE.len() + 1;
        let end_marker = format!("{END}{name}{CLOSE}");
        let content_end = content_start
            + text[content_start..].find(&end_marker).unwrap_or_else(|| {
                panic!("{}: section {name:?} has no end marker", path.display())
            });
        found.push((name, content_start..content_end));
        rest = content_end + end_marker.len();
    }
    found
}

#[test]
fn spec_pages_match_the_code() {
    let update = std::env::var_os("KEEL_UPDATE_SPEC").is_some();
    let expected = expected_sections();
    let mut seen: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut problems = Vec::new();
    let mut files = Vec::new();
    markdown_files(&spec_dir(), &mut files);
    files.sort();
    for path in &files {
        let mut text = std::fs::read_to_string(path).unwrap();
        let sections = sections_of(path, &text);
        let mut replacements = Vec::new();
        for (name, range) in sections {
            let Some(want) = expected.get(&name) else {
                problems.push(format!(
                    "{}: generated section {name:?} matches nothing in the code",
                    path.display()
                ));
                continue;
            };
            if let Some(other) = seen.insert(name.clone(), path.clone()) {
                problems.push(format!(
                    "section {name:?} appears in {} and {}",
                    other.display(),
                    path.display()
                ));
            }
            if text[range.clone()] != *want {
                if update {
                    replacements.push((range, want.clone()));
                } else {
                    problems.push(format!(
                        "{}: section {name:?} is out of date",
                        path.display()
                    ));
                }
            }
        }
        if !replacements.is_empty() {
            for (range, want) in replacements.into_iter().rev() {
                text.replace_range(range, &want);
            }
            std::fs::write(path, text).unwrap();
        }
    }
    for name in expected.keys() {
        if !seen.contains_key(name) {
            problems.push(format!("no spec page has the generated section {name:?}"));
        }
    }
    assert!(
        problems.is_empty(),
        "protocol-spec/ disagrees with the code (KEEL_UPDATE_SPEC=1 cargo test --lib spec_pages rewrites \
         generated sections):\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn every_api_has_exactly_one_page_and_no_page_lacks_an_api() {
    let mut pages: Vec<String> = std::fs::read_dir(spec_dir().join("apis"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    let mut wanted: Vec<String> = ApiKey::ALL
        .iter()
        .map(|api| format!("{}.md", api.name()))
        .collect();
    wanted.sort();
    assert_eq!(
        pages, wanted,
        "protocol-spec/apis/ must hold one page per implemented API"
    );
}
