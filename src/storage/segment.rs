//! One segment file (`NNNNNNNNNNNNNNNNNNNN.log`): a 24-byte header, then batches back to back,
//! then zeros up to the preallocated size. Memory-mapped for reads (and for writes in
//! [`WriteMode::Mmap`]). Also the spare segment ([`SpareSegment`], `spare.log.part`): a file
//! reserved and zero-filled ahead of time that the next roll renames into place.
//!
//! Invariants: `[SEGMENT_HEADER_BYTES, written)` holds valid batches with contiguous offsets
//! from `base_offset` to `next_offset`; `[written, file length)` reads as zeros; `flushed <=
//! written` and `[0, flushed)` is durable. The blocks of the whole file are reserved, and its
//! length never changes while the segment is active, except in `truncate_at`, which makes the
//! cut durable before returning. Of the reserved blocks, `[written, zeroed)` holds real zeros
//! that this process wrote (after a flush: ordinary written blocks, so flushing data there
//! commits no extent conversion); `[zeroed, file length)` may still be unwritten extents, which
//! read as zeros too. Every append lies below `zeroed`: an append that would pass it first
//! zero-fills whole chunks. A new segment becomes visible under its final name only once its
//! header and reservation are durable.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use byteorder::{BigEndian, ByteOrder};
use memmap2::MmapMut;

use super::batch::{BatchHeader, decode_batch};
use super::error::{Result, StorageError};
use super::fsio;
use super::index::{IndexEntry, IndexPolicy, OffsetIndex};

/// Bytes of the segment file header.
pub const SEGMENT_HEADER_BYTES: u32 = 24;
/// First 8 bytes of every segment file.
pub const SEGMENT_MAGIC: &[u8; 8] = b"KEELLOG\n";
/// Segment header format version written by this code.
pub const SEGMENT_VERSION: u32 = 1;
/// Suffix of a segment being created (deleted at open if a crash left it behind).
pub const SEGMENT_PART_SUFFIX: &str = ".log.part";
/// Name of the spare segment: reserved and zero-filled while the event loop is idle, renamed
/// to the next segment's name at the next roll. It ends in [`SEGMENT_PART_SUFFIX`], so a
/// leftover spare is deleted at open like any other half-made segment.
pub const SPARE_SEGMENT_FILE: &str = "spare.log.part";

/// How appended bytes reach the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteMode {
    /// Copy into the shared map; flush with `msync(MS_SYNC)` of the dirty range.
    Mmap,
    /// `pwrite` at the end position; flush with `fdatasync`.
    Pwrite,
}

/// `00000000000000000042.log` for base offset 42.
pub fn segment_file_name(base_offset: u64) -> String {
    format!("{base_offset:020}.log")
}

/// `00000000000000000042.index` for base offset 42.
pub fn index_file_name(base_offset: u64) -> String {
    format!("{base_offset:020}.index")
}

/// Parses a segment file name back to its base offset.
pub fn parse_segment_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".log")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn encode_header(base_offset: u64) -> [u8; SEGMENT_HEADER_BYTES as usize] {
    let mut header = [0u8; SEGMENT_HEADER_BYTES as usize];
    header[..8].copy_from_slice(SEGMENT_MAGIC);
    BigEndian::write_u32(&mut header[8..], SEGMENT_VERSION);
    BigEndian::write_u64(&mut header[12..], base_offset);
    let crc = crc32fast::hash(&header[..20]);
    BigEndian::write_u32(&mut header[20..], crc);
    header
}

/// Checks a segment file's header (magic, CRC, version, base offset matching the name).
pub fn check_segment_header(bytes: &[u8], base_offset: u64) -> std::result::Result<(), String> {
    if bytes.len() < SEGMENT_HEADER_BYTES as usize {
        return Err(format!(
            "file of {} bytes is shorter than the segment header",
            bytes.len()
        ));
    }
    if &bytes[..8] != SEGMENT_MAGIC {
        return Err("segment header magic is wrong".to_string());
    }
    let crc = BigEndian::read_u32(&bytes[20..]);
    if crc != crc32fast::hash(&bytes[..20]) {
        return Err("segment header CRC mismatch".to_string());
    }
    let version = BigEndian::read_u32(&bytes[8..]);
    if version != SEGMENT_VERSION {
        return Err(format!(
            "segment format version {version} is not {SEGMENT_VERSION}"
        ));
    }
    let stored_base = BigEndian::read_u64(&bytes[12..]);
    if stored_base != base_offset {
        return Err(format!(
            "header says base offset {stored_base}, file name says {base_offset}"
        ));
    }
    Ok(())
}

/// Settings a segment needs from the log's configuration.
#[derive(Clone, Copy, Debug)]
pub struct SegmentSettings {
    pub segment_bytes: u32,
    pub index_interval_bytes: u32,
    pub batch_bytes_max: u32,
    pub write_mode: WriteMode,
    /// Step of the zeroed frontier (see the module header).
    pub zero_fill_chunk_bytes: u32,
}

impl SegmentSettings {
    /// `position` rounded up to the next whole chunk, but at most `length`.
    pub fn chunk_end(&self, position: u64, length: u64) -> u64 {
        let chunk = u64::from(self.zero_fill_chunk_bytes.max(1));
        (position.div_ceil(chunk) * chunk).min(length)
    }
}

/// One open segment.
pub struct Segment {
    path: PathBuf,
    file: File,
    map: MmapMut,
    base_offset: u64,
    next_offset: u64,
    written: u32,
    flushed: u32,
    /// End of the zeros this process wrote after the batches (see the module header).
    zeroed: u32,
    /// Some zeros in `[flushed, zeroed)` were written by an append but not flushed yet.
    zeros_unflushed: bool,
    /// Bytes of zeros written for this segment (creation, re-extension, frontier moves), and
    /// for the spare it was made from.
    zero_bytes_written: u64,
    index: OffsetIndex,
    settings: SegmentSettings,
}

impl Segment {
    /// Creates a new, empty, preallocated segment under `dir`. Durable before it is visible:
    /// written as `NNN.log.part`, header + preallocation fsynced, renamed, directory fsynced.
    /// On failure (e.g. disk full) nothing is left behind.
    pub fn create(dir: &Path, base_offset: u64, settings: SegmentSettings) -> Result<Segment> {
        let path = dir.join(segment_file_name(base_offset));
        let part_path = dir.join(format!("{base_offset:020}{SEGMENT_PART_SUFFIX}"));
        let created = (|| {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(&part_path)
                .map_err(|e| StorageError::io(&part_path, e))?;
            let length = u64::from(settings.segment_bytes);
            fsio::preallocate(&file, &part_path, length)?;
            // One chunk of zeros only: the rest is zero-filled ahead of the head later, in
            // idle time or by the append that reaches it, never all at once here.
            let header_end = u64::from(SEGMENT_HEADER_BYTES);
            let zeroed = settings.chunk_end(header_end.max(1), length);
            let zero_bytes = fsio::write_zeros(&file, &part_path, header_end, zeroed)?;
            file.write_all_at(&encode_header(base_offset), 0)
                .map_err(|e| StorageError::io(&part_path, e))?;
            fsio::sync_all(&file, &part_path)?;
            Ok((file, zeroed as u32, zero_bytes))
        })();
        let (file, zeroed, zero_bytes) = match created {
            Ok(created) => created,
            Err(error) => {
                let _ = std::fs::remove_file(&part_path);
                return Err(error);
            }
        };
        std::fs::rename(&part_path, &path).map_err(|e| StorageError::io(&path, e))?;
        fsio::sync_dir(dir)?;
        Segment::new_visible(dir, path, file, base_offset, zeroed, zero_bytes, settings)
    }

    /// The in-memory side of a new, empty segment whose file is durable under its final name.
    fn new_visible(
        dir: &Path,
        path: PathBuf,
        file: File,
        base_offset: u64,
        zeroed: u32,
        zero_bytes_written: u64,
        settings: SegmentSettings,
    ) -> Result<Segment> {
        let map = map_file(&file, &path)?;
        assert!(zeroed as usize <= map.len() && zeroed >= SEGMENT_HEADER_BYTES);
        let capacity =
            OffsetIndex::capacity_for(settings.segment_bytes, settings.index_interval_bytes);
        let (index, _) = OffsetIndex::open_checked(
            &dir.join(index_file_name(base_offset)),
            &[],
            capacity,
            IndexPolicy::new(settings.index_interval_bytes),
        )?;
        Ok(Segment {
            path,
            file,
            map,
            base_offset,
            next_offset: base_offset,
            written: SEGMENT_HEADER_BYTES,
            flushed: SEGMENT_HEADER_BYTES,
            zeroed,
            zeros_unflushed: false,
            zero_bytes_written,
            index,
            settings,
        })
    }

    /// Opens an existing segment file and maps it, checking only the header. The caller scans
    /// the batches ([`Segment::bytes_after_header`]) and then calls [`Segment::recovered`].
    pub fn open_unscanned(
        path: &Path,
        base_offset: u64,
        settings: SegmentSettings,
    ) -> Result<OpenedSegment> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| StorageError::io(path, e))?;
        let length = file
            .metadata()
            .map_err(|e| StorageError::io(path, e))?
            .len();
        if length > u64::from(crate::constants::SEGMENT_BYTES_MAX) {
            return Err(StorageError::Corruption {
                path: path.to_path_buf(),
                position: 0,
                offset: Some(base_offset),
                reason: format!(
                    "segment file of {length} bytes is larger than any segment keel writes"
                ),
            });
        }
        let map = map_file(&file, path)?;
        if let Err(reason) = check_segment_header(&map, base_offset) {
            return Err(StorageError::Corruption {
                path: path.to_path_buf(),
                position: 0,
                offset: Some(base_offset),
                reason,
            });
        }
        Ok(OpenedSegment {
            path: path.to_path_buf(),
            file,
            map,
            base_offset,
            settings,
        })
    }

    pub fn base_offset(&self) -> u64 {
        self.base_offset
    }

    /// Offset after the last batch (the segment's end offset).
    pub fn next_offset(&self) -> u64 {
        self.next_offset
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn is_empty(&self) -> bool {
        self.written == SEGMENT_HEADER_BYTES
    }

    /// Bytes of batches in the segment.
    pub fn batch_bytes(&self) -> u32 {
        self.written - SEGMENT_HEADER_BYTES
    }

    /// Position after the last batch.
    pub fn written(&self) -> u32 {
        self.written
    }

    /// Free bytes left for batches.
    pub fn remaining(&self) -> u32 {
        (self.map.len() as u32).saturating_sub(self.written)
    }

    /// Length of the file (reserved blocks included).
    pub fn file_length(&self) -> u64 {
        self.map.len() as u64
    }

    /// End of the zeros written after the batches (see the module header).
    pub fn zeroed(&self) -> u32 {
        self.zeroed
    }

    /// Bytes of zeros written for this segment since it was created or opened.
    pub fn zero_bytes_written(&self) -> u64 {
        self.zero_bytes_written
    }

    /// True when everything written is durable.
    pub fn is_flushed(&self) -> bool {
        self.flushed == self.written
    }

    /// Appends one encoded, already validated batch. The caller checked that it fits.
    pub fn append(&mut self, bytes: &[u8], header: &BatchHeader) -> Result<()> {
        assert_eq!(
            header.base_offset, self.next_offset,
            "appended batch must continue the segment"
        );
        assert!(
            bytes.len() as u64 <= u64::from(self.remaining()),
            "caller must roll before overflowing"
        );
        let position = self.written;
        let end = position + bytes.len() as u32;
        if end > self.zeroed {
            // Idle preparation fell behind: pay for whole chunks of zeros now rather than
            // write into unwritten extents (see the module header).
            let target = self.settings.chunk_end(u64::from(end), self.file_length());
            self.zero_fill_to(target as u32)?;
            self.zeros_unflushed = true;
        }
        assert!(
            end <= self.zeroed,
            "appends land only in zero-filled blocks"
        );
        if self.index.policy.on_batch(bytes.len() as u32) {
            let relative_offset = u32::try_from(header.base_offset - self.base_offset)
                .expect("relative offset fits u32");
            self.index.push(IndexEntry {
                relative_offset,
                position,
            });
        }
        let start = position as usize;
        match self.settings.write_mode {
            WriteMode::Mmap => self.map[start..start + bytes.len()].copy_from_slice(bytes),
            WriteMode::Pwrite => self
                .file
                .write_all_at(bytes, u64::from(position))
                .map_err(|e| StorageError::io(&self.path, e))?,
        }
        self.written += bytes.len() as u32;
        self.next_offset = header.next_offset();
        Ok(())
    }

    /// Writes zeros over `[zeroed, to)` and moves the frontier there (not flushed).
    fn zero_fill_to(&mut self, to: u32) -> Result<()> {
        let written = fsio::write_zeros(
            &self.file,
            &self.path,
            u64::from(self.zeroed),
            u64::from(to),
        )?;
        self.zero_bytes_written += written;
        self.zeroed = self.zeroed.max(to);
        Ok(())
    }

    /// Where idle preparation wants the frontier: `ahead` bytes past the head, rounded up to a
    /// whole chunk, at most the end of the file.
    pub fn prepare_target(&self, ahead: u32) -> u32 {
        let wanted = u64::from(self.written) + u64::from(ahead);
        self.settings.chunk_end(wanted, self.file_length()) as u32
    }

    /// One idle-time step: zero-fills at most `budget` bytes from the frontier toward
    /// [`Segment::prepare_target`] and flushes them (fdatasync), so that the blocks are plain
    /// written blocks before any data lands there. Returns the bytes written (0: nothing to do).
    pub fn prepare_ahead(&mut self, ahead: u32, budget: u64) -> Result<u64> {
        let target = self.prepare_target(ahead);
        if target <= self.zeroed || budget == 0 {
            return Ok(0);
        }
        let to = u64::from(target).min(u64::from(self.zeroed).saturating_add(budget)) as u32;
        let before = self.zeroed;
        self.zero_fill_to(to)?;
        // Flushes any unflushed appends too, which is harmless: nothing is claimed durable
        // until `flush` says so.
        fsio::sync_data(&self.file, &self.path)?;
        self.zeros_unflushed = false;
        Ok(u64::from(self.zeroed - before))
    }

    /// Makes `[flushed, written)` durable (msync of exactly that range, or fdatasync), and the
    /// zeros an append wrote ahead of itself with it, so that their blocks are converted in the
    /// same journal commit instead of one per later flush.
    pub fn flush(&mut self) -> Result<()> {
        if self.flushed == self.written {
            return Ok(());
        }
        match self.settings.write_mode {
            WriteMode::Mmap => {
                let end = if self.zeros_unflushed {
                    self.zeroed
                } else {
                    self.written
                };
                let (start, length) = (self.flushed as usize, (end - self.flushed) as usize);
                let map = &self.map;
                fsio::flush_or_fail(&self.path, || map.flush_range(start, length))?
            }
            WriteMode::Pwrite => fsio::sync_data(&self.file, &self.path)?,
        }
        self.flushed = self.written;
        self.zeros_unflushed = false;
        Ok(())
    }

    /// True when the file is longer than its batches (a sealed segment not yet trimmed).
    pub fn is_untrimmed(&self) -> bool {
        self.file_length() > u64::from(self.written)
    }

    /// Shrinks the file to its batches, once it is sealed (flushed) and a newer segment exists.
    pub fn trim(&mut self) -> Result<()> {
        assert!(self.is_flushed(), "only a flushed segment is trimmed");
        if self.map.len() as u64 == u64::from(self.written) {
            return Ok(());
        }
        self.file
            .set_len(u64::from(self.written))
            .map_err(|e| StorageError::io(&self.path, e))?;
        fsio::sync_all(&self.file, &self.path)?;
        self.map = map_file(&self.file, &self.path)?;
        self.zeroed = self.written;
        self.zeros_unflushed = false;
        Ok(())
    }

    /// Cuts the segment at `position` (a batch boundary), making the cut durable, and reserves
    /// it again to the configured size (with one chunk of zeros after the cut) so it can take
    /// appends. Everything kept is durable afterwards.
    pub fn truncate_at(&mut self, position: u32, next_offset: u64) -> Result<()> {
        assert!((SEGMENT_HEADER_BYTES..=self.written).contains(&position));
        // Make the kept bytes durable first, then drop the rest with ftruncate: unlike zeroing
        // in place, a crash can never leave a mix of old batches and zeros behind the cut.
        self.flush_all()?;
        self.file
            .set_len(u64::from(position))
            .map_err(|e| StorageError::io(&self.path, e))?;
        fsio::sync_all(&self.file, &self.path)?;
        self.written = position;
        self.flushed = position;
        self.next_offset = next_offset;
        self.zeroed = position;
        self.zeros_unflushed = false;
        let reserved = self.reserve_again(u64::from(position));
        // Map whatever length the file now has, so no access can go past its end.
        self.map = map_file(&self.file, &self.path)?;
        self.zeroed = self.zeroed.min(self.map.len() as u32);
        let mut policy = IndexPolicy::new(self.settings.index_interval_bytes);
        for batch in self.batch_headers() {
            policy.on_batch(batch?.1.batch_bytes);
        }
        self.index.truncate_to_position(position, policy);
        reserved
    }

    fn flush_all(&mut self) -> Result<()> {
        match self.settings.write_mode {
            WriteMode::Mmap => {
                let map = &self.map;
                fsio::flush_or_fail(&self.path, || map.flush())?
            }
            WriteMode::Pwrite => fsio::sync_data(&self.file, &self.path)?,
        }
        self.flushed = self.written;
        Ok(())
    }

    /// Re-extends a trimmed (sealed) segment to the configured size so it can be active again.
    pub fn reactivate(&mut self) -> Result<()> {
        if self.file_length() >= u64::from(self.settings.segment_bytes) {
            return Ok(());
        }
        let reserved = self.reserve_again(self.file_length());
        self.map = map_file(&self.file, &self.path)?;
        self.zeroed = self.zeroed.min(self.map.len() as u32);
        reserved
    }

    /// Reserves the file up to the configured size again (a file of `length` bytes, just cut or
    /// trimmed), writes one chunk of zeros from the frontier, and makes both durable in one
    /// fsync (the size change needs that fsync anyway). The caller maps the new length.
    fn reserve_again(&mut self, length: u64) -> Result<()> {
        let target = u64::from(self.settings.segment_bytes).max(length);
        fsio::preallocate(&self.file, &self.path, target)?;
        let first_chunk = self
            .settings
            .chunk_end(u64::from(self.zeroed) + 1, target)
            .max(u64::from(self.zeroed));
        self.zero_fill_to(first_chunk as u32)?;
        fsio::sync_all(&self.file, &self.path)
    }

    /// The bytes of the batches, straight from the map.
    pub fn batch_area(&self) -> &[u8] {
        &self.map[SEGMENT_HEADER_BYTES as usize..self.written as usize]
    }

    /// Iterates (position, header) of the batches, re-checking only what is needed to walk them.
    pub fn batch_headers(&self) -> impl Iterator<Item = Result<(u32, BatchHeader)>> + '_ {
        self.batch_headers_from(SEGMENT_HEADER_BYTES)
    }

    fn batch_headers_from(
        &self,
        start: u32,
    ) -> impl Iterator<Item = Result<(u32, BatchHeader)>> + '_ {
        let mut position = start;
        std::iter::from_fn(move || {
            if position >= self.written {
                return None;
            }
            let bytes = &self.map[position as usize..self.written as usize];
            let item = match super::batch::peek_header(bytes) {
                Some(header)
                    if header.batch_bytes as usize <= bytes.len() && header.batch_bytes > 0 =>
                {
                    let at = position;
                    position += header.batch_bytes;
                    Ok((at, header))
                }
                _ => {
                    let at = position;
                    position = self.written;
                    Err(StorageError::Corruption {
                        path: self.path.clone(),
                        position: u64::from(at),
                        offset: None,
                        reason: "batch header changed on disk after it was validated".to_string(),
                    })
                }
            };
            Some(item)
        })
    }

    /// Position and header of the batch that contains `offset` (which must be in the segment).
    pub fn find_batch(&self, offset: u64) -> Result<(u32, BatchHeader)> {
        assert!(offset >= self.base_offset && offset < self.next_offset);
        let relative_offset =
            u32::try_from(offset - self.base_offset).expect("relative offset fits u32");
        let start = self
            .index
            .lookup(relative_offset)
            .map_or(SEGMENT_HEADER_BYTES, |entry| entry.position);
        for item in self.batch_headers_from(start) {
            let (position, header) = item?;
            if header.last_offset() >= offset {
                return Ok((position, header));
            }
        }
        Err(StorageError::Corruption {
            path: self.path.clone(),
            position: u64::from(start),
            offset: Some(offset),
            reason: "offset not found in the segment that should hold it".to_string(),
        })
    }

    /// Whole batches starting with the one that holds `offset`, up to `max_bytes` (but at least
    /// that first batch), borrowed from the map.
    pub fn read(&self, offset: u64, max_bytes: u32) -> Result<&[u8]> {
        let (start, _) = self.find_batch(offset)?;
        let mut end = start;
        for item in self.batch_headers_from(start) {
            let (position, header) = item?;
            let batch_end = position + header.batch_bytes;
            if batch_end - start > max_bytes && end > start {
                break;
            }
            end = batch_end;
            if end - start >= max_bytes {
                break;
            }
        }
        Ok(&self.map[start as usize..end as usize])
    }

    /// Checks that a batch's bytes in the map still decode (used by tests and the dump tool).
    pub fn decode_at(&self, position: u32) -> Option<BatchHeader> {
        decode_batch(
            &self.map[position as usize..self.written as usize],
            self.settings.batch_bytes_max,
        )
        .ok()
        .map(|b| b.header)
    }

    pub fn index_entries(&self) -> u32 {
        self.index.len()
    }
}

/// A segment whose header was checked but whose batches were not scanned yet.
pub struct OpenedSegment {
    pub path: PathBuf,
    file: File,
    map: MmapMut,
    pub base_offset: u64,
    settings: SegmentSettings,
}

impl OpenedSegment {
    /// The whole file after the header: batches, then zeros (or a torn tail, or worse).
    pub fn bytes_after_header(&self) -> &[u8] {
        &self.map[SEGMENT_HEADER_BYTES as usize..]
    }

    pub fn file_length(&self) -> u64 {
        self.map.len() as u64
    }

    /// Finishes opening after the scan: `valid_bytes` of batches (after the header) hold
    /// offsets `[base_offset, next_offset)`. Anything after them that is not zero is cut off
    /// durably (the caller decided it may be). Checks or rebuilds the index.
    pub fn recovered(
        self,
        valid_bytes: u32,
        next_offset: u64,
        batch_sizes: &[(u64, u32)],
        nonzero_after_valid: bool,
    ) -> Result<(Segment, bool)> {
        let OpenedSegment {
            path,
            file,
            map,
            base_offset,
            settings,
        } = self;
        let written = SEGMENT_HEADER_BYTES + valid_bytes;
        let index_path = fsio::parent_of(&path).join(index_file_name(base_offset));
        let mut policy = IndexPolicy::new(settings.index_interval_bytes);
        let mut expected = Vec::new();
        let mut position = SEGMENT_HEADER_BYTES;
        for &(batch_base, size) in batch_sizes {
            if policy.on_batch(size) {
                let relative_offset =
                    u32::try_from(batch_base - base_offset).expect("relative offset fits u32");
                expected.push(IndexEntry {
                    relative_offset,
                    position,
                });
            }
            position += size;
        }
        let capacity_bytes = (map.len() as u32).max(settings.segment_bytes);
        let capacity = OffsetIndex::capacity_for(capacity_bytes, settings.index_interval_bytes);
        let (index, rebuilt) = OffsetIndex::open_checked(&index_path, &expected, capacity, policy)?;
        let mut segment = Segment {
            path,
            file,
            map,
            base_offset,
            next_offset,
            written,
            flushed: written,
            // Not persisted: what lies after the batches reads as zeros (the scan checked it,
            // or the cut below removes it), but whether those are real zeros or unwritten
            // extents is unknown, so the frontier starts at the batches' end.
            zeroed: written,
            zeros_unflushed: false,
            zero_bytes_written: 0,
            index,
            settings,
        };
        if nonzero_after_valid {
            segment.truncate_at(written, next_offset)?;
        }
        Ok((segment, rebuilt))
    }
}

/// The spare segment `spare.log.part`: blocks reserved for a whole segment and zero-filled
/// from the start up to `zeroed`, made while the event loop is idle, so that a roll costs a
/// header write, an fsync, a rename and a directory fsync instead of reserving and zeroing a
/// segment. Its name carries no base offset (that is only known at the roll); the roll writes
/// the header and renames it. Never read: a leftover spare is deleted at open.
pub struct SpareSegment {
    path: PathBuf,
    file: File,
    length: u32,
    zeroed: u32,
    zero_bytes_written: u64,
}

impl SpareSegment {
    /// Creates the spare under `dir`, reserves `segment_bytes` blocks and writes zeros over
    /// `[0, zero_to)`, then makes all of it durable (one fsync). On failure (e.g. disk full)
    /// nothing is left behind.
    pub fn create(dir: &Path, settings: SegmentSettings, zero_to: u32) -> Result<SpareSegment> {
        let path = dir.join(SPARE_SEGMENT_FILE);
        let length = settings.segment_bytes;
        let zero_to = zero_to.min(length);
        let created = (|| {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(&path)
                .map_err(|e| StorageError::io(&path, e))?;
            fsio::preallocate(&file, &path, u64::from(length))?;
            let zero_bytes = fsio::write_zeros(&file, &path, 0, u64::from(zero_to))?;
            fsio::sync_all(&file, &path)?;
            Ok((file, zero_bytes))
        })();
        match created {
            Ok((file, zero_bytes_written)) => Ok(SpareSegment {
                path,
                file,
                length,
                zeroed: zero_to,
                zero_bytes_written,
            }),
            Err(error) => {
                let _ = std::fs::remove_file(&path);
                Err(error)
            }
        }
    }

    /// End of the zeros written from the start of the spare.
    pub fn zeroed(&self) -> u32 {
        self.zeroed
    }

    pub fn zero_bytes_written(&self) -> u64 {
        self.zero_bytes_written
    }

    /// One idle-time step: zero-fills at most `budget` bytes from the frontier toward `target`
    /// (at most the segment size) and flushes them. Returns the bytes written.
    pub fn prepare(&mut self, target: u32, budget: u64) -> Result<u64> {
        let target = target.min(self.length);
        if target <= self.zeroed || budget == 0 {
            return Ok(0);
        }
        let to = u64::from(target).min(u64::from(self.zeroed).saturating_add(budget));
        let written = fsio::write_zeros(&self.file, &self.path, u64::from(self.zeroed), to)?;
        fsio::sync_data(&self.file, &self.path)?;
        self.zero_bytes_written += written;
        self.zeroed = to as u32;
        Ok(written)
    }

    /// Turns the spare into the segment starting at `base_offset`: header written and fsynced,
    /// renamed to its final name, directory fsynced: the same durable state `Segment::create`
    /// reaches, without reserving or zero-filling anything. On failure before the rename the
    /// spare is removed.
    pub fn into_segment(
        self,
        dir: &Path,
        base_offset: u64,
        settings: SegmentSettings,
    ) -> Result<Segment> {
        assert_eq!(
            self.length, settings.segment_bytes,
            "a spare is made for this log's segment size"
        );
        let path = dir.join(segment_file_name(base_offset));
        let renamed = (|| {
            self.file
                .write_all_at(&encode_header(base_offset), 0)
                .map_err(|e| StorageError::io(&self.path, e))?;
            // fdatasync, not fsync: the size and the reservation were made durable when the
            // spare was created; only the header (data) is new.
            fsio::sync_data(&self.file, &self.path)?;
            std::fs::rename(&self.path, &path).map_err(|e| StorageError::io(&path, e))
        })();
        if let Err(error) = renamed {
            let _ = std::fs::remove_file(&self.path);
            return Err(error);
        }
        fsio::sync_dir(dir)?;
        // The header sits in the first block; zeros after it count from the header's end.
        let zeroed = self.zeroed.max(SEGMENT_HEADER_BYTES);
        Segment::new_visible(
            dir,
            path,
            self.file,
            base_offset,
            zeroed,
            self.zero_bytes_written,
            settings,
        )
    }
}

fn map_file(file: &File, path: &Path) -> Result<MmapMut> {
    // SAFETY: the data directory belongs to this process alone (the node holds its lock), and
    // keel never shrinks a file while a map of it is in use: every set_len is followed by a
    // fresh map before the next access.
    unsafe { MmapMut::map_mut(file) }.map_err(|e| StorageError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_round_trip_and_reject_strangers() {
        assert_eq!(segment_file_name(42), "00000000000000000042.log");
        assert_eq!(
            parse_segment_file_name("00000000000000000042.log"),
            Some(42)
        );
        assert_eq!(parse_segment_file_name("0000000000000000042.log"), None);
        assert_eq!(parse_segment_file_name("0000000000000000004x.log"), None);
        assert_eq!(parse_segment_file_name("00000000000000000042.index"), None);
        assert_eq!(parse_segment_file_name("99999999999999999999.log"), None);
    }

    #[test]
    fn header_check_names_what_is_wrong() {
        let header = encode_header(7);
        assert!(check_segment_header(&header, 7).is_ok());
        assert!(
            check_segment_header(&header, 8)
                .unwrap_err()
                .contains("base offset")
        );
        let mut flipped = header;
        flipped[13] ^= 1;
        assert!(
            check_segment_header(&flipped, 7)
                .unwrap_err()
                .contains("CRC")
        );
        assert!(
            check_segment_header(&header[..10], 7)
                .unwrap_err()
                .contains("shorter")
        );
    }
}
