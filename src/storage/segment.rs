//! One segment file (`NNNNNNNNNNNNNNNNNNNN.log`): a 24-byte header, then batches back to back,
//! then zeros up to the preallocated size. Memory-mapped for reads (and for writes in
//! [`WriteMode::Mmap`]).
//!
//! Invariants: `[SEGMENT_HEADER_BYTES, written)` holds valid batches with contiguous offsets
//! from `base_offset` to `next_offset`; `[written, file length)` is zeros; `flushed <= written`
//! and `[0, flushed)` is durable. The file length never changes while the segment is active
//! (preallocated blocks, zero-filled so that a flush never has to commit an extent conversion),
//! except in `truncate_at`, which makes the cut durable before
//! returning. A new segment becomes visible under its final name only once its header and
//! preallocation are durable.

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

fn check_header(bytes: &[u8], base_offset: u64) -> std::result::Result<(), String> {
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
            fsio::preallocate_zeroed(&file, &part_path, u64::from(SEGMENT_HEADER_BYTES), length)?;
            file.write_all_at(&encode_header(base_offset), 0)
                .map_err(|e| StorageError::io(&part_path, e))?;
            fsio::sync_all(&file, &part_path)?;
            Ok(file)
        })();
        let file = match created {
            Ok(file) => file,
            Err(error) => {
                let _ = std::fs::remove_file(&part_path);
                return Err(error);
            }
        };
        std::fs::rename(&part_path, &path).map_err(|e| StorageError::io(&path, e))?;
        fsio::sync_dir(dir)?;
        let map = map_file(&file, &path)?;
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
        if let Err(reason) = check_header(&map, base_offset) {
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

    /// Makes `[flushed, written)` durable (msync of exactly that range, or fdatasync).
    pub fn flush(&mut self) -> Result<()> {
        if self.flushed == self.written {
            return Ok(());
        }
        match self.settings.write_mode {
            WriteMode::Mmap => {
                let (start, length) = (
                    self.flushed as usize,
                    (self.written - self.flushed) as usize,
                );
                let map = &self.map;
                fsio::flush_or_fail(&self.path, || map.flush_range(start, length))?
            }
            WriteMode::Pwrite => fsio::sync_data(&self.file, &self.path)?,
        }
        self.flushed = self.written;
        Ok(())
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
        Ok(())
    }

    /// Cuts the segment at `position` (a batch boundary), making the cut durable, and
    /// preallocates it again to the configured size so it can take appends. Everything kept
    /// is durable afterwards.
    pub fn truncate_at(&mut self, position: u32, next_offset: u64) -> Result<()> {
        assert!((SEGMENT_HEADER_BYTES..=self.written).contains(&position));
        // Make the kept bytes durable first, then drop the rest with ftruncate: unlike zeroing
        // in place, a crash can never leave a mix of old batches and zeros behind the cut.
        self.flush_all()?;
        self.file
            .set_len(u64::from(position))
            .map_err(|e| StorageError::io(&self.path, e))?;
        fsio::sync_all(&self.file, &self.path)?;
        let target = u64::from(self.settings.segment_bytes).max(u64::from(position));
        let reserved =
            fsio::preallocate_zeroed(&self.file, &self.path, u64::from(position), target)
                .and_then(|()| fsio::sync_all(&self.file, &self.path));
        // Map whatever length the file now has, so no access can go past its end.
        self.map = map_file(&self.file, &self.path)?;
        self.written = position;
        self.flushed = position;
        self.next_offset = next_offset;
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
        if self.map.len() as u64 >= u64::from(self.settings.segment_bytes) {
            return Ok(());
        }
        let from = self.map.len() as u64;
        fsio::preallocate_zeroed(
            &self.file,
            &self.path,
            from,
            u64::from(self.settings.segment_bytes),
        )?;
        fsio::sync_all(&self.file, &self.path)?;
        self.map = map_file(&self.file, &self.path)?;
        Ok(())
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
            index,
            settings,
        };
        if nonzero_after_valid {
            segment.truncate_at(written, next_offset)?;
        }
        Ok((segment, rebuilt))
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
        assert!(check_header(&header, 7).is_ok());
        assert!(
            check_header(&header, 8)
                .unwrap_err()
                .contains("base offset")
        );
        let mut flipped = header;
        flipped[13] ^= 1;
        assert!(check_header(&flipped, 7).unwrap_err().contains("CRC"));
        assert!(
            check_header(&header[..10], 7)
                .unwrap_err()
                .contains("shorter")
        );
    }
}
