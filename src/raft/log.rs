//! The core's view of its log: a few offsets and the epoch history, never records.
//!
//! Owns: log start offset (first offset still stored; everything before it is in the latest
//! snapshot), log end offset (next offset to write), flushed end offset (everything below it
//! is durable), the epoch history (for each epoch present in `[start, end)`, the offset of its
//! first record) and the latest snapshot id.
//!
//! Invariants (asserted on every change):
//! - `start <= flushed <= end`; `start > 0` implies a snapshot with `end_offset >= start`.
//! - Epoch history: epochs strictly increase, start offsets strictly increase and lie in
//!   `[start, end)`, and the last epoch is never below the snapshot's epoch.
//!
//! `validate_offset_and_epoch` is Kafka's `ReplicatedLog.validateOffsetAndEpoch`: it decides
//! whether a fetcher's (offset, last fetched epoch) is a prefix of this log (VALID), diverges
//! (DIVERGING with this log's end of that epoch), or lies before the log start (SNAPSHOT).

use super::types::{OffsetAndEpoch, SnapshotId};
use crate::constants;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validation {
    Valid,
    Diverging(OffsetAndEpoch),
    Snapshot(SnapshotId),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogMeta {
    start_offset: u64,
    end_offset: u64,
    flushed_end_offset: u64,
    /// (epoch, offset of its first record), for the epochs in `[start_offset, end_offset)`.
    epochs: Vec<(u32, u64)>,
    snapshot: Option<SnapshotId>,
}

impl LogMeta {
    /// A recovered log; everything in it counts as durable (recovery flushed it).
    pub fn recovered(
        start_offset: u64,
        end_offset: u64,
        epochs: Vec<(u32, u64)>,
        snapshot: Option<SnapshotId>,
    ) -> LogMeta {
        let log = LogMeta {
            start_offset,
            end_offset,
            flushed_end_offset: end_offset,
            epochs,
            snapshot,
        };
        log.check();
        log
    }

    fn check(&self) {
        assert!(self.start_offset <= self.flushed_end_offset);
        assert!(self.flushed_end_offset <= self.end_offset);
        if self.start_offset > 0 {
            let s = self
                .snapshot
                .expect("a log that starts after 0 needs a snapshot");
            assert!(s.end_offset >= self.start_offset);
        }
        assert!(self.epochs.len() <= constants::RAFT_MAX_EPOCH_HISTORY);
        for w in self.epochs.windows(2) {
            assert!(w[0].0 < w[1].0, "epochs increase: {:?}", self.epochs);
            assert!(w[0].1 < w[1].1, "epoch starts increase: {:?}", self.epochs);
        }
        if let Some(&(_, last)) = self.epochs.last() {
            assert!(last < self.end_offset);
        }
        if self.start_offset < self.end_offset {
            assert!(
                self.epochs.first().map(|e| e.1) == Some(self.start_offset),
                "a non-empty log has an epoch for its first record: {self:?}"
            );
        } else {
            assert!(self.epochs.is_empty());
        }
        if let (Some(s), Some(&(e, _))) = (self.snapshot, self.epochs.last()) {
            assert!(e >= s.epoch);
        }
    }

    pub fn start_offset(&self) -> u64 {
        self.start_offset
    }
    pub fn end_offset(&self) -> u64 {
        self.end_offset
    }
    pub fn flushed_end_offset(&self) -> u64 {
        self.flushed_end_offset
    }
    pub fn snapshot(&self) -> Option<SnapshotId> {
        self.snapshot
    }
    pub fn epochs(&self) -> &[(u32, u64)] {
        &self.epochs
    }

    /// Epoch of the last record (or of the snapshot if the log is empty; 0 for nothing).
    pub fn last_epoch(&self) -> u32 {
        match (self.epochs.last(), self.snapshot) {
            (Some(&(e, _)), _) => e,
            (None, Some(s)) => s.epoch,
            (None, None) => 0,
        }
    }

    /// Epoch of the record at `offset`, if it is in the log (or is the snapshot's last record).
    pub fn epoch_at(&self, offset: u64) -> Option<u32> {
        if offset >= self.end_offset {
            return None;
        }
        if offset < self.start_offset {
            return self
                .snapshot
                .filter(|s| s.end_offset == offset + 1)
                .map(|s| s.epoch);
        }
        let idx = self.epochs.partition_point(|&(_, start)| start <= offset);
        assert!(idx > 0);
        Some(self.epochs[idx - 1].0)
    }

    pub fn append(&mut self, base_offset: u64, last_offset: u64, epoch: u32) {
        assert_eq!(base_offset, self.end_offset, "appends are contiguous");
        assert!(last_offset >= base_offset);
        assert!(epoch >= self.last_epoch(), "epochs never go back in a log");
        if self.epochs.last().map(|e| e.0) != Some(epoch) {
            self.epochs.push((epoch, base_offset));
        }
        self.end_offset = last_offset + 1;
        self.check();
    }

    /// Remove everything at or after `to_offset`.
    pub fn truncate(&mut self, to_offset: u64) {
        assert!(
            to_offset >= self.start_offset,
            "truncating into the snapshot"
        );
        assert!(to_offset <= self.end_offset);
        self.end_offset = to_offset;
        self.flushed_end_offset = self.flushed_end_offset.min(to_offset);
        self.epochs.retain(|&(_, start)| start < to_offset);
        self.check();
    }

    /// Everything below `offset` is durable (clamped to the current end: a flush issued before
    /// a truncation certifies nothing past the truncation point, which the caller handles).
    pub fn mark_flushed(&mut self, offset: u64) {
        let offset = offset.min(self.end_offset);
        if offset > self.flushed_end_offset {
            self.flushed_end_offset = offset;
        }
        self.check();
    }

    /// A snapshot exists; drop the log before its end (the caller tells the driver).
    pub fn snapshot_created(&mut self, id: SnapshotId) {
        assert!(id.end_offset <= self.end_offset);
        if let Some(old) = self.snapshot {
            assert!(id.end_offset >= old.end_offset);
        }
        if let Some(e) = self.epoch_at(id.end_offset.saturating_sub(1)) {
            assert!(
                id.end_offset == 0 || e == id.epoch,
                "snapshot epoch matches the log"
            );
        }
        self.snapshot = Some(id);
        if id.end_offset > self.start_offset {
            self.start_offset = id.end_offset;
            self.flushed_end_offset = self.flushed_end_offset.max(self.start_offset);
            // Keep the epoch that covers the new start, restarted at it.
            let keep_from = self
                .epochs
                .partition_point(|&(_, start)| start <= id.end_offset)
                .saturating_sub(1);
            self.epochs.drain(..keep_from);
            if self.start_offset == self.end_offset {
                self.epochs.clear();
            } else if let Some(first) = self.epochs.first_mut() {
                first.1 = first.1.max(self.start_offset);
            }
        }
        self.check();
    }

    /// A fetched snapshot replaces the whole log.
    pub fn install_snapshot(&mut self, id: SnapshotId) {
        self.snapshot = Some(id);
        self.start_offset = id.end_offset;
        self.end_offset = id.end_offset;
        self.flushed_end_offset = id.end_offset;
        self.epochs.clear();
        self.check();
    }

    /// The end of `epoch` in this log: the largest epoch `<= epoch` it has, and the offset
    /// where the next epoch starts (or the log end). Kafka's `endOffsetForEpoch`.
    pub fn end_offset_for_epoch(&self, epoch: u32) -> OffsetAndEpoch {
        let idx = self.epochs.partition_point(|&(e, _)| e <= epoch);
        if idx == 0 {
            return match self.snapshot {
                Some(s) if s.epoch <= epoch => OffsetAndEpoch {
                    offset: s.end_offset.max(self.start_offset),
                    epoch: s.epoch,
                },
                _ => OffsetAndEpoch {
                    offset: self.start_offset,
                    epoch: 0,
                },
            };
        }
        let (found, _) = self.epochs[idx - 1];
        let end = self
            .epochs
            .get(idx)
            .map(|&(_, start)| start)
            .unwrap_or(self.end_offset);
        OffsetAndEpoch {
            offset: end,
            epoch: found,
        }
    }

    /// Is a fetcher at `offset` whose last record has epoch `epoch` a prefix of this log?
    pub fn validate_offset_and_epoch(&self, offset: u64, epoch: u32) -> Validation {
        if self.start_offset == 0 && offset == 0 {
            return Validation::Valid;
        }
        if let Some(s) = self.snapshot {
            if offset < self.start_offset
                || (offset == self.start_offset && epoch != s.epoch)
                || epoch < s.epoch
            {
                return Validation::Snapshot(s);
            }
        } else {
            assert_eq!(self.start_offset, 0);
        }
        let end = self.end_offset_for_epoch(epoch);
        if end.epoch != epoch || end.offset < offset {
            Validation::Diverging(end)
        } else {
            Validation::Valid
        }
    }

    /// Where a follower truncates to when the leader says its log diverges at `diverging`.
    /// If this log has that epoch, both logs hold the same batches of it (one leader wrote
    /// them), so the smaller of the two ends is a batch boundary in both. If it does not, the
    /// leader's end means nothing here (it may fall inside one of this log's batches): cut at
    /// the end of this log's largest earlier epoch and let the next fetch narrow it down
    /// (Kafka's fetcher does the same).
    pub fn truncation_offset(&self, diverging: OffsetAndEpoch) -> u64 {
        let local = self.end_offset_for_epoch(diverging.epoch);
        let to = if local.epoch == diverging.epoch {
            local.offset.min(diverging.offset)
        } else {
            local.offset
        };
        to.min(self.end_offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_with(batches: &[(u64, u64, u32)]) -> LogMeta {
        let mut log = LogMeta::recovered(0, 0, Vec::new(), None);
        for &(b, l, e) in batches {
            log.append(b, l, e);
        }
        log
    }

    #[test]
    fn end_offset_for_epoch_finds_the_next_epochs_start() {
        let log = log_with(&[(0, 4, 1), (5, 9, 3), (10, 11, 4)]);
        assert_eq!(
            log.end_offset_for_epoch(1),
            OffsetAndEpoch {
                offset: 5,
                epoch: 1
            }
        );
        assert_eq!(
            log.end_offset_for_epoch(2),
            OffsetAndEpoch {
                offset: 5,
                epoch: 1
            }
        );
        assert_eq!(
            log.end_offset_for_epoch(3),
            OffsetAndEpoch {
                offset: 10,
                epoch: 3
            }
        );
        assert_eq!(
            log.end_offset_for_epoch(4),
            OffsetAndEpoch {
                offset: 12,
                epoch: 4
            }
        );
        assert_eq!(
            log.end_offset_for_epoch(0),
            OffsetAndEpoch {
                offset: 0,
                epoch: 0
            }
        );
    }

    #[test]
    fn validation_valid_diverging_and_snapshot() {
        let mut log = log_with(&[(0, 4, 1), (5, 9, 3)]);
        assert_eq!(log.validate_offset_and_epoch(0, 0), Validation::Valid);
        assert_eq!(log.validate_offset_and_epoch(5, 1), Validation::Valid);
        assert_eq!(log.validate_offset_and_epoch(8, 3), Validation::Valid);
        // A follower with epoch-2 records the leader never had.
        assert_eq!(
            log.validate_offset_and_epoch(7, 2),
            Validation::Diverging(OffsetAndEpoch {
                offset: 5,
                epoch: 1
            })
        );
        // A follower ahead in epoch 1.
        assert_eq!(
            log.validate_offset_and_epoch(6, 1),
            Validation::Diverging(OffsetAndEpoch {
                offset: 5,
                epoch: 1
            })
        );
        log.snapshot_created(SnapshotId {
            end_offset: 7,
            epoch: 3,
        });
        assert_eq!(log.start_offset(), 7);
        assert_eq!(
            log.validate_offset_and_epoch(3, 1),
            Validation::Snapshot(SnapshotId {
                end_offset: 7,
                epoch: 3
            })
        );
        assert_eq!(log.validate_offset_and_epoch(8, 3), Validation::Valid);
        assert_eq!(log.epochs(), &[(3, 7)]);
    }

    #[test]
    fn truncation_and_flush_bookkeeping() {
        let mut log = log_with(&[(0, 4, 1), (5, 9, 3)]);
        log.mark_flushed(10);
        let at = |offset, epoch| OffsetAndEpoch { offset, epoch };
        // Same epoch in both logs: the smaller end.
        assert_eq!(log.truncation_offset(at(3, 1)), 3);
        // The leader ends its epoch 2 at 7, but this log has no epoch 2 (its epoch-1 batches
        // may straddle 7): cut at the end of its own epoch 1 instead.
        assert_eq!(log.truncation_offset(at(7, 2)), 5);
        log.truncate(5);
        assert_eq!(log.flushed_end_offset(), 5);
        assert_eq!(log.last_epoch(), 1);
        log.append(5, 5, 4);
        assert_eq!(log.epoch_at(5), Some(4));
        log.install_snapshot(SnapshotId {
            end_offset: 20,
            epoch: 4,
        });
        assert_eq!(log.last_epoch(), 4);
        assert_eq!(log.validate_offset_and_epoch(20, 4), Validation::Valid);
    }

    #[test]
    #[should_panic(expected = "epochs never go back")]
    fn appending_an_older_epoch_is_a_bug() {
        let mut log = log_with(&[(0, 4, 2)]);
        log.append(5, 5, 1);
    }
}
