//! `keel-dump log`: one line per batch (or one JSON object per line), segment by segment.
//!
//! A batch that does not decode is shown where it is, with what its header claims if the
//! header is readable, and the listing continues at the next valid batch (for a corrupt
//! middle) or stops (for an incomplete tail, which a live node may still be writing).

use std::io::{self, Write};
use std::path::Path;

use crate::constants::BATCH_BYTES_MAX;
use crate::storage::batch::{BatchRef, ScanItem, Scanner, peek_header};
use crate::storage::segment::SEGMENT_HEADER_BYTES;

use super::files::{Layout, read_segment};
use super::text::{json_string, timestamp};

/// What to list.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogOptions {
    /// Only batches that contain an offset at or after this.
    pub from_offset: Option<u64>,
    /// Only batches that contain an offset at or before this.
    pub to_offset: Option<u64>,
    pub json: bool,
}

/// A hook that prints the records of a batch (the metadata decoder plugs in here).
pub type RecordPrinter<'a> =
    &'a mut dyn FnMut(&mut dyn Write, &BatchRef<'_>, bool) -> io::Result<()>;

/// Totals of a listing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Listed {
    pub batches: u64,
    pub records: u64,
    pub bad: u64,
}

fn wanted(options: &LogOptions, base: u64, last: u64) -> bool {
    options.from_offset.is_none_or(|from| last >= from)
        && options.to_offset.is_none_or(|to| base <= to)
}

/// Lists every batch of every segment of `layout`.
pub fn list(
    layout: &Layout,
    options: &LogOptions,
    out: &mut dyn Write,
    mut records: Option<RecordPrinter<'_>>,
) -> io::Result<Listed> {
    let mut listed = Listed::default();
    for (base_offset, path) in &layout.segments {
        if let Some(to) = options.to_offset
            && *base_offset > to
        {
            break;
        }
        let bytes = read_segment(path)?;
        list_segment(path, &bytes, options, out, &mut listed, &mut records)?;
    }
    Ok(listed)
}

fn list_segment(
    path: &Path,
    bytes: &[u8],
    options: &LogOptions,
    out: &mut dyn Write,
    listed: &mut Listed,
    records: &mut Option<RecordPrinter<'_>>,
) -> io::Result<()> {
    let file = path.display().to_string();
    let header = SEGMENT_HEADER_BYTES as usize;
    if bytes.len() < header {
        return note(out, options, &file, 0, "segment is shorter than its header");
    }
    let mut start = header;
    loop {
        let mut resume = None;
        for item in Scanner::new(&bytes[start..], BATCH_BYTES_MAX) {
            match item {
                ScanItem::Batch { position, batch } => {
                    let h = batch.header;
                    if !wanted(options, h.base_offset, h.last_offset()) {
                        continue;
                    }
                    listed.batches += 1;
                    listed.records += u64::from(h.record_count);
                    let position = (start + position) as u64;
                    if options.json {
                        writeln!(
                            out,
                            "{{\"type\":\"batch\",\"file\":{},\"base_offset\":{},\"last_offset\":{},\"epoch\":{},\"records\":{},\"position\":{position},\"bytes\":{},\"first_timestamp_ms\":{},\"max_timestamp_ms\":{},\"control\":{},\"crc\":\"ok\"}}",
                            json_string(&file),
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
                            out,
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
                    if let Some(print) = records.as_mut() {
                        print(out, &batch, options.json)?;
                    }
                }
                ScanItem::CleanEnd { .. } => {}
                ScanItem::TornTail {
                    position, error, ..
                } => {
                    let position = start + position;
                    listed.bad += 1;
                    bad_batch(out, options, &file, &bytes[position..], position)?;
                    let message = format!(
                        "stopped at byte {position}: an incomplete batch ({error}) with nothing valid after it; \
                         a live node may still be writing it, and recovery would cut it"
                    );
                    note(out, options, &file, position as u64, &message)?;
                }
                ScanItem::Corrupt {
                    position,
                    error,
                    next_valid_position,
                } => {
                    let position = start + position;
                    listed.bad += 1;
                    bad_batch(out, options, &file, &bytes[position..], position)?;
                    let next = start + next_valid_position;
                    let message = format!(
                        "{error}; a valid batch follows at byte {next}: this is corruption, not a torn write"
                    );
                    note(out, options, &file, position as u64, &message)?;
                    resume = Some(next);
                }
            }
        }
        match resume {
            Some(next) => start = next,
            None => return Ok(()),
        }
    }
}

/// Shows what a batch that failed to decode claims to be, if its header is readable.
fn bad_batch(
    out: &mut dyn Write,
    options: &LogOptions,
    file: &str,
    bytes: &[u8],
    position: usize,
) -> io::Result<()> {
    let Some(h) = peek_header(bytes) else {
        return Ok(());
    };
    if options.json {
        writeln!(
            out,
            "{{\"type\":\"batch\",\"file\":{},\"base_offset\":{},\"last_offset\":{},\"epoch\":{},\"records\":{},\"position\":{position},\"bytes\":{},\"control\":{},\"crc\":\"BAD\"}}",
            json_string(file),
            h.base_offset,
            h.base_offset
                .saturating_add(u64::from(h.record_count.max(1)) - 1),
            h.leader_epoch,
            h.record_count,
            h.batch_bytes,
            h.is_control()
        )
    } else {
        writeln!(
            out,
            "offsets {}..{} epoch {} records {} position {position} bytes {} crc BAD (header as claimed, not trusted)",
            h.base_offset,
            h.base_offset
                .saturating_add(u64::from(h.record_count.max(1)) - 1),
            h.leader_epoch,
            h.record_count,
            h.batch_bytes
        )
    }
}

fn note(
    out: &mut dyn Write,
    options: &LogOptions,
    file: &str,
    position: u64,
    message: &str,
) -> io::Result<()> {
    if options.json {
        writeln!(
            out,
            "{{\"type\":\"note\",\"file\":{},\"position\":{position},\"message\":{}}}",
            json_string(file),
            json_string(message)
        )
    } else {
        writeln!(out, "{file}: {message}")
    }
}
