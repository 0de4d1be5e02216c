//! `keel-dump stats`: what a log holds, in numbers: batches and records (by record type when a
//! classifier is given), bytes, epochs and the offsets they cover, the time span, the largest
//! batches.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;

use crate::constants::BATCH_BYTES_MAX;
use crate::storage::batch::{BatchRef, ScanItem, Scanner};
use crate::storage::segment::SEGMENT_HEADER_BYTES;

use super::files::{Layout, read_segment};
use super::text::timestamp;

/// Names the type of each record of a batch (the metadata decoder plugs in here).
pub type Classifier<'a> = &'a dyn Fn(&BatchRef<'_>) -> Vec<String>;

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
    pub first_timestamp_ms: Option<i64>,
    pub last_timestamp_ms: Option<i64>,
    /// (bytes, base offset, records), largest first.
    pub largest: Vec<(u32, u64, u32)>,
    pub record_types: BTreeMap<String, u64>,
    /// Segments whose scan stopped before their end (see `verify` for why).
    pub incomplete_segments: Vec<String>,
}

pub fn collect(layout: &Layout, classify: Option<Classifier<'_>>) -> io::Result<Stats> {
    let mut stats = Stats::default();
    for (_, path) in &layout.segments {
        let bytes = read_segment(path)?;
        let Some(batches) = bytes.get(SEGMENT_HEADER_BYTES as usize..) else {
            stats.incomplete_segments.push(path.display().to_string());
            continue;
        };
        for item in Scanner::new(batches, BATCH_BYTES_MAX) {
            match item {
                ScanItem::Batch { batch, .. } => add(&mut stats, &batch, classify),
                ScanItem::CleanEnd { .. } => {}
                ScanItem::TornTail { .. } | ScanItem::Corrupt { .. } => {
                    stats.incomplete_segments.push(path.display().to_string());
                }
            }
        }
    }
    Ok(stats)
}

fn add(stats: &mut Stats, batch: &BatchRef<'_>, classify: Option<Classifier<'_>>) {
    let h = batch.header;
    stats.batches += 1;
    stats.control_batches += u64::from(h.is_control());
    stats.records += u64::from(h.record_count);
    stats.batch_bytes += u64::from(h.batch_bytes);
    let entry = stats
        .epochs
        .entry(h.leader_epoch)
        .or_insert((h.base_offset, h.last_offset(), 0));
    entry.1 = h.last_offset();
    entry.2 += 1;
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
    if let Some(classify) = classify {
        for name in classify(batch) {
            *stats.record_types.entry(name).or_insert(0) += 1;
        }
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
            writeln!(out, "records by type:").unwrap();
            for (name, count) in &self.record_types {
                writeln!(out, "  {name}: {count}").unwrap();
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
