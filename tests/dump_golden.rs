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

use keel::metadata::image::{RESOURCE_BROKER, RESOURCE_TOPIC};
use keel::metadata::record::{encode_leader_change, encode_no_op};
use keel::metadata::snapshot::snapshot_batches;
use keel::metadata::{Image, MetadataRecord};
use keel::protocol::Uuid;
use keel::protocol::messages::{
    BrokerRegistrationChangeRecord, ConfigRecord, FeatureLevelRecord, LeaderChangeMessage,
    PartitionChangeRecord, PartitionRecord, RegisterBrokerRecord, RemoveTopicRecord, TopicRecord,
    leader_change_message, register_broker_record,
};
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
    config_with_segments(SEGMENT_BYTES)
}

fn config_with_segments(segment_bytes: u32) -> LogConfig {
    LogConfig {
        zero_fill_chunk_bytes: 512,
        prepare_ahead_bytes: 1024,
        index_interval_bytes: 256,
        ..LogConfig::with_segment_bytes(segment_bytes)
    }
}

/// The metadata fixtures' segments: small, so a few dozen records span several of them.
const METADATA_SEGMENT_BYTES: u32 = 1024;

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

/// Appends to a log what a controller would, and applies it to an image as a node would, so
/// every record in the metadata fixtures is one that applies.
struct MetadataWriter {
    log: Log,
    image: Image,
    epoch: u32,
    now: i64,
}

impl MetadataWriter {
    fn new(partition: &Path) -> MetadataWriter {
        MetadataWriter {
            log: Log::open(partition, config_with_segments(METADATA_SEGMENT_BYTES)).unwrap(),
            image: Image::new(),
            epoch: 0,
            now: 1_795_100_000_000,
        }
    }

    fn next_offset(&self) -> u64 {
        self.log.log_end_offset()
    }

    fn new_epoch(&mut self) {
        self.epoch += 1;
        self.now += 1000;
        let (offset, _) = self
            .log
            .append(
                self.epoch,
                self.now,
                true,
                &[&leader_change(self.epoch as i32)],
            )
            .unwrap();
        self.image.advance_to(offset);
    }

    fn batch(&mut self, records: Vec<MetadataRecord>) {
        self.now += 250;
        let encoded: Vec<Vec<u8>> = records.iter().map(MetadataRecord::encode).collect();
        let refs: Vec<&[u8]> = encoded.iter().map(Vec::as_slice).collect();
        let (base, _) = self.log.append(self.epoch, self.now, false, &refs).unwrap();
        for (offset, record) in (base..).zip(&records) {
            self.image.apply(offset, record).unwrap();
        }
    }
}

fn topic_id(n: u8) -> Uuid {
    Uuid::from_bytes([0x40 + n; 16])
}

fn register(id: i32, epoch: u64, rack: Option<&str>, sasl: bool) -> MetadataRecord {
    let endpoint =
        |name: &str, port: u16, security_protocol: i16| register_broker_record::BrokerEndpoint {
            name: name.into(),
            host: format!("broker{id}.example"),
            port,
            security_protocol,
            ..Default::default()
        };
    let mut end_points = vec![endpoint("PLAINTEXT", 9092, 0)];
    if sasl {
        end_points.push(endpoint("EXTERNAL", 9094, 3));
    }
    MetadataRecord::RegisterBroker(RegisterBrokerRecord {
        broker_id: id,
        incarnation_id: Uuid::from_bytes([0x10 + id as u8; 16]),
        broker_epoch: epoch as i64,
        end_points,
        features: vec![register_broker_record::BrokerFeature {
            name: "metadata.version".into(),
            min_supported_version: 1,
            max_supported_version: 21,
            ..Default::default()
        }],
        rack: rack.map(str::to_owned),
        fenced: true,
        log_dirs: vec![Uuid::from_bytes([0x20 + id as u8; 16])],
        ..Default::default()
    })
}

fn registration_change(id: i32, epoch: u64, fenced: i8, shutdown: i8) -> MetadataRecord {
    MetadataRecord::BrokerRegistrationChange(BrokerRegistrationChangeRecord {
        broker_id: id,
        broker_epoch: epoch as i64,
        fenced,
        in_controlled_shutdown: shutdown,
        ..Default::default()
    })
}

/// A topic as CreateTopics writes it: the TopicRecord, its configs, its partitions.
fn create_topic(
    name: &str,
    id: Uuid,
    configs: &[(&str, &str)],
    replicas: &[Vec<i32>],
) -> Vec<MetadataRecord> {
    let mut records = vec![MetadataRecord::Topic(TopicRecord {
        name: name.into(),
        topic_id: id,
        ..Default::default()
    })];
    for (key, value) in configs {
        records.push(config_record(RESOURCE_TOPIC, name, key, Some(value)));
    }
    for (partition, replicas) in replicas.iter().enumerate() {
        records.push(MetadataRecord::Partition(PartitionRecord {
            partition_id: partition as i32,
            topic_id: id,
            replicas: replicas.clone(),
            isr: replicas.clone(),
            leader: replicas[0],
            leader_epoch: 0,
            partition_epoch: 0,
            ..Default::default()
        }));
    }
    records
}

fn config_record(
    resource_type: i8,
    resource: &str,
    key: &str,
    value: Option<&str>,
) -> MetadataRecord {
    MetadataRecord::Config(ConfigRecord {
        resource_type,
        resource_name: resource.into(),
        name: key.into(),
        value: value.map(str::to_owned),
        ..Default::default()
    })
}

fn partition_change(
    topic: Uuid,
    partition: i32,
    leader: Option<i32>,
    isr: &[i32],
) -> MetadataRecord {
    MetadataRecord::PartitionChange(PartitionChangeRecord {
        topic_id: topic,
        partition_id: partition,
        leader: leader.unwrap_or(-2),
        isr: Some(isr.to_vec()),
        ..Default::default()
    })
}

fn write_identity(dir: &Path, node: u32) {
    std::fs::create_dir_all(dir).unwrap();
    MetaProperties {
        cluster_id: "MkU3OEVBNTcwNTJENDM2Qg".into(),
        node_id: node,
        directory_id: Uuid::from_bytes([node as u8; 16]),
    }
    .write(dir)
    .unwrap();
}

/// A metadata log as a cluster writes it: brokers registering and unfenced, three topics
/// created with configs, broker configs; a snapshot; then a new leader, a partition change, a
/// topic deleted, a broker shutting down and fenced, a config deleted and one set. The
/// "metadata-log" fixture keeps the whole log; "metadata" adds a snapshot taken after the new
/// leader's first change and deletes the segments before it, so `image` must combine the two.
fn write_metadata(root: &Path) {
    let full = root.join("metadata-log");
    write_identity(&full, 1);
    let partition = full.join(METADATA_PARTITION_DIR);
    let mut w = MetadataWriter::new(&partition);
    w.new_epoch();
    w.batch(vec![MetadataRecord::FeatureLevel(FeatureLevelRecord {
        name: "metadata.version".into(),
        feature_level: 21,
        ..Default::default()
    })]);
    let mut epochs = Vec::new();
    for (id, rack, sasl) in [
        (1, Some("rack-a"), false),
        (2, Some("rack-b"), false),
        (3, None, true),
    ] {
        let epoch = w.next_offset();
        epochs.push(epoch);
        w.batch(vec![register(id, epoch, rack, sasl)]);
    }
    w.batch(
        (1..=3)
            .map(|id| registration_change(id, epochs[id as usize - 1], -1, 0))
            .collect(),
    );
    let (orders, payments, scratch) = (topic_id(1), topic_id(2), topic_id(3));
    w.batch(create_topic(
        "orders",
        orders,
        &[("cleanup.policy", "compact"), ("retention.ms", "604800000")],
        &[vec![1, 2, 3], vec![2, 3, 1], vec![3, 1, 2]],
    ));
    w.batch(create_topic(
        "payments",
        payments,
        &[],
        &[vec![1, 2], vec![2, 3]],
    ));
    w.batch(create_topic("scratch", scratch, &[], &[vec![3]]));
    w.batch(vec![
        config_record(RESOURCE_BROKER, "1", "log.retention.ms", Some("86400000")),
        config_record(RESOURCE_BROKER, "", "num.io.threads", Some("16")),
    ]);
    w.batch(vec![MetadataRecord::NoOp(Default::default())]);

    // A new leader; broker 1 drops out of an ISR; scratch is deleted; broker 3 shuts down.
    w.new_epoch();
    w.batch(vec![partition_change(orders, 0, Some(2), &[2, 3])]);
    w.log.flush().unwrap();
    let snapshot_at = w.next_offset();
    w.batch(vec![MetadataRecord::RemoveTopic(RemoveTopicRecord {
        topic_id: scratch,
        ..Default::default()
    })]);
    w.batch(vec![
        partition_change(orders, 2, Some(1), &[1, 2]),
        partition_change(orders, 1, None, &[2, 1]),
        partition_change(payments, 1, None, &[2]),
        registration_change(3, epochs[2], 0, 1),
    ]);
    w.batch(vec![registration_change(3, epochs[2], 1, 0)]);
    w.batch(vec![
        config_record(RESOURCE_TOPIC, "orders", "retention.ms", None),
        config_record(RESOURCE_TOPIC, "payments", "min.insync.replicas", Some("2")),
    ]);
    w.batch(vec![MetadataRecord::NoOp(Default::default())]);
    w.log.flush().unwrap();
    assert!(
        w.log.segment_count() >= 3,
        "the metadata fixture spans several segments"
    );
    drop(w);
    QuorumState {
        epoch: 2,
        voted_for: None,
        leader_id: Some(2),
        local_directory_id: Uuid::from_bytes([1; 16]),
    }
    .write(&partition)
    .unwrap();

    // The same log with a snapshot at `snapshot_at` and the segments before it deleted. The
    // snapshot is the image rebuilt from the log up to there, as a node would write it.
    let tail = root.join("metadata");
    copy_dir(&full, &tail);
    let partition = tail.join(METADATA_PARTITION_DIR);
    let mut image = Image::new();
    {
        let log = Log::open(&partition, config_with_segments(METADATA_SEGMENT_BYTES)).unwrap();
        let mut offset = 0;
        while offset < snapshot_at {
            let bytes = log.read(offset, 1).unwrap();
            let batch = keel::storage::batch::decode_batch(bytes, keel::constants::BATCH_BYTES_MAX)
                .unwrap();
            for (o, record) in (batch.header.base_offset..).zip(batch.records()) {
                if batch.header.is_control() {
                    image.advance_to(o);
                } else {
                    image
                        .apply(o, &MetadataRecord::decode(record).unwrap())
                        .unwrap();
                }
            }
            offset = batch.header.next_offset();
        }
    }
    let mut writer = SnapshotWriter::create(
        &partition,
        SnapshotId {
            end_offset: snapshot_at,
            epoch: 2,
        },
    )
    .unwrap();
    for batch in snapshot_batches(&image) {
        let refs: Vec<&[u8]> = batch.iter().map(Vec::as_slice).collect();
        writer.append(1_795_100_002_000, &refs).unwrap();
    }
    writer.finish().unwrap();
    let mut log = Log::open(&partition, config_with_segments(METADATA_SEGMENT_BYTES)).unwrap();
    log.delete_before(snapshot_at).unwrap();
    assert!(
        log.segment_base_offsets()[0] < snapshot_at,
        "the first segment left starts before the snapshot's end, so replay must skip into it: {:?}, snapshot at {snapshot_at}",
        log.segment_base_offsets()
    );
}

/// A log holding records keel cannot read: an unknown record type (99) at offset 3 and an
/// unknown version (9) of PartitionChangeRecord at offset 5.
fn write_unknown_record(root: &Path) {
    let dir = root.join("unknown-record");
    write_identity(&dir, 1);
    let mut log = Log::open(&dir.join(METADATA_PARTITION_DIR), config()).unwrap();
    let now = 1_795_200_000_000;
    log.append(1, now, true, &[&leader_change(1)]).unwrap();
    let level = MetadataRecord::FeatureLevel(FeatureLevelRecord {
        name: "metadata.version".into(),
        feature_level: 21,
        ..Default::default()
    })
    .encode();
    log.append(1, now, false, &[&level]).unwrap();
    let (base, _) = log
        .append(
            1,
            now,
            false,
            &[&encode_no_op(), &[0x01, 0x63, 0x00, 0x00], &encode_no_op()],
        )
        .unwrap();
    assert_eq!(base, 2);
    let (base, _) = log
        .append(1, now, false, &[&[0x01, 0x05, 0x09, 0x00]])
        .unwrap();
    assert_eq!(base, 5);
    log.flush().unwrap();
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

    write_metadata(root);
    write_unknown_record(root);
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
    let args = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    for (name, command) in [
        (
            "metadata.log-records",
            &["log", "--records", "metadata"][..],
        ),
        (
            "metadata.log-records-json",
            &["log", "--records", "--json", "metadata"],
        ),
        (
            "metadata-log.log-records",
            &["log", "--records", "metadata-log"],
        ),
        ("metadata.verify", &["verify", "metadata"]),
        ("metadata.stats", &["stats", "metadata"]),
        ("metadata.image", &["image", "metadata"]),
        ("metadata.image-json", &["image", "--json", "metadata"]),
        ("metadata.image-at-24", &["image", "--at", "24", "metadata"]),
        (
            "metadata.image-before-snapshot",
            &["image", "--at", "13", "metadata"],
        ),
        (
            "metadata-log.image-at-13",
            &["image", "--at", "13", "metadata-log"],
        ),
        (
            "unknown-record.log-records",
            &["log", "--records", "unknown-record"],
        ),
        ("unknown-record.verify", &["verify", "unknown-record"]),
        ("unknown-record.image", &["image", "unknown-record"]),
    ] {
        list.push((name.into(), args(command)));
    }
    list.push((
        "clean.quorum-state".into(),
        vec!["quorum-state".into(), "clean".into()],
    ));
    for (fixture, name, flags) in [
        ("snapshot-and-log", "snapshot-and-log.snapshot", &[][..]),
        ("metadata", "metadata.snapshot-records", &["--records"][..]),
        (
            "metadata",
            "metadata.snapshot-records-json",
            &["--records", "--json"][..],
        ),
    ] {
        let partition = fixtures_root().join(fixture).join(METADATA_PARTITION_DIR);
        if let Some(snapshot) = std::fs::read_dir(&partition)
            .into_iter()
            .flatten()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .find(|name| name.ends_with(".checkpoint"))
        {
            let mut command = vec!["snapshot".to_string()];
            command.extend(flags.iter().map(|s| s.to_string()));
            command.push(format!("{fixture}/{METADATA_PARTITION_DIR}/{snapshot}"));
            list.push((name.into(), command));
        }
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

#[test]
fn unreadable_records_are_named_by_their_offset_everywhere() {
    let _guard = lock();
    let (code, output) = run_dump(&["log".into(), "--records".into(), "unknown-record".into()]);
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("  offset 3 ERROR unknown metadata record type 99 version 0"));
    assert!(output.contains("  offset 5 ERROR unknown metadata record type 5 version 9"));
    assert!(output.contains("  offset 4 NoOpRecord v0"), "{output}");

    let (code, output) = run_dump(&["verify".into(), "unknown-record".into()]);
    assert_eq!(code, 1, "{output}");
    assert!(
        output.contains("(offset 3): unknown metadata record type 99"),
        "{output}"
    );
    assert!(output.contains("(offset 5): unknown metadata record type 5 version 9"));

    let (code, output) = run_dump(&["image".into(), "unknown-record".into()]);
    assert_eq!(code, 1, "{output}");
    assert!(output.contains("image at offset 2:"), "{output}");
    assert!(output.contains("STOPPED: record at offset 3: unknown metadata record type 99"));

    let (code, output) = run_dump(&["stats".into(), "unknown-record".into()]);
    assert_eq!(code, 0, "{output}");
    assert!(
        output.contains("unreadable metadata record type 99: 1 records"),
        "{output}"
    );
}

#[test]
fn a_snapshot_and_the_log_after_it_build_the_image_the_whole_log_builds() {
    let _guard = lock();
    use keel::dump::files::discover;
    use keel::dump::image::build;
    use keel::dump::stream::ReadConfig;
    let full = discover(&fixtures_root().join("metadata-log")).unwrap();
    let tail = discover(&fixtures_root().join("metadata")).unwrap();
    assert!(!tail.snapshots.is_empty() && tail.segments[0].0 > 0);
    for at in [None, Some(24), Some(27), Some(1000)] {
        let a = build(&full, at, ReadConfig::default()).unwrap().unwrap();
        let b = build(&tail, at, ReadConfig::default()).unwrap().unwrap();
        assert!(a.snapshot.is_none() && b.snapshot.is_some());
        assert!(a.error.is_none() && b.error.is_none());
        assert_eq!(a.image, b.image, "at {at:?}");
    }
    let end = build(&tail, None, ReadConfig::default()).unwrap().unwrap();
    assert_eq!(
        end.image.topic_count(),
        2,
        "scratch was deleted after the snapshot"
    );
    assert!(end.image.topic_by_name("scratch").is_none());
    assert!(end.image.broker(3).unwrap().fenced);
    // Before the snapshot, with the log's start deleted, there is nothing to build from.
    assert!(
        build(&tail, Some(13), ReadConfig::default())
            .unwrap()
            .is_err()
    );
    let early = build(&full, Some(13), ReadConfig::default())
        .unwrap()
        .unwrap();
    assert_eq!(early.image.offset(), Some(13));
    assert_eq!(early.image.topic_count(), 1);
}

/// A strict JSON syntax check (RFC 8259), enough to catch broken escaping or punctuation in
/// keel-dump's hand-written JSON without a JSON library.
fn json_value(s: &[u8], mut i: usize) -> Result<usize, String> {
    let ws = |s: &[u8], mut i: usize| {
        while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\r') {
            i += 1;
        }
        i
    };
    i = ws(s, i);
    let err = |i: usize, what: &str| Err(format!("{what} at byte {i}"));
    match s.get(i) {
        Some(b'{') | Some(b'[') => {
            let object = s[i] == b'{';
            let close = if object { b'}' } else { b']' };
            i = ws(s, i + 1);
            if s.get(i) == Some(&close) {
                return Ok(i + 1);
            }
            loop {
                if object {
                    i = ws(s, i);
                    if s.get(i) != Some(&b'"') {
                        return err(i, "expected a key");
                    }
                    i = json_value(s, i)?;
                    i = ws(s, i);
                    if s.get(i) != Some(&b':') {
                        return err(i, "expected ':'");
                    }
                    i += 1;
                }
                i = ws(s, json_value(s, i)?);
                match s.get(i) {
                    Some(b',') => i += 1,
                    Some(c) if *c == close => return Ok(i + 1),
                    _ => return err(i, "expected ',' or a close"),
                }
            }
        }
        Some(b'"') => {
            i += 1;
            while let Some(&c) = s.get(i) {
                match c {
                    b'"' => return Ok(i + 1),
                    b'\\' => match s.get(i + 1) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                        Some(b'u')
                            if s.len() >= i + 6
                                && s[i + 2..i + 6].iter().all(u8::is_ascii_hexdigit) =>
                        {
                            i += 6
                        }
                        _ => return err(i, "bad escape"),
                    },
                    c if c < 0x20 => return err(i, "control character in a string"),
                    _ => i += 1,
                }
            }
            err(i, "unterminated string")
        }
        Some(b't') if s[i..].starts_with(b"true") => Ok(i + 4),
        Some(b'f') if s[i..].starts_with(b"false") => Ok(i + 5),
        Some(b'n') if s[i..].starts_with(b"null") => Ok(i + 4),
        Some(c) if *c == b'-' || c.is_ascii_digit() => {
            let start = i;
            i += 1;
            while i < s.len()
                && (s[i].is_ascii_digit() || matches!(s[i], b'.' | b'e' | b'E' | b'+' | b'-'))
            {
                i += 1;
            }
            std::str::from_utf8(&s[start..i])
                .unwrap()
                .parse::<f64>()
                .map(|_| i)
                .map_err(|e| format!("bad number at byte {start}: {e}"))
        }
        _ => err(i, "expected a value"),
    }
}

fn assert_json(text: &str, what: &str) {
    let bytes = text.as_bytes();
    let end = json_value(bytes, 0).unwrap_or_else(|e| panic!("{what}: {e}:\n{text}"));
    assert!(
        text[end..].trim().is_empty(),
        "{what}: trailing bytes after the JSON value"
    );
}

#[test]
fn json_output_is_json() {
    let _guard = lock();
    assert!(json_value(br#"{"a":[1,-2.5e3,"x\"\u0001"],"b":null}"#, 0).is_ok());
    assert!(json_value(br#"{"a":[1,]}"#, 0).is_err());
    assert!(json_value(b"{\"a\":\"\x01\"}", 0).is_err());
    for args in [
        &["log", "--json", "--records", "metadata"][..],
        &["log", "--json", "--records", "unknown-record"],
        &["log", "--json", "bad-crc"],
        &["log", "--json", "torn-tail"],
    ] {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let (code, output) = run_dump(&args);
        assert_eq!(code, 0, "{output}");
        for line in output.lines() {
            assert_json(line, &args.join(" "));
        }
    }
    for fixture in ["metadata", "unknown-record", "metadata-log"] {
        let (_, output) = run_dump(&["image".into(), "--json".into(), fixture.into()]);
        assert_json(&output, fixture);
    }
    let partition = fixtures_root()
        .join("metadata")
        .join(METADATA_PARTITION_DIR);
    let snapshot = std::fs::read_dir(&partition)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "checkpoint"))
        .unwrap();
    let (code, output) = run_dump(&[
        "snapshot".into(),
        "--json".into(),
        "--records".into(),
        snapshot.display().to_string(),
    ]);
    assert_eq!(code, 0, "{output}");
    for line in output.lines() {
        assert_json(line, "snapshot --json --records");
    }
}

#[test]
fn a_snapshot_record_keel_cannot_read_is_a_problem() {
    let dir = std::env::temp_dir().join(format!("keel-dump-bad-snapshot-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let partition = dir.join(METADATA_PARTITION_DIR);
    std::fs::create_dir_all(&partition).unwrap();
    let id = SnapshotId {
        end_offset: 3,
        epoch: 1,
    };
    let mut writer = SnapshotWriter::create(&partition, id).unwrap();
    writer
        .append(
            0,
            &[&encode_no_op(), &[0x01, 0x63, 0x00, 0x00], &encode_no_op()],
        )
        .unwrap();
    writer.finish().unwrap();
    let run = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_keel-dump"))
            .args(args)
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8(output.stdout).unwrap(),
        )
    };
    let (code, output) = run(&["verify", partition.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{output}");
    assert!(
        output.contains("snapshot record 1: unknown metadata record type 99 version 0"),
        "{output}"
    );
    let file = partition.join(id.file_name());
    let (code, output) = run(&["snapshot", "--records", file.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{output}");
    assert!(
        output.contains("  offset 1 ERROR unknown metadata record type 99"),
        "{output}"
    );
    assert!(output.contains("1 unreadable record(s)"), "{output}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_record_that_does_not_apply_stops_the_image_at_its_offset() {
    let dir = std::env::temp_dir().join(format!("keel-dump-apply-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    write_identity(&dir, 1);
    let mut log = Log::open(&dir.join(METADATA_PARTITION_DIR), config()).unwrap();
    let topic = create_topic("orders", topic_id(1), &[], &[vec![1]]);
    let encoded: Vec<Vec<u8>> = topic.iter().map(MetadataRecord::encode).collect();
    let refs: Vec<&[u8]> = encoded.iter().map(Vec::as_slice).collect();
    log.append(1, 0, false, &refs).unwrap();
    // Partition 5 of a topic with one partition: decodes, but cannot apply.
    let bad = partition_change(topic_id(1), 5, Some(1), &[1]).encode();
    let (offset, _) = log.append(1, 0, false, &[&bad]).unwrap();
    assert_eq!(offset, 2);
    log.flush().unwrap();
    drop(log);
    let output = Command::new(env!("CARGO_BIN_EXE_keel-dump"))
        .args(["image", dir.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.starts_with("image at offset 1:"), "{text}");
    assert!(
        text.contains("STOPPED: cannot apply the PartitionChangeRecord at offset 2: topic"),
        "{text}"
    );
    assert!(text.contains("has no partition 5"), "{text}");
    assert!(text.contains("Topic: orders\tTopicId:"), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}
