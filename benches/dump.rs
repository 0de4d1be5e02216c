//! keel-dump over a ~1 GiB metadata log: does it stream (constant memory) at disk speed?
//! `cargo bench --bench dump [-- --mib N --dir PATH --warm-only --keep]`.
//!
//! The log is written by keel's own storage engine (default 64 MiB segments) into a fresh
//! directory under the temp dir (or `--dir`), removed at the end: a few hundred topics with
//! their partitions, then PartitionChange records (the bulk of a real metadata log: ISR
//! shrinks and expands, leader elections) in batches of 1 to 2000 records, over several leader
//! epochs. Then the real `keel-dump` binary (target/release/keel-dump) runs as a child process
//! with its output to /dev/null: `log` (one line per batch), `log --records` (one line per
//! record, every record decoded), `verify` and `stats`. For each: bytes read (the segment
//! files, preallocated tails included), seconds, MB/s (10^6 bytes) and peak RSS (ru_maxrss
//! from wait4).
//!
//! The baseline is a plain sequential read of the same files (std::fs, 1 MiB reads, what `cat`
//! does), measured in the same run. Every run is done twice: cold, after evicting the files
//! from the page cache (posix_fadvise DONTNEED; they were flushed, so their pages are clean and
//! really go), which measures the disk; and warm, from the page cache, which shows the CPU cost
//! of each command with the disk out of the way. The last lines are the cold figures.

use std::fs::File;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use keel::metadata::MetadataRecord;
use keel::metadata::record::encode_leader_change;
use keel::protocol::Uuid;
use keel::protocol::messages::{
    FeatureLevelRecord, LeaderChangeMessage, PartitionChangeRecord, PartitionRecord,
    RegisterBrokerRecord, TopicRecord, register_broker_record,
};
use keel::storage::meta_properties::MetaProperties;
use keel::storage::{Log, LogConfig, METADATA_PARTITION_DIR};

const TOPICS: usize = 200;
const PARTITIONS_PER_TOPIC: usize = 50;
const BROKERS: i32 = 5;
/// Distinct PartitionChange records the batches are cut from.
const POOL_RECORDS: usize = 1 << 16;
/// A new leader epoch every this many bytes of log.
const EPOCH_BYTES: u64 = 100 << 20;

struct Args {
    mib: u64,
    dir: PathBuf,
    warm_only: bool,
    /// Keep the directory (to profile keel-dump on it).
    keep: bool,
}

fn parse_args() -> Args {
    let mut args = Args {
        mib: 1024,
        dir: std::env::temp_dir().join(format!("keel-dump-bench-{}", std::process::id())),
        warm_only: false,
        keep: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--mib" => args.mib = it.next().and_then(|v| v.parse().ok()).expect("--mib N"),
            "--dir" => args.dir = PathBuf::from(it.next().expect("--dir PATH")),
            "--warm-only" => args.warm_only = true,
            "--keep" => args.keep = true,
            // cargo bench passes --bench to every bench binary.
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    args
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn topic_id(t: usize) -> Uuid {
    let mut bytes = [0x5a; 16];
    bytes[..8].copy_from_slice(&(t as u64 + 1).to_be_bytes());
    Uuid::from_bytes(bytes)
}

/// Writes the log; returns the bytes of batches, the batches and the records written.
fn build(dir: &Path, target_bytes: u64) -> (u64, u64, u64) {
    std::fs::create_dir_all(dir).unwrap();
    MetaProperties {
        cluster_id: "MkU3OEVBNTcwNTJENDM2Qg".into(),
        node_id: 1,
        directory_id: Uuid::from_bytes([1; 16]),
    }
    .write(dir)
    .unwrap();
    let mut log = Log::open(&dir.join(METADATA_PARTITION_DIR), LogConfig::default()).unwrap();
    let mut now = 1_795_000_000_000i64;
    let mut epoch = 0u32;
    let mut written = 0u64;
    let mut batches = 0u64;
    let mut records_written = 0u64;
    // The leader's appends: a flush every 512 batches, as group commit would do under load.
    let mut append = |log: &mut Log, epoch: u32, control: bool, records: &[&[u8]]| {
        now += 1;
        log.append(epoch, now, control, records).unwrap();
        written += keel::storage::batch::encoded_batch_bytes(records);
        batches += 1;
        records_written += records.len() as u64;
        if batches.is_multiple_of(512) {
            log.flush().unwrap();
        }
        written
    };
    let leader_change = |epoch: u32| {
        encode_leader_change(&LeaderChangeMessage {
            version: 1,
            leader_id: (epoch % 3 + 1) as i32,
            ..Default::default()
        })
    };
    epoch += 1;
    append(&mut log, epoch, true, &[&leader_change(epoch)]);
    let level = MetadataRecord::FeatureLevel(FeatureLevelRecord {
        name: "metadata.version".into(),
        feature_level: 21,
        ..Default::default()
    })
    .encode();
    append(&mut log, epoch, false, &[&level]);
    for id in 1..=BROKERS {
        let record = MetadataRecord::RegisterBroker(RegisterBrokerRecord {
            broker_id: id,
            broker_epoch: log.log_end_offset() as i64,
            incarnation_id: Uuid::from_bytes([id as u8; 16]),
            end_points: vec![register_broker_record::BrokerEndpoint {
                name: "PLAINTEXT".into(),
                host: format!("broker{id}.example"),
                port: 9092,
                security_protocol: 0,
                ..Default::default()
            }],
            fenced: false,
            ..Default::default()
        })
        .encode();
        append(&mut log, epoch, false, &[&record]);
    }
    let replicas = |t: usize, p: usize| -> Vec<i32> {
        (0..3)
            .map(|r| ((t + p + r) % BROKERS as usize) as i32 + 1)
            .collect()
    };
    for t in 0..TOPICS {
        let mut records = vec![
            MetadataRecord::Topic(TopicRecord {
                name: format!("topic-{t:04}"),
                topic_id: topic_id(t),
                ..Default::default()
            })
            .encode(),
        ];
        for p in 0..PARTITIONS_PER_TOPIC {
            let replicas = replicas(t, p);
            records.push(
                MetadataRecord::Partition(PartitionRecord {
                    partition_id: p as i32,
                    topic_id: topic_id(t),
                    leader: replicas[0],
                    isr: replicas.clone(),
                    replicas,
                    leader_epoch: 0,
                    partition_epoch: 0,
                    ..Default::default()
                })
                .encode(),
            );
        }
        let refs: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
        append(&mut log, epoch, false, &refs);
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let pool: Vec<Vec<u8>> = (0..POOL_RECORDS)
        .map(|i| {
            let t = i % TOPICS;
            let p = (i / TOPICS) % PARTITIONS_PER_TOPIC;
            let replicas = replicas(t, p);
            let leader = replicas[(rng.next() % 3) as usize];
            let isr: Vec<i32> = replicas
                .iter()
                .copied()
                .filter(|&r| r == leader || !rng.next().is_multiple_of(4))
                .collect();
            MetadataRecord::PartitionChange(PartitionChangeRecord {
                topic_id: topic_id(t),
                partition_id: p as i32,
                leader: if rng.next().is_multiple_of(2) {
                    leader
                } else {
                    -2
                },
                isr: Some(isr),
                ..Default::default()
            })
            .encode()
        })
        .collect();
    let refs: Vec<&[u8]> = pool.iter().map(Vec::as_slice).collect();
    let mut next_epoch_at = EPOCH_BYTES;
    let mut at = 0usize;
    let mut total = 0;
    while total < target_bytes {
        if total >= next_epoch_at {
            next_epoch_at += EPOCH_BYTES;
            epoch += 1;
            append(&mut log, epoch, true, &[&leader_change(epoch)]);
        }
        // Mostly small batches (one AlterPartition), some large (a broker's partitions moved).
        let count = match rng.next() % 100 {
            0..70 => 1 + rng.next() % 10,
            70..95 => 11 + rng.next() % 190,
            _ => 201 + rng.next() % 1800,
        } as usize;
        if at + count > refs.len() {
            at = 0;
        }
        total = append(&mut log, epoch, false, &refs[at..at + count]);
        at += count;
    }
    log.flush().unwrap();
    (total, batches, records_written)
}

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join(METADATA_PARTITION_DIR))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    files.sort();
    files
}

/// Drops the (clean) cached pages of every file of the directory, so the next read goes to
/// the disk.
fn evict(dir: &Path) {
    for entry in std::fs::read_dir(dir.join(METADATA_PARTITION_DIR)).unwrap() {
        let path = entry.unwrap().path();
        let file = File::open(&path).unwrap();
        // SAFETY: an advisory call on a descriptor we own.
        let rc = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
        assert_eq!(rc, 0, "posix_fadvise on {}", path.display());
    }
}

/// Reads every segment file sequentially, 1 MiB at a time; returns (bytes, seconds).
fn read_reference(files: &[PathBuf]) -> (u64, f64) {
    let mut buf = vec![0u8; 1 << 20];
    let start = Instant::now();
    let mut bytes = 0u64;
    for path in files {
        let mut file = File::open(path).unwrap();
        loop {
            let n = file.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            bytes += n as u64;
        }
    }
    (bytes, start.elapsed().as_secs_f64())
}

/// Runs keel-dump with `args`, output to /dev/null; returns (seconds, peak RSS in KiB, exit
/// status).
// The child is reaped by wait4 below, which std's Child::wait cannot replace: only wait4 gives
// that one child's resource usage (its peak RSS).
#[allow(clippy::zombie_processes)]
fn run_dump(args: &[&str]) -> (f64, u64, i32) {
    let start = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_keel-dump"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut status = 0;
    // SAFETY: plain-old-data out-parameters for wait4 on our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    let seconds = start.elapsed().as_secs_f64();
    assert_eq!(pid, child.id() as libc::pid_t, "wait4 failed");
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    (seconds, usage.ru_maxrss as u64, code)
}

struct Row {
    name: String,
    bytes: u64,
    seconds: f64,
    rss_kib: Option<u64>,
}

impl Row {
    fn mb_per_s(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.seconds
    }

    fn print(&self) {
        println!(
            "{:<34} {:>12} {:>9.2} {:>9.1} {:>10}",
            self.name,
            self.bytes,
            self.seconds,
            self.mb_per_s(),
            self.rss_kib
                .map_or("-".to_string(), |k| format!("{:.1}", k as f64 / 1024.0))
        );
    }
}

fn main() {
    let args = parse_args();
    assert!(
        !args.dir.exists(),
        "{} exists; the benchmark writes a fresh directory and removes it",
        args.dir.display()
    );
    let dir = args.dir.clone();
    let started = Instant::now();
    let (written, batches, records) = build(&dir, args.mib << 20);
    let files = segment_files(&dir);
    let file_bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    println!(
        "keel-dump benchmark: {} MiB of batches ({batches} batches, {records} records) in {} segments ({} bytes of files) in {}, written in {:.1} s",
        written >> 20,
        files.len(),
        file_bytes,
        dir.display(),
        started.elapsed().as_secs_f64()
    );
    let path = dir.to_str().unwrap();
    let commands: [(&str, Vec<&str>); 4] = [
        ("keel-dump log", vec!["log", path]),
        ("keel-dump log --records", vec!["log", "--records", path]),
        ("keel-dump verify", vec!["verify", path]),
        ("keel-dump stats", vec!["stats", path]),
    ];
    let mut cold = Vec::new();
    let passes: &[bool] = if args.warm_only {
        &[false]
    } else {
        &[true, false]
    };
    for &evicting in passes {
        println!(
            "{} (output to /dev/null; MB = 10^6 bytes):",
            if evicting {
                "cold: files evicted from the page cache before each run"
            } else {
                "warm: files in the page cache"
            }
        );
        println!(
            "{:<34} {:>12} {:>9} {:>9} {:>10}",
            "run", "bytes", "seconds", "MB/s", "peak MiB"
        );
        if !evicting {
            // Warm the cache.
            read_reference(&files);
        }
        let mut rows = Vec::new();
        if evicting {
            evict(&dir);
        }
        let (bytes, seconds) = read_reference(&files);
        rows.push(Row {
            name: "read reference (std::fs, 1 MiB)".into(),
            bytes,
            seconds,
            rss_kib: None,
        });
        rows.last().unwrap().print();
        for (name, command) in &commands {
            if evicting {
                evict(&dir);
            }
            let (seconds, rss_kib, code) = run_dump(command);
            assert_eq!(code, 0, "{name} exited with {code}");
            rows.push(Row {
                name: name.to_string(),
                bytes: file_bytes,
                seconds,
                rss_kib: Some(rss_kib),
            });
            rows.last().unwrap().print();
        }
        if evicting || args.warm_only {
            cold = rows;
        }
    }
    if !args.keep {
        std::fs::remove_dir_all(&dir).unwrap();
    }
    let reference = cold[0].mb_per_s();
    let log = cold[1].mb_per_s();
    let verify = cold[3].mb_per_s();
    let peak = cold[1..].iter().filter_map(|r| r.rss_kib).max().unwrap();
    println!(
        "total {:.0} s; ratios to the read reference: log {:.2}, log --records {:.2}, verify {:.2}, stats {:.2}",
        started.elapsed().as_secs_f64(),
        log / reference,
        cold[2].mb_per_s() / reference,
        verify / reference,
        cold[4].mb_per_s() / reference
    );
    println!("dump_log_records_mb_per_s: {:.1}", cold[2].mb_per_s());
    println!("dump_log_mb_per_s: {log:.1}");
    println!("dump_verify_mb_per_s: {verify:.1}");
    println!("dump_peak_rss_mib: {:.1}", peak as f64 / 1024.0);
    println!("read_reference_mb_per_s: {reference:.1}");
}
