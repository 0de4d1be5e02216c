//! The epoch history: for each leader epoch that wrote to the retained log, the offset of its
//! first batch (Kafka's `LeaderEpochFileCache`), and its checkpoint file
//! `leader-epoch-checkpoint` in Kafka's own text format.
//!
//! Invariants: entries are strictly increasing in both epoch and start offset. The history is
//! a function of the log (every batch carries its epoch), so the log is authoritative: at open
//! the history is rebuilt from the scan and the checkpoint file is only compared with it and
//! rewritten when it differs (it lags the log after a crash). Pure code except `write`/`read`.

use std::path::Path;

use super::error::{Result, StorageError};
use super::fsio;
use crate::constants::EPOCH_HISTORY_ENTRIES_MAX;

/// Name of the checkpoint file in the partition directory (Kafka's name).
pub const EPOCH_CHECKPOINT_FILE: &str = "leader-epoch-checkpoint";
/// Version line of the checkpoint format (Kafka's `LeaderEpochCheckpointFile` version 0).
const CHECKPOINT_VERSION: u32 = 0;
/// Upper bound of one checkpoint line: "<u32> <u64>\n".
const CHECKPOINT_LINE_BYTES_MAX: u64 = 10 + 1 + 20 + 1;

/// One entry: `epoch` started writing at `start_offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EpochEntry {
    pub epoch: u32,
    pub start_offset: u64,
}

/// The epoch history of a log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EpochHistory {
    entries: Vec<EpochEntry>,
}

impl EpochHistory {
    pub fn new() -> EpochHistory {
        EpochHistory::default()
    }

    pub fn entries(&self) -> &[EpochEntry] {
        &self.entries
    }

    pub fn latest_epoch(&self) -> Option<u32> {
        self.entries.last().map(|e| e.epoch)
    }

    /// Records that a batch of `epoch` starts at `start_offset`. Returns true when this opened
    /// a new epoch. The caller guarantees epochs never go back.
    pub fn assign(&mut self, epoch: u32, start_offset: u64) -> Result<bool> {
        match self.entries.last() {
            Some(last) if last.epoch == epoch => Ok(false),
            Some(last) => {
                assert!(epoch > last.epoch, "epoch {epoch} after {}", last.epoch);
                assert!(start_offset >= last.start_offset);
                if start_offset == last.start_offset {
                    // The previous epoch wrote nothing that is still in the log.
                    self.entries.pop();
                }
                self.push(EpochEntry {
                    epoch,
                    start_offset,
                })
            }
            None => self.push(EpochEntry {
                epoch,
                start_offset,
            }),
        }
    }

    /// Fails when recording a batch of `epoch` would exceed the history's bound; checked
    /// before a batch is written so that a refused batch leaves no trace.
    pub fn check_room_for(&self, epoch: u32) -> Result<()> {
        let opens_epoch = self.latest_epoch() != Some(epoch);
        if opens_epoch && self.entries.len() as u64 >= u64::from(EPOCH_HISTORY_ENTRIES_MAX) {
            return Err(StorageError::invalid_batch(format!(
                "epoch history would exceed {EPOCH_HISTORY_ENTRIES_MAX} entries"
            )));
        }
        Ok(())
    }

    fn push(&mut self, entry: EpochEntry) -> Result<bool> {
        if self.entries.len() as u64 >= u64::from(EPOCH_HISTORY_ENTRIES_MAX) {
            return Err(StorageError::invalid_batch(format!(
                "epoch history would exceed {EPOCH_HISTORY_ENTRIES_MAX} entries"
            )));
        }
        self.entries.push(entry);
        Ok(true)
    }

    /// Kafka's `LeaderEpochFileCache.endOffsetFor`: the largest epoch <= `requested` that this
    /// log knows, and the offset where the next epoch after `requested` starts (or
    /// `log_end_offset` when `requested` is the latest epoch). `None` is Kafka's
    /// (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET): `requested` is newer than anything known, or
    /// the history is empty. When `requested` is older than every known epoch the answer is
    /// (`requested`, start of the first known epoch), exactly as Kafka does: the data before it
    /// is gone and the follower must restart from there.
    pub fn end_offset_for(&self, requested: u32, log_end_offset: u64) -> Option<(u32, u64)> {
        let latest = self.entries.last()?;
        if latest.epoch == requested {
            return Some((requested, log_end_offset));
        }
        let higher = self.entries.iter().position(|e| e.epoch > requested)?;
        let start_of_higher = self.entries[higher].start_offset;
        if higher == 0 {
            Some((requested, start_of_higher))
        } else {
            Some((self.entries[higher - 1].epoch, start_of_higher))
        }
    }

    /// Drops every epoch that starts at or after `end_offset` (the log was truncated there).
    pub fn truncate_from_end(&mut self, end_offset: u64) {
        self.entries.retain(|e| e.start_offset < end_offset);
    }

    /// Drops epochs wholly before `start_offset`; the epoch in force at `start_offset` is kept
    /// with its start moved to `start_offset` (Kafka's `truncateFromStart`).
    pub fn truncate_from_start(&mut self, start_offset: u64) {
        let removed = self
            .entries
            .iter()
            .take_while(|e| e.start_offset <= start_offset)
            .count();
        if removed == 0 {
            return;
        }
        let in_force = self.entries[removed - 1].epoch;
        self.entries.drain(..removed);
        self.entries.insert(
            0,
            EpochEntry {
                epoch: in_force,
                start_offset,
            },
        );
    }

    /// Whether `file`, a checkpoint read from disk, describes this history (derived from the
    /// log): equal, or equal once this history is cut at the file's start, because a prefix
    /// deletion inside the first segment moved the checkpoint's start further than the segment
    /// boundary the log restarts from. Recovery rewrites a checkpoint for which this is false;
    /// `keel-dump verify` reports it.
    pub fn matches_checkpoint(&self, file: &EpochHistory) -> bool {
        if file == self {
            return true;
        }
        let mut derived = self.clone();
        file.entries().first().is_some_and(|first| {
            derived.truncate_from_start(first.start_offset);
            derived == *file
        })
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Kafka's checkpoint text: version line, count line, one `epoch start_offset` line each.
    pub fn encode(&self) -> Vec<u8> {
        let mut text = format!("{CHECKPOINT_VERSION}\n{}\n", self.entries.len());
        for entry in &self.entries {
            text.push_str(&format!("{} {}\n", entry.epoch, entry.start_offset));
        }
        text.into_bytes()
    }

    /// Parses the checkpoint text, checking every line and the ordering of entries.
    pub fn decode(bytes: &[u8]) -> std::result::Result<EpochHistory, String> {
        let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_string())?;
        let mut lines = text.lines();
        let version = lines.next().ok_or("empty file")?;
        if version != CHECKPOINT_VERSION.to_string() {
            return Err(format!(
                "version line {version:?}, expected {CHECKPOINT_VERSION}"
            ));
        }
        let count_line = lines.next().ok_or("missing entry count line")?;
        let count: u32 = count_line
            .parse()
            .map_err(|_| format!("entry count {count_line:?} is not a number"))?;
        if count > EPOCH_HISTORY_ENTRIES_MAX {
            return Err(format!(
                "{count} entries, more than the {EPOCH_HISTORY_ENTRIES_MAX} allowed"
            ));
        }
        let mut history = EpochHistory::new();
        for line_number in 0..count {
            let line = lines
                .next()
                .ok_or(format!("file ends after {line_number} of {count} entries"))?;
            let (epoch, offset) = line
                .split_once(' ')
                .ok_or(format!("entry line {line:?} is not 'epoch offset'"))?;
            let epoch: u32 = epoch
                .parse()
                .map_err(|_| format!("epoch {epoch:?} is not a number"))?;
            let start_offset: u64 = offset
                .parse()
                .map_err(|_| format!("offset {offset:?} is not a number"))?;
            if let Some(last) = history.entries.last()
                && (epoch <= last.epoch || start_offset <= last.start_offset)
            {
                return Err(format!(
                    "entry {line:?} does not increase on {} {}",
                    last.epoch, last.start_offset
                ));
            }
            history.entries.push(EpochEntry {
                epoch,
                start_offset,
            });
        }
        if let Some(extra) = lines.next() {
            return Err(format!("unexpected line {extra:?} after the entries"));
        }
        Ok(history)
    }

    /// Replaces the checkpoint file atomically.
    pub fn write(&self, dir: &Path) -> Result<()> {
        fsio::write_atomically(dir, EPOCH_CHECKPOINT_FILE, &self.encode())
    }

    /// Reads the checkpoint file; `Ok(None)` when it does not exist.
    pub fn read(dir: &Path) -> Result<Option<EpochHistory>> {
        let path = dir.join(EPOCH_CHECKPOINT_FILE);
        if !path.exists() {
            return Ok(None);
        }
        let max_bytes = 64 + u64::from(EPOCH_HISTORY_ENTRIES_MAX) * CHECKPOINT_LINE_BYTES_MAX;
        let bytes = fsio::read_bounded(&path, max_bytes)?;
        EpochHistory::decode(&bytes)
            .map(Some)
            .map_err(|reason| StorageError::bad_file(&path, reason))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(entries: &[(u32, u64)]) -> EpochHistory {
        let mut h = EpochHistory::new();
        for &(epoch, start) in entries {
            h.assign(epoch, start).unwrap();
        }
        h
    }

    #[test]
    fn a_checkpoint_cut_by_a_prefix_deletion_matches_the_log_it_came_from() {
        let from_log = history(&[(2, 0), (4, 10), (7, 25)]);
        assert!(from_log.matches_checkpoint(&from_log));
        // The log restarts at a segment boundary (0); the checkpoint was cut at 12.
        assert!(from_log.matches_checkpoint(&history(&[(4, 12), (7, 25)])));
        assert!(!from_log.matches_checkpoint(&history(&[(4, 12), (8, 25)])));
        assert!(!from_log.matches_checkpoint(&history(&[(2, 0), (4, 10)])));
        assert!(!from_log.matches_checkpoint(&EpochHistory::new()));
    }

    #[test]
    fn end_offset_for_answers_like_kafka() {
        // epochs 2 [0,10), 4 [10,25), 7 [25, LEO=40)
        let h = history(&[(2, 0), (4, 10), (7, 25)]);
        assert_eq!(
            h.end_offset_for(7, 40),
            Some((7, 40)),
            "latest epoch: log end"
        );
        assert_eq!(
            h.end_offset_for(4, 40),
            Some((4, 25)),
            "known epoch: start of the next"
        );
        assert_eq!(
            h.end_offset_for(5, 40),
            Some((4, 25)),
            "unknown epoch between: floor epoch, next start"
        );
        assert_eq!(
            h.end_offset_for(1, 40),
            Some((1, 0)),
            "older than all: requested, first start"
        );
        assert_eq!(h.end_offset_for(8, 40), None, "newer than all: undefined");
        assert_eq!(
            EpochHistory::new().end_offset_for(3, 0),
            None,
            "empty history: undefined"
        );
    }

    #[test]
    fn truncation_from_either_end_keeps_the_history_true() {
        let mut h = history(&[(2, 0), (4, 10), (7, 25)]);
        h.truncate_from_end(25);
        assert_eq!(h, history(&[(2, 0), (4, 10)]));
        h.truncate_from_start(12);
        assert_eq!(h, history(&[(4, 12)]));
        let mut h = history(&[(2, 0), (4, 10)]);
        h.truncate_from_start(10);
        assert_eq!(h, history(&[(4, 10)]));
    }

    #[test]
    fn checkpoint_text_round_trips_and_rejects_damage() {
        let h = history(&[(2, 0), (4, 10), (7, 25)]);
        let text = h.encode();
        assert_eq!(text, b"0\n3\n2 0\n4 10\n7 25\n");
        assert_eq!(EpochHistory::decode(&text).unwrap(), h);
        for bad in [
            &b""[..],
            b"1\n0\n",
            b"0\n2\n2 0\n",
            b"0\n2\n4 0\n2 10\n",
            b"0\n1\n2 x\n",
            b"0\n1\n2 0\n9 9\n",
            b"0\n99999999\n",
        ] {
            assert!(
                EpochHistory::decode(bad).is_err(),
                "accepted {:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
