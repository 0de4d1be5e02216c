//! The sparse offset index of one segment (`NNN.index`): relative offset -> byte position of a
//! batch, one entry every `index_interval_bytes` of batches, memory-mapped.
//!
//! Never authoritative: it is never flushed on its own, it is checked against a scan of its
//! segment at every open, and rebuilt from that scan when missing or inconsistent. Entries are
//! 8 bytes, `u32 relative_offset, u32 position`, big-endian, strictly increasing in both
//! fields; the unused rest of the file is zeros. Which batches get an entry depends only on the
//! batch sizes, so a rebuild writes exactly the file a clean run would have written.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use byteorder::{BigEndian, ByteOrder};
use memmap2::MmapMut;

use super::error::{Result, StorageError};
use super::fsio;

/// Bytes per index entry.
pub const INDEX_ENTRY_BYTES: usize = 8;

/// One index entry: the batch whose base offset is `segment base + relative_offset` starts at
/// byte `position` of the segment file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    pub relative_offset: u32,
    pub position: u32,
}

/// Decides which batches get an index entry. Pure, so a rebuild during recovery and the
/// appends of a live log make the same choice.
#[derive(Clone, Copy, Debug)]
pub struct IndexPolicy {
    pub interval_bytes: u32,
    bytes_since_entry: u64,
}

impl IndexPolicy {
    pub fn new(interval_bytes: u32) -> IndexPolicy {
        IndexPolicy {
            interval_bytes,
            bytes_since_entry: 0,
        }
    }

    /// Called for each batch in order; true when this batch gets an entry.
    pub fn on_batch(&mut self, batch_bytes: u32) -> bool {
        let wants_entry = self.bytes_since_entry >= u64::from(self.interval_bytes);
        if wants_entry {
            self.bytes_since_entry = 0;
        }
        self.bytes_since_entry += u64::from(batch_bytes);
        wants_entry
    }
}

/// The mapped index file of one segment.
pub struct OffsetIndex {
    path: PathBuf,
    file: File,
    map: Option<MmapMut>,
    entries: u32,
    capacity_entries: u32,
    pub policy: IndexPolicy,
}

impl OffsetIndex {
    /// Most entries a segment of `segment_bytes` can need.
    pub fn capacity_for(segment_bytes: u32, interval_bytes: u32) -> u32 {
        segment_bytes / interval_bytes.max(1) + 1
    }

    /// Opens `path` and makes it hold exactly `expected` (from a scan of the segment), with
    /// room for `capacity_entries`. Returns the index and whether it had to be rebuilt.
    pub fn open_checked(
        path: &Path,
        expected: &[IndexEntry],
        capacity_entries: u32,
        policy: IndexPolicy,
    ) -> Result<(OffsetIndex, bool)> {
        assert!(expected.len() as u64 <= u64::from(capacity_entries));
        let capacity_bytes = u64::from(capacity_entries) * INDEX_ENTRY_BYTES as u64;
        let existing = std::fs::metadata(path).ok().map(|m| m.len());
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| StorageError::io(path, e))?;
        let mut index = OffsetIndex {
            path: path.to_path_buf(),
            file,
            map: None,
            entries: 0,
            capacity_entries,
            policy,
        };
        let consistent = match existing {
            Some(length) if length == capacity_bytes => {
                index.map_file(capacity_bytes)?;
                index.matches(expected)
            }
            _ => false,
        };
        if !consistent {
            index.rebuild(expected, capacity_bytes)?;
        }
        index.entries = expected.len() as u32;
        Ok((index, !consistent))
    }

    fn map_file(&mut self, length: u64) -> Result<()> {
        self.map = None;
        if length > 0 {
            // SAFETY: keel is the only writer of its data directory (the node holds its lock),
            // and the file is never shrunk below the mapped length while mapped.
            let map = unsafe { MmapMut::map_mut(&self.file) }
                .map_err(|e| StorageError::io(&self.path, e))?;
            self.map = Some(map);
        }
        Ok(())
    }

    fn bytes(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }

    fn matches(&self, expected: &[IndexEntry]) -> bool {
        let bytes = self.bytes();
        let used = expected.len() * INDEX_ENTRY_BYTES;
        if bytes.len() < used {
            return false;
        }
        let entries_match = expected
            .iter()
            .enumerate()
            .all(|(i, entry)| read_entry(bytes, i) == *entry);
        entries_match && super::batch::first_nonzero_at(&bytes[used..]).is_none()
    }

    fn rebuild(&mut self, expected: &[IndexEntry], capacity_bytes: u64) -> Result<()> {
        self.map = None;
        self.file
            .set_len(0)
            .map_err(|e| StorageError::io(&self.path, e))?;
        if capacity_bytes > 0 {
            fsio::preallocate(&self.file, &self.path, capacity_bytes)?;
        }
        self.map_file(capacity_bytes)?;
        if let Some(map) = self.map.as_mut() {
            for (i, entry) in expected.iter().enumerate() {
                write_entry(map, i, *entry);
            }
        }
        Ok(())
    }

    /// Adds an entry; the caller's policy decided it is due.
    pub fn push(&mut self, entry: IndexEntry) {
        assert!(
            self.entries < self.capacity_entries,
            "index of {} is full",
            self.path.display()
        );
        if self.entries > 0 {
            let last = read_entry(self.bytes(), self.entries as usize - 1);
            assert!(entry.relative_offset > last.relative_offset && entry.position > last.position);
        }
        let map = self.map.as_mut().expect("an index with capacity is mapped");
        write_entry(map, self.entries as usize, entry);
        self.entries += 1;
    }

    /// Position of the last indexed batch whose relative offset is <= `relative_offset`.
    pub fn lookup(&self, relative_offset: u32) -> Option<IndexEntry> {
        let bytes = self.bytes();
        // partition_point over entries: count of entries with relative offset <= target.
        let (mut low, mut high) = (0usize, self.entries as usize);
        while low < high {
            let mid = (low + high) / 2;
            if read_entry(bytes, mid).relative_offset <= relative_offset {
                low = mid + 1;
            } else {
                high = mid;
            }
        }
        if low == 0 {
            None
        } else {
            Some(read_entry(bytes, low - 1))
        }
    }

    /// Drops every entry at or after byte `position` (the segment was truncated there) and
    /// restarts the policy from the last remaining batch sizes given by the caller.
    pub fn truncate_to_position(&mut self, position: u32, policy: IndexPolicy) {
        while self.entries > 0
            && read_entry(self.bytes(), self.entries as usize - 1).position >= position
        {
            self.entries -= 1;
            let map = self.map.as_mut().expect("an index with entries is mapped");
            write_entry(
                map,
                self.entries as usize,
                IndexEntry {
                    relative_offset: 0,
                    position: 0,
                },
            );
        }
        self.policy = policy;
    }

    /// Number of entries.
    pub fn len(&self) -> u32 {
        self.entries
    }

    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn read_entry(bytes: &[u8], index: usize) -> IndexEntry {
    let at = index * INDEX_ENTRY_BYTES;
    IndexEntry {
        relative_offset: BigEndian::read_u32(&bytes[at..]),
        position: BigEndian::read_u32(&bytes[at + 4..]),
    }
}

fn write_entry(bytes: &mut [u8], index: usize, entry: IndexEntry) {
    let at = index * INDEX_ENTRY_BYTES;
    BigEndian::write_u32(&mut bytes[at..], entry.relative_offset);
    BigEndian::write_u32(&mut bytes[at + 4..], entry.position);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_indexes_a_batch_once_the_interval_has_passed() {
        let mut policy = IndexPolicy::new(100);
        let decisions: Vec<bool> = [60, 60, 30, 120, 10]
            .iter()
            .map(|&b| policy.on_batch(b))
            .collect();
        assert_eq!(decisions, vec![false, false, true, false, true]);
    }

    #[test]
    fn a_missing_or_wrong_index_is_rebuilt_and_a_right_one_kept() {
        let dir = std::env::temp_dir().join(format!("keel-index-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("00000000000000000000.index");
        let _ = std::fs::remove_file(&path);
        let expected = [
            IndexEntry {
                relative_offset: 3,
                position: 500,
            },
            IndexEntry {
                relative_offset: 9,
                position: 900,
            },
        ];
        let (index, rebuilt) =
            OffsetIndex::open_checked(&path, &expected, 10, IndexPolicy::new(100)).unwrap();
        assert!(rebuilt, "missing index must be rebuilt");
        assert_eq!(index.lookup(2), None);
        assert_eq!(index.lookup(3), Some(expected[0]));
        assert_eq!(index.lookup(8), Some(expected[0]));
        assert_eq!(index.lookup(100), Some(expected[1]));
        drop(index);
        let (_, rebuilt) =
            OffsetIndex::open_checked(&path, &expected, 10, IndexPolicy::new(100)).unwrap();
        assert!(!rebuilt, "a consistent index is kept");
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[5] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let (index, rebuilt) =
            OffsetIndex::open_checked(&path, &expected, 10, IndexPolicy::new(100)).unwrap();
        assert!(rebuilt, "a damaged index is rebuilt");
        assert_eq!(index.lookup(9), Some(expected[1]));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
