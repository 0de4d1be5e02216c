//! A node's simulated disk: the log as written (page cache) and as durable (survives a crash)
//! kept apart, the election-state file, and the snapshot.
//!
//! Owns: the batches, each with a CRC over its header and payload; which prefix of the written
//! log is also durable; crash images (durable data, plus possibly a torn copy of the first
//! unflushed batch); bit flips in durable batches; and recovery, which classifies what it finds
//! the way the storage engine's recovery table says (`protocol-spec/storage-format.md`): a bad
//! batch at the tail is a torn write (cut it), a bad batch followed by good ones is corruption
//! of data that may be committed (cut it, and make the node abstain from voting until it has
//! re-fetched past the old end).
//!
//! Invariants: batches are contiguous in offset; the election state and the snapshot are
//! written atomically and durably (temp file + rename in the real node).

use crate::raft::{Batch, ElectionState, SnapshotId};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredBatch {
    pub base_offset: u64,
    pub last_offset: u64,
    pub epoch: u32,
    pub payload: Vec<u8>,
    pub crc: u32,
}

impl StoredBatch {
    pub fn new(base_offset: u64, last_offset: u64, epoch: u32, payload: Vec<u8>) -> StoredBatch {
        let crc = Self::checksum(base_offset, last_offset, epoch, &payload);
        StoredBatch {
            base_offset,
            last_offset,
            epoch,
            payload,
            crc,
        }
    }

    fn checksum(base: u64, last: u64, epoch: u32, payload: &[u8]) -> u32 {
        let mut h = crc32fast::Hasher::new();
        h.update(&base.to_be_bytes());
        h.update(&last.to_be_bytes());
        h.update(&epoch.to_be_bytes());
        h.update(payload);
        h.finalize()
    }

    pub fn is_intact(&self) -> bool {
        self.crc
            == Self::checksum(
                self.base_offset,
                self.last_offset,
                self.epoch,
                &self.payload,
            )
    }

    pub fn to_batch(&self) -> Batch<Vec<u8>> {
        Batch {
            base_offset: self.base_offset,
            last_offset: self.last_offset,
            epoch: self.epoch,
            size_bytes: self.payload.len() as u32 + 24,
            payload: self.payload.clone(),
        }
    }
}

/// What recovery found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recovered {
    pub log_start_offset: u64,
    pub log_end_offset: u64,
    pub epochs: Vec<(u32, u64)>,
    pub snapshot: Option<SnapshotId>,
    pub torn_tail: bool,
    /// Mid-log corruption: the end offset of the log as it was before the cut.
    pub corrupted_until: Option<u64>,
}

#[derive(Clone, Debug, Default)]
pub struct Disk {
    written: Vec<StoredBatch>,
    durable: Vec<StoredBatch>,
    /// Leading batches identical in `written` and `durable`.
    common: usize,
    /// First offset still kept (everything before is in the snapshot). Deleting a prefix is
    /// modelled as immediately durable, which is safe because the snapshot that allows it was
    /// made durable first.
    pub log_start_offset: u64,
    pub election: ElectionState,
    pub snapshot: Option<(SnapshotId, Vec<u8>)>,
    /// A snapshot being downloaded (lost on crash).
    pub partial_snapshot: Option<(SnapshotId, Vec<u8>)>,
}

impl Disk {
    pub fn written(&self) -> &[StoredBatch] {
        &self.written
    }

    pub fn end_offset(&self) -> u64 {
        self.written
            .last()
            .map_or(self.log_start_offset, |b| b.last_offset + 1)
    }

    pub fn append(&mut self, b: StoredBatch) {
        assert_eq!(
            b.base_offset,
            self.end_offset(),
            "simulated log appends are contiguous"
        );
        self.written.push(b);
    }

    pub fn truncate(&mut self, to_offset: u64) {
        let keep = self.written.partition_point(|b| b.base_offset < to_offset);
        if let Some(b) = keep.checked_sub(1).map(|i| &self.written[i]) {
            assert!(b.last_offset < to_offset, "truncation inside a batch");
        }
        self.written.truncate(keep);
        self.common = self.common.min(keep);
    }

    pub fn flush(&mut self) {
        self.durable.truncate(self.common);
        self.durable.extend_from_slice(&self.written[self.common..]);
        self.common = self.written.len();
    }

    /// Index of the batch starting exactly at `offset`.
    pub fn batch_index_at(&self, offset: u64) -> Option<usize> {
        let i = self.written.partition_point(|b| b.base_offset < offset);
        (i < self.written.len() && self.written[i].base_offset == offset).then_some(i)
    }

    /// The batch containing `offset`.
    pub fn batch_containing(&self, offset: u64) -> Option<&StoredBatch> {
        let i = self.written.partition_point(|b| b.last_offset < offset);
        self.written
            .get(i)
            .filter(|b| b.base_offset <= offset && offset <= b.last_offset)
    }

    /// A fetched snapshot replaces the whole log, durably.
    pub fn install_snapshot(&mut self, id: SnapshotId, bytes: Vec<u8>) {
        self.written.clear();
        self.durable.clear();
        self.common = 0;
        self.log_start_offset = id.end_offset;
        self.snapshot = Some((id, bytes));
    }

    /// Power loss: keep only what was durable. With `torn`, the first batch that was written but
    /// not flushed survives half-written (its CRC no longer matches).
    pub fn crash(&mut self, torn: bool) {
        let mut image = self.durable.clone();
        if torn && self.written.len() > self.common {
            let mut b = self.written[self.common].clone();
            if image
                .last()
                .is_none_or(|l| l.last_offset + 1 == b.base_offset)
            {
                let cut = b.payload.len() / 2;
                b.payload.truncate(cut);
                image.push(b);
            }
        }
        self.written = image.clone();
        self.durable = image;
        self.common = self.written.len();
        self.partial_snapshot = None;
    }

    /// Flip a bit in a durable batch that has at least one durable batch after it (a flip in
    /// the very last batch is indistinguishable from a torn write without an extra durable
    /// marker; that is the storage engine's problem, see `protocol-spec/storage-format.md`).
    /// Returns the flipped batch's base offset.
    pub fn flip_bit(&mut self, pick: u64) -> Option<u64> {
        assert_eq!(
            self.common,
            self.written.len(),
            "bits are flipped in a crash image"
        );
        let first = self
            .durable
            .partition_point(|b| b.last_offset < self.log_start_offset);
        let n = self.durable.len();
        if n < first + 2 {
            return None;
        }
        let i = first + (pick as usize) % (n - 1 - first);
        let b = &mut self.durable[i];
        if b.payload.is_empty() {
            b.payload.push(0);
        } else {
            let at = (pick as usize / 7) % b.payload.len();
            b.payload[at] ^= 1 << (pick % 8);
        }
        self.written = self.durable.clone();
        Some(self.durable[i].base_offset)
    }

    /// Scan the log as a restarting node would, cut what is bad, and report.
    pub fn recover(&mut self) -> Recovered {
        assert_eq!(
            self.common,
            self.written.len(),
            "recovery runs on a crash image"
        );
        let first = self
            .written
            .partition_point(|b| b.last_offset < self.log_start_offset);
        self.written.drain(..first);
        let mut good = 0;
        let mut expected = self.log_start_offset;
        for b in &self.written {
            if !b.is_intact() || b.base_offset != expected {
                break;
            }
            expected = b.last_offset + 1;
            good += 1;
        }
        let bad = self.written.len() - good;
        let torn_tail = bad == 1;
        let corrupted_until =
            (bad > 1).then(|| self.written.last().expect("bad > 1").last_offset + 1);
        self.written.truncate(good);
        self.durable = self.written.clone();
        self.common = good;
        let mut epochs: Vec<(u32, u64)> = Vec::new();
        for b in &self.written {
            if epochs.last().map(|e| e.0) != Some(b.epoch) {
                epochs.push((b.epoch, b.base_offset));
            }
        }
        Recovered {
            log_start_offset: self.log_start_offset,
            log_end_offset: self.end_offset(),
            epochs,
            snapshot: self.snapshot.as_ref().map(|s| s.0),
            torn_tail,
            corrupted_until,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disk_with(n: u64) -> Disk {
        let mut d = Disk::default();
        for i in 0..n {
            d.append(StoredBatch::new(i, i, 1, vec![i as u8; 4]));
        }
        d
    }

    #[test]
    fn a_crash_loses_what_was_not_flushed() {
        let mut d = disk_with(3);
        d.flush();
        d.append(StoredBatch::new(3, 3, 1, vec![9]));
        d.crash(false);
        let r = d.recover();
        assert_eq!(r.log_end_offset, 3);
        assert!(!r.torn_tail && r.corrupted_until.is_none());
    }

    #[test]
    fn a_torn_tail_is_cut_quietly() {
        let mut d = disk_with(3);
        d.flush();
        d.append(StoredBatch::new(3, 3, 1, vec![9, 9, 9, 9]));
        d.crash(true);
        let r = d.recover();
        assert_eq!(r.log_end_offset, 3);
        assert!(r.torn_tail);
        assert_eq!(r.corrupted_until, None);
    }

    #[test]
    fn a_bit_flip_mid_log_is_corruption_not_a_torn_tail() {
        let mut d = disk_with(5);
        d.flush();
        assert!(d.flip_bit(1).is_some());
        d.crash(false);
        let r = d.recover();
        assert!(r.log_end_offset < 4);
        assert_eq!(r.corrupted_until, Some(5));
        assert!(d.written().iter().all(|b| b.is_intact()));
    }

    #[test]
    fn truncation_is_lost_with_the_crash_if_not_flushed() {
        let mut d = disk_with(4);
        d.flush();
        d.truncate(2);
        assert_eq!(d.end_offset(), 2);
        d.crash(false);
        assert_eq!(d.recover().log_end_offset, 4);
    }
}
