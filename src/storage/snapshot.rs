//! Snapshot files `<end offset 20d>-<epoch 10d>.checkpoint`: a 32-byte header, record batches
//! in the log's batch format (offsets from 0, each with its CRC), and a 24-byte footer with a
//! CRC over the whole file. Written as `*.checkpoint.part`, fsynced, renamed, directory
//! fsynced; a leftover `.part` is deleted when the log opens.
//!
//! Invariants: a file under its final name has passed [`validate_snapshot`] (the writer
//! produces valid files; the receiver of raw chunks from a leader validates before the rename)
//! and [`SnapshotReader::open`] validates again, so a damaged snapshot is reported, never
//! loaded. The file is self-contained, so it travels to followers byte for byte
//! (FetchSnapshot reads chunks by position).

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use byteorder::{BigEndian, ByteOrder};
use memmap2::Mmap;

use super::batch::{self, BatchRef, BatchSpec, ScanItem, Scanner};
use super::error::{Result, StorageError};
use super::fsio;
use crate::constants::{BATCH_BYTES_MAX, BATCH_RECORDS_MAX, SNAPSHOT_BYTES_MAX};

pub const SNAPSHOT_SUFFIX: &str = ".checkpoint";
pub const SNAPSHOT_PART_SUFFIX: &str = ".checkpoint.part";
pub const SNAPSHOT_HEADER_MAGIC: &[u8; 8] = b"KEELSNAP";
pub const SNAPSHOT_FOOTER_MAGIC: &[u8; 8] = b"KEELSEND";
pub const SNAPSHOT_VERSION: u32 = 1;
pub const SNAPSHOT_HEADER_BYTES: usize = 32;
pub const SNAPSHOT_FOOTER_BYTES: usize = 24;

/// A snapshot holds the state up to (not including) `end_offset`; `epoch` is the epoch of the
/// last record it covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SnapshotId {
    pub end_offset: u64,
    pub epoch: u32,
}

impl SnapshotId {
    pub fn file_name(&self) -> String {
        format!(
            "{:020}-{:010}{SNAPSHOT_SUFFIX}",
            self.end_offset, self.epoch
        )
    }

    pub fn parse_file_name(name: &str) -> Option<SnapshotId> {
        let stem = name.strip_suffix(SNAPSHOT_SUFFIX)?;
        let (offset, epoch) = stem.split_once('-')?;
        let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(offset, 20) || !digits(epoch, 10) {
            return None;
        }
        Some(SnapshotId {
            end_offset: offset.parse().ok()?,
            epoch: epoch.parse().ok()?,
        })
    }
}

fn encode_header(id: SnapshotId) -> [u8; SNAPSHOT_HEADER_BYTES] {
    let mut header = [0u8; SNAPSHOT_HEADER_BYTES];
    header[..8].copy_from_slice(SNAPSHOT_HEADER_MAGIC);
    BigEndian::write_u32(&mut header[8..], SNAPSHOT_VERSION);
    BigEndian::write_u64(&mut header[12..], id.end_offset);
    BigEndian::write_u32(&mut header[20..], id.epoch);
    let crc = crc32fast::hash(&header[..28]);
    BigEndian::write_u32(&mut header[28..], crc);
    header
}

/// Checks a whole snapshot file: header (naming `expected`), every batch (CRC, contiguous
/// offsets from 0), footer (length, CRC of the file). Returns the byte range of the batches.
pub fn validate_snapshot(
    bytes: &[u8],
    expected: SnapshotId,
) -> std::result::Result<std::ops::Range<usize>, String> {
    if bytes.len() < SNAPSHOT_HEADER_BYTES + SNAPSHOT_FOOTER_BYTES {
        return Err(format!(
            "{} bytes is shorter than header and footer",
            bytes.len()
        ));
    }
    let header = &bytes[..SNAPSHOT_HEADER_BYTES];
    if &header[..8] != SNAPSHOT_HEADER_MAGIC {
        return Err("header magic is wrong".to_string());
    }
    if BigEndian::read_u32(&header[28..]) != crc32fast::hash(&header[..28]) {
        return Err("header CRC mismatch".to_string());
    }
    let version = BigEndian::read_u32(&header[8..]);
    if version != SNAPSHOT_VERSION {
        return Err(format!("version {version} is not {SNAPSHOT_VERSION}"));
    }
    let id = SnapshotId {
        end_offset: BigEndian::read_u64(&header[12..]),
        epoch: BigEndian::read_u32(&header[20..]),
    };
    if id != expected {
        return Err(format!(
            "header names snapshot {id:?}, file name says {expected:?}"
        ));
    }
    let footer_at = bytes.len() - SNAPSHOT_FOOTER_BYTES;
    let footer = &bytes[footer_at..];
    if &footer[..8] != SNAPSHOT_FOOTER_MAGIC {
        return Err("footer magic is wrong (file incomplete?)".to_string());
    }
    let stored_crc = BigEndian::read_u32(&footer[20..]);
    let computed_crc = crc32fast::hash(&bytes[..bytes.len() - 4]);
    if stored_crc != computed_crc {
        return Err(format!(
            "file CRC mismatch: stored {stored_crc:#010x}, computed {computed_crc:#010x}"
        ));
    }
    let body_bytes = BigEndian::read_u64(&footer[8..]);
    let body = SNAPSHOT_HEADER_BYTES..footer_at;
    if body_bytes != body.len() as u64 {
        return Err(format!(
            "footer says {body_bytes} bytes of batches, file has {}",
            body.len()
        ));
    }
    let mut next_offset = 0u64;
    for item in Scanner::new(&bytes[body.clone()], BATCH_BYTES_MAX) {
        match item {
            ScanItem::Batch { position, batch } => {
                if batch.header.base_offset != next_offset {
                    return Err(format!(
                        "batch at byte {} starts at offset {}, expected {next_offset}",
                        SNAPSHOT_HEADER_BYTES + position,
                        batch.header.base_offset
                    ));
                }
                next_offset = batch.header.next_offset();
            }
            ScanItem::CleanEnd { position } if SNAPSHOT_HEADER_BYTES + position == footer_at => {}
            ScanItem::CleanEnd { position } => {
                return Err(format!(
                    "zeros at byte {} instead of batches",
                    SNAPSHOT_HEADER_BYTES + position
                ));
            }
            ScanItem::TornTail {
                position, error, ..
            }
            | ScanItem::Corrupt {
                position, error, ..
            } => {
                return Err(format!(
                    "invalid batch at byte {}: {error}",
                    SNAPSHOT_HEADER_BYTES + position
                ));
            }
        }
    }
    Ok(body)
}

fn part_path(dir: &Path, id: SnapshotId) -> PathBuf {
    dir.join(format!(
        "{:020}-{:010}{SNAPSHOT_PART_SUFFIX}",
        id.end_offset, id.epoch
    ))
}

fn create_part(dir: &Path, id: SnapshotId) -> Result<(PathBuf, File)> {
    let path = part_path(dir, id);
    let file = OpenOptions::new()
        .write(true)
        .read(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .map_err(|e| StorageError::io(&path, e))?;
    Ok((path, file))
}

/// Moves a complete, validated `.part` file to its final name durably.
fn commit(dir: &Path, id: SnapshotId, part: &Path, file: &File) -> Result<SnapshotId> {
    fsio::sync_all(file, part)?;
    let final_path = dir.join(id.file_name());
    std::fs::rename(part, &final_path).map_err(|e| StorageError::io(&final_path, e))?;
    fsio::sync_dir(dir)?;
    Ok(id)
}

/// Writes a snapshot from records (the state machine's own snapshot).
pub struct SnapshotWriter {
    dir: PathBuf,
    id: SnapshotId,
    path: PathBuf,
    out: BufWriter<File>,
    crc: crc32fast::Hasher,
    body_bytes: u64,
    next_offset: u64,
    scratch: Vec<u8>,
}

impl SnapshotWriter {
    pub fn create(dir: &Path, id: SnapshotId) -> Result<SnapshotWriter> {
        let (path, file) = create_part(dir, id)?;
        let mut writer = SnapshotWriter {
            dir: dir.to_path_buf(),
            id,
            path,
            out: BufWriter::new(file),
            crc: crc32fast::Hasher::new(),
            body_bytes: 0,
            next_offset: 0,
            scratch: Vec::new(),
        };
        writer.write(&encode_header(id))?;
        Ok(writer)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.crc.update(bytes);
        self.out
            .write_all(bytes)
            .map_err(|e| StorageError::io(&self.path, e))
    }

    /// Appends one batch of data records.
    pub fn append(&mut self, timestamp_ms: i64, records: &[&[u8]]) -> Result<()> {
        self.append_batch(timestamp_ms, false, records)
    }

    /// Appends one batch of control records (the snapshot's header and footer records, which
    /// Kafka keeps in control batches too).
    pub fn append_control(&mut self, timestamp_ms: i64, records: &[&[u8]]) -> Result<()> {
        self.append_batch(timestamp_ms, true, records)
    }

    fn append_batch(&mut self, timestamp_ms: i64, control: bool, records: &[&[u8]]) -> Result<()> {
        if records.is_empty() || records.len() as u64 > u64::from(BATCH_RECORDS_MAX) {
            return Err(StorageError::invalid_argument(format!(
                "{} records in one snapshot batch",
                records.len()
            )));
        }
        let size = batch::encoded_batch_bytes(records);
        if size > u64::from(BATCH_BYTES_MAX)
            || self.body_bytes + size + (SNAPSHOT_HEADER_BYTES + SNAPSHOT_FOOTER_BYTES) as u64
                > SNAPSHOT_BYTES_MAX
        {
            return Err(StorageError::invalid_argument(format!(
                "batch of {size} bytes does not fit the snapshot limits"
            )));
        }
        let spec = BatchSpec {
            base_offset: self.next_offset,
            leader_epoch: self.id.epoch,
            first_timestamp_ms: timestamp_ms,
            max_timestamp_ms: timestamp_ms,
            control,
        };
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        batch::encode_batch(&spec, records, &mut scratch);
        let result = self.write(&scratch);
        self.scratch = scratch;
        result?;
        self.body_bytes += size;
        self.next_offset += records.len() as u64;
        Ok(())
    }

    /// Gives up on the snapshot: its partial file is removed (a leftover would be removed at
    /// the next start anyway, as every `.part` file is).
    pub fn abort(self) -> Result<()> {
        drop(self.out);
        std::fs::remove_file(&self.path).map_err(|e| StorageError::io(&self.path, e))
    }

    /// The snapshot being written.
    pub fn id(&self) -> SnapshotId {
        self.id
    }

    /// Writes the footer and makes the snapshot durable under its final name.
    pub fn finish(mut self) -> Result<SnapshotId> {
        let mut footer = [0u8; SNAPSHOT_FOOTER_BYTES];
        footer[..8].copy_from_slice(SNAPSHOT_FOOTER_MAGIC);
        BigEndian::write_u64(&mut footer[8..], self.body_bytes);
        self.crc.update(&footer[..20]);
        let crc = self.crc.clone().finalize();
        BigEndian::write_u32(&mut footer[20..], crc);
        self.out
            .write_all(&footer)
            .map_err(|e| StorageError::io(&self.path, e))?;
        let file = self
            .out
            .into_inner()
            .map_err(|e| StorageError::io(&self.path, e.into_error()))?;
        commit(&self.dir, self.id, &self.path, &file)
    }
}

/// Receives a snapshot file from a leader, chunk by chunk, byte for byte; validates the whole
/// file before it gets its final name.
pub struct SnapshotReceiver {
    dir: PathBuf,
    id: SnapshotId,
    path: PathBuf,
    file: File,
    size: u64,
}

impl SnapshotReceiver {
    pub fn create(dir: &Path, id: SnapshotId) -> Result<SnapshotReceiver> {
        let (path, file) = create_part(dir, id)?;
        Ok(SnapshotReceiver {
            dir: dir.to_path_buf(),
            id,
            path,
            file,
            size: 0,
        })
    }

    /// Bytes received so far (the position the next chunk must start at).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Bytes received so far.
    pub fn bytes_written(&self) -> u64 {
        self.size
    }

    pub fn write_chunk(&mut self, position: u64, bytes: &[u8]) -> Result<()> {
        if position != self.size {
            return Err(StorageError::invalid_argument(format!(
                "chunk at {position}, expected {}",
                self.size
            )));
        }
        if self.size + bytes.len() as u64 > SNAPSHOT_BYTES_MAX {
            return Err(StorageError::invalid_argument(format!(
                "snapshot would exceed {SNAPSHOT_BYTES_MAX} bytes"
            )));
        }
        self.file
            .write_all(bytes)
            .map_err(|e| StorageError::io(&self.path, e))?;
        self.size += bytes.len() as u64;
        Ok(())
    }

    /// Validates the received file and makes it durable under its final name. On a bad file
    /// the `.part` is removed and the error says what is wrong.
    pub fn finish(self) -> Result<SnapshotId> {
        let verdict = if self.size == 0 {
            Err("empty file".to_string())
        } else {
            // SAFETY: the .part file is ours alone and is not changed while mapped.
            let map =
                unsafe { Mmap::map(&self.file) }.map_err(|e| StorageError::io(&self.path, e))?;
            validate_snapshot(&map, self.id).map(|_| ())
        };
        if let Err(reason) = verdict {
            let _ = std::fs::remove_file(&self.path);
            return Err(StorageError::bad_file(&self.path, reason));
        }
        commit(&self.dir, self.id, &self.path, &self.file)
    }
}

/// A validated snapshot, memory-mapped.
pub struct SnapshotReader {
    id: SnapshotId,
    map: Mmap,
    body: std::ops::Range<usize>,
}

impl SnapshotReader {
    /// Opens and fully validates `dir/<id>.checkpoint`.
    pub fn open(dir: &Path, id: SnapshotId) -> Result<SnapshotReader> {
        let path = dir.join(id.file_name());
        let file = File::open(&path).map_err(|e| StorageError::io(&path, e))?;
        let length = file
            .metadata()
            .map_err(|e| StorageError::io(&path, e))?
            .len();
        if length > SNAPSHOT_BYTES_MAX {
            return Err(StorageError::bad_file(
                &path,
                format!("{length} bytes, more than {SNAPSHOT_BYTES_MAX}"),
            ));
        }
        if length == 0 {
            return Err(StorageError::bad_file(&path, "empty file"));
        }
        // SAFETY: snapshot files are immutable once renamed into place.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| StorageError::io(&path, e))?;
        let body =
            validate_snapshot(&map, id).map_err(|reason| StorageError::bad_file(&path, reason))?;
        Ok(SnapshotReader { id, map, body })
    }

    pub fn id(&self) -> SnapshotId {
        self.id
    }

    /// Size of the whole file in bytes.
    pub fn size_bytes(&self) -> u64 {
        self.map.len() as u64
    }

    /// Raw file bytes from `position`, at most `max_bytes` (for FetchSnapshot).
    pub fn chunk(&self, position: u64, max_bytes: u32) -> Result<&[u8]> {
        if position > self.map.len() as u64 {
            return Err(StorageError::invalid_argument(format!(
                "position {position} past the snapshot's {} bytes",
                self.map.len()
            )));
        }
        let start = position as usize;
        let end = (start as u64 + u64::from(max_bytes)).min(self.map.len() as u64) as usize;
        Ok(&self.map[start..end])
    }

    /// The record batches of the snapshot, in order.
    pub fn batches(&self) -> impl Iterator<Item = BatchRef<'_>> {
        Scanner::new(&self.map[self.body.clone()], BATCH_BYTES_MAX).filter_map(|item| match item {
            ScanItem::Batch { batch, .. } => Some(batch),
            _ => None,
        })
    }
}

/// Snapshots in `dir`, oldest first.
pub fn list_snapshots(dir: &Path) -> Result<Vec<SnapshotId>> {
    let mut ids: Vec<SnapshotId> = fsio::list_dir(dir)?
        .iter()
        .filter_map(|(name, _)| SnapshotId::parse_file_name(name))
        .collect();
    ids.sort();
    Ok(ids)
}

/// The newest snapshot in `dir`, if any.
pub fn latest_snapshot(dir: &Path) -> Result<Option<SnapshotId>> {
    Ok(list_snapshots(dir)?.pop())
}

/// Deletes every snapshot older than `keep` (by end offset, then epoch), durably.
pub fn delete_snapshots_before(dir: &Path, keep: SnapshotId) -> Result<usize> {
    let mut deleted = 0;
    for id in list_snapshots(dir)? {
        if id < keep {
            let path = dir.join(id.file_name());
            std::fs::remove_file(&path).map_err(|e| StorageError::io(&path, e))?;
            deleted += 1;
        }
    }
    if deleted > 0 {
        fsio::sync_dir(dir)?;
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_names_round_trip() {
        let id = SnapshotId {
            end_offset: 1234,
            epoch: 5,
        };
        assert_eq!(id.file_name(), "00000000000000001234-0000000005.checkpoint");
        assert_eq!(SnapshotId::parse_file_name(&id.file_name()), Some(id));
        assert_eq!(
            SnapshotId::parse_file_name("00000000000000001234-0000000005.checkpoint.part"),
            None
        );
        assert_eq!(SnapshotId::parse_file_name("1234-5.checkpoint"), None);
    }
}
