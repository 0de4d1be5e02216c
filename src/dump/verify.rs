//! `keel-dump verify`: every check a data directory can be put through, each problem named with
//! its file, byte position and offsets, and classified the way recovery would treat it.
//!
//! Checks: `meta.properties` and `quorum-state` decode; every segment's header; every batch's
//! CRC and framing; offsets contiguous within and across segments; epochs never decreasing;
//! each sparse index entry pointing at a batch start; every snapshot's header, batches, footer
//! and file CRC; the snapshot and the log together covering a contiguous range. The segment
//! scan and the torn-tail/corruption verdict are `storage::scan`'s, the code recovery runs.

use std::fmt;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use crate::constants::BATCH_BYTES_MAX;
use crate::storage::epochs::{EPOCH_CHECKPOINT_FILE, EpochHistory};
use crate::storage::meta_properties::{META_PROPERTIES_FILE, MetaProperties};
use crate::storage::quorum_state::{QUORUM_STATE_FILE, QuorumState};
use crate::storage::scan::{self, TailVerdict, check_segment_header};
use crate::storage::segment::{SEGMENT_HEADER_BYTES, index_file_name};
use crate::storage::snapshot::validate_snapshot;

use super::files::{Layout, read_segment, read_small, read_snapshot};

/// How recovery would treat a problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// An incomplete write after the last flushed batch: recovery cuts it (nothing acknowledged
    /// is lost).
    TornTail,
    /// Damage to data that may be committed: recovery refuses to start on it.
    Corruption,
    /// A file recovery rebuilds or rewrites from the log (an index, the epoch checkpoint).
    Rebuildable,
    /// A small state file that does not decode: the node refuses to start on it.
    BadFile,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::TornTail => "torn tail (recovery would cut it)",
            Kind::Corruption => "CORRUPTION (recovery would refuse to start)",
            Kind::Rebuildable => "stale or damaged (recovery would rebuild it)",
            Kind::BadFile => "bad file (the node would refuse to start)",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub kind: Kind,
    pub file: PathBuf,
    pub position: Option<u64>,
    /// The offset the problem starts at, when it concerns the log.
    pub offset: Option<u64>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.file.display())?;
        if let Some(position) = self.position {
            write!(f, " at byte {position}")?;
        }
        if let Some(offset) = self.offset {
            write!(f, " (offset {offset})")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// What verify looked at and found.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub segments: usize,
    pub batches: u64,
    pub records: u64,
    pub snapshots: usize,
    /// The offsets the log holds, `[start, end)`.
    pub log_range: Option<(u64, u64)>,
    pub problems: Vec<Problem>,
    /// Things worth saying that are not problems (a live node's batch in progress).
    pub notes: Vec<String>,
}

impl Report {
    fn problem(
        &mut self,
        kind: Kind,
        file: &Path,
        position: Option<u64>,
        offset: Option<u64>,
        message: impl Into<String>,
    ) {
        self.problems.push(Problem {
            kind,
            file: file.to_owned(),
            position,
            offset,
            message: message.into(),
        });
    }
}

/// True when a keel process holds the data directory's lock right now.
pub fn is_live(data_dir: &Path) -> bool {
    let Ok(file) = File::open(data_dir.join(".lock")) else {
        return false;
    };
    // SAFETY: a non-blocking shared flock on a descriptor we own, released when it closes.
    let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) };
    locked != 0
}

/// Verifies everything under `layout`.
pub fn verify(layout: &Layout) -> Report {
    let mut report = Report::default();
    let live = layout.data_dir.as_deref().is_some_and(is_live);
    if live {
        report.notes.push(
            "a keel process holds this directory: its newest batch may be in progress".into(),
        );
    }
    if let Some(data_dir) = &layout.data_dir {
        let path = data_dir.join(META_PROPERTIES_FILE);
        match read_small(&path)
            .map_err(|e| e.to_string())
            .and_then(|b| MetaProperties::decode(&b))
        {
            Ok(_) => {}
            Err(reason) => report.problem(Kind::BadFile, &path, None, None, reason),
        }
    }
    let quorum_state = layout.partition_dir.join(QUORUM_STATE_FILE);
    if quorum_state.exists()
        && let Err(reason) = read_small(&quorum_state)
            .map_err(|e| e.to_string())
            .and_then(|b| QuorumState::decode(&b))
    {
        report.problem(Kind::BadFile, &quorum_state, None, None, reason);
    }
    let epochs = verify_segments(layout, live, &mut report);
    let checkpoint = layout.partition_dir.join(EPOCH_CHECKPOINT_FILE);
    // After corruption the scan stopped early, so its epochs cannot judge the checkpoint.
    let log_intact = !report.problems.iter().any(|p| p.kind == Kind::Corruption);
    if log_intact && checkpoint.exists() {
        match read_small(&checkpoint)
            .map_err(|e| e.to_string())
            .and_then(|b| EpochHistory::decode(&b))
        {
            Ok(stored) if stored.entries() != epochs.entries() => report.problem(
                Kind::Rebuildable,
                &checkpoint,
                None,
                None,
                "does not match the epochs in the log",
            ),
            Ok(_) => {}
            Err(reason) => report.problem(Kind::Rebuildable, &checkpoint, None, None, reason),
        }
    }
    verify_snapshots(layout, &mut report);
    report
}

fn verify_segments(layout: &Layout, live: bool, report: &mut Report) -> EpochHistory {
    let mut epochs = EpochHistory::new();
    let mut expected_base: Option<u64> = None;
    let count = layout.segments.len();
    for (i, (base, path)) in layout.segments.iter().enumerate() {
        report.segments += 1;
        let is_last = i + 1 == count;
        let bytes = match read_segment(path) {
            Ok(bytes) => bytes,
            Err(e) => {
                report.problem(
                    Kind::Corruption,
                    path,
                    None,
                    Some(*base),
                    format!("cannot read: {e}"),
                );
                continue;
            }
        };
        if let Err(reason) = check_segment_header(&bytes, *base) {
            report.problem(Kind::Corruption, path, Some(0), Some(*base), reason);
            expected_base = None;
            continue;
        }
        if let Some(expected) = expected_base
            && expected != *base
        {
            report.problem(
                Kind::Corruption,
                path,
                Some(0),
                Some(expected),
                format!("starts at offset {base}, but the segment before it ends at {expected}"),
            );
        }
        let scan = match scan::scan_segment(
            &bytes[SEGMENT_HEADER_BYTES as usize..],
            *base,
            &mut epochs,
            BATCH_BYTES_MAX,
        ) {
            Ok(scan) => scan,
            Err(e) => {
                report.problem(Kind::Corruption, path, None, Some(*base), e.to_string());
                continue;
            }
        };
        report.batches += scan.batch_sizes.len() as u64;
        report.records += records_in(&bytes, &scan.batch_sizes);
        let mut corrupt = false;
        match scan::classify(scan.tail, is_last) {
            TailVerdict::Clean => {}
            TailVerdict::CutTornTail {
                position,
                nonzero_end,
                reason,
            } => {
                if live && is_last {
                    report.notes.push(format!(
                        "{}: the batch at byte {position} is incomplete ({reason}); the node is probably writing it",
                        path.display()
                    ));
                } else {
                    report.problem(
                        Kind::TornTail,
                        path,
                        Some(position),
                        Some(scan.next_offset),
                        format!(
                            "{} bytes up to {nonzero_end} are not a complete batch: {reason}",
                            nonzero_end - position
                        ),
                    );
                }
            }
            TailVerdict::Corruption { position, reason } => {
                report.problem(
                    Kind::Corruption,
                    path,
                    Some(position),
                    Some(scan.next_offset),
                    format!("{reason} (the rest of this segment is not checked)"),
                );
                corrupt = true;
            }
        }
        if report.log_range.is_none() {
            report.log_range = Some((*base, *base));
        }
        if let Some(range) = &mut report.log_range {
            range.1 = scan.next_offset;
        }
        if corrupt {
            // What follows the damage cannot be judged against it: no continuity or index
            // complaints that are only echoes of this one.
            expected_base = None;
            continue;
        }
        verify_index(path, *base, &scan.batch_sizes, report);
        expected_base = Some(scan.next_offset);
    }
    epochs
}

/// Records in the batches listed (from their headers; the scan already checked them).
fn records_in(bytes: &[u8], batch_sizes: &[(u64, u32)]) -> u64 {
    let mut position = SEGMENT_HEADER_BYTES as usize;
    let mut records = 0;
    for (_, size) in batch_sizes {
        if let Some(header) = crate::storage::batch::peek_header(&bytes[position..]) {
            records += u64::from(header.record_count);
        }
        position += *size as usize;
    }
    records
}

/// Every index entry must point at the start of a batch, in increasing order.
fn verify_index(segment: &Path, base: u64, batch_sizes: &[(u64, u32)], report: &mut Report) {
    let path = segment.with_file_name(index_file_name(base));
    let bytes = match read_small(&path) {
        Ok(bytes) => bytes,
        Err(_) if !path.exists() => {
            if !batch_sizes.is_empty() {
                report.problem(Kind::Rebuildable, &path, None, None, "missing");
            }
            return;
        }
        Err(e) => {
            report.problem(Kind::Rebuildable, &path, None, None, e.to_string());
            return;
        }
    };
    let mut starts = Vec::with_capacity(batch_sizes.len());
    let mut position = u64::from(SEGMENT_HEADER_BYTES);
    for (offset, size) in batch_sizes {
        starts.push((offset - base, position));
        position += u64::from(*size);
    }
    let mut previous: Option<(u64, u64)> = None;
    for (i, entry) in bytes.chunks_exact(8).enumerate() {
        let relative = u64::from(u32::from_be_bytes(entry[..4].try_into().expect("4 bytes")));
        let position = u64::from(u32::from_be_bytes(entry[4..].try_into().expect("4 bytes")));
        if relative == 0 && position == 0 {
            break;
        }
        let at = (i * 8) as u64;
        if previous.is_some_and(|(r, p)| relative <= r || position <= p) {
            report.problem(
                Kind::Rebuildable,
                &path,
                Some(at),
                Some(base + relative),
                "entries do not increase",
            );
            return;
        }
        if starts.binary_search(&(relative, position)).is_err() {
            report.problem(
                Kind::Rebuildable,
                &path,
                Some(at),
                Some(base + relative),
                format!("entry points at byte {position}, where no batch starts"),
            );
            return;
        }
        previous = Some((relative, position));
    }
}

fn verify_snapshots(layout: &Layout, report: &mut Report) {
    let mut newest_valid = None;
    for (id, path) in &layout.snapshots {
        report.snapshots += 1;
        match read_snapshot(path)
            .map_err(|e| e.to_string())
            .and_then(|bytes| validate_snapshot(&bytes, *id))
        {
            Ok(_) => newest_valid = Some(*id),
            Err(reason) => {
                report.problem(Kind::Corruption, path, None, Some(id.end_offset), reason)
            }
        }
    }
    if let Some((start, _)) = report.log_range
        && start > 0
        && newest_valid.is_none_or(|id| id.end_offset < start)
    {
        report.problem(
            Kind::Corruption,
            &layout.partition_dir,
            None,
            Some(start),
            format!(
                "the log starts at offset {start} but no valid snapshot covers the offsets before it{}",
                newest_valid.map_or(String::new(), |id| format!(" (the newest ends at {})", id.end_offset))
            ),
        );
    }
}
