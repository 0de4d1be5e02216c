//! keel-dump streams segments through one bounded buffer: these tests run `log`, `verify`,
//! `stats` and `image` over a multi-segment metadata log with a read buffer barely larger than
//! the largest batch, so that most batches straddle a refill of the buffer and the search for
//! valid data after damage slides across many refills, and check that every command reports
//! exactly what it reports with the standard buffer, on a clean log and on damaged copies.

use std::path::{Path, PathBuf};

use keel::dump::files::discover;
use keel::dump::stream::ReadConfig;
use keel::dump::{image, log, stats, verify};
use keel::metadata::record::encode_leader_change;
use keel::metadata::{Image, MetadataRecord};
use keel::protocol::Uuid;
use keel::protocol::messages::{
    LeaderChangeMessage, PartitionChangeRecord, PartitionRecord, TopicRecord,
};
use keel::storage::batch::peek_header;
use keel::storage::meta_properties::MetaProperties;
use keel::storage::segment::SEGMENT_HEADER_BYTES;
use keel::storage::{Log, LogConfig, METADATA_PARTITION_DIR};

/// Batches in the test log stay below this; the small reads accept batches up to it.
const BATCH_MAX: u32 = 4096;

/// Partitions of the test topic: its creation batch stays below `BATCH_MAX`.
const PARTITIONS: i32 = 40;

fn small_reads() -> ReadConfig {
    ReadConfig {
        batch_bytes_max: BATCH_MAX,
        buffer_bytes: BATCH_MAX as usize + 1,
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("keel-dump-stream-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A metadata log of about 2.5 MiB over 1 MiB segments: a topic of 40 partitions, then
/// PartitionChange batches of 1 to 80 records (up to ~3.5 KiB), over three leader epochs.
fn write_log(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    MetaProperties {
        cluster_id: "MkU3OEVBNTcwNTJENDM2Qg".into(),
        node_id: 1,
        directory_id: Uuid::from_bytes([1; 16]),
    }
    .write(dir)
    .unwrap();
    let partition = dir.join(METADATA_PARTITION_DIR);
    let mut log = Log::open(&partition, LogConfig::with_segment_bytes(1024 * 1024)).unwrap();
    let topic = Uuid::from_bytes([7; 16]);
    let mut image = Image::new();
    let start = 1_795_300_000_000i64;
    let mut now = start;
    let mut append = |log: &mut Log, epoch: u32, records: Vec<MetadataRecord>| {
        now += 10;
        let encoded: Vec<Vec<u8>> = records.iter().map(MetadataRecord::encode).collect();
        let refs: Vec<&[u8]> = encoded.iter().map(Vec::as_slice).collect();
        let (base, _) = log.append(epoch, now, false, &refs).unwrap();
        for (offset, record) in (base..).zip(&records) {
            image.apply(offset, record).unwrap();
        }
    };
    let leader_change = |leader: i32| {
        encode_leader_change(&LeaderChangeMessage {
            version: 1,
            leader_id: leader,
            ..Default::default()
        })
    };
    log.append(1, start, true, &[&leader_change(1)]).unwrap();
    let mut create = vec![MetadataRecord::Topic(TopicRecord {
        name: "events".into(),
        topic_id: topic,
        ..Default::default()
    })];
    for p in 0..PARTITIONS {
        create.push(MetadataRecord::Partition(PartitionRecord {
            partition_id: p,
            topic_id: topic,
            replicas: vec![1, 2, 3],
            isr: vec![1, 2, 3],
            leader: 1,
            leader_epoch: 0,
            partition_epoch: 0,
            ..Default::default()
        }));
    }
    append(&mut log, 1, create);
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut epoch = 1;
    while log.log_end_offset() < 60_000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        if log.log_end_offset() > 20_000 * u64::from(epoch) {
            epoch += 1;
            log.append(epoch, start, true, &[&leader_change(epoch as i32)])
                .unwrap();
        }
        let count = (state % 80 + 1) as usize;
        let records = (0..count)
            .map(|i| {
                let leader = ((state >> 8) as usize + i) % 3 + 1;
                MetadataRecord::PartitionChange(PartitionChangeRecord {
                    topic_id: topic,
                    partition_id: (((state >> 16) as usize + i) % PARTITIONS as usize) as i32,
                    leader: leader as i32,
                    isr: Some(vec![leader as i32, (leader % 3 + 1) as i32]),
                    ..Default::default()
                })
            })
            .collect();
        append(&mut log, epoch, records);
    }
    log.flush().unwrap();
    assert!(log.segment_count() >= 3, "the log spans several segments");
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

/// (position, size) of every batch of a segment file.
fn batches(segment: &Path) -> Vec<(usize, usize)> {
    let bytes = std::fs::read(segment).unwrap();
    let mut at = SEGMENT_HEADER_BYTES as usize;
    let mut out = Vec::new();
    while let Some(h) = peek_header(&bytes[at..]) {
        if h.batch_bytes == 0 {
            break;
        }
        out.push((at, h.batch_bytes as usize));
        at += h.batch_bytes as usize;
    }
    out
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

fn damage(file: &Path, at: usize, bytes: &[u8]) {
    let mut data = std::fs::read(file).unwrap();
    data[at..at + bytes.len()].copy_from_slice(bytes);
    std::fs::write(file, data).unwrap();
}

/// Everything every streaming command says about `dir`, with reads sized by `read`.
fn everything(dir: &Path, read: ReadConfig) -> String {
    let layout = discover(dir).unwrap();
    let mut out = Vec::new();
    for (json, records) in [(false, false), (true, false), (false, true), (true, true)] {
        let options = log::LogOptions {
            json,
            records,
            read,
            ..log::LogOptions::default()
        };
        let listed = log::list(&layout, &options, &mut out).unwrap();
        out.extend(format!("{listed:?}\n").bytes());
    }
    let ranged = log::LogOptions {
        from_offset: Some(30_000),
        to_offset: Some(30_100),
        records: true,
        read,
        ..log::LogOptions::default()
    };
    log::list(&layout, &ranged, &mut out).unwrap();
    out.extend(format!("{:?}\n", verify::verify_with(&layout, read)).bytes());
    out.extend(format!("{:?}\n", stats::collect_with(&layout, read).unwrap()).bytes());
    let built = image::build(&layout, None, read).unwrap().unwrap();
    image::write_text(&built, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn same_with_small_reads(dir: &Path) -> String {
    // The same largest batch (it appears in error messages), the standard buffer.
    let standard = everything(
        dir,
        ReadConfig {
            batch_bytes_max: BATCH_MAX,
            ..ReadConfig::default()
        },
    );
    let small = everything(dir, small_reads());
    if standard != small {
        std::fs::write(dir.with_extension("standard"), &standard).unwrap();
        std::fs::write(dir.with_extension("small"), &small).unwrap();
    }
    assert!(
        standard == small,
        "{}: the small buffer changed the output",
        dir.display()
    );
    standard
}

#[test]
fn every_command_says_the_same_with_a_buffer_barely_larger_than_a_batch() {
    let root = scratch("all");
    let clean = root.join("clean");
    write_log(&clean);
    let all = segments(&clean);
    let largest = all
        .iter()
        .flat_map(|s| batches(s))
        .map(|(_, size)| size)
        .max()
        .unwrap();
    assert!(
        largest > BATCH_MAX as usize / 2 && largest < BATCH_MAX as usize,
        "batches of up to {largest} bytes straddle a {}-byte buffer's refills",
        small_reads().buffer_bytes
    );

    let output = same_with_small_reads(&clean);
    assert!(output.contains("problems: []"), "{output}");
    assert!(output.contains("PartitionChangeRecord v2 topic=events"));

    // A flipped byte in the middle of the first (sealed) segment: corruption, listed past.
    let flipped = root.join("flipped");
    copy_dir(&clean, &flipped);
    let first = &segments(&flipped)[0];
    let middle = batches(first)[batches(first).len() / 2];
    damage(first, middle.0 + middle.1 / 2, &[0xff]);
    let output = same_with_small_reads(&flipped);
    assert!(output.contains("kind: Corruption"), "{output}");
    assert!(output.contains("this is corruption, not a torn write"));

    // A batch zeroed in the middle of the second segment: a hole followed by valid data.
    let hole = root.join("hole");
    copy_dir(&clean, &hole);
    let second = &segments(&hole)[1];
    let (at, size) = batches(second)[10];
    damage(second, at, &vec![0; size]);
    assert!(same_with_small_reads(&hole).contains("kind: Corruption"));

    // The last batch of the last segment cut short, the rest zeros: a torn tail.
    let torn = root.join("torn");
    copy_dir(&clean, &torn);
    let last = segments(&torn).pop().unwrap();
    let (at, size) = *batches(&last).last().unwrap();
    damage(&last, at + size - 40, &[0; 40]);
    let output = same_with_small_reads(&torn);
    assert!(output.contains("kind: TornTail"), "{output}");
    assert!(output.contains("which recovery would cut"));

    std::fs::remove_dir_all(&root).unwrap();
}
