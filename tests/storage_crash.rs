//! Crash tests: random sequences of append / follower append / flush / roll / truncate / prefix
//! deletion / crash, checked against an in-memory model of what was written and what was
//! acknowledged as durable.
//!
//! A crash image is built from the real files the way a power cut leaves them. Durable are
//! exactly the batches below the `flushed_end_offset` the log acknowledged (in whatever
//! segment they sit); everything after them in a segment file is the unflushed tail, which the
//! crash turns into one of: zeros (only durable bytes survive), a torn prefix of what was
//! written, random garbage, a torn prefix followed by garbage, or everything (a process crash
//! with the page cache intact). Indexes and the epoch checkpoint are never authoritative, so the
//! crash also deletes or damages them at random. After reopening (strict mode, which must
//! succeed) every acknowledged batch must be there bit for bit, and every batch present must be
//! one that was really written at that offset.
//!
//! The model trusts nothing but `flushed_end_offset`: if the log ever left unflushed bytes in a
//! sealed segment, or acknowledged an offset it had not made durable in its files' order, the
//! mangled image would surface it as a refused open or a missing batch.

// Inside a module named after the file, so `cargo test storage` selects these tests.
mod storage_crash {

    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};

    use keel::storage::batch::{BatchSpec, ScanItem, Scanner, encode_batch};
    use keel::storage::segment::SEGMENT_HEADER_BYTES;
    use keel::storage::{Log, LogConfig, RecoveryMode, WriteMode};
    use proptest::prelude::*;

    const SEGMENT_BYTES: u32 = 2048;
    const BATCH_BYTES_MAX: u32 = 1000;

    /// The zero-fill step and preparation distance vary with the case: tiny chunks (appends
    /// cross the zeroed frontier all the time), chunks larger than a segment, no preparation,
    /// a window that reaches into the spare at once.
    fn config(write_mode: WriteMode, case: u64) -> LogConfig {
        let (zero_fill_chunk_bytes, prepare_ahead_bytes) = match case % 4 {
            0 => (64, 500),
            1 => (300, 3000),
            2 => (1 << 20, 0),
            _ => (700, 1500),
        };
        LogConfig {
            segment_bytes: SEGMENT_BYTES,
            index_interval_bytes: 300,
            batch_bytes_max: BATCH_BYTES_MAX,
            write_mode,
            recovery_mode: RecoveryMode::Strict,
            zero_fill_chunk_bytes,
            prepare_ahead_bytes,
        }
    }

    #[derive(Clone, Debug)]
    enum Op {
        Append {
            epoch_bump: bool,
            records: Vec<Vec<u8>>,
        },
        FollowerAppend {
            epoch_bump: bool,
            batches: Vec<Vec<Vec<u8>>>,
        },
        Flush,
        PrepareAhead {
            budget: u64,
        },
        Roll,
        Truncate {
            fraction: f64,
        },
        DeleteBefore {
            fraction: f64,
        },
        Crash {
            mode: u8,
            seed: u64,
        },
    }

    fn records() -> impl Strategy<Value = Vec<Vec<u8>>> {
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..120), 1..5)
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (any::<bool>(), records()).prop_map(|(b, r)| Op::Append { epoch_bump: b && r.len() == 1, records: r }),
            2 => (any::<bool>(), prop::collection::vec(records(), 1..4))
                .prop_map(|(epoch_bump, batches)| Op::FollowerAppend { epoch_bump, batches }),
            4 => Just(Op::Flush),
            3 => (1u64..2500).prop_map(|budget| Op::PrepareAhead { budget }),
            1 => Just(Op::Roll),
            1 => (0.0..1.0f64).prop_map(|fraction| Op::Truncate { fraction }),
            1 => (0.0..1.0f64).prop_map(|fraction| Op::DeleteBefore { fraction }),
            2 => (0u8..5, any::<u64>()).prop_map(|(mode, seed)| Op::Crash { mode, seed }),
        ]
    }

    /// What was written: the exact bytes of each batch by base offset, and what was acknowledged.
    struct Model {
        batches: BTreeMap<u64, Vec<u8>>,
        end_offset: u64,
        flushed_end: u64,
        epoch: u32,
    }

    impl Model {
        fn truncate(&mut self, end: u64) {
            self.batches.retain(|&base, _| base < end);
            self.end_offset = end;
            self.flushed_end = self.flushed_end.min(end);
        }
    }

    fn next_random(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    fn scratch_dir(case: u64) -> PathBuf {
        let base = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        base.join(format!("keel-storage-crash-{}-{case}", std::process::id()))
    }

    /// Rewrites the files in `dir` into what a crash could leave, given what was acknowledged.
    fn make_crash_image(dir: &Path, flushed_end: u64, mode: u8, seed: u64) {
        let mut rng = seed | 1;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if name.ends_with(".log") {
                let mut bytes = std::fs::read(&path).unwrap();
                let header = SEGMENT_HEADER_BYTES as usize;
                let mut durable_end = header;
                let mut written_end = header;
                for item in Scanner::new(&bytes[header..], BATCH_BYTES_MAX) {
                    if let ScanItem::Batch { position, batch } = item {
                        let end = header + position + batch.bytes.len();
                        if batch.header.next_offset() <= flushed_end {
                            durable_end = end;
                        }
                        written_end = end;
                    }
                }
                let tail = written_end - durable_end;
                let torn = if tail == 0 {
                    0
                } else {
                    (next_random(&mut rng) % (tail as u64 + 1)) as usize
                };
                let garbage = if tail == 0 {
                    0
                } else {
                    1 + (next_random(&mut rng) % tail as u64) as usize
                };
                let zero_from = match mode {
                    0 => durable_end,
                    1 => durable_end + torn,
                    2 => {
                        for b in &mut bytes[durable_end..durable_end + garbage] {
                            *b = next_random(&mut rng) as u8;
                        }
                        durable_end + garbage
                    }
                    3 => {
                        let garbage_end = (durable_end + torn + garbage).min(written_end);
                        for b in &mut bytes[durable_end + torn..garbage_end] {
                            *b = next_random(&mut rng) as u8;
                        }
                        garbage_end
                    }
                    _ => written_end,
                };
                for b in &mut bytes[zero_from..written_end] {
                    *b = 0;
                }
                std::fs::write(&path, bytes).unwrap();
            } else if name.ends_with(".index") || name == "leader-epoch-checkpoint" {
                match next_random(&mut rng) % 4 {
                    0 => std::fs::remove_file(&path).unwrap(),
                    1 => {
                        let mut bytes = std::fs::read(&path).unwrap();
                        if !bytes.is_empty() {
                            let at = (next_random(&mut rng) % bytes.len() as u64) as usize;
                            bytes[at] ^= 0x5a;
                        }
                        std::fs::write(&path, bytes).unwrap();
                    }
                    _ => {}
                }
            }
        }
    }

    /// Reopens after a crash and checks the log against the model; returns the reopened log.
    fn reopen_and_check(dir: &Path, config: LogConfig, model: &mut Model) -> Log {
        let log = Log::open(dir, config).unwrap_or_else(|e| panic!("crash image refused: {e}"));
        let end = log.log_end_offset();
        assert!(
            end >= model.flushed_end,
            "acknowledged offsets lost: end {end} < flushed {}",
            model.flushed_end
        );
        assert!(
            end <= model.end_offset,
            "log end {end} beyond anything written ({})",
            model.end_offset
        );
        let mut offset = log.log_start_offset();
        while offset < end {
            let bytes = log.read(offset, 1).unwrap();
            let expected = model
                .batches
                .get(&offset)
                .unwrap_or_else(|| panic!("offset {offset} is not a batch start"));
            assert!(
                bytes == expected.as_slice(),
                "batch at offset {offset} differs from what was written"
            );
            let batch = keel::storage::batch::decode_batch(bytes, BATCH_BYTES_MAX).unwrap();
            offset = batch.header.next_offset();
        }
        model.truncate(end);
        model.flushed_end = end;
        model.epoch = model.epoch.max(log.latest_epoch().unwrap_or(0));
        log
    }

    fn run_sequence(case: u64, write_mode: WriteMode, ops: &[Op]) {
        let dir = scratch_dir(case);
        let _ = std::fs::remove_dir_all(&dir);
        let config = config(write_mode, case);
        let mut log = Log::open(&dir, config).unwrap();
        let mut model = Model {
            batches: BTreeMap::new(),
            end_offset: 0,
            flushed_end: 0,
            epoch: 1,
        };
        let final_crash = Op::Crash {
            mode: (case % 5) as u8,
            seed: case.wrapping_mul(0x9e37_79b9_7f4a_7c15),
        };
        for op in ops.iter().chain(std::iter::once(&final_crash)) {
            match op {
                Op::Append {
                    epoch_bump,
                    records,
                } => {
                    model.epoch += u32::from(*epoch_bump);
                    let refs: Vec<&[u8]> = records.iter().map(|r| r.as_slice()).collect();
                    let (first, last) = log.append(model.epoch, 7, false, &refs).unwrap();
                    assert_eq!(first, model.end_offset);
                    model
                        .batches
                        .insert(first, log.read(first, 0).unwrap().to_vec());
                    model.end_offset = last + 1;
                }
                Op::FollowerAppend {
                    epoch_bump,
                    batches,
                } => {
                    model.epoch += u32::from(*epoch_bump);
                    let mut bytes = Vec::new();
                    let mut base = model.end_offset;
                    let mut starts = Vec::new();
                    for records in batches {
                        let refs: Vec<&[u8]> = records.iter().map(|r| r.as_slice()).collect();
                        let spec = BatchSpec {
                            base_offset: base,
                            leader_epoch: model.epoch,
                            first_timestamp_ms: 1,
                            max_timestamp_ms: 2,
                            control: true,
                        };
                        let start = bytes.len();
                        encode_batch(&spec, &refs, &mut bytes);
                        starts.push((base, start, bytes.len()));
                        base += refs.len() as u64;
                    }
                    assert_eq!(
                        log.append_raw(&bytes).unwrap(),
                        (model.end_offset, base - 1)
                    );
                    for (base, start, end) in starts {
                        model.batches.insert(base, bytes[start..end].to_vec());
                    }
                    model.end_offset = base;
                }
                Op::Flush => {
                    model.flushed_end = log.flush().unwrap();
                    assert_eq!(model.flushed_end, model.end_offset);
                }
                Op::PrepareAhead { budget } => {
                    let flushed_before = log.flushed_end_offset();
                    let written = log.prepare_ahead(*budget).unwrap();
                    assert!(written <= *budget);
                    assert_eq!(
                        log.flushed_end_offset(),
                        flushed_before,
                        "preparation claims nothing durable"
                    );
                }
                Op::Roll => {
                    log.roll().unwrap();
                    model.flushed_end = log.flushed_end_offset();
                }
                Op::Truncate { fraction } => {
                    let start = log.log_start_offset();
                    let target = start + ((model.end_offset - start) as f64 * fraction) as u64;
                    let end = log.truncate_to(target).unwrap();
                    assert!(
                        end <= target && model.batches.contains_key(&end)
                            || end == model.end_offset
                    );
                    model.truncate(end);
                    assert_eq!(
                        log.flushed_end_offset(),
                        end,
                        "truncation is durable when it returns"
                    );
                    model.flushed_end = end;
                    model.epoch = model.epoch.max(log.latest_epoch().unwrap_or(0));
                }
                Op::DeleteBefore { fraction } => {
                    let start = log.log_start_offset();
                    let target = start + ((model.end_offset - start) as f64 * fraction) as u64;
                    log.delete_before(target).unwrap();
                    model.flushed_end = log.flushed_end_offset();
                }
                Op::Crash { mode, seed } => {
                    // Durable is what the log claims (a roll inside an append flushes too), which is
                    // at least what callers were told when their flush returned.
                    assert!(log.flushed_end_offset() >= model.flushed_end);
                    model.flushed_end = log.flushed_end_offset();
                    drop(log);
                    make_crash_image(&dir, model.flushed_end, *mode, *seed);
                    log = reopen_and_check(&dir, config, &mut model);
                }
            }
        }
        drop(log);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    static CASE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

    fn next_case() -> u64 {
        CASE.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    proptest! {
        // 2 x 5,000 = 10,000 random sequences per run, split over two tests so that both cores work.
        #![proptest_config(ProptestConfig { cases: 5_000, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn no_acknowledged_batch_is_lost_in_any_crash_mmap(ops in prop::collection::vec(op(), 1..14)) {
            run_sequence(next_case(), WriteMode::Mmap, &ops);
        }

        #[test]
        fn no_acknowledged_batch_is_lost_in_any_crash_pwrite(ops in prop::collection::vec(op(), 1..14)) {
            run_sequence(next_case(), WriteMode::Pwrite, &ops);
        }
    }

    #[test]
    fn crash_right_after_acknowledged_flush_keeps_every_batch_in_every_mode() {
        for mode in 0..5u8 {
            let ops: Vec<Op> = (0..30)
                .flat_map(|i| {
                    [
                        Op::Append {
                            epoch_bump: i % 7 == 0,
                            records: vec![vec![i as u8; 90]],
                        },
                        if i % 3 == 0 {
                            Op::Flush
                        } else {
                            Op::Append {
                                epoch_bump: false,
                                records: vec![vec![1; 10]; 3],
                            }
                        },
                    ]
                })
                .chain([Op::Crash {
                    mode,
                    seed: 42 + u64::from(mode),
                }])
                .collect();
            run_sequence(next_case() + 1_000_000, WriteMode::Mmap, &ops);
        }
    }
}
