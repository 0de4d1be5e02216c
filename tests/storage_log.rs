//! The log API as Raft uses it: leader and follower appends, group-commit flush, batch-aligned
//! zero-copy reads, rolls, truncation of a divergent suffix, prefix deletion, epoch history.
//! Every scenario runs with both write modes.

// Inside a module named after the file, so `cargo test storage` selects these tests.
mod storage_log {

    use std::path::{Path, PathBuf};

    use keel::storage::batch::{BatchSpec, ScanItem, Scanner, encode_batch};
    use keel::storage::{Log, LogConfig, RecoveryMode, StorageError, WriteMode};

    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            let base = if Path::new("/dev/shm").is_dir() {
                PathBuf::from("/dev/shm")
            } else {
                std::env::temp_dir()
            };
            let dir = base.join(format!("keel-storage-log-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn config(write_mode: WriteMode) -> LogConfig {
        LogConfig {
            segment_bytes: 4096,
            index_interval_bytes: 200,
            batch_bytes_max: 2048,
            write_mode,
            recovery_mode: RecoveryMode::Strict,
            // Small chunks so that appends cross the zeroed frontier often.
            zero_fill_chunk_bytes: 512,
            prepare_ahead_bytes: 1024,
        }
    }

    const MODES: [WriteMode; 2] = [WriteMode::Mmap, WriteMode::Pwrite];

    /// Offsets and records of every batch in `bytes`.
    fn batches_in(bytes: &[u8]) -> Vec<(u64, u32, Vec<Vec<u8>>)> {
        let mut out = Vec::new();
        for item in Scanner::new(bytes, 1 << 23) {
            match item {
                ScanItem::Batch { batch, .. } => out.push((
                    batch.header.base_offset,
                    batch.header.leader_epoch,
                    batch.records().map(|r| r.to_vec()).collect(),
                )),
                ScanItem::CleanEnd { position } => {
                    assert_eq!(position, bytes.len(), "read returned trailing zeros")
                }
                other => panic!("read returned something that is not whole batches: {other:?}"),
            }
        }
        out
    }

    /// Reads the whole log from `from` by repeated reads, as a fetcher would.
    fn read_all(log: &Log, from: u64) -> Vec<(u64, u32, Vec<Vec<u8>>)> {
        let mut out = Vec::new();
        let mut offset = from;
        while offset < log.log_end_offset() {
            let bytes = log.read(offset, 1000).unwrap();
            let batches = batches_in(bytes);
            assert!(!batches.is_empty());
            let last = batches.last().unwrap();
            offset = last.0 + last.2.len() as u64;
            out.extend(batches);
        }
        out
    }

    fn record(i: u64) -> Vec<u8> {
        format!("record-{i}-{}", "x".repeat((i % 50) as usize)).into_bytes()
    }

    #[test]
    fn leader_appends_get_contiguous_offsets_and_read_back_bit_for_bit() {
        for mode in MODES {
            let dir = TempDir::new(&format!("append-{mode:?}"));
            let mut log = Log::open(&dir.0, config(mode)).unwrap();
            assert_eq!(
                (
                    log.log_start_offset(),
                    log.log_end_offset(),
                    log.latest_epoch()
                ),
                (0, 0, None)
            );
            let mut expected = Vec::new();
            let mut next = 0;
            for i in 0..200u64 {
                let records: Vec<Vec<u8>> = (0..1 + i % 3).map(|j| record(i * 10 + j)).collect();
                let refs: Vec<&[u8]> = records.iter().map(|r| r.as_slice()).collect();
                let (first, last) = log.append(2, 1000 + i as i64, i == 0, &refs).unwrap();
                assert_eq!((first, last), (next, next + records.len() as u64 - 1));
                expected.push((first, 2, records));
                next = last + 1;
            }
            assert!(
                log.segment_count() > 2,
                "small segments roll: {}",
                log.segment_count()
            );
            assert_eq!(read_all(&log, 0), expected);
            assert_eq!(log.flush().unwrap(), next);
            drop(log);
            let log = Log::open(&dir.0, config(mode)).unwrap();
            assert_eq!(log.log_end_offset(), next);
            assert_eq!(read_all(&log, 0), expected, "reopened log reads the same");
            assert!(log.recovery_report().torn_tail.is_none());
            assert!(
                log.recovery_report().indexes_rebuilt.is_empty(),
                "clean shutdown keeps the indexes"
            );
        }
    }

    #[test]
    fn reads_are_batch_aligned_and_never_split_a_batch() {
        let dir = TempDir::new("aligned");
        let mut log = Log::open(&dir.0, config(WriteMode::Mmap)).unwrap();
        let big = vec![1u8; 500];
        log.append(1, 0, false, &[b"a", b"b", b"c"]).unwrap(); // offsets 0..=2, 66 bytes
        log.append(1, 0, false, &[&big]).unwrap(); // offset 3, 552 bytes
        log.append(1, 0, false, &[b"d"]).unwrap(); // offset 4
        let all = log.read(0, 10_000).unwrap();
        assert_eq!(batches_in(all).len(), 3);
        // A limit that ends inside the second batch returns only the first.
        let first = log.read(0, 100).unwrap();
        assert_eq!(
            batches_in(first).iter().map(|b| b.0).collect::<Vec<_>>(),
            vec![0]
        );
        // A first batch larger than the limit comes back whole.
        let whole = log.read(3, 10).unwrap();
        assert_eq!(whole.len(), 552);
        // An offset inside a batch returns the batch that holds it.
        let inside = log.read(1, 10).unwrap();
        assert_eq!(batches_in(inside)[0].0, 0);
        assert!(
            log.read(5, 100).unwrap().is_empty(),
            "the log end reads as empty"
        );
        assert!(matches!(
            log.read(6, 100),
            Err(StorageError::OffsetOutOfRange { offset: 6, .. })
        ));
    }

    #[test]
    fn follower_appends_leader_bytes_verbatim_and_validates_before_writing() {
        for mode in MODES {
            let leader_dir = TempDir::new(&format!("leader-{mode:?}"));
            let follower_dir = TempDir::new(&format!("follower-{mode:?}"));
            let mut leader = Log::open(&leader_dir.0, config(mode)).unwrap();
            let mut follower = Log::open(&follower_dir.0, config(mode)).unwrap();
            for i in 0..40u64 {
                leader
                    .append(
                        1 + (i / 10) as u32,
                        i as i64,
                        false,
                        &[&record(i), &record(i + 1)],
                    )
                    .unwrap();
            }
            while follower.log_end_offset() < leader.log_end_offset() {
                let bytes = leader.read(follower.log_end_offset(), 700).unwrap();
                follower.append_raw(bytes).unwrap();
                follower.flush().unwrap();
            }
            assert_eq!(read_all(&follower, 0), read_all(&leader, 0));
            assert_eq!(follower.epoch_entries(), leader.epoch_entries());

            let end = follower.log_end_offset();
            let mut next = Vec::new();
            let spec = BatchSpec {
                base_offset: end,
                leader_epoch: 4,
                first_timestamp_ms: 0,
                max_timestamp_ms: 0,
                control: false,
            };
            encode_batch(&spec, &[b"ok"], &mut next);
            let mut second = Vec::new();
            encode_batch(
                &BatchSpec {
                    base_offset: end + 1,
                    ..spec
                },
                &[b"damaged"],
                &mut second,
            );
            let mut damaged = next.clone();
            damaged.extend_from_slice(&second);
            let last = damaged.len() - 1;
            damaged[last] ^= 1;
            let error = follower.append_raw(&damaged).unwrap_err();
            assert!(
                matches!(error, StorageError::InvalidBatch { .. }),
                "{error}"
            );
            assert_eq!(
                follower.log_end_offset(),
                end,
                "the valid first batch was not written either"
            );

            let mut gap = Vec::new();
            encode_batch(
                &BatchSpec {
                    base_offset: end + 1,
                    ..spec
                },
                &[b"gap"],
                &mut gap,
            );
            assert!(
                follower
                    .append_raw(&gap)
                    .unwrap_err()
                    .to_string()
                    .contains("continues at")
            );
            let mut old_epoch = Vec::new();
            encode_batch(
                &BatchSpec {
                    leader_epoch: 1,
                    ..spec
                },
                &[b"old"],
                &mut old_epoch,
            );
            assert!(
                follower
                    .append_raw(&old_epoch)
                    .unwrap_err()
                    .to_string()
                    .contains("goes back")
            );
            let mut trailing = next.clone();
            trailing.extend_from_slice(&[0u8; 3]);
            assert!(follower.append_raw(&trailing).is_err());
            assert_eq!(follower.log_end_offset(), end);
            assert_eq!(follower.append_raw(&next).unwrap(), (end, end));
        }
    }

    #[test]
    fn leader_append_rejects_what_raft_must_never_send() {
        let dir = TempDir::new("reject");
        let mut log = Log::open(&dir.0, config(WriteMode::Mmap)).unwrap();
        log.append(5, 0, false, &[b"a"]).unwrap();
        assert!(matches!(
            log.append(4, 0, false, &[b"b"]),
            Err(StorageError::InvalidArgument { .. })
        ));
        assert!(matches!(
            log.append(5, 0, false, &[]),
            Err(StorageError::InvalidArgument { .. })
        ));
        let too_big = vec![0u8; 2048];
        assert!(matches!(
            log.append(5, 0, false, &[&too_big]),
            Err(StorageError::InvalidArgument { .. })
        ));
        assert_eq!(log.log_end_offset(), 1);
    }

    #[test]
    fn flush_is_group_commit_and_reports_the_flushed_end() {
        for mode in MODES {
            let dir = TempDir::new(&format!("flush-{mode:?}"));
            let mut log = Log::open(&dir.0, config(mode)).unwrap();
            for i in 0..5 {
                log.append(1, 0, false, &[&record(i)]).unwrap();
            }
            assert_eq!(log.flushed_end_offset(), 0);
            assert_eq!(log.flush().unwrap(), 5);
            assert_eq!(log.flushed_end_offset(), 5);
            assert_eq!(log.flush().unwrap(), 5, "an empty flush is harmless");
        }
    }

    #[test]
    fn truncating_a_divergent_suffix_fixes_log_and_epoch_history_durably() {
        for mode in MODES {
            let dir = TempDir::new(&format!("truncate-{mode:?}"));
            let mut log = Log::open(&dir.0, config(mode)).unwrap();
            for i in 0..50u64 {
                log.append(1 + (i / 20) as u32, 0, false, &[&record(i)])
                    .unwrap();
            }
            log.flush().unwrap();
            let segments_before = log.segment_count();
            assert_eq!(log.end_offset_for_epoch(1), Some((1, 20)));
            assert_eq!(log.truncate_to(15).unwrap(), 15);
            assert!(
                log.segment_count() < segments_before,
                "later segments are deleted"
            );
            assert_eq!(log.log_end_offset(), 15);
            assert_eq!(log.flushed_end_offset(), 15);
            assert_eq!(log.latest_epoch(), Some(1));
            assert_eq!(log.end_offset_for_epoch(1), Some((1, 15)));
            assert_eq!(log.end_offset_for_epoch(3), None);
            log.append(7, 0, false, &[b"new"]).unwrap();
            log.flush().unwrap();
            drop(log);
            let log = Log::open(&dir.0, config(mode)).unwrap();
            let all = read_all(&log, 0);
            assert_eq!(all.len(), 16);
            assert_eq!(all[15], (15, 7, vec![b"new".to_vec()]));
            assert_eq!(log.end_offset_for_epoch(1), Some((1, 15)));
            assert!(
                !log.recovery_report().epoch_checkpoint_rewritten,
                "checkpoint was kept in step"
            );
        }
    }

    #[test]
    fn truncating_inside_a_batch_cuts_the_whole_batch() {
        let dir = TempDir::new("truncate-mid");
        let mut log = Log::open(&dir.0, config(WriteMode::Mmap)).unwrap();
        log.append(1, 0, false, &[b"a", b"b"]).unwrap();
        log.append(1, 0, false, &[b"c", b"d", b"e"]).unwrap();
        assert_eq!(log.truncate_to(3).unwrap(), 2);
        assert_eq!(log.log_end_offset(), 2);
        assert_eq!(
            log.truncate_to(2).unwrap(),
            2,
            "truncating at the end is a no-op"
        );
    }

    #[test]
    fn deleting_a_prefix_removes_whole_segments_and_moves_the_log_start() {
        for mode in MODES {
            let dir = TempDir::new(&format!("delete-{mode:?}"));
            let mut log = Log::open(&dir.0, config(mode)).unwrap();
            for i in 0..200u64 {
                log.append(1 + (i / 80) as u32, 0, false, &[&record(i)])
                    .unwrap();
            }
            log.flush().unwrap();
            let bases = log.segment_base_offsets();
            let cut = bases[2] + 1;
            log.delete_before(cut).unwrap();
            assert_eq!(log.log_start_offset(), cut);
            assert_eq!(log.segment_base_offsets()[0], bases[2]);
            assert!(matches!(
                log.read(cut - 1, 100),
                Err(StorageError::OffsetOutOfRange { .. })
            ));
            assert_eq!(read_all(&log, cut).last().unwrap().0, 199);
            drop(log);
            let log = Log::open(&dir.0, config(mode)).unwrap();
            assert_eq!(
                log.log_start_offset(),
                bases[2],
                "after restart the log starts at its first segment"
            );
            assert!(!log.recovery_report().epoch_checkpoint_rewritten);
            // Deleting everything rolls first, so the new start survives a restart.
            let mut log = log;
            let end = log.log_end_offset();
            log.delete_before(end).unwrap();
            assert_eq!(log.segment_count(), 1);
            drop(log);
            let log = Log::open(&dir.0, config(mode)).unwrap();
            assert_eq!((log.log_start_offset(), log.log_end_offset()), (end, end));
        }
    }

    #[test]
    fn truncate_fully_restarts_the_log_at_a_snapshot_offset() {
        let dir = TempDir::new("fully");
        let mut log = Log::open(&dir.0, config(WriteMode::Mmap)).unwrap();
        for i in 0..30 {
            log.append(1, 0, false, &[&record(i)]).unwrap();
        }
        log.truncate_fully_and_start_at(1000).unwrap();
        assert_eq!(
            (
                log.log_start_offset(),
                log.log_end_offset(),
                log.latest_epoch()
            ),
            (1000, 1000, None)
        );
        assert_eq!(log.append(9, 0, false, &[b"x"]).unwrap(), (1000, 1000));
        log.flush().unwrap();
        drop(log);
        let log = Log::open(&dir.0, config(WriteMode::Mmap)).unwrap();
        assert_eq!((log.log_start_offset(), log.log_end_offset()), (1000, 1001));
        assert_eq!(log.end_offset_for_epoch(9), Some((9, 1001)));
    }
}
