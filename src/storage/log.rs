//! The segmented log of one partition directory (`__cluster_metadata-0/`): appends (leader and
//! follower), group-commit flushes, zero-copy reads, truncation, prefix deletion, rolls, the
//! epoch history, recovery on open, and the idle-time preparation ([`Log::prepare_ahead`])
//! that keeps zero-filling and segment creation off the append path.
//!
//! Invariants:
//! - Segments are contiguous: each one's base offset is the previous one's end offset; only
//!   the last (active) one takes appends; sealed segments are flushed, and trimmed to their
//!   batches by a later `prepare_ahead` step (until then their tail reads as zeros).
//! - Offsets are contiguous and leader epochs never decrease along the log.
//! - `log_start_offset <= flushed_end_offset <= log_end_offset`; everything below
//!   `flushed_end_offset` is durable.
//! - After a failed flush the log is poisoned: every later call fails, nothing is retried.
//!
//! Recovery (`Log::open`) follows the table in `protocol-spec/storage-format.md`: a torn or
//! zero tail of the last segment is cut and logged; anything invalid that is followed by valid
//! data, or that sits in a sealed segment, is corruption and refuses to open (or, in
//! [`RecoveryMode::KeepValidPrefix`], keeps the valid prefix, preserves the damaged files as
//! `*.broken` and reports that the node needs repair).

use std::path::{Path, PathBuf};

use log::{info, warn};

use super::batch::{self, BatchHeader, BatchSpec};
use super::epochs::{EpochEntry, EpochHistory};
use super::error::{Result, StorageError};
use super::fsio;
use super::scan::{self, TailVerdict};
use super::segment::{
    self, OpenedSegment, SEGMENT_HEADER_BYTES, SEGMENT_PART_SUFFIX, Segment, SegmentSettings,
    SpareSegment, WriteMode,
};
use crate::constants::{
    BATCH_BYTES_MAX, BATCH_RECORDS_MAX, INDEX_INTERVAL_BYTES_DEFAULT, PREPARE_AHEAD_BYTES_DEFAULT,
    SEGMENT_BYTES_DEFAULT, SEGMENT_BYTES_MAX, SEGMENT_BYTES_MIN, SEGMENTS_MAX,
    ZERO_FILL_CHUNK_BYTES,
};

/// Suffix given to files set aside by repair mode; never read again by keel.
pub const BROKEN_SUFFIX: &str = ".broken";

/// What to do when recovery finds corruption of data that may be committed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecoveryMode {
    /// Refuse to open, naming file, byte position and offset.
    Strict,
    /// Keep the valid prefix, set the damaged files aside as `*.broken`, open, and report
    /// [`Log::needs_repair`] so the node rejoins without voting until it has re-fetched.
    KeepValidPrefix,
}

/// Configuration of a log.
#[derive(Clone, Copy, Debug)]
pub struct LogConfig {
    /// Size every segment is preallocated to; a batch that does not fit rolls the log.
    pub segment_bytes: u32,
    /// Bytes of batches between sparse index entries.
    pub index_interval_bytes: u32,
    /// Largest batch accepted from appends and from disk.
    pub batch_bytes_max: u32,
    pub write_mode: WriteMode,
    pub recovery_mode: RecoveryMode,
    /// Step of the zeroed frontier (default `ZERO_FILL_CHUNK_BYTES`): an append that passes
    /// the frontier zero-fills up to the next multiple of this after its own end, so it never
    /// writes more than its batch plus one chunk of zeros.
    pub zero_fill_chunk_bytes: u32,
    /// How far past the write head [`Log::prepare_ahead`] keeps blocks zero-filled, into the
    /// spare next segment when the active one ends sooner (default
    /// `PREPARE_AHEAD_BYTES_DEFAULT`; 0 turns idle preparation off except trimming).
    pub prepare_ahead_bytes: u32,
}

impl Default for LogConfig {
    fn default() -> LogConfig {
        LogConfig {
            segment_bytes: SEGMENT_BYTES_DEFAULT,
            index_interval_bytes: INDEX_INTERVAL_BYTES_DEFAULT,
            batch_bytes_max: BATCH_BYTES_MAX,
            // Measured by benches/storage.rs (see storage-format.md): pwrite + fdatasync beat
            // copy-into-map + msync at every flush size on this machine's ext4.
            write_mode: WriteMode::Pwrite,
            recovery_mode: RecoveryMode::Strict,
            zero_fill_chunk_bytes: ZERO_FILL_CHUNK_BYTES,
            prepare_ahead_bytes: PREPARE_AHEAD_BYTES_DEFAULT,
        }
    }
}

impl LogConfig {
    /// The default configuration with segments of `segment_bytes`, and the largest batch a
    /// segment of that size can hold (at most [`BATCH_BYTES_MAX`]).
    pub fn with_segment_bytes(segment_bytes: u32) -> LogConfig {
        let fits = segment_bytes.saturating_sub(SEGMENT_HEADER_BYTES);
        LogConfig {
            segment_bytes,
            batch_bytes_max: BATCH_BYTES_MAX.min(fits),
            ..LogConfig::default()
        }
    }

    fn validate(&self) -> Result<()> {
        let bad = |reason: String| Err(StorageError::invalid_argument(reason));
        if !(SEGMENT_BYTES_MIN..=SEGMENT_BYTES_MAX).contains(&self.segment_bytes) {
            return bad(format!(
                "segment_bytes {} outside [{SEGMENT_BYTES_MIN}, {SEGMENT_BYTES_MAX}]",
                self.segment_bytes
            ));
        }
        if self.batch_bytes_max < batch::BATCH_BYTES_MIN as u32
            || self.batch_bytes_max > BATCH_BYTES_MAX
        {
            return bad(format!(
                "batch_bytes_max {} outside [{}, {BATCH_BYTES_MAX}]",
                self.batch_bytes_max,
                batch::BATCH_BYTES_MIN
            ));
        }
        if u64::from(self.batch_bytes_max) + u64::from(SEGMENT_HEADER_BYTES)
            > u64::from(self.segment_bytes)
        {
            return bad(format!(
                "a {}-byte batch cannot fit a {}-byte segment",
                self.batch_bytes_max, self.segment_bytes
            ));
        }
        if self.index_interval_bytes == 0 {
            return bad("index_interval_bytes must be positive".to_string());
        }
        if !(1..=SEGMENT_BYTES_MAX).contains(&self.zero_fill_chunk_bytes) {
            return bad(format!(
                "zero_fill_chunk_bytes {} outside [1, {SEGMENT_BYTES_MAX}]",
                self.zero_fill_chunk_bytes
            ));
        }
        if self.prepare_ahead_bytes > SEGMENT_BYTES_MAX {
            return bad(format!(
                "prepare_ahead_bytes {} above {SEGMENT_BYTES_MAX}",
                self.prepare_ahead_bytes
            ));
        }
        Ok(())
    }

    fn segment_settings(&self) -> SegmentSettings {
        SegmentSettings {
            segment_bytes: self.segment_bytes,
            index_interval_bytes: self.index_interval_bytes,
            batch_bytes_max: self.batch_bytes_max,
            write_mode: self.write_mode,
            zero_fill_chunk_bytes: self.zero_fill_chunk_bytes,
        }
    }
}

/// Where recovery found damage it did not repair by itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepairReport {
    pub path: PathBuf,
    /// Byte position in `path` of the first byte that is not a valid batch.
    pub position: u64,
    /// The offset that the damaged batch should have started with.
    pub offset: u64,
    pub reason: String,
}

/// A torn tail that recovery cut off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TornTailCut {
    pub path: PathBuf,
    /// Byte position of the cut (end of the last valid batch).
    pub position: u64,
    /// One past the last non-zero byte that was cut.
    pub nonzero_end: u64,
    /// First offset that was lost (the log end offset after recovery).
    pub first_offset: u64,
    pub reason: String,
}

/// Everything recovery did while opening the log.
#[derive(Clone, Debug, Default)]
pub struct RecoveryReport {
    pub torn_tail: Option<TornTailCut>,
    pub indexes_rebuilt: Vec<PathBuf>,
    pub temp_files_removed: Vec<PathBuf>,
    pub epoch_checkpoint_rewritten: bool,
    pub needs_repair: Option<RepairReport>,
    /// Bytes of batches scanned (and CRC-checked).
    pub bytes_scanned: u64,
}

/// Where the zero-filling of the log stands (for metrics and tests). Positions are byte
/// positions in the active segment file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZeroFillState {
    /// End of the last batch.
    pub active_written: u32,
    /// End of the zeros written after the batches; `[active_written, active_zeroed)` is zeros.
    pub active_zeroed: u32,
    /// Length of the active segment file (all of it reserved).
    pub active_file_bytes: u64,
    /// The spare next segment, if one is ready: end of the zeros written from its start.
    pub spare_zeroed: Option<u32>,
}

/// The log of one partition directory.
pub struct Log {
    dir: PathBuf,
    config: LogConfig,
    segments: Vec<Segment>,
    epochs: EpochHistory,
    epochs_dirty: bool,
    log_start_offset: u64,
    flushed_end_offset: u64,
    poisoned: bool,
    scratch: Vec<u8>,
    recovery: RecoveryReport,
    /// The next segment, reserved and zero-filled ahead of time (see [`Log::prepare_ahead`]).
    spare: Option<SpareSegment>,
    /// Some sealed segment may still be longer than its batches (rolls leave the trim to
    /// `prepare_ahead`).
    untrimmed_sealed: bool,
    /// Zeros written for segments that were deleted since the log was opened.
    zero_bytes_retired: u64,
}

/// How the scan of one segment ended.
impl Log {
    /// Opens (or creates) the log in `dir`, running recovery.
    pub fn open(dir: &Path, config: LogConfig) -> Result<Log> {
        config.validate()?;
        std::fs::create_dir_all(dir).map_err(|e| StorageError::io(dir, e))?;
        let mut recovery = RecoveryReport::default();
        let mut segment_files = Vec::new();
        for (name, path) in fsio::list_dir(dir)? {
            if name.ends_with(SEGMENT_PART_SUFFIX)
                || name.ends_with(fsio::TEMP_SUFFIX)
                || name.ends_with(".checkpoint.part")
            {
                if name == segment::SPARE_SEGMENT_FILE {
                    // Reserved ahead in idle time and left by every clean stop: routine.
                    info!(
                        "removing the spare segment {} (made again when idle)",
                        path.display()
                    );
                } else {
                    warn!(
                        "recovery: removing leftover temporary file {}",
                        path.display()
                    );
                }
                std::fs::remove_file(&path).map_err(|e| StorageError::io(&path, e))?;
                recovery.temp_files_removed.push(path);
            } else if let Some(base_offset) = segment::parse_segment_file_name(&name) {
                segment_files.push((base_offset, path));
            }
        }
        if !recovery.temp_files_removed.is_empty() {
            fsio::sync_dir(dir)?;
        }
        if segment_files.len() as u64 > u64::from(SEGMENTS_MAX) {
            return Err(StorageError::bad_file(
                dir,
                format!("{} segments, more than {SEGMENTS_MAX}", segment_files.len()),
            ));
        }
        segment_files.sort();
        let settings = config.segment_settings();
        let mut log = Log {
            dir: dir.to_path_buf(),
            config,
            segments: Vec::new(),
            epochs: EpochHistory::new(),
            epochs_dirty: false,
            log_start_offset: 0,
            flushed_end_offset: 0,
            poisoned: false,
            scratch: Vec::new(),
            recovery,
            spare: None,
            untrimmed_sealed: false,
            zero_bytes_retired: 0,
        };
        let segment_count = segment_files.len();
        let mut expected_base: Option<u64> = None;
        for (i, (base_offset, path)) in segment_files.iter().enumerate() {
            let is_last = i + 1 == segment_count;
            let corruption =
                |position: u64, offset: u64, reason: String| StorageError::Corruption {
                    path: path.clone(),
                    position,
                    offset: Some(offset),
                    reason,
                };
            let expected = expected_base.unwrap_or(*base_offset);
            if *base_offset != expected {
                let error = corruption(
                    0,
                    expected,
                    format!(
                        "segment starts at offset {base_offset}, previous segment ends at {expected}"
                    ),
                );
                log.on_corruption(error, &segment_files[i..], expected)?;
                break;
            }
            let opened = match Segment::open_unscanned(path, *base_offset, settings) {
                Ok(opened) => opened,
                Err(error @ StorageError::Corruption { .. }) => {
                    log.on_corruption(error, &segment_files[i..], expected)?;
                    break;
                }
                Err(error) => return Err(error),
            };
            let scan = scan::scan_segment(
                opened.bytes_after_header(),
                opened.base_offset,
                &mut log.epochs,
                config.batch_bytes_max,
            )?;
            log.recovery.bytes_scanned += u64::from(scan.valid_bytes);
            let next_offset = scan.next_offset;
            match scan::classify(scan.tail, is_last) {
                TailVerdict::Clean => {
                    let (segment, rebuilt) = opened.recovered(
                        scan.valid_bytes,
                        next_offset,
                        &scan.batch_sizes,
                        false,
                    )?;
                    log.note_index(&segment, rebuilt);
                    log.segments.push(segment);
                }
                TailVerdict::CutTornTail {
                    position,
                    nonzero_end,
                    reason,
                } => {
                    warn!(
                        "recovery: cutting torn tail of {} at byte {position} (non-zero bytes up to {nonzero_end}): \
                         offsets from {next_offset} on were never completely written ({reason})",
                        path.display()
                    );
                    log.recovery.torn_tail = Some(TornTailCut {
                        path: path.clone(),
                        position,
                        nonzero_end,
                        first_offset: next_offset,
                        reason,
                    });
                    let (segment, rebuilt) =
                        opened.recovered(scan.valid_bytes, next_offset, &scan.batch_sizes, true)?;
                    log.note_index(&segment, rebuilt);
                    log.segments.push(segment);
                }
                TailVerdict::Corruption { position, reason } => {
                    let error = corruption(position, next_offset, reason);
                    log.keep_prefix_or_fail(
                        error,
                        opened,
                        scan.valid_bytes,
                        &scan.batch_sizes,
                        next_offset,
                        &segment_files[i + 1..],
                    )?;
                    break;
                }
            }
            expected_base = Some(next_offset);
        }
        if log.segments.is_empty() {
            let base = expected_base
                .or(log.recovery.needs_repair.as_ref().map(|r| r.offset))
                .unwrap_or(0);
            log.segments.push(Segment::create(dir, base, settings)?);
        }
        let active = log.segments.last_mut().expect("at least one segment");
        active.reactivate()?;
        // What we scanned may still sit in the page cache after a process crash: make it
        // durable before calling it flushed.
        fsio::sync_data(
            &std::fs::File::open(active.path()).map_err(|e| StorageError::io(active.path(), e))?,
            active.path(),
        )?;
        log.log_start_offset = log.segments[0].base_offset();
        log.flushed_end_offset = log.log_end_offset();
        // A crash after a roll leaves the sealed segment untrimmed; the first idle step looks.
        log.untrimmed_sealed = log.segments.len() > 1;
        log.reconcile_epoch_checkpoint()?;
        Ok(log)
    }

    fn note_index(&mut self, segment: &Segment, rebuilt: bool) {
        if rebuilt {
            let path = self
                .dir
                .join(segment::index_file_name(segment.base_offset()));
            info!("recovery: rebuilt offset index {}", path.display());
            self.recovery.indexes_rebuilt.push(path);
        }
    }

    /// Corruption at the very start of `rest[0]` (bad header or a gap between segments).
    fn on_corruption(
        &mut self,
        error: StorageError,
        rest: &[(u64, PathBuf)],
        offset: u64,
    ) -> Result<()> {
        if self.config.recovery_mode == RecoveryMode::Strict {
            return Err(error);
        }
        self.record_repair(&error, offset);
        set_aside(rest)?;
        fsio::sync_dir(&self.dir)
    }

    /// Corruption inside a segment after `valid_bytes` of good batches.
    fn keep_prefix_or_fail(
        &mut self,
        error: StorageError,
        opened: OpenedSegment,
        valid_bytes: u32,
        batch_sizes: &[(u64, u32)],
        next_offset: u64,
        later: &[(u64, PathBuf)],
    ) -> Result<()> {
        if self.config.recovery_mode == RecoveryMode::Strict {
            return Err(error);
        }
        self.record_repair(&error, next_offset);
        let broken = broken_path(&opened.path);
        std::fs::copy(&opened.path, &broken).map_err(|e| StorageError::io(&broken, e))?;
        fsio::sync_all(
            &std::fs::File::open(&broken).map_err(|e| StorageError::io(&broken, e))?,
            &broken,
        )?;
        set_aside(later)?;
        fsio::sync_dir(&self.dir)?;
        let (segment, rebuilt) = opened.recovered(valid_bytes, next_offset, batch_sizes, true)?;
        self.note_index(&segment, rebuilt);
        self.segments.push(segment);
        Ok(())
    }

    fn record_repair(&mut self, error: &StorageError, offset: u64) {
        warn!(
            "recovery: {error}; keeping the valid prefix, the node needs repair (re-fetch before voting)"
        );
        let (path, position, reason) = match error {
            StorageError::Corruption {
                path,
                position,
                reason,
                ..
            } => (path.clone(), *position, reason.clone()),
            other => (self.dir.clone(), 0, other.to_string()),
        };
        self.recovery.needs_repair = Some(RepairReport {
            path,
            position,
            offset,
            reason,
        });
    }

    fn reconcile_epoch_checkpoint(&mut self) -> Result<()> {
        let on_disk = match EpochHistory::read(&self.dir) {
            Ok(history) => history,
            Err(error) => {
                warn!("recovery: {error}; rebuilding the epoch checkpoint from the log");
                None
            }
        };
        let consistent = on_disk
            .as_ref()
            .is_some_and(|file| self.epochs.matches_checkpoint(file));
        if !consistent {
            if on_disk.is_some() {
                warn!("recovery: epoch checkpoint differs from the log; rewriting it from the log");
            }
            self.epochs.write(&self.dir)?;
            self.recovery.epoch_checkpoint_rewritten = true;
        }
        Ok(())
    }

    fn check_usable(&self) -> Result<()> {
        if self.poisoned {
            Err(StorageError::Poisoned)
        } else {
            Ok(())
        }
    }

    /// Records a failed flush: the log is unusable from now on.
    fn poison_on_flush_failure<T>(&mut self, result: Result<T>) -> Result<T> {
        if let Err(StorageError::FlushFailed { .. }) = &result {
            self.poisoned = true;
        }
        result
    }

    /// Leader append: builds one batch of `records` at the log end, in `epoch`, and writes it
    /// (not yet durable: see [`Log::flush`]). Returns the first and last offsets assigned.
    pub fn append(
        &mut self,
        epoch: u32,
        timestamp_ms: i64,
        control: bool,
        records: &[&[u8]],
    ) -> Result<(u64, u64)> {
        self.check_usable()?;
        if records.is_empty() {
            return Err(StorageError::invalid_argument(
                "a batch needs at least one record",
            ));
        }
        if records.len() as u64 > u64::from(BATCH_RECORDS_MAX) {
            return Err(StorageError::invalid_argument(format!(
                "{} records, more than {BATCH_RECORDS_MAX}",
                records.len()
            )));
        }
        let size = batch::encoded_batch_bytes(records);
        if size > u64::from(self.config.batch_bytes_max) {
            return Err(StorageError::invalid_argument(format!(
                "batch of {size} bytes exceeds the {}-byte limit",
                self.config.batch_bytes_max
            )));
        }
        self.check_epoch(epoch)?;
        let base_offset = self.log_end_offset();
        let spec = BatchSpec {
            base_offset,
            leader_epoch: epoch,
            first_timestamp_ms: timestamp_ms,
            max_timestamp_ms: timestamp_ms,
            control,
        };
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        batch::encode_batch(&spec, records, &mut scratch);
        let header = batch::peek_header(&scratch).expect("encoded batch has a header");
        let result = self.write_batch(&scratch, &header);
        self.scratch = scratch;
        result?;
        Ok((header.base_offset, header.last_offset()))
    }

    /// Follower append: `bytes` are whole batches exactly as the leader sent them. Every batch
    /// is validated (CRC, header, offsets contiguous from the log end, epochs not going back)
    /// before any byte is written. Returns the first and last offsets appended.
    pub fn append_raw(&mut self, bytes: &[u8]) -> Result<(u64, u64)> {
        self.check_usable()?;
        if bytes.is_empty() {
            return Err(StorageError::invalid_argument("no batches to append"));
        }
        let mut expected_offset = self.log_end_offset();
        let mut epoch = self.epochs.latest_epoch();
        let mut position = 0usize;
        let mut batches: Vec<(usize, BatchHeader)> = Vec::new();
        while position < bytes.len() {
            let decoded = batch::decode_batch(&bytes[position..], self.config.batch_bytes_max)
                .map_err(|e| StorageError::invalid_batch(format!("at byte {position}: {e}")))?;
            let header = decoded.header;
            if header.base_offset != expected_offset {
                return Err(StorageError::invalid_batch(format!(
                    "at byte {position}: base offset {} but the log continues at {expected_offset}",
                    header.base_offset
                )));
            }
            if epoch.is_some_and(|e| header.leader_epoch < e) {
                return Err(StorageError::invalid_batch(format!(
                    "at byte {position}: epoch {} goes back from {}",
                    header.leader_epoch,
                    epoch.unwrap_or(0)
                )));
            }
            epoch = Some(header.leader_epoch);
            expected_offset = header.next_offset();
            batches.push((position, header));
            position += header.batch_bytes as usize;
        }
        for (position, header) in &batches {
            self.write_batch(
                &bytes[*position..*position + header.batch_bytes as usize],
                header,
            )?;
        }
        Ok((batches[0].1.base_offset, expected_offset - 1))
    }

    fn check_epoch(&self, epoch: u32) -> Result<()> {
        match self.epochs.latest_epoch() {
            Some(latest) if epoch < latest => Err(StorageError::invalid_argument(format!(
                "epoch {epoch} is older than the log's latest epoch {latest}"
            ))),
            _ => Ok(()),
        }
    }

    fn write_batch(&mut self, bytes: &[u8], header: &BatchHeader) -> Result<()> {
        self.epochs.check_room_for(header.leader_epoch)?;
        if self.active().remaining() < bytes.len() as u32 {
            self.roll_internal()?;
        }
        self.segments
            .last_mut()
            .expect("active segment")
            .append(bytes, header)?;
        if self
            .epochs
            .assign(header.leader_epoch, header.base_offset)?
        {
            self.epochs_dirty = true;
        }
        Ok(())
    }

    /// Group commit: makes everything appended so far durable with one msync (or fdatasync)
    /// and returns the new flushed end offset. A failure is fatal (`FlushFailed`) and poisons
    /// the log; it is never retried.
    pub fn flush(&mut self) -> Result<u64> {
        self.check_usable()?;
        let result = self.segments.last_mut().expect("active segment").flush();
        self.poison_on_flush_failure(result)?;
        if self.epochs_dirty {
            let result = self.epochs.write(&self.dir);
            self.poison_on_flush_failure(result)?;
            self.epochs_dirty = false;
        }
        self.flushed_end_offset = self.log_end_offset();
        Ok(self.flushed_end_offset)
    }

    /// Seals the active segment and starts a new one at the log end (no-op when the active
    /// segment is empty). The sealed segment is flushed first.
    pub fn roll(&mut self) -> Result<()> {
        self.check_usable()?;
        self.roll_internal()
    }

    fn roll_internal(&mut self) -> Result<()> {
        if self.active().is_empty() {
            return Ok(());
        }
        // The sealed segment must be durable before a newer one exists: recovery treats any
        // invalid byte in a sealed segment as corruption.
        let result = self.segments.last_mut().expect("active segment").flush();
        self.poison_on_flush_failure(result)?;
        let base_offset = self.log_end_offset();
        let result = self.create_segment(base_offset);
        let segment = self.poison_on_flush_failure(result)?;
        self.segments.push(segment);
        // Trimming the sealed segment (ftruncate + fsync) is left to an idle step: its tail
        // reads as zeros, which recovery accepts in a sealed segment (row 8).
        self.untrimmed_sealed = true;
        self.flushed_end_offset = base_offset;
        Ok(())
    }

    /// A new, empty, durable segment at `base_offset`: the spare renamed into place when one
    /// is ready (header write, fsync, rename, directory fsync), else created from scratch
    /// (which also reserves the blocks and zero-fills one chunk).
    fn create_segment(&mut self, base_offset: u64) -> Result<Segment> {
        let settings = self.config.segment_settings();
        match self.spare.take() {
            Some(spare) => spare.into_segment(&self.dir, base_offset, settings),
            None => Segment::create(&self.dir, base_offset, settings),
        }
    }

    /// Idle-time preparation: the node calls this when its event loop has nothing else to do,
    /// so that appends never wait for zeros and rolls never reserve or zero-fill a segment.
    /// Correctness never depends on it (an append that finds no zeros ahead writes them
    /// itself, a roll without a spare creates the segment); only latency does.
    ///
    /// Each call does one step, the first of these that has work, and ends it with one flush
    /// of the one file it touched, so a call costs at most `bytes_budget` bytes of writing plus
    /// one fsync:
    /// 1. trim a sealed segment that is still longer than its batches (left over by a roll);
    /// 2. zero-fill the active segment from its zeroed frontier toward `prepare_ahead_bytes`
    ///    past the head (whole chunks, never beyond the segment's end);
    /// 3. when that window reaches past the active segment's end: create the spare next
    ///    segment (`spare.log.part`, blocks reserved for a whole segment) or zero-fill more of
    ///    it, toward the part of the window that lies beyond the end.
    ///
    /// Writes at most `bytes_budget` bytes of zeros and returns how many it wrote (0 after a
    /// trim step or when nothing was left; [`Log::needs_prepare`] says whether to call again).
    /// A failed flush is fatal and poisons the log (`FlushFailed`); disk full while reserving
    /// the spare is `DiskFull`, leaves nothing behind, and the log stays usable.
    pub fn prepare_ahead(&mut self, bytes_budget: u64) -> Result<u64> {
        self.check_usable()?;
        let result = self.prepare_step(bytes_budget);
        self.poison_on_flush_failure(result)
    }

    fn prepare_step(&mut self, budget: u64) -> Result<u64> {
        if budget == 0 {
            return Ok(0);
        }
        if self.untrimmed_sealed && self.trim_one_sealed_segment()? {
            return Ok(0);
        }
        let ahead = self.config.prepare_ahead_bytes;
        let written = self
            .segments
            .last_mut()
            .expect("active segment")
            .prepare_ahead(ahead, budget)?;
        if written > 0 {
            return Ok(written);
        }
        let Some(target) = self.spare_target() else {
            return Ok(0);
        };
        match &mut self.spare {
            Some(spare) => spare.prepare(target, budget),
            None => {
                let zero_to = u64::from(target).min(budget) as u32;
                let spare =
                    SpareSegment::create(&self.dir, self.config.segment_settings(), zero_to)?;
                let written = spare.zero_bytes_written();
                self.spare = Some(spare);
                Ok(written)
            }
        }
    }

    /// Trims the first sealed segment still longer than its batches; false if there was none.
    fn trim_one_sealed_segment(&mut self) -> Result<bool> {
        let sealed = self.segments.len() - 1;
        let Some(i) = self.segments[..sealed]
            .iter()
            .position(|s| s.is_untrimmed())
        else {
            self.untrimmed_sealed = false;
            return Ok(false);
        };
        self.segments[i].trim()?;
        self.untrimmed_sealed = self.segments[..sealed].iter().any(|s| s.is_untrimmed());
        Ok(true)
    }

    /// How far the spare's zeros should reach: the part of the preparation window that lies
    /// past the end of the active segment, rounded up to a whole chunk, at most one segment.
    /// `None` while the window ends inside the active segment.
    fn spare_target(&self) -> Option<u32> {
        let active = self.active();
        let window_end = u64::from(active.written()) + u64::from(self.config.prepare_ahead_bytes);
        let beyond = window_end.saturating_sub(active.file_length());
        if beyond == 0 {
            return None;
        }
        let settings = self.config.segment_settings();
        Some(settings.chunk_end(beyond, u64::from(settings.segment_bytes)) as u32)
    }

    /// True while a [`Log::prepare_ahead`] step has work to do.
    pub fn needs_prepare(&self) -> bool {
        let active = self.active();
        let spare_behind = self.spare_target().is_some_and(|target| {
            self.spare
                .as_ref()
                .is_none_or(|spare| target > spare.zeroed())
        });
        self.untrimmed_sealed
            || active.prepare_target(self.config.prepare_ahead_bytes) > active.zeroed()
            || spare_behind
    }

    /// Bytes of zeros this log has written since it was opened: one chunk per created or
    /// re-extended segment, what appends wrote ahead of themselves, and what
    /// [`Log::prepare_ahead`] wrote. A roll onto a prepared spare adds nothing.
    pub fn zero_fill_bytes(&self) -> u64 {
        let live: u64 = self.segments.iter().map(|s| s.zero_bytes_written()).sum();
        let spare = self.spare.as_ref().map_or(0, |s| s.zero_bytes_written());
        self.zero_bytes_retired + live + spare
    }

    /// Where zero-filling stands in the active segment and the spare.
    pub fn zero_fill_state(&self) -> ZeroFillState {
        let active = self.active();
        ZeroFillState {
            active_written: active.written(),
            active_zeroed: active.zeroed(),
            active_file_bytes: active.file_length(),
            spare_zeroed: self.spare.as_ref().map(|s| s.zeroed()),
        }
    }

    /// Up to `max_bytes` of whole batches starting with the batch that holds `offset`, straight
    /// from the map. Never splits a batch: if the first batch alone is larger than
    /// `max_bytes`, it is returned whole (as Kafka does). A read never spans two segments, so
    /// it may return less than `max_bytes` before the log end; an empty slice means `offset`
    /// is the log end. Includes unflushed batches: the caller bounds what it exposes.
    pub fn read(&self, offset: u64, max_bytes: u32) -> Result<&[u8]> {
        self.check_range(offset)?;
        if offset == self.log_end_offset() {
            return Ok(&[]);
        }
        let segment = &self.segments[self.segment_index_for(offset)];
        segment.read(offset, max_bytes)
    }

    fn check_range(&self, offset: u64) -> Result<()> {
        if offset < self.log_start_offset || offset > self.log_end_offset() {
            return Err(StorageError::OffsetOutOfRange {
                offset,
                log_start_offset: self.log_start_offset,
                log_end_offset: self.log_end_offset(),
            });
        }
        Ok(())
    }

    /// Index of the segment holding `offset` (`offset` < log end).
    fn segment_index_for(&self, offset: u64) -> usize {
        let mut i = self.segments.partition_point(|s| s.base_offset() <= offset) - 1;
        while self.segments[i].next_offset() <= offset {
            i += 1;
        }
        i
    }

    /// Removes every batch that holds an offset >= `offset` (a divergent suffix), fixes the
    /// epoch history, and makes the cut durable before returning. Returns the new log end,
    /// which is `offset` when it is a batch boundary and the start of the batch holding
    /// `offset` otherwise.
    pub fn truncate_to(&mut self, offset: u64) -> Result<u64> {
        self.check_usable()?;
        self.check_range(offset)?;
        if offset == self.log_end_offset() {
            return Ok(offset);
        }
        let i = self.segment_index_for(offset);
        let (position, header) = self.segments[i].find_batch(offset)?;
        let new_end = header.base_offset;
        // Newest first, so a crash in the middle leaves a contiguous (if longer) log.
        while self.segments.len() > i + 1 {
            let segment = self.segments.pop().expect("segment to delete");
            self.delete_segment_files(segment)?;
        }
        fsio::sync_dir(&self.dir)?;
        let result = self.segments[i].truncate_at(position, new_end);
        self.poison_on_flush_failure(result)?;
        self.epochs.truncate_from_end(new_end);
        let result = self.epochs.write(&self.dir);
        self.poison_on_flush_failure(result)?;
        self.epochs_dirty = false;
        self.flushed_end_offset = new_end;
        self.log_start_offset = self.log_start_offset.min(new_end);
        Ok(new_end)
    }

    /// Deletes the log before `offset` once a snapshot covers it: whole segments are removed,
    /// the segment holding `offset` stays, and `offset` becomes the log start offset. When
    /// `offset` is the log end, the log rolls first so that no data before it remains. After a
    /// restart the log start is the first remaining segment's base offset (<= `offset`).
    pub fn delete_before(&mut self, offset: u64) -> Result<()> {
        self.check_usable()?;
        if offset > self.log_end_offset() {
            return Err(StorageError::OffsetOutOfRange {
                offset,
                log_start_offset: self.log_start_offset,
                log_end_offset: self.log_end_offset(),
            });
        }
        if offset <= self.log_start_offset {
            return Ok(());
        }
        if offset == self.log_end_offset() {
            self.roll_internal()?;
        }
        // Oldest first, so a crash in the middle leaves a contiguous suffix.
        while self.segments.len() > 1 && self.segments[0].next_offset() <= offset {
            let segment = self.segments.remove(0);
            self.delete_segment_files(segment)?;
        }
        fsio::sync_dir(&self.dir)?;
        self.log_start_offset = offset;
        self.epochs.truncate_from_start(offset);
        let result = self.epochs.write(&self.dir);
        self.poison_on_flush_failure(result)?;
        self.epochs_dirty = false;
        Ok(())
    }

    /// Deletes the whole log and restarts it empty at `offset` (a snapshot from the leader is
    /// newer than anything here). After a crash in the middle the log may be empty at its old
    /// start; the node then applies the snapshot again.
    pub fn truncate_fully_and_start_at(&mut self, offset: u64) -> Result<()> {
        self.check_usable()?;
        while let Some(segment) = self.segments.pop() {
            self.delete_segment_files(segment)?;
        }
        fsio::sync_dir(&self.dir)?;
        match self.create_segment(offset) {
            Ok(segment) => self.segments.push(segment),
            Err(error) => {
                // No segment left to append to or read from: refuse all further work.
                self.poisoned = true;
                return Err(error);
            }
        }
        self.epochs.clear();
        let result = self.epochs.write(&self.dir);
        self.poison_on_flush_failure(result)?;
        self.epochs_dirty = false;
        self.log_start_offset = offset;
        self.flushed_end_offset = offset;
        Ok(())
    }

    fn delete_segment_files(&mut self, segment: Segment) -> Result<()> {
        let log_path = segment.path().to_path_buf();
        let index_path = self
            .dir
            .join(segment::index_file_name(segment.base_offset()));
        self.zero_bytes_retired += segment.zero_bytes_written();
        drop(segment);
        std::fs::remove_file(&log_path).map_err(|e| StorageError::io(&log_path, e))?;
        match std::fs::remove_file(&index_path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StorageError::io(&index_path, e)),
        }
    }

    fn active(&self) -> &Segment {
        self.segments
            .last()
            .expect("a log always has an active segment")
    }

    /// Offset the next appended record gets.
    pub fn log_end_offset(&self) -> u64 {
        self.active().next_offset()
    }

    /// Everything below this offset is durable.
    pub fn flushed_end_offset(&self) -> u64 {
        self.flushed_end_offset
    }

    /// First offset that can be read.
    pub fn log_start_offset(&self) -> u64 {
        self.log_start_offset
    }

    /// Epoch of the last batch in the log, if any epoch is known.
    pub fn latest_epoch(&self) -> Option<u32> {
        self.epochs.latest_epoch()
    }

    /// Kafka's `LeaderEpochFileCache.endOffsetFor(epoch, logEndOffset)`; see
    /// [`EpochHistory::end_offset_for`].
    pub fn end_offset_for_epoch(&self, epoch: u32) -> Option<(u32, u64)> {
        self.epochs.end_offset_for(epoch, self.log_end_offset())
    }

    pub fn epoch_entries(&self) -> &[EpochEntry] {
        self.epochs.entries()
    }

    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// Base offsets of the segments, oldest first.
    pub fn segment_base_offsets(&self) -> Vec<u64> {
        self.segments.iter().map(|s| s.base_offset()).collect()
    }

    /// What recovery did when the log was opened.
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.recovery
    }

    /// Set when the log was opened in repair mode over corrupt data: the node must not vote
    /// until it has re-fetched from the leader.
    pub fn needs_repair(&self) -> Option<&RepairReport> {
        self.recovery.needs_repair.as_ref()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    pub fn is_poisoned(&self) -> bool {
        self.poisoned
    }
}

fn broken_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(BROKEN_SUFFIX);
    path.with_file_name(name)
}

/// Renames segments (and drops their indexes) so that a repaired log never reads them again,
/// while their bytes stay available for inspection.
fn set_aside(segments: &[(u64, PathBuf)]) -> Result<()> {
    for (base_offset, path) in segments {
        let broken = broken_path(path);
        warn!(
            "recovery: setting {} aside as {}",
            path.display(),
            broken.display()
        );
        std::fs::rename(path, &broken).map_err(|e| StorageError::io(path, e))?;
        let index = fsio::parent_of(path).join(segment::index_file_name(*base_offset));
        let _ = std::fs::remove_file(index);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::fsio::{FAIL_NEXT_FLUSH, FAIL_NEXT_PREALLOCATION};

    fn temp_dir(name: &str) -> PathBuf {
        let base = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("keel-log-unit-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn small_config(write_mode: WriteMode) -> LogConfig {
        LogConfig {
            segment_bytes: 4096,
            index_interval_bytes: 256,
            batch_bytes_max: 1024,
            write_mode,
            recovery_mode: RecoveryMode::Strict,
            zero_fill_chunk_bytes: 512,
            prepare_ahead_bytes: 1024,
        }
    }

    #[test]
    fn a_failed_flush_is_fatal_poisons_the_log_and_is_never_retried() {
        for mode in [WriteMode::Mmap, WriteMode::Pwrite] {
            let dir = temp_dir(&format!("flush-{mode:?}"));
            let mut log = Log::open(&dir, small_config(mode)).unwrap();
            log.append(1, 0, false, &[b"a"]).unwrap();
            FAIL_NEXT_FLUSH.with(|f| f.set(true));
            let error = log.flush().unwrap_err();
            assert!(matches!(error, StorageError::FlushFailed { .. }), "{error}");
            assert!(error.is_fatal());
            assert_eq!(
                log.flushed_end_offset(),
                0,
                "nothing was acknowledged as durable"
            );
            // The injected failure is spent: a retry would now succeed, so only poisoning can
            // make this fail, which is the point.
            assert!(matches!(log.flush(), Err(StorageError::Poisoned)));
            assert!(matches!(
                log.append(1, 0, false, &[b"b"]),
                Err(StorageError::Poisoned)
            ));
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }

    #[test]
    fn a_failed_flush_in_an_idle_step_is_fatal_and_poisons_the_log() {
        let dir = temp_dir("prepare-flush");
        let mut log = Log::open(&dir, small_config(WriteMode::Pwrite)).unwrap();
        log.append(1, 0, false, &[&[1u8; 600]]).unwrap();
        assert!(
            log.needs_prepare(),
            "the window ahead of the head is not zeroed yet"
        );
        FAIL_NEXT_FLUSH.with(|f| f.set(true));
        let error = log.prepare_ahead(4096).unwrap_err();
        assert!(matches!(error, StorageError::FlushFailed { .. }), "{error}");
        assert!(log.is_poisoned());
        assert!(matches!(
            log.prepare_ahead(4096),
            Err(StorageError::Poisoned)
        ));
        assert!(matches!(log.flush(), Err(StorageError::Poisoned)));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn disk_full_while_reserving_the_spare_leaves_nothing_and_the_log_carries_on() {
        let dir = temp_dir("spare-diskfull");
        let mut log = Log::open(&dir, small_config(WriteMode::Mmap)).unwrap();
        while log.zero_fill_state().active_written < 3200 {
            log.append(1, 0, false, &[&[2u8; 300]]).unwrap();
        }
        // Zero the active segment to its end; the next step would create the spare.
        while log.zero_fill_state().active_zeroed < 4096 {
            assert!(log.prepare_ahead(512).unwrap() > 0);
        }
        assert!(log.needs_prepare());
        FAIL_NEXT_PREALLOCATION.with(|f| f.set(true));
        let error = log.prepare_ahead(512).unwrap_err();
        assert!(matches!(error, StorageError::DiskFull { .. }), "{error}");
        assert!(!log.is_poisoned());
        assert!(!dir.join(segment::SPARE_SEGMENT_FILE).exists());
        assert_eq!(log.zero_fill_state().spare_zeroed, None);
        // The roll makes its segment from scratch; once the head nears the end of that one,
        // idle steps make a spare again.
        while log.segment_count() == 1 || log.zero_fill_state().active_written < 3200 {
            log.append(1, 0, false, &[&[2u8; 300]]).unwrap();
        }
        assert_eq!(log.segment_count(), 2);
        log.flush().unwrap();
        while log.needs_prepare() {
            log.prepare_ahead(512).unwrap();
        }
        assert!(dir.join(segment::SPARE_SEGMENT_FILE).exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn disk_full_at_roll_is_a_clear_error_and_the_log_stays_readable() {
        let dir = temp_dir("diskfull");
        let mut log = Log::open(&dir, small_config(WriteMode::Mmap)).unwrap();
        let record = [7u8; 900];
        let mut appended = Vec::new();
        while log.segment_count() == 1 && appended.len() < 4 {
            appended.push(log.append(1, 0, false, &[&record]).unwrap());
        }
        assert_eq!(
            log.segment_count(),
            1,
            "four 952-byte batches fit one 4 KiB segment"
        );
        FAIL_NEXT_PREALLOCATION.with(|f| f.set(true));
        let error = log.append(1, 0, false, &[&record]).unwrap_err();
        assert!(matches!(error, StorageError::DiskFull { .. }), "{error}");
        assert_eq!(log.segment_count(), 1);
        assert_eq!(log.log_end_offset(), 4);
        let bytes = log.read(0, 1 << 20).unwrap();
        assert_eq!(
            bytes.len(),
            4 * 952,
            "everything appended before is still readable"
        );
        assert!(
            std::fs::read_dir(&dir).unwrap().all(|e| !e
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".part"))
        );
        // Space came back: the log carries on.
        assert_eq!(log.append(1, 0, false, &[&record]).unwrap(), (4, 4));
        assert_eq!(log.segment_count(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
