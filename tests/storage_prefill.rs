//! Zero-filling ahead of the write head, the spare segment, and rolls that cost no zero-fill.
//!
//! - A property test runs random sequences of appends, idle steps (`prepare_ahead`), flushes,
//!   rolls, truncations and reopens, with random chunk sizes and preparation distances, and
//!   after every step checks the frontier's invariant on the real files: everything after the
//!   last batch of the active segment reads as zero (the zeros written by keel and the
//!   reserved-but-unwritten rest alike), the spare is all zeros, every batch reads back, and no
//!   single step wrote more zeros than its bound (never a whole segment at once).
//! - A roll onto a prepared spare renames it (same inode) and writes no zeros; a roll without
//!   one writes one chunk, not a segment.
//! - On a disk file system (ext4/xfs under the system temp dir) the tail past the frontier
//!   really is unwritten extents (checked with FIEMAP), reads as zeros and recovers as a clean
//!   end; after `prepare_ahead` the blocks ahead of the head are ordinary written blocks.

// Inside a module named after the file, so `cargo test storage` selects these tests.
mod storage_prefill {

    use std::collections::BTreeMap;
    use std::os::unix::fs::MetadataExt;
    use std::path::{Path, PathBuf};

    use keel::storage::batch::{ScanItem, Scanner, decode_batch};
    use keel::storage::segment::{SEGMENT_HEADER_BYTES, SPARE_SEGMENT_FILE};
    use keel::storage::{Log, LogConfig, RecoveryMode, WriteMode};
    use proptest::prelude::*;

    const SEGMENT_BYTES: u32 = 4096;
    const BATCH_BYTES_MAX: u32 = 2048;

    struct TempDir(PathBuf);

    impl TempDir {
        fn in_base(base: PathBuf, name: &str) -> TempDir {
            let dir = base.join(format!(
                "keel-storage-prefill-{name}-{}",
                std::process::id()
            ));
            let _ = std::fs::remove_dir_all(&dir);
            TempDir(dir)
        }

        fn new(name: &str) -> TempDir {
            let base = if Path::new("/dev/shm").is_dir() {
                PathBuf::from("/dev/shm")
            } else {
                std::env::temp_dir()
            };
            TempDir::in_base(base, name)
        }

        /// Under the system temp dir: a real disk file system, where `fallocate` makes
        /// unwritten extents (tmpfs has none).
        fn on_disk(name: &str) -> TempDir {
            TempDir::in_base(std::env::temp_dir(), name)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn config(write_mode: WriteMode, chunk: u32, ahead: u32) -> LogConfig {
        LogConfig {
            segment_bytes: SEGMENT_BYTES,
            index_interval_bytes: 256,
            batch_bytes_max: BATCH_BYTES_MAX,
            write_mode,
            recovery_mode: RecoveryMode::Strict,
            zero_fill_chunk_bytes: chunk,
            prepare_ahead_bytes: ahead,
        }
    }

    fn segment_files(dir: &Path) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "log"))
            .collect();
        files.sort();
        files
    }

    /// End of the last valid batch of a segment file.
    fn batches_end(bytes: &[u8]) -> usize {
        let header = SEGMENT_HEADER_BYTES as usize;
        let mut end = header;
        for item in Scanner::new(&bytes[header..], BATCH_BYTES_MAX) {
            if let ScanItem::Batch { position, batch } = item {
                end = header + position + batch.bytes.len();
            }
        }
        end
    }

    fn all_zero(bytes: &[u8]) -> bool {
        bytes.iter().all(|&b| b == 0)
    }

    /// Records of every batch, by base offset.
    type Model = BTreeMap<u64, Vec<Vec<u8>>>;

    fn check_reads(log: &Log, model: &Model) {
        let mut offset = log.log_start_offset();
        let end = log.log_end_offset();
        while offset < end {
            let bytes = log.read(offset, 1).unwrap();
            let batch = decode_batch(bytes, BATCH_BYTES_MAX).unwrap();
            let expected = model
                .get(&offset)
                .unwrap_or_else(|| panic!("no batch was written at {offset}"));
            let records: Vec<Vec<u8>> = batch.records().map(|r| r.to_vec()).collect();
            assert_eq!(&records, expected, "batch at {offset} reads back changed");
            offset = batch.header.next_offset();
        }
    }

    /// The frontier invariant, checked on the files themselves.
    fn check_files(dir: &Path, log: &Log) {
        let state = log.zero_fill_state();
        assert!(
            state.active_written <= state.active_zeroed
                && u64::from(state.active_zeroed) <= state.active_file_bytes,
            "{state:?}"
        );
        let active_path = segment_files(dir).pop().expect("an active segment");
        let bytes = std::fs::read(&active_path).unwrap();
        assert_eq!(bytes.len() as u64, state.active_file_bytes);
        assert_eq!(batches_end(&bytes), state.active_written as usize);
        assert!(
            all_zero(&bytes[state.active_written as usize..]),
            "a non-zero byte after the last batch of {} ({state:?})",
            active_path.display()
        );
        let spare_path = dir.join(SPARE_SEGMENT_FILE);
        match state.spare_zeroed {
            Some(zeroed) => {
                let spare = std::fs::read(&spare_path).unwrap();
                assert_eq!(
                    spare.len(),
                    SEGMENT_BYTES as usize,
                    "the spare is reserved whole"
                );
                assert!(zeroed <= SEGMENT_BYTES);
                assert!(all_zero(&spare), "the spare holds a non-zero byte");
            }
            None => assert!(!spare_path.exists(), "a spare file the log does not know"),
        }
    }

    #[derive(Clone, Debug)]
    enum Op {
        Append(Vec<Vec<u8>>),
        Prepare(u64),
        PrepareAll,
        Flush,
        Roll,
        Truncate(f64),
        Reopen,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            8 => prop::collection::vec(prop::collection::vec(any::<u8>(), 0..400), 1..4)
                .prop_map(Op::Append),
            4 => (0u64..3000).prop_map(Op::Prepare),
            1 => Just(Op::PrepareAll),
            2 => Just(Op::Flush),
            1 => Just(Op::Roll),
            1 => (0.0..1.0f64).prop_map(Op::Truncate),
            1 => Just(Op::Reopen),
        ]
    }

    /// Runs idle steps until none is needed; a bounded number must do.
    fn prepare_all(log: &mut Log, config: &LogConfig) {
        let mut steps = 0;
        while log.needs_prepare() {
            // Tiny test chunks would need thousands of one-chunk steps: budget at least 512.
            log.prepare_ahead(u64::from(config.zero_fill_chunk_bytes).max(512))
                .unwrap();
            steps += 1;
            assert!(steps < 1000, "preparation never finishes");
        }
        let state = log.zero_fill_state();
        let window_end = u64::from(state.active_written) + u64::from(config.prepare_ahead_bytes);
        assert!(
            u64::from(state.active_zeroed) >= window_end.min(state.active_file_bytes),
            "prepared log leaves unzeroed blocks inside the window: {state:?}"
        );
        if window_end > state.active_file_bytes {
            let beyond = (window_end - state.active_file_bytes).min(u64::from(SEGMENT_BYTES));
            let spare = state
                .spare_zeroed
                .expect("window past the end needs a spare");
            assert!(u64::from(spare) >= beyond, "{state:?}");
        }
    }

    fn run(write_mode: WriteMode, chunk: u32, ahead: u32, case: u64, ops: &[Op]) {
        let dir = TempDir::new(&format!("prop-{case}"));
        let config = config(write_mode, chunk, ahead);
        let mut log = Log::open(&dir.0, config).unwrap();
        let mut model = Model::new();
        let chunk = u64::from(chunk.min(SEGMENT_BYTES));
        for op in ops {
            let zeros_before = log.zero_fill_bytes();
            let segments_before = log.segment_count();
            let had_spare = log.zero_fill_state().spare_zeroed.is_some();
            let bound = match op {
                Op::Append(records) => {
                    let refs: Vec<&[u8]> = records.iter().map(|r| r.as_slice()).collect();
                    let size = keel::storage::batch::encoded_batch_bytes(&refs);
                    let (first, _) = log.append(1, 0, false, &refs).unwrap();
                    model.insert(first, records.clone());
                    // Zeros up to the chunk boundary after the batch, plus one chunk if the
                    // append rolled onto a new segment made from scratch.
                    size + 2 * chunk
                }
                Op::Prepare(budget) => {
                    let written = log.prepare_ahead(*budget).unwrap();
                    assert!(written <= *budget);
                    *budget
                }
                Op::PrepareAll => {
                    prepare_all(&mut log, &config);
                    for path in &segment_files(&dir.0)[..log.segment_count() - 1] {
                        let bytes = std::fs::read(path).unwrap();
                        assert_eq!(bytes.len(), batches_end(&bytes), "sealed segment untrimmed");
                    }
                    u64::MAX
                }
                Op::Flush => {
                    log.flush().unwrap();
                    0
                }
                Op::Roll => {
                    log.roll().unwrap();
                    chunk
                }
                Op::Truncate(fraction) => {
                    let start = log.log_start_offset();
                    let end = log.log_end_offset();
                    let new_end = log
                        .truncate_to(start + ((end - start) as f64 * fraction) as u64)
                        .unwrap();
                    model.retain(|&base, _| base < new_end);
                    chunk
                }
                Op::Reopen => {
                    let end = log.log_end_offset();
                    drop(log);
                    log = Log::open(&dir.0, config).unwrap();
                    let report = log.recovery_report();
                    assert!(report.torn_tail.is_none() && report.needs_repair.is_none());
                    assert_eq!(report.temp_files_removed.len(), usize::from(had_spare));
                    assert_eq!(log.log_end_offset(), end);
                    u64::MAX
                }
            };
            if !matches!(op, Op::Reopen) {
                let written = log.zero_fill_bytes() - zeros_before;
                assert!(written <= bound, "{op:?} wrote {written} bytes of zeros");
            }
            if log.segment_count() > segments_before && had_spare {
                assert!(
                    log.zero_fill_state().spare_zeroed.is_none(),
                    "the roll used the spare"
                );
            }
            check_files(&dir.0, &log);
            check_reads(&log, &model);
        }
    }

    static CASE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn after_any_sequence_everything_past_the_last_batch_reads_as_zero(
            mmap in any::<bool>(),
            chunk in prop_oneof![1u32..64, 64u32..2000, 2000u32..9000],
            ahead in prop_oneof![Just(0u32), 1u32..3000, 3000u32..12000],
            ops in prop::collection::vec(op(), 1..40),
        ) {
            let mode = if mmap { WriteMode::Mmap } else { WriteMode::Pwrite };
            let case = CASE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            run(mode, chunk, ahead, case, &ops);
        }
    }

    fn fill_until(log: &mut Log, model: &mut Model, position: u32, record_bytes: usize) {
        let mut i = 0u8;
        while log.zero_fill_state().active_written < position {
            let record = vec![i; record_bytes];
            let (first, _) = log.append(1, 0, false, &[&record]).unwrap();
            model.insert(first, vec![record]);
            i = i.wrapping_add(1);
        }
    }

    #[test]
    fn a_roll_onto_a_prepared_spare_renames_it_and_writes_no_zeros() {
        for mode in [WriteMode::Mmap, WriteMode::Pwrite] {
            let dir = TempDir::new(&format!("spare-roll-{mode:?}"));
            let config = LogConfig {
                segment_bytes: 64 * 1024,
                zero_fill_chunk_bytes: 4096,
                prepare_ahead_bytes: 16 * 1024,
                batch_bytes_max: 4096,
                ..config(mode, 0, 0)
            };
            let mut log = Log::open(&dir.0, config).unwrap();
            let mut model = Model::new();
            fill_until(&mut log, &mut model, 56 * 1024, 1000);
            log.flush().unwrap();
            prepare_all(&mut log, &config);
            let spare_path = dir.0.join(SPARE_SEGMENT_FILE);
            let spare_inode = std::fs::metadata(&spare_path).unwrap().ino();
            let spare_zeroed = log.zero_fill_state().spare_zeroed.unwrap();
            assert!(
                spare_zeroed >= 8 * 1024,
                "window reaches 8 KiB into the spare"
            );
            let zeros_before = log.zero_fill_bytes();
            // Appends up to and across the roll, staying inside the spare's zeros.
            while log.segment_count() == 1 {
                let (first, _) = log.append(1, 0, false, &[&[7u8; 1000]]).unwrap();
                model.insert(first, vec![vec![7u8; 1000]]);
            }
            assert_eq!(
                log.zero_fill_bytes(),
                zeros_before,
                "the roll and the appends after it wrote no zeros"
            );
            assert!(!spare_path.exists());
            let active = segment_files(&dir.0).pop().unwrap();
            assert_eq!(
                std::fs::metadata(&active).unwrap().ino(),
                spare_inode,
                "the new segment is the spare, renamed"
            );
            check_files(&dir.0, &log);
            check_reads(&log, &model);
            log.flush().unwrap();
            drop(log);
            let log = Log::open(&dir.0, config).unwrap();
            assert!(log.recovery_report().torn_tail.is_none());
            check_reads(&log, &model);
        }
    }

    #[test]
    fn a_roll_without_a_spare_and_a_truncation_write_one_chunk_of_zeros_not_a_segment() {
        let dir = TempDir::new("no-spare-roll");
        let chunk = 4096u32;
        let config = LogConfig {
            segment_bytes: 1024 * 1024,
            zero_fill_chunk_bytes: chunk,
            prepare_ahead_bytes: 0,
            batch_bytes_max: 4096,
            ..config(WriteMode::Pwrite, 0, 0)
        };
        let mut log = Log::open(&dir.0, config).unwrap();
        assert_eq!(
            log.zero_fill_bytes(),
            u64::from(chunk - SEGMENT_HEADER_BYTES),
            "a new segment gets one chunk of zeros after its header"
        );
        let mut model = Model::new();
        fill_until(&mut log, &mut model, 100_000, 1000);
        let before = log.zero_fill_bytes();
        log.roll().unwrap();
        assert_eq!(
            log.zero_fill_bytes() - before,
            u64::from(chunk - SEGMENT_HEADER_BYTES)
        );
        assert_eq!(
            log.zero_fill_state().active_zeroed,
            chunk,
            "frontier at the first chunk boundary"
        );
        // Truncating back into the sealed segment re-extends it with one chunk only.
        let before = log.zero_fill_bytes();
        let cut = log.truncate_to(50).unwrap();
        let state = log.zero_fill_state();
        assert_eq!(
            state.active_file_bytes,
            1024 * 1024,
            "reserved to full size again"
        );
        assert!(state.active_zeroed > state.active_written);
        assert!(log.zero_fill_bytes() - before <= u64::from(chunk));
        model.retain(|&base, _| base < cut);
        fill_until(&mut log, &mut model, 200_000, 1000);
        check_files(&dir.0, &log);
        check_reads(&log, &model);
    }

    // ---- FIEMAP: which extents of a file are still unwritten ----

    const FS_IOC_FIEMAP: libc::c_ulong = 0xC020_660B;
    const FIEMAP_FLAG_SYNC: u32 = 0x1;
    const FIEMAP_EXTENT_UNWRITTEN: u32 = 0x800;
    const FIEMAP_EXTENTS: usize = 64;

    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct FiemapExtent {
        logical: u64,
        physical: u64,
        length: u64,
        reserved64: [u64; 2],
        flags: u32,
        reserved: [u32; 3],
    }

    #[repr(C)]
    struct Fiemap {
        start: u64,
        length: u64,
        flags: u32,
        mapped_extents: u32,
        extent_count: u32,
        reserved: u32,
        extents: [FiemapExtent; FIEMAP_EXTENTS],
    }

    /// (logical start, length, unwritten) of the file's extents, or None where FIEMAP is not
    /// supported.
    fn extents(path: &Path, sync: bool) -> Option<Vec<(u64, u64, bool)>> {
        use std::os::unix::io::AsRawFd;
        let file = std::fs::File::open(path).unwrap();
        let mut map = Fiemap {
            start: 0,
            length: u64::MAX,
            flags: if sync { FIEMAP_FLAG_SYNC } else { 0 },
            mapped_extents: 0,
            extent_count: FIEMAP_EXTENTS as u32,
            reserved: 0,
            extents: [FiemapExtent::default(); FIEMAP_EXTENTS],
        };
        // SAFETY: FS_IOC_FIEMAP fills at most `extent_count` extents of the struct we own.
        let rc = unsafe { libc::ioctl(file.as_raw_fd(), FS_IOC_FIEMAP, &mut map as *mut Fiemap) };
        if rc != 0 {
            return None;
        }
        Some(
            map.extents[..map.mapped_extents as usize]
                .iter()
                .map(|e| (e.logical, e.length, e.flags & FIEMAP_EXTENT_UNWRITTEN != 0))
                .collect(),
        )
    }

    fn unwritten_overlaps(extents: &[(u64, u64, bool)], from: u64, to: u64) -> bool {
        extents
            .iter()
            .any(|&(start, length, unwritten)| unwritten && start < to && start + length > from)
    }

    /// True when `path` sits on a file system where `fallocate` leaves unwritten extents.
    fn has_unwritten_extents(path: &Path) -> bool {
        use std::os::unix::ffi::OsStrExt;
        let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
        // SAFETY: an all-zero statfs is a valid value of this plain C struct.
        let mut stat: libc::statfs = unsafe { std::mem::zeroed() };
        // SAFETY: statfs writes into the struct we own; the path is NUL-terminated.
        let rc = unsafe { libc::statfs(c_path.as_ptr(), &mut stat) };
        rc == 0 && [libc::EXT4_SUPER_MAGIC, libc::XFS_SUPER_MAGIC].contains(&stat.f_type)
    }

    #[test]
    fn past_the_frontier_unwritten_extents_read_as_zeros_and_recover_as_a_clean_end() {
        let dir = TempDir::on_disk("unwritten");
        let chunk = 64 * 1024;
        let config = LogConfig {
            segment_bytes: 8 * 1024 * 1024,
            zero_fill_chunk_bytes: chunk,
            prepare_ahead_bytes: 0,
            batch_bytes_max: 4096,
            ..config(WriteMode::Pwrite, 0, 0)
        };
        let mut log = Log::open(&dir.0, config).unwrap();
        let mut model = Model::new();
        fill_until(&mut log, &mut model, 10_000, 900);
        log.flush().unwrap();
        let state = log.zero_fill_state();
        assert_eq!(
            state.active_zeroed, chunk,
            "one chunk zeroed, the rest only reserved"
        );
        let path = segment_files(&dir.0).pop().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len(), 8 * 1024 * 1024);
        assert!(all_zero(&bytes[state.active_written as usize..]));
        let on_disk_fs = has_unwritten_extents(&dir.0);
        if on_disk_fs {
            let map = extents(&path, true).expect("ext4 and xfs support FIEMAP");
            assert!(
                unwritten_overlaps(&map, u64::from(chunk), 8 * 1024 * 1024),
                "the reserved tail is unwritten extents: {map:?}"
            );
            assert!(
                !unwritten_overlaps(&map, 0, u64::from(chunk)),
                "the first chunk was really written: {map:?}"
            );
        }
        drop(log);
        // Reopen: the unwritten tail is a clean end, nothing cut, nothing reported.
        let mut log = Log::open(&dir.0, config).unwrap();
        let report = log.recovery_report();
        assert!(report.torn_tail.is_none() && report.needs_repair.is_none());
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "open changed no byte");
        check_reads(&log, &model);
        // Appends cross the old frontier and land in unwritten extents' place after zeros.
        fill_until(&mut log, &mut model, 300_000, 900);
        log.flush().unwrap();
        check_files(&dir.0, &log);
        check_reads(&log, &model);
        drop(log);
        // With preparation on, the window ahead of the head becomes ordinary written blocks.
        let config = LogConfig {
            prepare_ahead_bytes: 1024 * 1024,
            ..config
        };
        let mut log = Log::open(&dir.0, config).unwrap();
        check_reads(&log, &model);
        while log.needs_prepare() {
            log.prepare_ahead(u64::from(chunk)).unwrap();
        }
        let state = log.zero_fill_state();
        assert!(state.active_zeroed >= state.active_written + 1024 * 1024);
        if on_disk_fs {
            // No FIEMAP_FLAG_SYNC: what prepare_ahead itself made durable is what counts.
            let map = extents(&path, false).unwrap();
            assert!(
                !unwritten_overlaps(
                    &map,
                    u64::from(state.active_written),
                    u64::from(state.active_zeroed)
                ),
                "zeros ahead of the head still unwritten: {map:?} {state:?}"
            );
        } else {
            eprintln!(
                "{} has no unwritten extents (not ext4/xfs): checked zeros and recovery only",
                dir.0.display()
            );
        }
        check_files(&dir.0, &log);
    }
}
