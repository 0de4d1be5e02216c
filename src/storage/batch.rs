//! The record batch format: encoder, decoder and the scanner that walks batches in a byte slice.
//!
//! Pure functions over `&[u8]`, no I/O: recovery, follower appends, snapshots and the
//! `keel-dump` tool all decode with this one module, so they can never disagree about what a
//! valid batch is. The layout is documented byte by byte in `protocol-spec/storage-format.md`:
//!
//! ```text
//! off size field
//!  0   4  crc                u32  CRC-32 (crc32fast) of bytes [4, batch_bytes)
//!  4   4  batch_bytes        u32  size of the whole batch, this header included
//!  8   1  magic              u8   BATCH_MAGIC (format version)
//!  9   1  attributes         u8   bit 0: control batch; other bits zero
//! 10   2  reserved           u16  zero
//! 12   8  base_offset        u64  offset of the first record
//! 20   4  leader_epoch       u32  epoch of the leader that created the batch
//! 24   4  last_offset_delta  u32  record_count - 1
//! 28   8  first_timestamp_ms i64
//! 36   8  max_timestamp_ms   i64
//! 44   4  record_count       u32  >= 1
//! 48      records            record_count x (u32 length, bytes)
//! ```
//!
//! Invariants: a batch that [`decode_batch`] accepts has a matching CRC over every byte but the
//! CRC itself, a size within the configured maximum, and records that tile the batch exactly.
//! Every length is checked against the slice and the limits before it is used, so no input can
//! make the decoder panic or allocate.

use byteorder::{BigEndian, ByteOrder};
use std::fmt;

use crate::batch_size::batch_bytes;
use crate::constants::{BATCH_BYTES_MAX, BATCH_RECORDS_MAX};

// The header and length-prefix sizes are the leaf `batch_size`'s, which holds the size formula
// every writer of batches counts with; the layout below must match them (asserted).
pub use crate::batch_size::{BATCH_HEADER_BYTES, RECORD_LENGTH_BYTES};
/// The smallest possible batch: a header and one empty record.
pub const BATCH_BYTES_MIN: usize = BATCH_HEADER_BYTES + RECORD_LENGTH_BYTES;
/// Format version of batches written by this code.
pub const BATCH_MAGIC: u8 = 1;
/// Attribute bit marking a control batch (Raft's own records, e.g. leader change).
pub const ATTRIBUTE_CONTROL: u8 = 0x01;

const CRC_AT: usize = 0;
const BATCH_BYTES_AT: usize = 4;
const MAGIC_AT: usize = 8;
const ATTRIBUTES_AT: usize = 9;
const RESERVED_AT: usize = 10;
const BASE_OFFSET_AT: usize = 12;
const LEADER_EPOCH_AT: usize = 20;
const LAST_OFFSET_DELTA_AT: usize = 24;
const FIRST_TIMESTAMP_AT: usize = 28;
const MAX_TIMESTAMP_AT: usize = 36;
const RECORD_COUNT_AT: usize = 44;
/// The CRC covers everything after itself.
const CRC_COVERS_FROM: usize = 4;

const _: () = assert!(RECORD_COUNT_AT + 4 == BATCH_HEADER_BYTES);
const _: () = assert!(BATCH_BYTES_MIN <= BATCH_BYTES_MAX as usize);

/// The decoded fixed header of a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchHeader {
    pub crc: u32,
    pub batch_bytes: u32,
    pub magic: u8,
    pub attributes: u8,
    pub base_offset: u64,
    pub leader_epoch: u32,
    pub last_offset_delta: u32,
    pub first_timestamp_ms: i64,
    pub max_timestamp_ms: i64,
    pub record_count: u32,
}

impl BatchHeader {
    /// Offset of the last record of the batch.
    pub fn last_offset(&self) -> u64 {
        // decode_batch checked that this cannot overflow; saturate for unchecked peeks.
        self.base_offset
            .saturating_add(u64::from(self.last_offset_delta))
    }

    /// The offset right after this batch.
    pub fn next_offset(&self) -> u64 {
        self.last_offset().saturating_add(1)
    }

    pub fn is_control(&self) -> bool {
        self.attributes & ATTRIBUTE_CONTROL != 0
    }
}

/// A valid batch borrowed from a byte slice.
#[derive(Clone, Copy, Debug)]
pub struct BatchRef<'a> {
    pub header: BatchHeader,
    /// The whole batch, header included: these bytes go into Fetch responses as they are.
    pub bytes: &'a [u8],
}

impl<'a> BatchRef<'a> {
    /// The records of the batch, in offset order.
    pub fn records(&self) -> Records<'a> {
        Records {
            rest: &self.bytes[BATCH_HEADER_BYTES..],
        }
    }
}

/// Iterator over the records of a valid batch.
pub struct Records<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Records<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.rest.is_empty() {
            return None;
        }
        // The batch was validated: the framing tiles the record area exactly.
        let length = BigEndian::read_u32(&self.rest[..RECORD_LENGTH_BYTES]) as usize;
        let (record, rest) = self.rest[RECORD_LENGTH_BYTES..].split_at(length);
        self.rest = rest;
        Some(record)
    }
}

/// Why bytes are not a valid batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BatchError {
    /// The slice ends before the batch does (`available` bytes, `needed` bytes).
    Truncated { needed: u64, available: u64 },
    /// The size field is below the minimum or above the configured maximum.
    BadSize { batch_bytes: u32, max: u32 },
    /// The stored CRC does not match the bytes.
    BadCrc { stored: u32, computed: u32 },
    /// The CRC matched but a header field is impossible.
    BadHeader { reason: String },
}

impl fmt::Display for BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BatchError::Truncated { needed, available } => {
                write!(f, "batch needs {needed} bytes but only {available} remain")
            }
            BatchError::BadSize { batch_bytes, max } => {
                write!(
                    f,
                    "batch size {batch_bytes} outside [{BATCH_BYTES_MIN}, {max}]"
                )
            }
            BatchError::BadCrc { stored, computed } => {
                write!(
                    f,
                    "CRC mismatch: stored {stored:#010x}, computed {computed:#010x}"
                )
            }
            BatchError::BadHeader { reason } => write!(f, "impossible header: {reason}"),
        }
    }
}

/// Reads the two fields needed to find a batch's end, without validating anything.
/// Returns `None` when fewer than 8 bytes remain.
pub fn peek_batch_bytes(bytes: &[u8]) -> Option<u32> {
    if bytes.len() < 8 {
        return None;
    }
    Some(BigEndian::read_u32(
        &bytes[BATCH_BYTES_AT..BATCH_BYTES_AT + 4],
    ))
}

/// Reads the fixed header without validating anything (for walking batches that were
/// validated before). `None` when fewer than [`BATCH_HEADER_BYTES`] remain.
pub fn peek_header(bytes: &[u8]) -> Option<BatchHeader> {
    if bytes.len() < BATCH_HEADER_BYTES {
        return None;
    }
    Some(read_header(bytes))
}

/// Decodes and fully validates the batch at the start of `bytes` (which may continue past it).
/// `batch_bytes_max` is the largest batch accepted (at most [`BATCH_BYTES_MAX`]).
pub fn decode_batch(bytes: &[u8], batch_bytes_max: u32) -> Result<BatchRef<'_>, BatchError> {
    let batch_bytes_max = batch_bytes_max.min(BATCH_BYTES_MAX);
    if bytes.len() < 8 {
        return Err(BatchError::Truncated {
            needed: 8,
            available: bytes.len() as u64,
        });
    }
    let batch_bytes = BigEndian::read_u32(&bytes[BATCH_BYTES_AT..BATCH_BYTES_AT + 4]);
    if (batch_bytes as usize) < BATCH_BYTES_MIN || batch_bytes > batch_bytes_max {
        return Err(BatchError::BadSize {
            batch_bytes,
            max: batch_bytes_max,
        });
    }
    let size = batch_bytes as usize;
    if size > bytes.len() {
        return Err(BatchError::Truncated {
            needed: size as u64,
            available: bytes.len() as u64,
        });
    }
    let batch = &bytes[..size];
    let stored = BigEndian::read_u32(&batch[CRC_AT..CRC_AT + 4]);
    let computed = crc32fast::hash(&batch[CRC_COVERS_FROM..]);
    if stored != computed {
        return Err(BatchError::BadCrc { stored, computed });
    }
    let reserved = BigEndian::read_u16(&batch[RESERVED_AT..]);
    if reserved != 0 {
        return Err(BatchError::BadHeader {
            reason: format!("reserved field {reserved:#06x} is not zero"),
        });
    }
    let header = read_header(batch);
    validate_header(&header)?;
    validate_records(batch, header.record_count)?;
    Ok(BatchRef {
        header,
        bytes: batch,
    })
}

fn read_header(batch: &[u8]) -> BatchHeader {
    BatchHeader {
        crc: BigEndian::read_u32(&batch[CRC_AT..]),
        batch_bytes: BigEndian::read_u32(&batch[BATCH_BYTES_AT..]),
        magic: batch[MAGIC_AT],
        attributes: batch[ATTRIBUTES_AT],
        base_offset: BigEndian::read_u64(&batch[BASE_OFFSET_AT..]),
        leader_epoch: BigEndian::read_u32(&batch[LEADER_EPOCH_AT..]),
        last_offset_delta: BigEndian::read_u32(&batch[LAST_OFFSET_DELTA_AT..]),
        first_timestamp_ms: BigEndian::read_i64(&batch[FIRST_TIMESTAMP_AT..]),
        max_timestamp_ms: BigEndian::read_i64(&batch[MAX_TIMESTAMP_AT..]),
        record_count: BigEndian::read_u32(&batch[RECORD_COUNT_AT..]),
    }
}

fn validate_header(header: &BatchHeader) -> Result<(), BatchError> {
    let bad = |reason: String| Err(BatchError::BadHeader { reason });
    if header.magic != BATCH_MAGIC {
        return bad(format!("magic {} (expected {BATCH_MAGIC})", header.magic));
    }
    if header.attributes & !ATTRIBUTE_CONTROL != 0 {
        return bad(format!("unknown attribute bits {:#04x}", header.attributes));
    }
    if header.record_count == 0 || header.record_count > BATCH_RECORDS_MAX {
        return bad(format!(
            "record count {} outside [1, {BATCH_RECORDS_MAX}]",
            header.record_count
        ));
    }
    if header.last_offset_delta != header.record_count - 1 {
        return bad(format!(
            "last offset delta {} does not match record count {}",
            header.last_offset_delta, header.record_count
        ));
    }
    if header
        .base_offset
        .checked_add(u64::from(header.record_count))
        .is_none()
    {
        return bad(format!("base offset {} overflows", header.base_offset));
    }
    if header.max_timestamp_ms < header.first_timestamp_ms {
        return bad(format!(
            "max timestamp {} before first timestamp {}",
            header.max_timestamp_ms, header.first_timestamp_ms
        ));
    }
    Ok(())
}

fn validate_records(batch: &[u8], record_count: u32) -> Result<(), BatchError> {
    let mut position = BATCH_HEADER_BYTES;
    for index in 0..record_count {
        let Some(prefix) = batch.get(position..position + RECORD_LENGTH_BYTES) else {
            return Err(BatchError::BadHeader {
                reason: format!("record {index} length runs past the batch"),
            });
        };
        let length = BigEndian::read_u32(prefix) as usize;
        position += RECORD_LENGTH_BYTES;
        if length > batch.len() - position {
            return Err(BatchError::BadHeader {
                reason: format!("record {index} of {length} bytes runs past the batch"),
            });
        }
        position += length;
    }
    if position != batch.len() {
        return Err(BatchError::BadHeader {
            reason: format!("{} bytes after the last record", batch.len() - position),
        });
    }
    Ok(())
}

/// What a batch to be encoded says about itself; offsets and sizes are computed.
#[derive(Clone, Copy, Debug)]
pub struct BatchSpec {
    pub base_offset: u64,
    pub leader_epoch: u32,
    pub first_timestamp_ms: i64,
    pub max_timestamp_ms: i64,
    pub control: bool,
}

/// Size in bytes of the batch that [`encode_batch`] would build from `records`.
pub fn encoded_batch_bytes(records: &[&[u8]]) -> u64 {
    batch_bytes(records.iter().map(|r| r.len()))
}

/// Appends the encoded batch to `out`. The caller checks the size against its limits first
/// (with [`encoded_batch_bytes`]); an empty record list or a batch that would not fit the
/// format's own fields is a bug and asserts.
pub fn encode_batch(spec: &BatchSpec, records: &[&[u8]], out: &mut Vec<u8>) {
    assert!(!records.is_empty(), "a batch holds at least one record");
    assert!(
        records.len() as u64 <= u64::from(BATCH_RECORDS_MAX),
        "too many records"
    );
    let size = encoded_batch_bytes(records);
    assert!(
        size <= u64::from(BATCH_BYTES_MAX),
        "batch of {size} bytes exceeds the maximum"
    );
    assert!(spec.max_timestamp_ms >= spec.first_timestamp_ms);
    let start = out.len();
    out.resize(start + BATCH_HEADER_BYTES, 0);
    let record_count = records.len() as u32;
    {
        let header = &mut out[start..];
        BigEndian::write_u32(&mut header[BATCH_BYTES_AT..], size as u32);
        header[MAGIC_AT] = BATCH_MAGIC;
        header[ATTRIBUTES_AT] = if spec.control { ATTRIBUTE_CONTROL } else { 0 };
        BigEndian::write_u16(&mut header[RESERVED_AT..], 0);
        BigEndian::write_u64(&mut header[BASE_OFFSET_AT..], spec.base_offset);
        BigEndian::write_u32(&mut header[LEADER_EPOCH_AT..], spec.leader_epoch);
        BigEndian::write_u32(&mut header[LAST_OFFSET_DELTA_AT..], record_count - 1);
        BigEndian::write_i64(&mut header[FIRST_TIMESTAMP_AT..], spec.first_timestamp_ms);
        BigEndian::write_i64(&mut header[MAX_TIMESTAMP_AT..], spec.max_timestamp_ms);
        BigEndian::write_u32(&mut header[RECORD_COUNT_AT..], record_count);
    }
    let mut length = [0u8; RECORD_LENGTH_BYTES];
    for record in records {
        BigEndian::write_u32(&mut length, record.len() as u32);
        out.extend_from_slice(&length);
        out.extend_from_slice(record);
    }
    let crc = crc32fast::hash(&out[start + CRC_COVERS_FROM..]);
    BigEndian::write_u32(&mut out[start + CRC_AT..], crc);
}

/// One step of a [`Scanner`]: a valid batch, or the one terminal verdict on what follows the
/// last valid batch.
#[derive(Clone, Debug)]
pub enum ScanItem<'a> {
    /// A valid batch starting at `position` (relative to the scanned slice).
    Batch {
        position: usize,
        batch: BatchRef<'a>,
    },
    /// From `position` to the end of the slice there are only zero bytes (or nothing): the
    /// unused, preallocated rest of a segment.
    CleanEnd { position: usize },
    /// The bytes at `position` are not a valid batch, and no valid batch starts anywhere after
    /// them: an interrupted write. `nonzero_end` is one past the last non-zero byte.
    TornTail {
        position: usize,
        nonzero_end: usize,
        error: BatchError,
    },
    /// The bytes at `position` are not a valid batch, yet a valid batch starts at
    /// `next_valid_position`: damaged data in the middle, which must not be truncated silently.
    Corrupt {
        position: usize,
        error: BatchError,
        next_valid_position: usize,
    },
}

/// Walks the batches of a byte slice from the start: yields every valid batch in order, then
/// exactly one terminal item ([`ScanItem::CleanEnd`], [`ScanItem::TornTail`] or
/// [`ScanItem::Corrupt`]), then `None`. It checks each batch on its own (CRC, header, record
/// framing); continuity of offsets and epochs between batches is the caller's business.
pub struct Scanner<'a> {
    bytes: &'a [u8],
    position: usize,
    batch_bytes_max: u32,
    finished: bool,
}

impl<'a> Scanner<'a> {
    pub fn new(bytes: &'a [u8], batch_bytes_max: u32) -> Scanner<'a> {
        Scanner {
            bytes,
            position: 0,
            batch_bytes_max,
            finished: false,
        }
    }

    /// Position of the next byte the scanner will look at.
    pub fn position(&self) -> usize {
        self.position
    }
}

impl<'a> Iterator for Scanner<'a> {
    type Item = ScanItem<'a>;

    fn next(&mut self) -> Option<ScanItem<'a>> {
        if self.finished {
            return None;
        }
        let position = self.position;
        let rest = &self.bytes[position..];
        match decode_batch(rest, self.batch_bytes_max) {
            Ok(batch) => {
                self.position += batch.bytes.len();
                Some(ScanItem::Batch { position, batch })
            }
            Err(error) => {
                self.finished = true;
                if first_nonzero_at(rest).is_none() {
                    return Some(ScanItem::CleanEnd { position });
                }
                match find_valid_batch(rest, 1, self.batch_bytes_max) {
                    Some(found) => Some(ScanItem::Corrupt {
                        position,
                        error,
                        next_valid_position: position + found,
                    }),
                    None => {
                        let nonzero_end =
                            position + last_nonzero_at(rest).map_or(0, |last| last + 1);
                        Some(ScanItem::TornTail {
                            position,
                            nonzero_end,
                            error,
                        })
                    }
                }
            }
        }
    }
}

/// Index of the first non-zero byte, word at a time (preallocated tails are mostly zeros).
pub fn first_nonzero_at(bytes: &[u8]) -> Option<usize> {
    let mut chunks = bytes.chunks_exact(64);
    let mut base = 0;
    for chunk in &mut chunks {
        if chunk.iter().fold(0u8, |acc, b| acc | b) != 0 {
            return chunk.iter().position(|&b| b != 0).map(|i| base + i);
        }
        base += 64;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b != 0)
        .map(|i| base + i)
}

fn last_nonzero_at(bytes: &[u8]) -> Option<usize> {
    bytes.iter().rposition(|&b| b != 0)
}

/// The first position at or after `from` where a valid batch starts. Cheap header checks
/// (magic, reserved bits, size) run before any CRC, and runs of zeros are skipped at once.
fn find_valid_batch(bytes: &[u8], from: usize, batch_bytes_max: u32) -> Option<usize> {
    let mut candidate = from;
    while candidate + BATCH_BYTES_MIN <= bytes.len() {
        let window = &bytes[candidate..];
        if window[MAGIC_AT] != BATCH_MAGIC {
            if window[..8].iter().all(|&b| b == 0) {
                // A batch starts with a non-zero CRC or size: jump to the next non-zero byte,
                // minus the header bytes that may precede it.
                let next = first_nonzero_at(window)?;
                candidate += next.saturating_sub(MAGIC_AT).max(1);
            } else {
                candidate += 1;
            }
            continue;
        }
        if window[ATTRIBUTES_AT] & !ATTRIBUTE_CONTROL == 0
            && window[RESERVED_AT] == 0
            && window[RESERVED_AT + 1] == 0
            && decode_batch(window, batch_bytes_max).is_ok()
        {
            return Some(candidate);
        }
        candidate += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(base_offset: u64, leader_epoch: u32) -> BatchSpec {
        BatchSpec {
            base_offset,
            leader_epoch,
            first_timestamp_ms: 1000,
            max_timestamp_ms: 1000,
            control: false,
        }
    }

    fn batch(base_offset: u64, records: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_batch(&spec(base_offset, 3), records, &mut out);
        out
    }

    #[test]
    fn encoded_batch_decodes_to_the_same_fields_and_records() {
        let mut out = Vec::new();
        let spec = BatchSpec {
            base_offset: 42,
            leader_epoch: 7,
            first_timestamp_ms: -5,
            max_timestamp_ms: 9,
            control: true,
        };
        encode_batch(&spec, &[b"a", b"", b"hello"], &mut out);
        assert_eq!(
            out.len() as u64,
            encoded_batch_bytes(&[b"a", b"", b"hello"])
        );
        let decoded = decode_batch(&out, BATCH_BYTES_MAX).unwrap();
        assert_eq!(decoded.header.base_offset, 42);
        assert_eq!(decoded.header.last_offset(), 44);
        assert_eq!(decoded.header.leader_epoch, 7);
        assert!(decoded.header.is_control());
        assert_eq!(decoded.header.first_timestamp_ms, -5);
        assert_eq!(decoded.header.max_timestamp_ms, 9);
        let records: Vec<&[u8]> = decoded.records().collect();
        assert_eq!(records, vec![&b"a"[..], &b""[..], &b"hello"[..]]);
    }

    #[test]
    fn test_vector_in_storage_format_md_is_what_the_encoder_writes() {
        let spec = BatchSpec {
            base_offset: 5,
            leader_epoch: 3,
            first_timestamp_ms: 1000,
            max_timestamp_ms: 1000,
            control: false,
        };
        let mut out = Vec::new();
        encode_batch(&spec, &[b"a", b"bc"], &mut out);
        let hex: String = out.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "b767fd550000003b010000000000000000000005000000030000000100000000000003e8\
             00000000000003e8000000020000000161000000026263"
        );
    }

    #[test]
    fn every_single_bit_flip_is_rejected() {
        let original = batch(5, &[b"abc", b"defg"]);
        for byte in 0..original.len() {
            for bit in 0..8 {
                let mut flipped = original.clone();
                flipped[byte] ^= 1 << bit;
                assert!(
                    decode_batch(&flipped, BATCH_BYTES_MAX).is_err(),
                    "flip of bit {bit} in byte {byte} accepted"
                );
            }
        }
    }

    #[test]
    fn short_input_is_truncated_not_a_panic() {
        let original = batch(0, &[b"xyz"]);
        for cut in 0..original.len() {
            let error = decode_batch(&original[..cut], BATCH_BYTES_MAX).unwrap_err();
            assert!(
                matches!(
                    error,
                    BatchError::Truncated { .. } | BatchError::BadSize { .. }
                ),
                "cut {cut}: {error}"
            );
        }
    }

    #[test]
    fn size_above_the_configured_maximum_is_rejected_before_reading_it() {
        let original = batch(0, &[&[7u8; 100]]);
        let error = decode_batch(&original, 60).unwrap_err();
        assert_eq!(
            error,
            BatchError::BadSize {
                batch_bytes: original.len() as u32,
                max: 60
            }
        );
    }

    #[test]
    fn a_valid_crc_over_impossible_framing_is_a_bad_header() {
        let mut bytes = batch(0, &[b"abcd"]);
        // Claim a record length longer than the batch, then fix the CRC.
        BigEndian::write_u32(&mut bytes[BATCH_HEADER_BYTES..], 1000);
        let crc = crc32fast::hash(&bytes[4..]);
        BigEndian::write_u32(&mut bytes[0..], crc);
        assert!(matches!(
            decode_batch(&bytes, BATCH_BYTES_MAX),
            Err(BatchError::BadHeader { .. })
        ));
    }

    #[test]
    fn scanner_reports_batches_then_a_clean_end_over_zeros() {
        let mut bytes = batch(0, &[b"a"]);
        bytes.extend(batch(1, &[b"b", b"c"]));
        let end = bytes.len();
        bytes.extend(vec![0u8; 1000]);
        let items: Vec<ScanItem> = Scanner::new(&bytes, BATCH_BYTES_MAX).collect();
        assert_eq!(items.len(), 3);
        assert!(matches!(items[0], ScanItem::Batch { position: 0, .. }));
        assert!(matches!(items[2], ScanItem::CleanEnd { position } if position == end));
    }

    #[test]
    fn scanner_reports_a_partial_last_batch_as_torn() {
        let mut bytes = batch(0, &[b"a"]);
        let end = bytes.len();
        let second = batch(1, &[b"bbbbbbbbbb"]);
        bytes.extend_from_slice(&second[..second.len() - 3]);
        bytes.extend(vec![0u8; 100]);
        let items: Vec<ScanItem> = Scanner::new(&bytes, BATCH_BYTES_MAX).collect();
        match &items[1] {
            ScanItem::TornTail {
                position,
                nonzero_end,
                ..
            } => {
                assert_eq!(*position, end);
                assert!(*nonzero_end <= end + second.len() - 3);
            }
            other => panic!("expected a torn tail, got {other:?}"),
        }
    }

    #[test]
    fn scanner_reports_a_bad_batch_followed_by_a_valid_one_as_corrupt() {
        let mut bytes = batch(0, &[b"a"]);
        let damaged_at = bytes.len();
        bytes.extend(batch(1, &[b"b"]));
        let valid_at = bytes.len();
        bytes.extend(batch(2, &[b"c"]));
        bytes[damaged_at + 30] ^= 0x10;
        let items: Vec<ScanItem> = Scanner::new(&bytes, BATCH_BYTES_MAX).collect();
        assert_eq!(items.len(), 2);
        match &items[1] {
            ScanItem::Corrupt {
                position,
                next_valid_position,
                error,
            } => {
                assert_eq!(*position, damaged_at);
                assert_eq!(*next_valid_position, valid_at);
                assert!(matches!(error, BatchError::BadCrc { .. }));
            }
            other => panic!("expected corruption, got {other:?}"),
        }
    }

    #[test]
    fn scanner_finds_valid_data_after_a_zeroed_hole() {
        let mut bytes = batch(0, &[b"a"]);
        let hole_at = bytes.len();
        bytes.extend(vec![0u8; 4096]);
        bytes.extend(batch(1, &[b"b"]));
        let items: Vec<ScanItem> = Scanner::new(&bytes, BATCH_BYTES_MAX).collect();
        assert!(
            matches!(items[1], ScanItem::Corrupt { position, next_valid_position, .. }
            if position == hole_at && next_valid_position == hole_at + 4096)
        );
    }

    #[test]
    fn scanner_on_garbage_never_panics() {
        let mut state = 0x1234_5678_u64;
        for length in 0..300 {
            let bytes: Vec<u8> = (0..length)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect();
            let items: Vec<ScanItem> = Scanner::new(&bytes, BATCH_BYTES_MAX).collect();
            assert!(!items.is_empty());
        }
    }
}
