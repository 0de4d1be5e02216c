//! Snapshot files, streamed: `keel-dump snapshot` ([`describe`]), the checks of `storage::snapshot::validate_snapshot` (header,
//! footer, file CRC, every batch with offsets contiguous from 0) made through bounded buffers,
//! with the same verdicts and messages (a test below compares the two on damaged files), and a
//! scanner over a snapshot's batches. A snapshot may be up to `SNAPSHOT_BYTES_MAX` (4 GiB);
//! reading one costs the same bounded memory as a segment.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Write};
use std::ops::Range;
use std::path::Path;

use byteorder::{BigEndian, ByteOrder};

use crate::constants::{DUMP_READ_CHUNK_BYTES, SNAPSHOT_BYTES_MAX};
use crate::storage::batch::ScanItem;
use crate::storage::snapshot::{
    SNAPSHOT_FOOTER_BYTES, SNAPSHOT_FOOTER_MAGIC, SNAPSHOT_HEADER_BYTES, SNAPSHOT_HEADER_MAGIC,
    SNAPSHOT_VERSION, SnapshotId,
};

use super::files::open;
use super::records::{self, Decoded, TopicNames};
use super::stream::{ReadConfig, Source, StreamScanner};
use crate::json_escape::json_string;

/// A snapshot file that passed every check.
pub struct SnapshotFile {
    pub id: SnapshotId,
    pub file: File,
    pub len: u64,
    /// Where its batches are in the file.
    pub body: Range<u64>,
}

impl SnapshotFile {
    /// Opens and checks `path`: `Ok(Err(reason))` when the file is not a valid snapshot named
    /// `id`, `Err` when it cannot be read.
    pub fn open(path: &Path, id: SnapshotId) -> io::Result<Result<SnapshotFile, String>> {
        let file = open(path)?;
        let len = Source::size(&file)?;
        if len > SNAPSHOT_BYTES_MAX {
            return Ok(Err(format!(
                "{len} bytes, more than the {SNAPSHOT_BYTES_MAX} keel ever writes"
            )));
        }
        Ok(validate(&file, id)?.map(|body| SnapshotFile {
            id,
            file,
            len,
            body,
        }))
    }

    /// A scanner over the snapshot's batches; positions are relative to the body's start.
    pub fn batches(&self) -> StreamScanner<&File> {
        ReadConfig::default().scanner(&self.file, self.body.start, Some(self.body.end))
    }
}

fn read_exact_at<S: Source + ?Sized>(source: &S, buf: &mut [u8], position: u64) -> io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        let read = source.read_at(&mut buf[done..], position + done as u64)?;
        if read == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file shrank while being read",
            ));
        }
        done += read;
    }
    Ok(())
}

/// CRC-32 of `[0, end)` of `source`, a chunk at a time.
fn crc_of<S: Source + ?Sized>(source: &S, end: u64) -> io::Result<u32> {
    let mut hasher = crc32fast::Hasher::new();
    let mut buf = vec![0u8; DUMP_READ_CHUNK_BYTES as usize];
    let mut at = 0u64;
    while at < end {
        let n = usize::try_from(end - at).map_or(buf.len(), |left| left.min(buf.len()));
        read_exact_at(source, &mut buf[..n], at)?;
        hasher.update(&buf[..n]);
        at += n as u64;
    }
    Ok(hasher.finalize())
}

/// `validate_snapshot`'s checks, in its order and with its messages, over a source read in
/// bounded pieces. Returns the byte range of the batches.
pub fn validate<S: Source + ?Sized>(
    source: &S,
    expected: SnapshotId,
) -> io::Result<Result<Range<u64>, String>> {
    let len = source.size()?;
    let frame = (SNAPSHOT_HEADER_BYTES + SNAPSHOT_FOOTER_BYTES) as u64;
    if len < frame {
        return Ok(Err(format!(
            "{len} bytes is shorter than header and footer"
        )));
    }
    let mut header = [0u8; SNAPSHOT_HEADER_BYTES];
    read_exact_at(source, &mut header, 0)?;
    if &header[..8] != SNAPSHOT_HEADER_MAGIC {
        return Ok(Err("header magic is wrong".to_string()));
    }
    if BigEndian::read_u32(&header[28..]) != crc32fast::hash(&header[..28]) {
        return Ok(Err("header CRC mismatch".to_string()));
    }
    let version = BigEndian::read_u32(&header[8..]);
    if version != SNAPSHOT_VERSION {
        return Ok(Err(format!("version {version} is not {SNAPSHOT_VERSION}")));
    }
    let id = SnapshotId {
        end_offset: BigEndian::read_u64(&header[12..]),
        epoch: BigEndian::read_u32(&header[20..]),
    };
    if id != expected {
        return Ok(Err(format!(
            "header names snapshot {id:?}, file name says {expected:?}"
        )));
    }
    let footer_at = len - SNAPSHOT_FOOTER_BYTES as u64;
    let mut footer = [0u8; SNAPSHOT_FOOTER_BYTES];
    read_exact_at(source, &mut footer, footer_at)?;
    if &footer[..8] != SNAPSHOT_FOOTER_MAGIC {
        return Ok(Err("footer magic is wrong (file incomplete?)".to_string()));
    }
    let stored_crc = BigEndian::read_u32(&footer[20..]);
    let computed_crc = crc_of(source, len - 4)?;
    if stored_crc != computed_crc {
        return Ok(Err(format!(
            "file CRC mismatch: stored {stored_crc:#010x}, computed {computed_crc:#010x}"
        )));
    }
    let body_bytes = BigEndian::read_u64(&footer[8..]);
    let body = SNAPSHOT_HEADER_BYTES as u64..footer_at;
    if body_bytes != body.end - body.start {
        return Ok(Err(format!(
            "footer says {body_bytes} bytes of batches, file has {}",
            body.end - body.start
        )));
    }
    let mut next_offset = 0u64;
    let header_bytes = SNAPSHOT_HEADER_BYTES as u64;
    let mut scanner = ReadConfig::default().scanner(source, body.start, Some(body.end));
    while let Some(item) = scanner.next_item()? {
        match item {
            ScanItem::Batch { position, batch } => {
                if batch.header.base_offset != next_offset {
                    return Ok(Err(format!(
                        "batch at byte {} starts at offset {}, expected {next_offset}",
                        header_bytes + position as u64,
                        batch.header.base_offset
                    )));
                }
                next_offset = batch.header.next_offset();
            }
            ScanItem::CleanEnd { position } if header_bytes + position as u64 == footer_at => {}
            ScanItem::CleanEnd { position } => {
                return Ok(Err(format!(
                    "zeros at byte {} instead of batches",
                    header_bytes + position as u64
                )));
            }
            ScanItem::TornTail {
                position, error, ..
            }
            | ScanItem::Corrupt {
                position, error, ..
            } => {
                return Ok(Err(format!(
                    "invalid batch at byte {}: {error}",
                    header_bytes + position as u64
                )));
            }
        }
    }
    Ok(Ok(body))
}

/// What to show of a snapshot.
#[derive(Debug, Clone, Copy, Default)]
pub struct SnapshotOptions {
    pub json: bool,
    /// Every record under its batch.
    pub records: bool,
}

/// What `describe` found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Described {
    pub valid: bool,
    pub batches: u64,
    pub records: u64,
    pub unreadable_records: u64,
}

/// `keel-dump snapshot`: the file's identity and checks, one line (object) per batch, with
/// `records` every record, and the records by type.
pub fn describe(
    path: &Path,
    id: SnapshotId,
    options: &SnapshotOptions,
    out: &mut dyn Write,
) -> io::Result<Described> {
    let shown = path.display().to_string();
    let opened = SnapshotFile::open(path, id)?;
    let len = match &opened {
        Ok(snapshot) => snapshot.len,
        Err(_) => Source::size(&open(path)?)?,
    };
    if options.json {
        writeln!(
            out,
            "{{\"type\":\"snapshot\",\"file\":{},\"end_offset\":{},\"epoch\":{},\"bytes\":{len},\"valid\":{},\"problem\":{}}}",
            json_string(&shown),
            id.end_offset,
            id.epoch,
            opened.is_ok(),
            opened
                .as_ref()
                .err()
                .map_or("null".to_string(), |e| json_string(e))
        )?;
    } else {
        writeln!(
            out,
            "snapshot {shown}: end offset {}, epoch {}, {len} bytes",
            id.end_offset, id.epoch
        )?;
    }
    let snapshot = match opened {
        Ok(snapshot) => snapshot,
        Err(reason) => {
            if !options.json {
                writeln!(out, "INVALID: {reason}")?;
            }
            return Ok(Described::default());
        }
    };
    if !options.json {
        writeln!(
            out,
            "header, batches, footer and file CRC: ok ({} bytes of batches)",
            snapshot.body.end - snapshot.body.start
        )?;
    }
    let mut described = Described {
        valid: true,
        ..Described::default()
    };
    let mut names = TopicNames::default();
    let mut lines = String::new();
    let mut by_type: BTreeMap<Cow<'static, str>, (u64, u64)> = BTreeMap::new();
    let mut scanner = snapshot.batches();
    while let Some(item) = scanner.next_item()? {
        let ScanItem::Batch { position, batch } = item else {
            continue;
        };
        let h = batch.header;
        let position = snapshot.body.start + position as u64;
        described.batches += 1;
        described.records += u64::from(h.record_count);
        if options.json {
            writeln!(
                out,
                "{{\"type\":\"batch\",\"base_offset\":{},\"last_offset\":{},\"epoch\":{},\"records\":{},\"position\":{position},\"bytes\":{},\"control\":{}}}",
                h.base_offset,
                h.last_offset(),
                h.leader_epoch,
                h.record_count,
                h.batch_bytes,
                h.is_control()
            )?;
        } else {
            writeln!(
                out,
                "offsets {}..{} epoch {} records {} position {position} bytes {} {}",
                h.base_offset,
                h.last_offset(),
                h.leader_epoch,
                h.record_count,
                h.batch_bytes,
                if h.is_control() { "control" } else { "data" }
            )?;
        }
        for (index, record) in (h.base_offset..).zip(batch.records()) {
            let decoded = records::decode(h.is_control(), record);
            let kind = match &decoded {
                Ok(d) => Cow::Borrowed(d.name()),
                Err(_) => {
                    described.unreadable_records += 1;
                    Cow::Owned(records::unreadable_kind(h.is_control(), record))
                }
            };
            let entry = by_type.entry(kind).or_insert((0, 0));
            entry.0 += 1;
            entry.1 += record.len() as u64;
            if let Ok(Decoded::Metadata(record, _)) = &decoded {
                names.learn(record);
            }
            if options.records {
                lines.clear();
                if options.json {
                    records::write_record_json(&mut lines, index, &decoded, &names);
                } else {
                    records::write_record_line(&mut lines, index, &decoded, &names);
                }
                out.write_all(lines.as_bytes())?;
            }
        }
    }
    if options.json {
        let types: Vec<String> = by_type
            .iter()
            .map(|(name, (count, bytes))| {
                format!(
                    "{{\"record\":{},\"records\":{count},\"bytes\":{bytes}}}",
                    json_string(name)
                )
            })
            .collect();
        writeln!(
            out,
            "{{\"type\":\"summary\",\"batches\":{},\"records\":{},\"unreadable_records\":{},\"by_type\":[{}]}}",
            described.batches,
            described.records,
            described.unreadable_records,
            types.join(",")
        )?;
    } else {
        writeln!(
            out,
            "# {} batches, {} records",
            described.batches, described.records
        )?;
        writeln!(
            out,
            "records by type (records, bytes of the records themselves):"
        )?;
        for (name, (count, bytes)) in &by_type {
            writeln!(out, "  {name}: {count} records, {bytes} bytes")?;
        }
        if described.unreadable_records > 0 {
            writeln!(
                out,
                "{} unreadable record(s): a node could not load this snapshot",
                described.unreadable_records
            )?;
        }
    }
    Ok(described)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::record::encode_no_op;
    use crate::storage::snapshot::{SnapshotWriter, validate_snapshot};

    fn snapshot_bytes(id: SnapshotId, batches: usize) -> Vec<u8> {
        let dir = std::env::temp_dir().join(format!(
            "keel-dump-snapshot-{}-{batches}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut writer = SnapshotWriter::create(&dir, id).unwrap();
        let record = encode_no_op();
        for i in 0..batches {
            let records: Vec<&[u8]> = (0..=i % 3).map(|_| &record[..]).collect();
            writer.append(1_000 + i as i64, &records).unwrap();
        }
        writer.finish().unwrap();
        let bytes = std::fs::read(dir.join(id.file_name())).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        bytes
    }

    fn same_verdict(bytes: &[u8], id: SnapshotId) {
        let storage = validate_snapshot(bytes, id).map(|r| r.start as u64..r.end as u64);
        let streamed = validate(bytes, id).unwrap();
        assert_eq!(streamed, storage);
    }

    #[test]
    fn the_streamed_checks_agree_with_storage_on_every_kind_of_damage() {
        let id = SnapshotId {
            end_offset: 12,
            epoch: 3,
        };
        let good = snapshot_bytes(id, 6);
        same_verdict(&good, id);
        assert!(validate(&good[..], id).unwrap().is_ok());
        // Every single-byte change, every truncation, a wrong name.
        for at in 0..good.len() {
            let mut bad = good.clone();
            bad[at] ^= 0x21;
            same_verdict(&bad, id);
        }
        for cut in 0..good.len() {
            same_verdict(&good[..cut], id);
        }
        same_verdict(
            &good,
            SnapshotId {
                end_offset: 13,
                epoch: 3,
            },
        );
        // Damage that keeps the file CRC right reaches the batch checks: rewrite the CRC.
        for at in SNAPSHOT_HEADER_BYTES..good.len() - SNAPSHOT_FOOTER_BYTES {
            let mut bad = good.clone();
            bad[at] ^= 0x01;
            let end = bad.len();
            let crc = crc32fast::hash(&bad[..end - 4]);
            BigEndian::write_u32(&mut bad[end - 4..], crc);
            same_verdict(&bad, id);
        }
    }
}
