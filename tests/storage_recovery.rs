//! The recovery table of `protocol-spec/storage-format.md`, one test per row: each builds the
//! exact file state of its row and checks what `Log::open` does with it.

// Inside a module named after the file, so `cargo test storage` selects these tests.
mod storage_recovery {

    use std::path::{Path, PathBuf};

    use keel::storage::batch::{ScanItem, Scanner};
    use keel::storage::segment::{SEGMENT_HEADER_BYTES, SPARE_SEGMENT_FILE};
    use keel::storage::{Log, LogConfig, RecoveryMode, StorageError, WriteMode};

    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            let base = if Path::new("/dev/shm").is_dir() {
                PathBuf::from("/dev/shm")
            } else {
                std::env::temp_dir()
            };
            let dir = base.join(format!(
                "keel-storage-recovery-{name}-{}",
                std::process::id()
            ));
            let _ = std::fs::remove_dir_all(&dir);
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn config(recovery_mode: RecoveryMode) -> LogConfig {
        LogConfig {
            segment_bytes: 4096,
            index_interval_bytes: 200,
            batch_bytes_max: 2048,
            write_mode: WriteMode::Mmap,
            recovery_mode,
            zero_fill_chunk_bytes: 1024,
            prepare_ahead_bytes: 2048,
        }
    }

    fn strict() -> LogConfig {
        config(RecoveryMode::Strict)
    }

    /// A flushed, cleanly closed log of `batches` one-record batches over several segments.
    fn build_log(dir: &Path, batches: u64) {
        let mut log = Log::open(dir, strict()).unwrap();
        for i in 0..batches {
            let record = format!("record {i:05} {}", "y".repeat(60));
            log.append(1 + (i / 30) as u32, i as i64, false, &[record.as_bytes()])
                .unwrap();
        }
        log.flush().unwrap();
    }

    fn files_with_suffix(dir: &Path, suffix: &str) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with(suffix))
            .collect();
        files.sort();
        files
    }

    fn segments(dir: &Path) -> Vec<PathBuf> {
        files_with_suffix(dir, ".log")
    }

    /// (file position, size, base offset) of each batch of a segment file.
    fn batch_positions(path: &Path) -> Vec<(u64, u64, u64)> {
        let bytes = std::fs::read(path).unwrap();
        let header = SEGMENT_HEADER_BYTES as usize;
        Scanner::new(&bytes[header..], 1 << 23)
            .filter_map(|item| match item {
                ScanItem::Batch { position, batch } => Some((
                    (header + position) as u64,
                    batch.bytes.len() as u64,
                    batch.header.base_offset,
                )),
                _ => None,
            })
            .collect()
    }

    fn patch(path: &Path, position: u64, bytes: &[u8]) {
        let mut content = std::fs::read(path).unwrap();
        content[position as usize..position as usize + bytes.len()].copy_from_slice(bytes);
        std::fs::write(path, content).unwrap();
    }

    fn expect_corruption(dir: &Path, path: &Path, position: u64, offset: u64) {
        let before: Vec<Vec<u8>> = segments(dir)
            .iter()
            .map(|p| std::fs::read(p).unwrap())
            .collect();
        match Log::open(dir, strict()) {
            Err(StorageError::Corruption {
                path: reported,
                position: p,
                offset: o,
                reason,
            }) => {
                assert_eq!(reported, path, "{reason}");
                assert_eq!(p, position, "{reason}");
                assert_eq!(o, Some(offset), "{reason}");
                let message = StorageError::Corruption {
                    path: reported,
                    position: p,
                    offset: o,
                    reason,
                }
                .to_string();
                assert!(
                    message.contains(&path.display().to_string())
                        && message.contains(&format!("position {position}"))
                );
            }
            Err(other) => panic!("expected corruption, got {other}"),
            Ok(_) => panic!("a corrupt log opened"),
        }
        let after: Vec<Vec<u8>> = segments(dir)
            .iter()
            .map(|p| std::fs::read(p).unwrap())
            .collect();
        assert!(before == after, "a refused open must not change a byte");
    }

    #[test]
    fn row_clean_end_zeros_after_the_last_batch_open_normally() {
        let dir = TempDir::new("clean");
        build_log(&dir.0, 100);
        let log = Log::open(&dir.0, strict()).unwrap();
        assert_eq!(log.log_end_offset(), 100);
        let report = log.recovery_report();
        assert!(
            report.torn_tail.is_none()
                && report.needs_repair.is_none()
                && report.indexes_rebuilt.is_empty()
        );
    }

    #[test]
    fn row_partial_last_batch_is_cut_and_reported() {
        let dir = TempDir::new("torn");
        build_log(&dir.0, 100);
        let last = segments(&dir.0).pop().unwrap();
        let batches = batch_positions(&last);
        let (position, size, offset) = *batches.last().unwrap();
        // Zero the second half of the last batch, as if only its first sectors reached the disk.
        patch(
            &last,
            position + size / 2,
            &vec![0u8; (size - size / 2) as usize],
        );
        let mut log = Log::open(&dir.0, strict()).unwrap();
        assert_eq!(log.log_end_offset(), offset);
        let cut = log
            .recovery_report()
            .torn_tail
            .clone()
            .expect("torn tail reported");
        assert_eq!(
            (cut.path, cut.position, cut.first_offset),
            (last.clone(), position, offset)
        );
        assert_eq!(cut.nonzero_end, position + size / 2);
        // The cut is real: the next append takes its place and survives a reopen.
        assert_eq!(
            log.append(9, 0, false, &[b"after"]).unwrap(),
            (offset, offset)
        );
        log.flush().unwrap();
        drop(log);
        let log = Log::open(&dir.0, strict()).unwrap();
        assert_eq!(log.log_end_offset(), offset + 1);
        assert!(log.recovery_report().torn_tail.is_none());
    }

    #[test]
    fn row_garbage_after_the_last_batch_is_a_torn_tail() {
        let dir = TempDir::new("garbage");
        build_log(&dir.0, 100);
        let last = segments(&dir.0).pop().unwrap();
        let (position, size, _) = *batch_positions(&last).last().unwrap();
        let garbage: Vec<u8> = (0..300u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 | 1)
            .collect();
        patch(&last, position + size, &garbage);
        let log = Log::open(&dir.0, strict()).unwrap();
        assert_eq!(log.log_end_offset(), 100);
        let cut = log.recovery_report().torn_tail.clone().unwrap();
        assert_eq!(
            (cut.position, cut.nonzero_end),
            (position + size, position + size + 300)
        );
        let content = std::fs::read(&last).unwrap();
        assert!(
            content[(position + size) as usize..]
                .iter()
                .all(|&b| b == 0),
            "the garbage is gone from the file"
        );
    }

    #[test]
    fn row_bad_crc_followed_by_valid_batches_is_refused_not_truncated() {
        let dir = TempDir::new("corrupt-mid");
        build_log(&dir.0, 100);
        let last = segments(&dir.0).pop().unwrap();
        let batches = batch_positions(&last);
        assert!(batches.len() >= 3);
        let (position, _, offset) = batches[batches.len() - 3];
        patch(&last, position + 60, b"\xff");
        expect_corruption(&dir.0, &last, position, offset);
    }

    #[test]
    fn row_impossible_header_followed_by_valid_batches_is_refused() {
        let dir = TempDir::new("bad-header");
        build_log(&dir.0, 100);
        let last = segments(&dir.0).pop().unwrap();
        let (position, _, offset) = batch_positions(&last)[1];
        // A size field beyond any batch: the header itself is impossible.
        patch(&last, position + 4, &[0x7f, 0xff, 0xff, 0xff]);
        expect_corruption(&dir.0, &last, position, offset);
    }

    #[test]
    fn row_zeroed_hole_followed_by_valid_batches_is_refused() {
        let dir = TempDir::new("hole");
        build_log(&dir.0, 100);
        let last = segments(&dir.0).pop().unwrap();
        let (position, size, offset) = batch_positions(&last)[1];
        patch(&last, position, &vec![0u8; size as usize]);
        expect_corruption(&dir.0, &last, position, offset);
    }

    #[test]
    fn row_damage_anywhere_in_a_sealed_segment_is_refused() {
        let dir = TempDir::new("sealed");
        build_log(&dir.0, 100);
        let all = segments(&dir.0);
        assert!(all.len() >= 3);
        let sealed = &all[1];
        // Even the last batch of a sealed segment: it was flushed before the next segment existed.
        let (position, size, offset) = *batch_positions(sealed).last().unwrap();
        patch(sealed, position + size - 1, b"\x55");
        expect_corruption(&dir.0, sealed, position, offset);
    }

    #[test]
    fn row_sealed_segment_with_a_zero_tail_opens_it_was_a_roll_interrupted_before_trimming() {
        let dir = TempDir::new("untrimmed");
        build_log(&dir.0, 100);
        let sealed = segments(&dir.0)[0].clone();
        let length = std::fs::metadata(&sealed).unwrap().len();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&sealed)
            .unwrap()
            .set_len(length + 4096)
            .unwrap();
        let log = Log::open(&dir.0, strict()).unwrap();
        assert_eq!(log.log_end_offset(), 100);
    }

    #[test]
    fn row_valid_batch_with_the_wrong_offset_is_refused() {
        let dir = TempDir::new("misplaced");
        build_log(&dir.0, 100);
        let last = segments(&dir.0).pop().unwrap();
        let batches = batch_positions(&last);
        // Copy a valid batch over the next one: CRCs all match, but offsets repeat.
        let content = std::fs::read(&last).unwrap();
        let (p0, s0, _) = batches[0];
        let (p1, s1, o1) = batches[1];
        assert_eq!(s0, s1);
        patch(&last, p1, &content[p0 as usize..(p0 + s0) as usize]);
        expect_corruption(&dir.0, &last, p1, o1);
    }

    #[test]
    fn row_missing_middle_segment_is_refused() {
        let dir = TempDir::new("gap");
        build_log(&dir.0, 100);
        let all = segments(&dir.0);
        std::fs::remove_file(&all[1]).unwrap();
        let expected_offset = batch_positions(&all[0]).last().unwrap().2 + 1;
        expect_corruption(&dir.0, &all[2], 0, expected_offset);
    }

    #[test]
    fn row_damaged_segment_header_is_refused() {
        let dir = TempDir::new("seg-header");
        build_log(&dir.0, 100);
        let all = segments(&dir.0);
        patch(&all[1], 3, b"X");
        let base: u64 = all[1]
            .file_stem()
            .unwrap()
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        expect_corruption(&dir.0, &all[1], 0, base);
    }

    #[test]
    fn row_repair_mode_keeps_the_valid_prefix_sets_damage_aside_and_reports() {
        let dir = TempDir::new("repair");
        build_log(&dir.0, 100);
        let all = segments(&dir.0);
        let damaged = all[1].clone();
        let (position, _, offset) = batch_positions(&damaged)[2];
        patch(&damaged, position + 50, b"\x00\x01");
        let original = std::fs::read(&damaged).unwrap();
        let mut log = Log::open(&dir.0, config(RecoveryMode::KeepValidPrefix)).unwrap();
        let report = log.needs_repair().expect("repair reported").clone();
        assert_eq!(
            (report.path.clone(), report.position, report.offset),
            (damaged.clone(), position, offset)
        );
        assert_eq!(
            log.log_end_offset(),
            offset,
            "valid prefix kept, nothing after it"
        );
        assert_eq!(log.segment_count(), 2);
        // Nothing is lost: the damaged segment and every later one are kept as *.broken.
        let broken = files_with_suffix(&dir.0, ".broken");
        assert_eq!(broken.len(), all.len() - 1);
        assert_eq!(std::fs::read(&broken[0]).unwrap(), original);
        // The log works from the repaired end (raft re-fetches from here).
        assert_eq!(
            log.append(5, 0, false, &[b"refetched"]).unwrap(),
            (offset, offset)
        );
        log.flush().unwrap();
        drop(log);
        let log = Log::open(&dir.0, strict()).unwrap();
        assert_eq!(log.log_end_offset(), offset + 1);
        assert!(
            log.needs_repair().is_none(),
            "repaired log opens cleanly in strict mode"
        );
    }

    #[test]
    fn row_index_missing_or_inconsistent_is_rebuilt_from_the_segment() {
        let dir = TempDir::new("index");
        build_log(&dir.0, 100);
        let indexes = files_with_suffix(&dir.0, ".index");
        assert!(indexes.len() >= 3);
        let reference: Vec<Vec<u8>> = indexes.iter().map(|p| std::fs::read(p).unwrap()).collect();
        std::fs::remove_file(&indexes[0]).unwrap();
        patch(&indexes[1], 2, b"\x7f");
        std::fs::write(&indexes[2], b"short").unwrap();
        let log = Log::open(&dir.0, strict()).unwrap();
        let mut rebuilt = log.recovery_report().indexes_rebuilt.clone();
        rebuilt.sort();
        assert_eq!(rebuilt, indexes[..3].to_vec());
        let now: Vec<Vec<u8>> = indexes.iter().map(|p| std::fs::read(p).unwrap()).collect();
        assert!(
            now == reference,
            "rebuilt indexes are exactly what the appends wrote"
        );
        // Reads through the rebuilt index still find every offset.
        for offset in 0..100 {
            assert!(!log.read(offset, 1).unwrap().is_empty());
        }
    }

    #[test]
    fn row_leftover_temporary_files_are_deleted() {
        let dir = TempDir::new("temps");
        build_log(&dir.0, 10);
        let leftovers = [
            "00000000000000000050-0000000003.checkpoint.part",
            "00000000000000000077.log.part",
            "quorum-state.tmp",
        ];
        for name in leftovers {
            std::fs::write(dir.0.join(name), b"half written").unwrap();
        }
        let log = Log::open(&dir.0, strict()).unwrap();
        assert_eq!(log.recovery_report().temp_files_removed.len(), 3);
        for name in leftovers {
            assert!(!dir.0.join(name).exists(), "{name} survived");
        }
        assert_eq!(log.log_end_offset(), 10);
    }

    #[test]
    fn row_leftover_spare_segment_is_deleted_never_read() {
        let dir = TempDir::new("spare");
        let spare_path = dir.0.join(SPARE_SEGMENT_FILE);
        {
            let mut log = Log::open(&dir.0, strict()).unwrap();
            while log.zero_fill_state().active_written < 2500 {
                log.append(1, 0, false, &[&[3u8; 200]]).unwrap();
            }
            log.flush().unwrap();
            while log.needs_prepare() {
                log.prepare_ahead(1024).unwrap();
            }
            assert!(log.zero_fill_state().spare_zeroed.is_some());
        }
        // A real spare left by a stopped node: deleted, the log as it was.
        assert!(spare_path.exists());
        let end = {
            let log = Log::open(&dir.0, strict()).unwrap();
            assert_eq!(
                log.recovery_report().temp_files_removed,
                vec![spare_path.clone()]
            );
            assert!(log.zero_fill_state().spare_zeroed.is_none());
            log.log_end_offset()
        };
        assert!(!spare_path.exists());
        // Whatever a crash left under that name (half reserved, not zeros): never read.
        std::fs::write(&spare_path, b"\xffhalf made").unwrap();
        let mut log = Log::open(&dir.0, strict()).unwrap();
        assert_eq!(
            log.recovery_report().temp_files_removed,
            vec![spare_path.clone()]
        );
        assert!(!spare_path.exists());
        assert_eq!(log.log_end_offset(), end);
        // The next roll creates its segment from scratch.
        log.roll().unwrap();
        assert_eq!(log.append(1, 0, false, &[b"after"]).unwrap(), (end, end));
    }

    #[test]
    fn row_missing_or_stale_epoch_checkpoint_is_rewritten_from_the_log() {
        let dir = TempDir::new("epochs");
        build_log(&dir.0, 100);
        let checkpoint = dir.0.join("leader-epoch-checkpoint");
        let reference = std::fs::read(&checkpoint).unwrap();
        assert_eq!(reference, b"0\n4\n1 0\n2 30\n3 60\n4 90\n");
        std::fs::write(&checkpoint, b"0\n1\n1 0\n").unwrap();
        let log = Log::open(&dir.0, strict()).unwrap();
        assert!(log.recovery_report().epoch_checkpoint_rewritten);
        assert_eq!(std::fs::read(&checkpoint).unwrap(), reference);
        drop(log);
        std::fs::write(&checkpoint, b"not a checkpoint").unwrap();
        let log = Log::open(&dir.0, strict()).unwrap();
        assert!(log.recovery_report().epoch_checkpoint_rewritten);
        assert_eq!(log.end_offset_for_epoch(2), Some((2, 60)));
        drop(log);
        std::fs::remove_file(&checkpoint).unwrap();
        let log = Log::open(&dir.0, strict()).unwrap();
        assert!(log.recovery_report().epoch_checkpoint_rewritten);
        assert_eq!(std::fs::read(&checkpoint).unwrap(), reference);
    }

    #[test]
    fn row_empty_directory_creates_an_empty_log() {
        let dir = TempDir::new("empty");
        let log = Log::open(&dir.0, strict()).unwrap();
        assert_eq!((log.log_start_offset(), log.log_end_offset()), (0, 0));
        assert_eq!(segments(&dir.0).len(), 1);
    }
}
