//! `keel-dump log`: one line per batch (or one JSON object per line), segment by segment, and
//! with `records` one line (object) per record under its batch.
//!
//! A batch that does not decode is shown where it is, with what its header claims if the
//! header is readable, and the listing continues at the next valid batch (for a corrupt
//! middle) or stops (for an incomplete tail, which a live node may still be writing).
//! Segments are streamed through one bounded buffer, so a listing of any size runs in constant
//! memory.

use std::fs::File;
use std::io::{self, Write};

use crate::storage::batch::{BatchHeader, BatchRef, ScanItem};
use crate::storage::segment::SEGMENT_HEADER_BYTES;

use super::files::{Layout, open};
use super::records::{self, Decoded, TopicNames};
use super::snapshot::SnapshotFile;
use super::stream::{ReadConfig, Source};
use super::text::timestamp;
use crate::json_escape::json_string;

/// What to list.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogOptions {
    /// Only batches that contain an offset at or after this.
    pub from_offset: Option<u64>,
    /// Only batches that contain an offset at or before this.
    pub to_offset: Option<u64>,
    pub json: bool,
    /// Decode and show every record of the batches listed.
    pub records: bool,
    pub read: ReadConfig,
}

/// Totals of a listing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Listed {
    pub batches: u64,
    pub records: u64,
    pub bad: u64,
    /// Records that did not decode (only counted with `records`).
    pub unreadable_records: u64,
}

fn wanted(options: &LogOptions, base: u64, last: u64) -> bool {
    options.from_offset.is_none_or(|from| last >= from)
        && options.to_offset.is_none_or(|to| base <= to)
}

/// Learns topic names from the newest valid snapshot, so that a log whose start was deleted
/// behind a snapshot still names the topics of its partition records.
fn names_from_snapshot(layout: &Layout, names: &mut TopicNames) -> io::Result<()> {
    for (id, path) in layout.snapshots.iter().rev() {
        let Ok(snapshot) = SnapshotFile::open(path, *id)? else {
            continue;
        };
        let mut scanner = snapshot.batches();
        while let Some(item) = scanner.next_item()? {
            if let ScanItem::Batch { batch, .. } = item {
                for record in batch.records() {
                    names.learn_from_bytes(batch.header.is_control(), record);
                }
            }
        }
        return Ok(());
    }
    Ok(())
}

/// Lists every batch of every segment of `layout`.
pub fn list(layout: &Layout, options: &LogOptions, out: &mut dyn Write) -> io::Result<Listed> {
    let mut listed = Listed::default();
    let mut names = TopicNames::default();
    if options.records {
        names_from_snapshot(layout, &mut names)?;
    }
    for (i, (base_offset, path)) in layout.segments.iter().enumerate() {
        if let Some(to) = options.to_offset
            && *base_offset > to
        {
            break;
        }
        // A segment that ends before `from` (the next one starts at or before it) holds
        // nothing to list; with records its TopicRecords still name later partitions.
        let before_range = options.from_offset.is_some_and(|from| {
            layout
                .segments
                .get(i + 1)
                .is_some_and(|(next_base, _)| *next_base <= from)
        });
        if before_range && !options.records {
            continue;
        }
        let file = open(path)?;
        let mut lister = Lister {
            file: path.display().to_string(),
            options,
            out: &mut *out,
            listed: &mut listed,
            names: &mut names,
            lines: String::new(),
        };
        lister.segment(&file)?;
    }
    Ok(listed)
}

struct Lister<'a> {
    file: String,
    options: &'a LogOptions,
    out: &'a mut dyn Write,
    listed: &'a mut Listed,
    names: &'a mut TopicNames,
    lines: String,
}

impl Lister<'_> {
    fn segment(&mut self, file: &File) -> io::Result<()> {
        let header = u64::from(SEGMENT_HEADER_BYTES);
        if Source::size(file)? < header {
            return self.note(0, "segment is shorter than its header");
        }
        let mut scanner = self.options.read.scanner(file, header, None);
        while let Some(item) = scanner.next_item()? {
            match item {
                ScanItem::Batch { position, batch } => {
                    self.batch(header + position as u64, &batch)?;
                }
                ScanItem::CleanEnd { .. } => {}
                ScanItem::TornTail {
                    position, error, ..
                } => {
                    self.listed.bad += 1;
                    let claimed = scanner.peek_header_at(position as u64)?;
                    let position = header + position as u64;
                    self.bad_batch(claimed, position)?;
                    let message = format!(
                        "stopped at byte {position}: an incomplete batch ({error}) with nothing valid after it; \
                         a live node may still be writing it, and recovery would cut it"
                    );
                    self.note(position, &message)?;
                }
                ScanItem::Corrupt {
                    position,
                    error,
                    next_valid_position,
                } => {
                    self.listed.bad += 1;
                    let claimed = scanner.peek_header_at(position as u64)?;
                    let position = header + position as u64;
                    self.bad_batch(claimed, position)?;
                    let next = header + next_valid_position as u64;
                    let message = format!(
                        "{error}; a valid batch follows at byte {next}: this is corruption, not a torn write"
                    );
                    self.note(position, &message)?;
                    scanner.resume_at(next_valid_position as u64);
                }
            }
        }
        Ok(())
    }

    fn batch(&mut self, position: u64, batch: &BatchRef<'_>) -> io::Result<()> {
        let h = batch.header;
        let options = self.options;
        if !wanted(options, h.base_offset, h.last_offset()) {
            if options.records {
                for record in batch.records() {
                    self.names.learn_from_bytes(h.is_control(), record);
                }
            }
            return Ok(());
        }
        self.listed.batches += 1;
        self.listed.records += u64::from(h.record_count);
        if options.json {
            writeln!(
                self.out,
                "{{\"type\":\"batch\",\"file\":{},\"base_offset\":{},\"last_offset\":{},\"epoch\":{},\"records\":{},\"position\":{position},\"bytes\":{},\"first_timestamp_ms\":{},\"max_timestamp_ms\":{},\"control\":{},\"crc\":\"ok\"}}",
                json_string(&self.file),
                h.base_offset,
                h.last_offset(),
                h.leader_epoch,
                h.record_count,
                h.batch_bytes,
                h.first_timestamp_ms,
                h.max_timestamp_ms,
                h.is_control()
            )?;
        } else {
            writeln!(
                self.out,
                "offsets {}..{} epoch {} records {} position {position} bytes {} first {} max {} {} crc ok",
                h.base_offset,
                h.last_offset(),
                h.leader_epoch,
                h.record_count,
                h.batch_bytes,
                timestamp(h.first_timestamp_ms),
                timestamp(h.max_timestamp_ms),
                if h.is_control() { "control" } else { "data" }
            )?;
        }
        if options.records {
            // One buffer for the batch's lines: a listing formats millions of records.
            let mut lines = std::mem::take(&mut self.lines);
            lines.clear();
            for (offset, record) in (h.base_offset..).zip(batch.records()) {
                let decoded = records::decode(h.is_control(), record);
                match &decoded {
                    Ok(Decoded::Metadata(record, _)) => self.names.learn(record),
                    Ok(Decoded::Control(..)) => {}
                    Err(_) => self.listed.unreadable_records += 1,
                }
                if options.json {
                    records::write_record_json(&mut lines, offset, &decoded, self.names);
                } else {
                    records::write_record_line(&mut lines, offset, &decoded, self.names);
                }
            }
            let written = self.out.write_all(lines.as_bytes());
            self.lines = lines;
            written?;
        }
        Ok(())
    }

    /// Shows what a batch that failed to decode claims to be, if its header is readable.
    fn bad_batch(&mut self, claimed: Option<BatchHeader>, position: u64) -> io::Result<()> {
        let Some(h) = claimed else {
            return Ok(());
        };
        let last = h
            .base_offset
            .saturating_add(u64::from(h.record_count.max(1)) - 1);
        if self.options.json {
            writeln!(
                self.out,
                "{{\"type\":\"batch\",\"file\":{},\"base_offset\":{},\"last_offset\":{last},\"epoch\":{},\"records\":{},\"position\":{position},\"bytes\":{},\"control\":{},\"crc\":\"BAD\"}}",
                json_string(&self.file),
                h.base_offset,
                h.leader_epoch,
                h.record_count,
                h.batch_bytes,
                h.is_control()
            )
        } else {
            writeln!(
                self.out,
                "offsets {}..{last} epoch {} records {} position {position} bytes {} crc BAD (header as claimed, not trusted)",
                h.base_offset, h.leader_epoch, h.record_count, h.batch_bytes
            )
        }
    }

    fn note(&mut self, position: u64, message: &str) -> io::Result<()> {
        if self.options.json {
            writeln!(
                self.out,
                "{{\"type\":\"note\",\"file\":{},\"position\":{position},\"message\":{}}}",
                json_string(&self.file),
                json_string(message)
            )
        } else {
            writeln!(self.out, "{}: {message}", self.file)
        }
    }
}
