//! Golden tests for `keel-dump` over checked-in fixture directories.
//!
//! The fixtures are made by `build_fixtures` below from keel's own storage code (never by hand)
//! with fixed ids and timestamps, so they are byte-for-byte reproducible: the test rebuilds
//! them and checks they still equal the checked-in ones (a format change shows up here), then
//! runs the real `keel-dump` on the checked-in copies and compares its output with the expected
//! files. `KEEL_UPDATE_GOLDEN=1 cargo test --test dump_golden` rewrites fixtures and expected
//! output; review the diff.

use std::path::{Path, PathBuf};
use std::process::Command;

use keel::metadata::record::{encode_leader_change, encode_no_op};
use keel::protocol::Uuid;
use keel::protocol::messages::{LeaderChangeMessage, leader_change_message};
use keel::storage::meta_properties::MetaProperties;
use keel::storage::quorum_state::{QuorumState, Vote};
use keel::storage::snapshot::{SnapshotId, SnapshotWriter};
use keel::storage::{Log, LogConfig, METADATA_PARTITION_DIR};

const FIXTURES: &str = "tests/fixtures/dump";

/// The tests read the fixtures while the rebuild test may rewrite them (in update mode).
static FIXTURES_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn lock() -> std::sync::MutexGuard<'static, ()> {
    FIXTURES_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
const SEGMENT_BYTES: u32 = 2048;

fn fixtures_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURES)
}

fn leader_change(leader: i32) -> Vec<u8> {
    let voter = |id: i32| leader_change_message::Voter {
        voter_id: id,
        voter_directory_id: Uuid::from_bytes([id as u8; 16]),
        ..Default::default()
    };
    encode_leader_change(&LeaderChangeMessage {
        version: 1,
        leader_id: leader,
        voters: vec![voter(1), voter(2), voter(3)],
        granting_voters: vec![voter(leader), voter(leader % 3 + 1)],
        ..Default::default()
    })
}

fn config() -> LogConfig {
    LogConfig {
        zero_fill_chunk_bytes: 512,
        prepare_ahead_bytes: 1024,
        index_interval_bytes: 256,
        ..LogConfig::with_segment_bytes(SEGMENT_BYTES)
    }
}

/// A data directory with a formatted identity, an election state and a log of two epochs over
/// several segments.
fn write_clean(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    MetaProperties {
        cluster_id: "MkU3OEVBNTcwNTJENDM2Qg".into(),
        node_id: 1,
        directory_id: Uuid::from_bytes([1; 16]),
    }
    .write(dir)
    .unwrap();
    let partition = dir.join(METADATA_PARTITION_DIR);
    let mut log = Log::open(&partition, config()).unwrap();
    let mut now = 1_795_000_000_000i64;
    for epoch in [1u32, 2] {
        log.append(epoch, now, true, &[&leader_change(epoch as i32)])
            .unwrap();
        for _ in 0..40 {
            now += 500;
            log.append(epoch, now, false, &[&encode_no_op()]).unwrap();
        }
    }
    log.flush().unwrap();
    assert!(
        log.segment_count() >= 3,
        "the clean fixture spans several segments"
    );
    QuorumState {
        epoch: 2,
        voted_for: Some(Vote {
            node_id: 1,
            directory_id: Uuid::from_bytes([1; 16]),
        }),
        leader_id: Some(1),
        local_directory_id: Uuid::from_bytes([1; 16]),
    }
    .write(&partition)
    .unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir.join(METADATA_PARTITION_DIR))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    found.sort();
    found
}

/// Builds every fixture under `root` (which must not exist).
fn build_fixtures(root: &Path) {
    let clean = root.join("clean");
    write_clean(&clean);

    // The last batch of the last segment cut in the middle: a write a crash interrupted.
    let torn = root.join("torn-tail");
    copy_dir(&clean, &torn);
    let last = segments(&torn).pop().unwrap();
    let mut bytes = std::fs::read(&last).unwrap();
    let batches_end = last_batch_end(&bytes);
    for byte in &mut bytes[batches_end - 20..] {
        *byte = 0;
    }
    std::fs::write(&last, bytes).unwrap();

    // One byte flipped inside a batch in the middle of the first (sealed) segment.
    let bad = root.join("bad-crc");
    copy_dir(&clean, &bad);
    let first = segments(&bad).remove(0);
    let mut bytes = std::fs::read(&first).unwrap();
    bytes[600] ^= 0x40;
    std::fs::write(&first, bytes).unwrap();

    // The index of the first segment removed: recovery would rebuild it.
    let missing = root.join("missing-index");
    copy_dir(&clean, &missing);
    let first = segments(&missing).remove(0);
    std::fs::remove_file(first.with_extension("index")).unwrap();

    // A snapshot covering the first segment's offsets, and the log without that segment.
    let snap = root.join("snapshot-and-log");
    copy_dir(&clean, &snap);
    let partition = snap.join(METADATA_PARTITION_DIR);
    let second_base: u64 = segments(&snap)[1]
        .file_stem()
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let mut writer = SnapshotWriter::create(
        &partition,
        SnapshotId {
            end_offset: second_base,
            epoch: 1,
        },
    )
    .unwrap();
    for _ in 0..second_base {
        writer
            .append(1_795_000_000_000, &[&encode_no_op()])
            .unwrap();
    }
    writer.finish().unwrap();
    let mut log = Log::open(&partition, config()).unwrap();
    log.delete_before(second_base).unwrap();
}

/// Byte position just after the last valid batch of a segment.
fn last_batch_end(segment: &[u8]) -> usize {
    let mut at = 24;
    while let Some(header) = keel::storage::batch::peek_header(&segment[at..]) {
        if header.batch_bytes == 0 || at + header.batch_bytes as usize > segment.len() {
            break;
        }
        at += header.batch_bytes as usize;
    }
    at
}

/// Every file under `dir`, relative path -> bytes.
fn snapshot_tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                out.push((
                    path.strip_prefix(base).unwrap().display().to_string(),
                    std::fs::read(&path).unwrap(),
                ));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// The commands whose output is golden, as (expected-file name, arguments).
fn commands() -> Vec<(String, Vec<String>)> {
    let mut list = Vec::new();
    for fixture in [
        "clean",
        "torn-tail",
        "bad-crc",
        "missing-index",
        "snapshot-and-log",
    ] {
        list.push((
            format!("{fixture}.verify"),
            vec!["verify".into(), fixture.into()],
        ));
        list.push((format!("{fixture}.log"), vec!["log".into(), fixture.into()]));
    }
    list.push((
        "clean.log-json-range".into(),
        vec![
            "log".into(),
            "--json".into(),
            "--from".into(),
            "40".into(),
            "--to".into(),
            "42".into(),
            "clean".into(),
        ],
    ));
    list.push(("clean.stats".into(), vec!["stats".into(), "clean".into()]));
    list.push((
        "clean.quorum-state".into(),
        vec!["quorum-state".into(), "clean".into()],
    ));
    let partition = fixtures_root()
        .join("snapshot-and-log")
        .join(METADATA_PARTITION_DIR);
    if let Some(snapshot) = std::fs::read_dir(&partition)
        .into_iter()
        .flatten()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .find(|name| name.ends_with(".checkpoint"))
    {
        list.push((
            "snapshot-and-log.snapshot".into(),
            vec![
                "snapshot".into(),
                format!("snapshot-and-log/{METADATA_PARTITION_DIR}/{snapshot}"),
            ],
        ));
    }
    list
}

fn run_dump(args: &[String]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_keel-dump"))
        .args(args)
        .current_dir(fixtures_root())
        .output()
        .unwrap();
    let mut text = String::from_utf8(output.stdout).unwrap();
    text.push_str(&String::from_utf8(output.stderr).unwrap());
    (output.status.code().unwrap_or(-1), text)
}

#[test]
fn fixtures_are_what_keels_code_writes() {
    let _guard = lock();
    let scratch = std::env::temp_dir().join(format!("keel-dump-fixtures-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    build_fixtures(&scratch);
    if std::env::var_os("KEEL_UPDATE_GOLDEN").is_some() {
        let _ = std::fs::remove_dir_all(fixtures_root());
        copy_dir(&scratch, &fixtures_root());
    }
    let built = snapshot_tree(&scratch);
    let checked_in: Vec<(String, Vec<u8>)> = snapshot_tree(&fixtures_root())
        .into_iter()
        .filter(|(name, _)| !name.ends_with(".expected"))
        .collect();
    let names =
        |tree: &[(String, Vec<u8>)]| tree.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&built),
        names(&checked_in),
        "fixture files differ (KEEL_UPDATE_GOLDEN=1 rewrites them)"
    );
    for ((name, a), (_, b)) in built.iter().zip(&checked_in) {
        assert!(
            a == b,
            "{name} differs from what keel writes today (KEEL_UPDATE_GOLDEN=1 rewrites it)"
        );
    }
    std::fs::remove_dir_all(&scratch).unwrap();
}

#[test]
fn keel_dump_output_matches_the_golden_files() {
    let _guard = lock();
    let update = std::env::var_os("KEEL_UPDATE_GOLDEN").is_some();
    let mut mismatches = Vec::new();
    for (name, args) in commands() {
        let (code, output) = run_dump(&args);
        let actual = format!("exit {code}\n{output}");
        let path = fixtures_root().join(format!("{name}.expected"));
        if update {
            std::fs::write(&path, &actual).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_default();
        if actual != expected {
            mismatches.push(format!(
                "{name}:\n--- expected\n{expected}\n--- actual\n{actual}"
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "keel-dump output changed:\n{}",
        mismatches.join("\n")
    );
}

#[test]
fn verify_tells_the_damage_apart() {
    let _guard = lock();
    let expect = |fixture: &str, code: i32, needle: &str| {
        let (got, output) = run_dump(&["verify".into(), fixture.into()]);
        assert_eq!(got, code, "{fixture}: {output}");
        assert!(
            output.contains(needle),
            "{fixture}: expected {needle:?} in:\n{output}"
        );
    };
    expect("clean", 0, "no problems");
    expect("torn-tail", 1, "torn tail (recovery would cut it)");
    expect("bad-crc", 1, "CORRUPTION (recovery would refuse to start)");
    expect("bad-crc", 1, "at byte 5");
    expect("missing-index", 1, "missing");
    expect("snapshot-and-log", 0, "1 snapshot(s)");
}
