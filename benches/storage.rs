//! Storage benchmark: keel's log against a ZooKeeper-style store and against the disk's own
//! sequential floor, in one run, on one directory (`--dir`, default: a fresh directory under
//! the system temp dir, i.e. the disk under test).
//!
//! - keel: N updates (key + value records, default 1,000,000 updates of 100-byte values over
//!   100,000 keys) appended to the log, one batch and one flush (group commit) per k updates,
//!   k in 1, 10, 100, 1000; an update is acknowledged when its flush returns. Both write modes
//!   (copy into the map + msync, pwrite + fdatasync) are measured; the summary uses the
//!   default mode. The default mode is measured twice: as a saturated node runs it, writing
//!   into segment space not yet zero-filled (fallocated, so each flush also commits the
//!   conversion of unwritten blocks), and "zeros ahead", with `Log::prepare_ahead` run to
//!   completion between flushes, untimed, as an event loop does in its idle iterations.
//! - zkstyle: the same updates written in place, one fixed 128-byte slot per key in a
//!   preallocated, zero-filled file, one pwrite + fdatasync per update (a store that keeps one
//!   node per key and writes each change where the node lives).
//! - preallocated: exactly the bytes keel writes for each flush (the same encoded batches),
//!   written sequentially with pwrite + fdatasync into a file zero-filled with real writes and
//!   synced before timing (`PREALLOCATED_BYTES_MAX` at most): what `fio` measures, and the
//!   disk's true floor, since keel too writes into preallocated, zero-filled segments.
//! - raw (growing file): the same bytes appended with plain write + fdatasync to an ordinary
//!   file that grows with every write, so each flush also commits the file's new size and
//!   blocks; keel "beats" this one, which is why it is not the floor.
//!
//! Each configuration gets a time budget (`--budget-ms`, default 3000; zkstyle 2x); when the
//! budget runs out before N updates the run stops there and the table says how many were done
//! ("scaled"). Only storage calls are timed (keel: append + flush, batch encoding and CRC
//! included; raw: write + fdatasync; zkstyle: pwrite + fdatasync), not the generation of the
//! update records, which is the same for all three. "seeks" counts write
//! calls that do not start where the previous write ended (file or position change).
//!
//! Then roll latency: batches of `--roll-k` updates (default 1000) appended with one flush each
//! to a log of small segments (`--roll-segment-mib`, default 8) until `--rolls` rolls
//! (default 16) happened, once without and once with `Log::prepare_ahead` (one
//! `ZERO_FILL_CHUNK_BYTES` step, untimed, as an idle event loop would) between appends. Every
//! append call is timed on its own (a roll happens inside the append that does not fit), and
//! the run reports the p50, p99 and worst append, the worst roll, and the worst
//! `prepare_ahead` call. `--roll-only` runs just this part.
//!
//! Then a recovery scan: a log of `--recovery-mib` (default 1024) of batches is written and
//! flushed, closed, and opened again; opening scans and CRC-checks every byte.
//!
//! The last six lines are machine-readable and always in this order:
//! `keel_efficiency_vs_preallocated_k1000` is the zeros-ahead run's (the log as an event loop
//! with idle moments keeps it), `..._saturated` the run without them.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use keel::storage::batch::{BatchSpec, encode_batch};
use keel::storage::{Log, LogConfig, WriteMode};

struct Args {
    dir: PathBuf,
    updates: u64,
    keys: u64,
    value_bytes: usize,
    budget: Duration,
    recovery_mib: u64,
    roll_k: u64,
    roll_segment_mib: u32,
    rolls: usize,
    roll_only: bool,
}

fn parse_args() -> Args {
    let mut args = Args {
        dir: std::env::temp_dir().join(format!("keel-bench-storage-{}", std::process::id())),
        updates: 1_000_000,
        keys: 100_000,
        value_bytes: 100,
        budget: Duration::from_millis(3000),
        recovery_mib: 1024,
        roll_k: 1000,
        roll_segment_mib: 8,
        rolls: 16,
        roll_only: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--dir" => {
                args.dir = PathBuf::from(value())
                    .join(format!("keel-bench-storage-{}", std::process::id()))
            }
            "--updates" => args.updates = value().parse().expect("--updates N"),
            "--keys" => args.keys = value().parse().expect("--keys N"),
            "--value-bytes" => args.value_bytes = value().parse().expect("--value-bytes N"),
            "--budget-ms" => {
                args.budget = Duration::from_millis(value().parse().expect("--budget-ms N"))
            }
            "--recovery-mib" => args.recovery_mib = value().parse().expect("--recovery-mib N"),
            "--roll-k" => args.roll_k = value().parse().expect("--roll-k N"),
            "--roll-segment-mib" => {
                args.roll_segment_mib = value().parse().expect("--roll-segment-mib N")
            }
            "--rolls" => args.rolls = value().parse().expect("--rolls N"),
            "--roll-only" => args.roll_only = true,
            // cargo bench passes --bench; other harness flags are ignored too.
            _ => {}
        }
    }
    args
}

/// Deterministic update stream: random keys, one value buffer per key slot size.
struct Updates {
    rng: u64,
    keys: u64,
    value: Vec<u8>,
}

impl Updates {
    fn new(keys: u64, value_bytes: usize) -> Updates {
        Updates {
            rng: 0x2545_f491_4f6c_dd1d,
            keys,
            value: vec![0xab; value_bytes],
        }
    }

    /// Writes the next update's record (12-byte key + value) into `out`; returns its key.
    fn next(&mut self, out: &mut Vec<u8>) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let key = self.rng % self.keys;
        out.clear();
        out.extend_from_slice(format!("key-{key:08}").as_bytes());
        let stamp = self.rng.to_be_bytes();
        self.value[..8].copy_from_slice(&stamp);
        out.extend_from_slice(&self.value);
        key
    }
}

struct Outcome {
    name: String,
    updates: u64,
    requested: u64,
    elapsed: Duration,
    bytes: u64,
    flushes: u64,
    seeks: u64,
}

impl Outcome {
    fn updates_per_s(&self) -> f64 {
        self.updates as f64 / self.elapsed.as_secs_f64()
    }

    fn mb_per_s(&self) -> f64 {
        self.bytes as f64 / self.elapsed.as_secs_f64() / 1e6
    }

    fn print(&self) {
        let note = if self.updates < self.requested {
            format!(
                "scaled: {} of {} updates in the time budget",
                self.updates, self.requested
            )
        } else {
            String::new()
        };
        println!(
            "{:<22} {:>9} {:>12.0} {:>9.2} {:>9} {:>7}  {note}",
            self.name,
            self.updates,
            self.updates_per_s(),
            self.mb_per_s(),
            self.flushes,
            self.seeks
        );
    }
}

fn fresh_dir(path: &Path) -> PathBuf {
    let _ = std::fs::remove_dir_all(path);
    std::fs::create_dir_all(path).unwrap();
    path.to_path_buf()
}

fn run_keel(args: &Args, k: u64, mode: WriteMode, zeros_ahead: bool) -> Outcome {
    let dir = fresh_dir(&args.dir.join(format!("keel-{mode:?}-{zeros_ahead}-k{k}")));
    let config = LogConfig {
        write_mode: mode,
        ..LogConfig::default()
    };
    let mut log = Log::open(&dir, config).unwrap();
    let mut updates = Updates::new(args.keys, args.value_bytes);
    let mut records: Vec<Vec<u8>> = (0..k).map(|_| Vec::new()).collect();
    let (mut done, mut flushes, mut bytes) = (0u64, 0u64, 0u64);
    let mut elapsed = Duration::ZERO;
    while done < args.updates && elapsed < args.budget {
        let n = k.min(args.updates - done) as usize;
        for record in records.iter_mut().take(n) {
            updates.next(record);
        }
        let refs: Vec<&[u8]> = records[..n].iter().map(|r| r.as_slice()).collect();
        let before = log.log_end_offset();
        if zeros_ahead {
            // Untimed: what the event loop does while idle.
            while log.needs_prepare() && prepare_step(&mut log) > 0 {}
        }
        // Timed: keel's own work, batch encoding and CRC included, plus the flush.
        let start = Instant::now();
        let (first, _) = log.append(1, 0, false, &refs).unwrap();
        log.flush().unwrap();
        elapsed += start.elapsed();
        assert_eq!(first, before);
        bytes += keel::storage::batch::encoded_batch_bytes(&refs);
        flushes += 1;
        done += n as u64;
    }
    // Every write continues the previous one except the first write of each new segment.
    let seeks = log.segment_count() as u64 - 1;
    drop(log);
    std::fs::remove_dir_all(&dir).unwrap();
    Outcome {
        name: format!(
            "keel {}{} k={k}",
            mode_name(mode),
            if zeros_ahead { ", zeros ahead" } else { "" }
        ),
        updates: done,
        requested: args.updates,
        elapsed,
        bytes,
        flushes,
        seeks,
    }
}

fn mode_name(mode: WriteMode) -> &'static str {
    match mode {
        WriteMode::Mmap => "mmap+msync",
        WriteMode::Pwrite => "pwrite+fdatasync",
    }
}

/// Writes keel's batches of k updates, one write and one flush per batch, with `write` (the
/// file, the bytes and their offset in it), timing only `write`, until N updates, the budget,
/// or `capacity` bytes. Returns (updates, elapsed, bytes, flushes).
fn write_batches(
    args: &Args,
    k: u64,
    capacity: u64,
    mut write: impl FnMut(&[u8], u64),
) -> (u64, Duration, u64, u64) {
    let mut updates = Updates::new(args.keys, args.value_bytes);
    let mut records: Vec<Vec<u8>> = (0..k).map(|_| Vec::new()).collect();
    let mut buffer = Vec::new();
    let (mut done, mut flushes, mut bytes) = (0u64, 0u64, 0u64);
    let mut elapsed = Duration::ZERO;
    while done < args.updates && elapsed < args.budget {
        let n = k.min(args.updates - done) as usize;
        for record in records.iter_mut().take(n) {
            updates.next(record);
        }
        let refs: Vec<&[u8]> = records[..n].iter().map(|r| r.as_slice()).collect();
        buffer.clear();
        let spec = BatchSpec {
            base_offset: done,
            leader_epoch: 1,
            first_timestamp_ms: 0,
            max_timestamp_ms: 0,
            control: false,
        };
        encode_batch(&spec, &refs, &mut buffer);
        if bytes + buffer.len() as u64 > capacity {
            break;
        }
        // Only the write and the flush are timed: this is the disk's floor, not an encoder.
        let start = Instant::now();
        write(&buffer, bytes);
        elapsed += start.elapsed();
        flushes += 1;
        bytes += buffer.len() as u64;
        done += n as u64;
    }
    (done, elapsed, bytes, flushes)
}

fn run_raw(args: &Args, k: u64) -> Outcome {
    let dir = fresh_dir(&args.dir.join(format!("raw-k{k}")));
    let mut file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(dir.join("raw.log"))
        .unwrap();
    let (updates, elapsed, bytes, flushes) = write_batches(args, k, u64::MAX, |batch, _| {
        file.write_all(batch).unwrap();
        file.sync_data().unwrap();
    });
    drop(file);
    std::fs::remove_dir_all(&dir).unwrap();
    Outcome {
        name: format!("raw write+fdatasync k={k}"),
        updates,
        requested: args.updates,
        elapsed,
        bytes,
        flushes,
        seeks: 0,
    }
}

/// Largest preallocated file of the floor run. The default run needs at most about 180 MB
/// (k=1: a million batches of one record); a larger `--updates` stops at the end of the file
/// and is reported as scaled, like a run that runs out of budget.
const PREALLOCATED_BYTES_MAX: u64 = 1 << 30;

/// The disk's floor: keel's bytes, flush by flush, with pwrite + fdatasync into a zero-filled,
/// synced file (see the module header).
fn run_preallocated(args: &Args, k: u64) -> Outcome {
    let dir = fresh_dir(&args.dir.join(format!("preallocated-k{k}")));
    let file = OpenOptions::new()
        .create(true)
        .read(true)
        .write(true)
        .truncate(true)
        .open(dir.join("preallocated.log"))
        .unwrap();
    // Sized for every update (all batches of k records have one size), capped, zero-filled
    // with real writes and synced before anything is timed.
    let mut sample = Updates::new(args.keys, args.value_bytes);
    let records: Vec<Vec<u8>> = (0..k)
        .map(|_| {
            let mut record = Vec::new();
            sample.next(&mut record);
            record
        })
        .collect();
    let refs: Vec<&[u8]> = records.iter().map(|r| r.as_slice()).collect();
    let batch_bytes = keel::storage::batch::encoded_batch_bytes(&refs);
    let size = (args.updates.div_ceil(k) * batch_bytes).min(PREALLOCATED_BYTES_MAX);
    let zeros = vec![0u8; 1 << 20];
    let mut filled = 0;
    while filled < size {
        let n = (size - filled).min(zeros.len() as u64) as usize;
        file.write_all_at(&zeros[..n], filled).unwrap();
        filled += n as u64;
    }
    file.sync_all().unwrap();
    let (updates, elapsed, bytes, flushes) = write_batches(args, k, size, |batch, offset| {
        file.write_all_at(batch, offset).unwrap();
        file.sync_data().unwrap();
    });
    drop(file);
    std::fs::remove_dir_all(&dir).unwrap();
    Outcome {
        name: format!("preallocated pwrite k={k}"),
        updates,
        requested: args.updates,
        elapsed,
        bytes,
        flushes,
        seeks: 0,
    }
}

const ZK_SLOT_BYTES: u64 = 128;

fn run_zkstyle(args: &Args) -> Outcome {
    let dir = fresh_dir(&args.dir.join("zkstyle"));
    let path = dir.join("nodes.dat");
    let mut file = OpenOptions::new()
        .create(true)
        .read(true)
        .write(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    // Zero-filled with real writes and synced before timing: every timed write is a plain
    // overwrite of allocated blocks, the baseline's best case.
    let zeros = vec![0u8; 1 << 20];
    let mut remaining = args.keys * ZK_SLOT_BYTES;
    while remaining > 0 {
        let n = remaining.min(zeros.len() as u64) as usize;
        file.write_all(&zeros[..n]).unwrap();
        remaining -= n as u64;
    }
    file.sync_all().unwrap();
    let mut updates = Updates::new(args.keys, args.value_bytes);
    let mut record = Vec::new();
    let (mut done, mut bytes, mut seeks) = (0u64, 0u64, 0u64);
    let mut previous_end = u64::MAX;
    let budget = args.budget * 2;
    let mut elapsed = Duration::ZERO;
    while done < args.updates && elapsed < budget {
        let key = updates.next(&mut record);
        assert!(record.len() as u64 <= ZK_SLOT_BYTES);
        let position = key * ZK_SLOT_BYTES;
        if position != previous_end && done > 0 {
            seeks += 1;
        }
        let start = Instant::now();
        file.write_all_at(&record, position).unwrap();
        file.sync_data().unwrap();
        elapsed += start.elapsed();
        previous_end = position + record.len() as u64;
        bytes += record.len() as u64;
        done += 1;
    }
    drop(file);
    std::fs::remove_dir_all(&dir).unwrap();
    Outcome {
        name: "zkstyle pwrite+fdatasync".to_string(),
        updates: done,
        requested: args.updates,
        elapsed,
        bytes,
        flushes: done,
        seeks,
    }
}

/// Writes `mib` MiB of 1000-record batches, reopens the log and times the open (a full scan
/// with CRC checks). Returns (bytes scanned, seconds).
fn run_recovery(args: &Args) -> (u64, f64) {
    let dir = fresh_dir(&args.dir.join("recovery"));
    let target = args.recovery_mib * 1024 * 1024;
    {
        let mut log = Log::open(&dir, LogConfig::default()).unwrap();
        let mut updates = Updates::new(args.keys, args.value_bytes);
        let mut records: Vec<Vec<u8>> = (0..1000).map(|_| Vec::new()).collect();
        let mut written = 0u64;
        while written < target {
            for record in records.iter_mut() {
                updates.next(record);
            }
            let refs: Vec<&[u8]> = records.iter().map(|r| r.as_slice()).collect();
            written += keel::storage::batch::encoded_batch_bytes(&refs);
            log.append(1, 0, false, &refs).unwrap();
        }
        log.flush().unwrap();
    }
    let start = Instant::now();
    let log = Log::open(&dir, LogConfig::default()).unwrap();
    let seconds = start.elapsed().as_secs_f64();
    let scanned = log.recovery_report().bytes_scanned;
    assert!(log.recovery_report().torn_tail.is_none());
    drop(log);
    std::fs::remove_dir_all(&dir).unwrap();
    (scanned, seconds)
}

/// Latencies of one roll-latency run, in microseconds.
struct RollLatency {
    appends: usize,
    rolls: usize,
    batch_bytes: u64,
    append_p50_us: f64,
    append_p99_us: f64,
    append_max_us: f64,
    roll_max_us: f64,
    flush_p99_us: f64,
    prepare_max_us: f64,
    prepare_bytes: u64,
}

/// Value at quantile `q` of `sorted` (nearest rank).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Appends `--roll-k`-update batches, one flush each, to a log of `--roll-segment-mib`
/// segments until `--rolls` rolls happened; times every append on its own. With `prepare`,
/// calls `Log::prepare_ahead` with one zero-fill step after each flush (timed separately).
fn run_roll_latency(args: &Args, prepare: bool) -> RollLatency {
    let dir = fresh_dir(&args.dir.join(format!("roll-prepare-{prepare}")));
    let segment_bytes = args.roll_segment_mib * 1024 * 1024;
    let config = LogConfig {
        segment_bytes,
        // Small segments must still hold the largest batch.
        batch_bytes_max: (segment_bytes / 2).min(LogConfig::default().batch_bytes_max),
        ..LogConfig::default()
    };
    let mut log = Log::open(&dir, config).unwrap();
    let mut updates = Updates::new(args.keys, args.value_bytes);
    let mut records: Vec<Vec<u8>> = (0..args.roll_k).map(|_| Vec::new()).collect();
    let (mut appends, mut rolls, mut flushes) = (Vec::new(), Vec::new(), Vec::new());
    let (mut prepare_max, mut prepare_bytes, mut batch_bytes) = (Duration::ZERO, 0u64, 0u64);
    while rolls.len() < args.rolls {
        for record in records.iter_mut() {
            updates.next(record);
        }
        let refs: Vec<&[u8]> = records.iter().map(|r| r.as_slice()).collect();
        batch_bytes = keel::storage::batch::encoded_batch_bytes(&refs);
        let segments_before = log.segment_count();
        let start = Instant::now();
        log.append(1, 0, false, &refs).unwrap();
        let append = start.elapsed();
        let start = Instant::now();
        log.flush().unwrap();
        flushes.push(start.elapsed().as_secs_f64() * 1e6);
        appends.push(append.as_secs_f64() * 1e6);
        if log.segment_count() != segments_before {
            rolls.push(append.as_secs_f64() * 1e6);
        }
        if prepare {
            let start = Instant::now();
            prepare_bytes += prepare_step(&mut log);
            prepare_max = prepare_max.max(start.elapsed());
        }
    }
    drop(log);
    std::fs::remove_dir_all(&dir).unwrap();
    let count = appends.len();
    appends.sort_by(f64::total_cmp);
    flushes.sort_by(f64::total_cmp);
    RollLatency {
        appends: count,
        rolls: rolls.len(),
        batch_bytes,
        append_p50_us: quantile(&appends, 0.50),
        append_p99_us: quantile(&appends, 0.99),
        append_max_us: quantile(&appends, 1.0),
        roll_max_us: rolls.iter().copied().fold(0.0, f64::max),
        flush_p99_us: quantile(&flushes, 0.99),
        prepare_max_us: prepare_max.as_secs_f64() * 1e6,
        prepare_bytes,
    }
}

/// One idle-time preparation step, as the node's event loop makes when it has nothing to do.
fn prepare_step(log: &mut Log) -> u64 {
    log.prepare_ahead(u64::from(keel::constants::ZERO_FILL_CHUNK_BYTES))
        .unwrap()
}

fn print_roll_latency(args: &Args) {
    let without = run_roll_latency(args, false);
    let with = run_roll_latency(args, true);
    println!(
        "roll latency: {} MiB segments, {}-update batches of {} bytes, one flush each, {} rolls per run",
        args.roll_segment_mib, args.roll_k, with.batch_bytes, args.rolls
    );
    for (name, run) in [
        ("without prepare_ahead", &without),
        ("with prepare_ahead", &with),
    ] {
        println!(
            "  {name:<22} appends {:>5} rolls {:>3}  append p50 {:>8.0} us  p99 {:>8.0} us  max {:>9.0} us  \
             roll max {:>8.2} ms  flush p99 {:>8.0} us  prepare_ahead max {:>7.2} ms ({} MiB zeroed)",
            run.appends,
            run.rolls,
            run.append_p50_us,
            run.append_p99_us,
            run.append_max_us,
            run.roll_max_us / 1e3,
            run.flush_p99_us,
            run.prepare_max_us / 1e3,
            run.prepare_bytes / (1024 * 1024)
        );
    }
    println!(
        "append_p99_us_without_prepare: {:.0}",
        without.append_p99_us
    );
    println!(
        "append_max_us_without_prepare: {:.0}",
        without.append_max_us
    );
    println!(
        "roll_max_ms_without_prepare: {:.2}",
        without.roll_max_us / 1e3
    );
    println!("append_p99_us: {:.0}", with.append_p99_us);
    println!("append_max_us: {:.0}", with.append_max_us);
    println!("roll_max_ms: {:.2}", with.roll_max_us / 1e3);
    println!("prepare_ahead_max_ms: {:.2}", with.prepare_max_us / 1e3);
}

fn main() {
    let args = parse_args();
    std::fs::create_dir_all(&args.dir).unwrap();
    if args.roll_only {
        print_roll_latency(&args);
        let _ = std::fs::remove_dir_all(&args.dir);
        return;
    }
    let default_mode = LogConfig::default().write_mode;
    println!(
        "storage benchmark in {}: {} updates of {}-byte values over {} keys (record = 12-byte key + value, \
         +4-byte length in a keel batch); budget {} ms per configuration (zkstyle {} ms)",
        args.dir.display(),
        args.updates,
        args.value_bytes,
        args.keys,
        args.budget.as_millis(),
        (args.budget * 2).as_millis()
    );
    println!(
        "{:<22} {:>9} {:>12} {:>9} {:>9} {:>7}",
        "config", "updates", "updates/s", "MB/s", "flushes", "seeks"
    );
    let ks = [1u64, 10, 100, 1000];
    let mut keel_default = Vec::new();
    for mode in [WriteMode::Mmap, WriteMode::Pwrite] {
        for k in ks {
            let outcome = run_keel(&args, k, mode, false);
            outcome.print();
            if mode == default_mode {
                keel_default.push(outcome);
            }
        }
    }
    let mut keel_zeros_ahead = Vec::new();
    for k in ks {
        let outcome = run_keel(&args, k, default_mode, true);
        outcome.print();
        keel_zeros_ahead.push(outcome);
    }
    let mut floor = Vec::new();
    for k in ks {
        let outcome = run_preallocated(&args, k);
        outcome.print();
        floor.push(outcome);
    }
    let mut raw = Vec::new();
    for k in ks {
        let outcome = run_raw(&args, k);
        outcome.print();
        raw.push(outcome);
    }
    let zk = run_zkstyle(&args);
    zk.print();
    println!(
        "keel efficiency at the same flush size (MB/s ratio), default mode {}: vs the preallocated floor, vs the growing file",
        mode_name(default_mode)
    );
    for keel_runs in [&keel_zeros_ahead, &keel_default] {
        for ((keel, floor), raw) in keel_runs.iter().zip(&floor).zip(&raw) {
            println!(
                "  {:<34} {:.3}  {:.3}",
                keel.name,
                keel.mb_per_s() / floor.mb_per_s(),
                keel.mb_per_s() / raw.mb_per_s()
            );
        }
    }
    print_roll_latency(&args);
    let (scanned, seconds) = run_recovery(&args);
    println!(
        "recovery scan: opened a log of {} bytes ({} MiB of batches, page cache warm) in {:.3} s",
        scanned,
        scanned / (1024 * 1024),
        seconds
    );
    println!(
        "recovery_scan_gb_per_s: {:.2}",
        scanned as f64 / seconds / 1e9
    );
    let _ = std::fs::remove_dir_all(&args.dir);
    let keel_k1000 = &keel_default[3];
    let raw_k1000 = &raw[3];
    let floor_k1000 = &floor[3];
    println!(
        "keel_updates_per_s_k1000: {:.0}",
        keel_k1000.updates_per_s()
    );
    println!("zkstyle_updates_per_s: {:.0}", zk.updates_per_s());
    println!(
        "ratio_keel_k1000_over_zkstyle: {:.1}",
        keel_k1000.updates_per_s() / zk.updates_per_s()
    );
    println!(
        "keel_efficiency_vs_preallocated_k1000: {:.3}",
        keel_zeros_ahead[3].mb_per_s() / floor_k1000.mb_per_s()
    );
    println!(
        "keel_efficiency_vs_preallocated_k1000_saturated: {:.3}",
        keel_k1000.mb_per_s() / floor_k1000.mb_per_s()
    );
    println!(
        "keel_efficiency_vs_growing_file_k1000: {:.3}",
        keel_k1000.mb_per_s() / raw_k1000.mb_per_s()
    );
    std::io::stdout().flush().unwrap();
}
