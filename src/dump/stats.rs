//! `keel-dump stats`: what a log holds, in numbers: batches and records, records and bytes by
//! record type, bytes, epochs and the offsets they cover, the time span, the largest batches.
//! Segments are streamed through one bounded buffer; every table here is bounded too (record
//! types by the type space, epochs by `EPOCH_HISTORY_ENTRIES_MAX`).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;

use crate::constants::EPOCH_HISTORY_ENTRIES_MAX;
use crate::storage::batch::{BatchRef, ScanItem};
use crate::storage::segment::SEGMENT_HEADER_BYTES;

use super::files::{Layout, open};
use super::records;
use super::stream::{ReadConfig, Source};
use super::text::timestamp;

/// How many of the largest batches to list.
const LARGEST_BATCHES_SHOWN: usize = 5;

#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub batches: u64,
    pub control_batches: u64,
    pub records: u64,
    pub batch_bytes: u64,
    /// Epoch -> (first offset, last offset, batches).
    pub epochs: BTreeMap<u32, (u64, u64, u64)>,
    /// Batches of epochs beyond the bound of `epochs`.
    pub epochs_not_listed: u64,
    pub first_timestamp_ms: Option<i64>,
    pub last_timestamp_ms: Option<i64>,
    /// (bytes, base offset, records), largest first.
    pub largest: Vec<(u32, u64, u32)>,
    /// Record type name -> (records, bytes of the records themselves).
    pub record_types: BTreeMap<Cow<'static, str>, (u64, u64)>,
    /// Segments whose scan stopped before their end (see `verify` for why).
    pub incomplete_segments: Vec<String>,
}

pub fn collect(layout: &Layout) -> io::Result<Stats> {
    collect_with(layout, ReadConfig::default())
}

pub fn collect_with(layout: &Layout, read: ReadConfig) -> io::Result<Stats> {
    let mut stats = Stats::default();
    let header = u64::from(SEGMENT_HEADER_BYTES);
    for (_, path) in &layout.segments {
        let file = open(path)?;
        if Source::size(&file)? < header {
            stats.incomplete_segments.push(path.display().to_string());
            continue;
        }
        let mut scanner = read.scanner(&file, header, None);
        while let Some(item) = scanner.next_item()? {
            match item {
                ScanItem::Batch { batch, .. } => add(&mut stats, &batch),
                ScanItem::CleanEnd { .. } => {}
                ScanItem::TornTail { .. } | ScanItem::Corrupt { .. } => {
                    stats.incomplete_segments.push(path.display().to_string());
                }
            }
        }
    }
    Ok(stats)
}

fn add(stats: &mut Stats, batch: &BatchRef<'_>) {
    let h = batch.header;
    stats.batches += 1;
    stats.control_batches += u64::from(h.is_control());
    stats.records += u64::from(h.record_count);
    stats.batch_bytes += u64::from(h.batch_bytes);
    if stats.epochs.len() < EPOCH_HISTORY_ENTRIES_MAX as usize
        || stats.epochs.contains_key(&h.leader_epoch)
    {
        let entry =
            stats
                .epochs
                .entry(h.leader_epoch)
                .or_insert((h.base_offset, h.last_offset(), 0));
        entry.1 = h.last_offset();
        entry.2 += 1;
    } else {
        stats.epochs_not_listed += 1;
    }
    stats.first_timestamp_ms = Some(
        stats
            .first_timestamp_ms
            .map_or(h.first_timestamp_ms, |t| t.min(h.first_timestamp_ms)),
    );
    stats.last_timestamp_ms = Some(
        stats
            .last_timestamp_ms
            .map_or(h.max_timestamp_ms, |t| t.max(h.max_timestamp_ms)),
    );
    stats
        .largest
        .push((h.batch_bytes, h.base_offset, h.record_count));
    stats.largest.sort_unstable_by(|a, b| b.cmp(a));
    stats.largest.truncate(LARGEST_BATCHES_SHOWN);
    for record in batch.records() {
        let kind = match records::decoded_name(h.is_control(), record) {
            Ok(name) => Cow::Borrowed(name),
            Err(_) => Cow::Owned(records::unreadable_kind(h.is_control(), record)),
        };
        let entry = stats.record_types.entry(kind).or_insert((0, 0));
        entry.0 += 1;
        entry.1 += record.len() as u64;
    }
}

impl Stats {
    pub fn text(&self) -> String {
        let mut out = String::new();
        writeln!(
            out,
            "batches: {} ({} control)",
            self.batches, self.control_batches
        )
        .unwrap();
        writeln!(out, "records: {}", self.records).unwrap();
        writeln!(out, "bytes of batches: {}", self.batch_bytes).unwrap();
        if let (Some(first), Some(last)) = (self.first_timestamp_ms, self.last_timestamp_ms) {
            writeln!(
                out,
                "time span: {} .. {} ({} s)",
                timestamp(first),
                timestamp(last),
                (last - first) / 1000
            )
            .unwrap();
        }
        if !self.record_types.is_empty() {
            writeln!(
                out,
                "records by type (records, bytes of the records themselves):"
            )
            .unwrap();
            for (name, (count, bytes)) in &self.record_types {
                writeln!(out, "  {name}: {count} records, {bytes} bytes").unwrap();
            }
        }
        writeln!(out, "epochs:").unwrap();
        for (epoch, (first, last, batches)) in &self.epochs {
            writeln!(
                out,
                "  epoch {epoch}: offsets {first}..{last} in {batches} batch(es)"
            )
            .unwrap();
        }
        if self.epochs_not_listed > 0 {
            writeln!(
                out,
                "  ({} more batch(es) of epochs beyond the {EPOCH_HISTORY_ENTRIES_MAX} listed)",
                self.epochs_not_listed
            )
            .unwrap();
        }
        writeln!(out, "largest batches:").unwrap();
        for (bytes, base, records) in &self.largest {
            writeln!(out, "  {bytes} bytes at offset {base} ({records} records)").unwrap();
        }
        for segment in &self.incomplete_segments {
            writeln!(
                out,
                "note: {segment} ends in bytes that are not a valid batch; run `keel-dump verify`"
            )
            .unwrap();
        }
        out
    }
}
