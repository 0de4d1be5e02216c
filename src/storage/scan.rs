//! The one scan of a segment's batches, and the recovery table's verdict on what follows them.
//!
//! `Log::open` (recovery) and `keel-dump verify` both call these functions, so the tool and the
//! server can never disagree about what a file contains or what recovery would do with it:
//! recovery scans a mapped segment with [`scan_segment`]; `keel-dump` streams a segment through
//! a bounded buffer and feeds each scan item to the same per-item rules ([`SegmentChain`]).
//! Pure: bytes in, verdicts out.

use super::batch::{ScanItem, Scanner};
use super::epochs::EpochHistory;
use super::error::Result;
use super::segment::SEGMENT_HEADER_BYTES;

pub use super::segment::check_segment_header;

/// What follows the last valid batch of a segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SegmentTail {
    /// Only zeros (the preallocated rest) or nothing.
    Clean,
    /// Invalid bytes with no valid batch after them: an interrupted write.
    Torn {
        position: u64,
        nonzero_end: u64,
        reason: String,
    },
    /// Invalid bytes followed by a valid batch, or a batch that breaks the offset/epoch chain.
    Corrupt { position: u64, reason: String },
}

/// The result of scanning one segment.
#[derive(Clone, Debug)]
pub struct SegmentScan {
    /// Bytes of valid batches (from the end of the header).
    pub valid_bytes: u32,
    /// The offset after the last valid batch.
    pub next_offset: u64,
    /// Base offset and size of every valid batch, in order.
    pub batch_sizes: Vec<(u64, u32)>,
    pub tail: SegmentTail,
}

/// The recovery table's decision for a segment's tail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TailVerdict {
    /// Open normally.
    Clean,
    /// The last segment ends in a torn write: cut it (it was never flushed, so never
    /// acknowledged).
    CutTornTail {
        position: u64,
        nonzero_end: u64,
        reason: String,
    },
    /// Data that may have been committed is damaged: refuse (or keep the valid prefix in repair
    /// mode), never cut silently.
    Corruption { position: u64, reason: String },
}

/// Rows of the recovery table (protocol-spec/storage-format.md): a torn tail is cut only in the
/// last segment; in a sealed segment every byte was flushed before the next segment existed, so
/// invalid bytes there are corruption.
pub fn classify(tail: SegmentTail, is_last_segment: bool) -> TailVerdict {
    match tail {
        SegmentTail::Clean => TailVerdict::Clean,
        SegmentTail::Torn {
            position,
            nonzero_end,
            reason,
        } if is_last_segment => TailVerdict::CutTornTail {
            position,
            nonzero_end,
            reason,
        },
        SegmentTail::Torn {
            position, reason, ..
        } => TailVerdict::Corruption {
            position,
            reason: format!("invalid data at the end of a sealed segment: {reason}"),
        },
        SegmentTail::Corrupt { position, reason } => TailVerdict::Corruption { position, reason },
    }
}

/// The rules `scan_segment` applies to each item of a segment's scan, one item at a time:
/// offsets contiguous from the segment's base, epochs never decreasing, and the tail verdict
/// from the scanner's terminal item. Recovery feeds it from a [`Scanner`] over the mapped
/// segment; `keel-dump` feeds it from a bounded streaming reader, so both judge a segment by
/// this one piece of code.
#[derive(Clone, Debug)]
pub struct SegmentChain {
    next_offset: u64,
    valid_bytes: u32,
    tail: SegmentTail,
    stopped: bool,
}

impl SegmentChain {
    pub fn new(base_offset: u64) -> SegmentChain {
        SegmentChain {
            next_offset: base_offset,
            valid_bytes: 0,
            tail: SegmentTail::Clean,
            stopped: false,
        }
    }

    /// Takes the next scan item (positions relative to the end of the segment header). Returns
    /// true when the item is a batch that continues the chain (its epoch is then in `epochs`);
    /// false when the scan ends here (a terminal item, or a batch that breaks the chain), after
    /// which no more items may be given.
    pub fn take(&mut self, item: &ScanItem<'_>, epochs: &mut EpochHistory) -> Result<bool> {
        assert!(!self.stopped, "a segment chain takes nothing after its end");
        let header_bytes = u64::from(SEGMENT_HEADER_BYTES);
        match item {
            ScanItem::Batch { position, batch } => {
                let header = batch.header;
                let broken_chain = if header.base_offset != self.next_offset {
                    Some(format!(
                        "batch has base offset {} where offset {} belongs",
                        header.base_offset, self.next_offset
                    ))
                } else if epochs
                    .latest_epoch()
                    .is_some_and(|e| header.leader_epoch < e)
                {
                    Some(format!(
                        "batch epoch {} is older than the epoch before it",
                        header.leader_epoch
                    ))
                } else {
                    None
                };
                if let Some(reason) = broken_chain {
                    self.tail = SegmentTail::Corrupt {
                        position: header_bytes + *position as u64,
                        reason,
                    };
                    self.stopped = true;
                    return Ok(false);
                }
                epochs.assign(header.leader_epoch, header.base_offset)?;
                self.next_offset = header.next_offset();
                self.valid_bytes += header.batch_bytes;
                return Ok(true);
            }
            ScanItem::CleanEnd { .. } => {}
            ScanItem::TornTail {
                position,
                nonzero_end,
                error,
            } => {
                self.tail = SegmentTail::Torn {
                    position: header_bytes + *position as u64,
                    nonzero_end: header_bytes + *nonzero_end as u64,
                    reason: error.to_string(),
                };
            }
            ScanItem::Corrupt {
                position,
                error,
                next_valid_position,
            } => {
                self.tail = SegmentTail::Corrupt {
                    position: header_bytes + *position as u64,
                    reason: format!(
                        "{error}, yet a valid batch follows at byte {}",
                        header_bytes + *next_valid_position as u64
                    ),
                };
            }
        }
        self.stopped = true;
        Ok(false)
    }

    /// The offset after the last batch taken.
    pub fn next_offset(&self) -> u64 {
        self.next_offset
    }

    /// Bytes of the batches taken.
    pub fn valid_bytes(&self) -> u32 {
        self.valid_bytes
    }

    /// What followed the last batch taken (`Clean` until the scan ends otherwise).
    pub fn into_tail(self) -> SegmentTail {
        self.tail
    }
}

/// Scans the bytes of one segment after its header: valid batches with contiguous offsets
/// (from `base_offset`) and non-decreasing epochs, then its tail. Epochs of valid batches go
/// into `epochs`. Positions in the result are positions in the segment file.
pub fn scan_segment(
    bytes_after_header: &[u8],
    base_offset: u64,
    epochs: &mut EpochHistory,
    batch_bytes_max: u32,
) -> Result<SegmentScan> {
    let mut chain = SegmentChain::new(base_offset);
    let mut batch_sizes = Vec::new();
    for item in Scanner::new(bytes_after_header, batch_bytes_max) {
        if !chain.take(&item, epochs)? {
            break;
        }
        if let ScanItem::Batch { batch, .. } = item {
            batch_sizes.push((batch.header.base_offset, batch.header.batch_bytes));
        }
    }
    Ok(SegmentScan {
        valid_bytes: chain.valid_bytes(),
        next_offset: chain.next_offset(),
        batch_sizes,
        tail: chain.into_tail(),
    })
}
