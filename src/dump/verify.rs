//! `keel-dump verify`: every check a data directory can be put through, each problem named with
//! its file, byte position and offsets, and classified the way recovery would treat it.
//!
//! Checks: `meta.properties` and `quorum-state` decode; every segment's header; every batch's
//! CRC and framing; offsets contiguous within and across segments; epochs never decreasing;
//! each sparse index entry pointing at a batch start; every snapshot's header, batches, footer
//! and file CRC; the snapshot and the log together covering a contiguous range; every record
//! of every valid batch decoding as a node would decode it. The per-batch rules and the
//! torn-tail/corruption verdict are `storage::scan`'s, the code recovery runs; segments and
//! snapshots are streamed through one bounded buffer (`stream`), so verifying a directory of
//! any size takes constant memory.

use std::fmt;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use byteorder::{BigEndian, ByteOrder};

use crate::constants::{DUMP_RECORD_PROBLEMS_MAX, SEGMENT_BYTES_MAX};
use crate::storage::batch::ScanItem;
use crate::storage::epochs::{EPOCH_CHECKPOINT_FILE, EpochHistory};
use crate::storage::meta_properties::{META_PROPERTIES_FILE, MetaProperties};
use crate::storage::quorum_state::{QUORUM_STATE_FILE, QuorumState};
use crate::storage::scan::{self, SegmentChain, TailVerdict, check_segment_header};
use crate::storage::segment::{SEGMENT_HEADER_BYTES, index_file_name};

use super::files::{Layout, open, read_small};
use super::records;
use super::snapshot::SnapshotFile;
use super::stream::{ReadConfig, Source};

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
    /// A record of a valid batch that keel cannot decode (unknown type or version, a body that
    /// does not match its schema): a node stops applying the log there rather than diverge.
    UnreadableRecord,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::TornTail => "torn tail (recovery would cut it)",
            Kind::Corruption => "CORRUPTION (recovery would refuse to start)",
            Kind::Rebuildable => "stale or damaged (recovery would rebuild it)",
            Kind::BadFile => "bad file (the node would refuse to start)",
            Kind::UnreadableRecord => "UNREADABLE RECORD (a node would stop applying the log here)",
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
    verify_with(layout, ReadConfig::default())
}

/// [`verify`] with reads sized by `read`.
pub fn verify_with(layout: &Layout, read: ReadConfig) -> Report {
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
    let mut unreadable = UnreadableRecords::default();
    let epochs = verify_segments(layout, live, read, &mut unreadable, &mut report);
    let checkpoint = layout.partition_dir.join(EPOCH_CHECKPOINT_FILE);
    // After corruption the scan stopped early, so its epochs cannot judge the checkpoint.
    let log_intact = !report.problems.iter().any(|p| p.kind == Kind::Corruption);
    if log_intact && checkpoint.exists() {
        match read_small(&checkpoint)
            .map_err(|e| e.to_string())
            .and_then(|b| EpochHistory::decode(&b))
        {
            Ok(stored) if !epochs.matches_checkpoint(&stored) => report.problem(
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
    verify_snapshots(layout, &mut unreadable, &mut report);
    unreadable.finish(&mut report);
    report
}

fn verify_segments(
    layout: &Layout,
    live: bool,
    read: ReadConfig,
    unreadable: &mut UnreadableRecords,
    report: &mut Report,
) -> EpochHistory {
    let mut epochs = EpochHistory::new();
    let mut expected_base: Option<u64> = None;
    let count = layout.segments.len();
    for (i, (base, path)) in layout.segments.iter().enumerate() {
        report.segments += 1;
        let is_last = i + 1 == count;
        let cannot_read = |report: &mut Report, e: &dyn fmt::Display| {
            report.problem(
                Kind::Corruption,
                path,
                None,
                Some(*base),
                format!("cannot read: {e}"),
            )
        };
        let file = match open(path) {
            Ok(file) => file,
            Err(e) => {
                cannot_read(report, &e);
                continue;
            }
        };
        match Source::size(&file) {
            Ok(len) if len > u64::from(SEGMENT_BYTES_MAX) => {
                let e = format!(
                    "{len} bytes, above the {SEGMENT_BYTES_MAX} keel ever writes in a segment"
                );
                cannot_read(report, &e);
                continue;
            }
            Ok(_) => {}
            Err(e) => {
                cannot_read(report, &e);
                continue;
            }
        }
        let header = match segment_header(&file) {
            Ok(header) => header,
            Err(e) => {
                cannot_read(report, &e);
                continue;
            }
        };
        if let Err(reason) = check_segment_header(&header, *base) {
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
        let mut index = IndexCheck::load(path, *base);
        let mut chain = SegmentChain::new(*base);
        let mut scanner = read.scanner(&file, u64::from(SEGMENT_HEADER_BYTES), None);
        let mut batches = 0u64;
        let mut records = 0u64;
        let mut failed = false;
        loop {
            let item = match scanner.next_item() {
                Ok(Some(item)) => item,
                Ok(None) => break,
                Err(e) => {
                    cannot_read(report, &e);
                    failed = true;
                    break;
                }
            };
            match chain.take(&item, &mut epochs) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    report.problem(Kind::Corruption, path, None, Some(*base), e.to_string());
                    failed = true;
                    break;
                }
            }
            if let ScanItem::Batch { position, batch } = item {
                let h = batch.header;
                let position = u64::from(SEGMENT_HEADER_BYTES) + position as u64;
                batches += 1;
                records += u64::from(h.record_count);
                index.batch(h.base_offset - base, position);
                for (offset, record) in (h.base_offset..).zip(batch.records()) {
                    if let Err(error) = records::decoded_name(h.is_control(), record) {
                        unreadable.add(report, path, position, Some(offset), &error);
                    }
                }
            }
        }
        if failed {
            continue;
        }
        report.batches += batches;
        report.records += records;
        let next_offset = chain.next_offset();
        let mut corrupt = false;
        match scan::classify(chain.into_tail(), is_last) {
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
                        Some(next_offset),
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
                    Some(next_offset),
                    format!("{reason} (the rest of this segment is not checked)"),
                );
                corrupt = true;
            }
        }
        if report.log_range.is_none() {
            report.log_range = Some((*base, *base));
        }
        if let Some(range) = &mut report.log_range {
            range.1 = next_offset;
        }
        if corrupt {
            // What follows the damage cannot be judged against it: no continuity or index
            // complaints that are only echoes of this one.
            expected_base = None;
            continue;
        }
        index.finish(batches, report);
        expected_base = Some(next_offset);
    }
    epochs
}

/// The segment header's bytes (fewer when the file is shorter).
fn segment_header(file: &File) -> std::io::Result<Vec<u8>> {
    let mut header = vec![0u8; SEGMENT_HEADER_BYTES as usize];
    let mut done = 0;
    while done < header.len() {
        let read = Source::read_at(file, &mut header[done..], done as u64)?;
        if read == 0 {
            break;
        }
        done += read;
    }
    header.truncate(done);
    Ok(header)
}

/// Records no node could apply, listed up to `DUMP_RECORD_PROBLEMS_MAX`, then counted.
#[derive(Default)]
struct UnreadableRecords {
    listed: usize,
    unlisted: u64,
}

impl UnreadableRecords {
    fn add(
        &mut self,
        report: &mut Report,
        path: &Path,
        batch_position: u64,
        offset: Option<u64>,
        error: &dyn fmt::Display,
    ) {
        if self.listed < DUMP_RECORD_PROBLEMS_MAX {
            self.listed += 1;
            report.problem(
                Kind::UnreadableRecord,
                path,
                Some(batch_position),
                offset,
                format!("{error} (in the batch at this position)"),
            );
        } else {
            self.unlisted += 1;
        }
    }

    fn finish(self, report: &mut Report) {
        if self.unlisted > 0 {
            report.problems.push(Problem {
                kind: Kind::UnreadableRecord,
                file: PathBuf::new(),
                position: None,
                offset: None,
                message: format!(
                    "{} more unreadable record(s), not listed (the first {DUMP_RECORD_PROBLEMS_MAX} are)",
                    self.unlisted
                ),
            });
        }
    }
}

/// Checks a sparse index against the batches of its segment as they stream by: every entry
/// must point at the start of a batch, in increasing order. The entries are in memory (an
/// index is at most `SEGMENT_BYTES_MAX / INDEX_INTERVAL_BYTES` entries, read under
/// `read_small`'s bound); the batches are not.
struct IndexCheck {
    path: PathBuf,
    base: u64,
    /// The index file as read, or why it could not be.
    loaded: Result<Vec<(u64, u64)>, Option<String>>,
    next: usize,
    previous: Option<(u64, u64)>,
    problem: Option<(u64, u64, String)>,
}

impl IndexCheck {
    fn load(segment: &Path, base: u64) -> IndexCheck {
        let path = segment.with_file_name(index_file_name(base));
        let loaded = match read_small(&path) {
            Ok(bytes) => {
                let mut entries = Vec::new();
                for entry in bytes.chunks_exact(8) {
                    let relative = u64::from(BigEndian::read_u32(&entry[..4]));
                    let position = u64::from(BigEndian::read_u32(&entry[4..]));
                    if relative == 0 && position == 0 {
                        break;
                    }
                    entries.push((relative, position));
                }
                Ok(entries)
            }
            Err(_) if !path.exists() => Err(None),
            Err(e) => Err(Some(e.to_string())),
        };
        IndexCheck {
            path,
            base,
            loaded,
            next: 0,
            previous: None,
            problem: None,
        }
    }

    /// Judges the entries up to the batch at (`relative` offset, file `position`); batches
    /// come in increasing order.
    fn batch(&mut self, relative: u64, position: u64) {
        self.judge(Some((relative, position)));
    }

    fn judge(&mut self, batch: Option<(u64, u64)>) {
        let Ok(entries) = &self.loaded else {
            return;
        };
        while self.problem.is_none() && self.next < entries.len() {
            let entry = entries[self.next];
            let at = (self.next * 8) as u64;
            if self
                .previous
                .is_some_and(|(r, p)| entry.0 <= r || entry.1 <= p)
            {
                self.problem = Some((at, entry.0, "entries do not increase".into()));
                return;
            }
            match batch {
                Some(start) if entry > start => return,
                Some(start) if entry == start => {
                    self.previous = Some(entry);
                    self.next += 1;
                }
                _ => {
                    // Batches start in increasing order, so an entry behind the current batch
                    // (or left after the last one) matched none of them.
                    self.problem = Some((
                        at,
                        entry.0,
                        format!("entry points at byte {}, where no batch starts", entry.1),
                    ));
                    return;
                }
            }
        }
    }

    fn finish(mut self, batches: u64, report: &mut Report) {
        self.judge(None);
        match &self.loaded {
            Err(None) if batches > 0 => {
                report.problem(Kind::Rebuildable, &self.path, None, None, "missing");
            }
            Err(None) => {}
            Err(Some(reason)) => {
                report.problem(Kind::Rebuildable, &self.path, None, None, reason.clone());
            }
            Ok(_) => {}
        }
        if let Some((at, relative, message)) = self.problem {
            report.problem(
                Kind::Rebuildable,
                &self.path,
                Some(at),
                Some(self.base + relative),
                message,
            );
        }
    }
}

/// Every record of a valid snapshot must decode: a node loading it would stop at one that does
/// not. Records are named by their index in the snapshot.
fn snapshot_records(
    snapshot: &SnapshotFile,
    path: &Path,
    unreadable: &mut UnreadableRecords,
    report: &mut Report,
) -> std::io::Result<()> {
    let mut scanner = snapshot.batches();
    while let Some(item) = scanner.next_item()? {
        let ScanItem::Batch { position, batch } = item else {
            continue;
        };
        let h = batch.header;
        for (index, record) in (h.base_offset..).zip(batch.records()) {
            if let Err(error) = records::decoded_name(h.is_control(), record) {
                let message = format!("snapshot record {index}: {error}");
                let position = snapshot.body.start + position as u64;
                unreadable.add(report, path, position, None, &message);
            }
        }
    }
    Ok(())
}

fn verify_snapshots(layout: &Layout, unreadable: &mut UnreadableRecords, report: &mut Report) {
    let mut newest_valid = None;
    for (id, path) in &layout.snapshots {
        report.snapshots += 1;
        match SnapshotFile::open(path, *id) {
            Ok(Ok(snapshot)) => {
                newest_valid = Some(*id);
                if let Err(e) = snapshot_records(&snapshot, path, unreadable, report) {
                    report.problem(
                        Kind::Corruption,
                        path,
                        None,
                        Some(id.end_offset),
                        format!("cannot read: {e}"),
                    );
                }
            }
            Ok(Err(reason)) => {
                report.problem(Kind::Corruption, path, None, Some(id.end_offset), reason)
            }
            Err(e) => report.problem(
                Kind::Corruption,
                path,
                None,
                Some(id.end_offset),
                e.to_string(),
            ),
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
