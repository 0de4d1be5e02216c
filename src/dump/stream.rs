//! Bounded streaming reads: storage's batch decoder and scanner verdicts over a file read
//! through one fixed buffer, for segments of any size and for snapshot bodies.
//!
//! [`StreamScanner`] yields exactly the items storage's in-memory `Scanner` yields over the
//! same bytes (the property test below checks this with buffers barely larger than a batch),
//! while holding at most one buffer of the file (`DUMP_READ_BUFFER_BYTES`): each batch is
//! decoded in place by `storage::batch::decode_batch` once it is whole in the buffer, and a
//! partial batch at the end of the buffer moves to its front before the next read. The search
//! for a valid batch after a damaged one (what tells corruption from a torn tail) slides the
//! same buffer over the rest of the file.
//!
//! Files are read with `pread`, never mapped: a live node may truncate a segment, and a mapped
//! file that shrinks kills the reader with SIGBUS.

use std::fs::File;
use std::io;
use std::ops::Range;
use std::os::unix::fs::FileExt;

use byteorder::{BigEndian, ByteOrder};

use crate::constants::{BATCH_BYTES_MAX, DUMP_READ_BUFFER_BYTES};
use crate::storage::batch::{
    ATTRIBUTE_CONTROL, BATCH_BYTES_MIN, BATCH_HEADER_BYTES, BATCH_MAGIC, BatchError, BatchHeader,
    BatchRef, ScanItem, decode_batch, first_nonzero_at, peek_batch_bytes, peek_header,
};

/// Byte offsets of the header fields the search's cheap checks read (storage-format.md §2).
const BATCH_BYTES_AT: usize = 4;
const MAGIC_AT: usize = 8;
const ATTRIBUTES_AT: usize = 9;
const RESERVED_AT: usize = 10;

/// Something to read bytes from by position: a file, or bytes in memory (tests).
pub trait Source {
    /// Reads up to `buf.len()` bytes at `position`; 0 means the end.
    fn read_at(&self, buf: &mut [u8], position: u64) -> io::Result<usize>;
    /// The current length in bytes.
    fn size(&self) -> io::Result<u64>;
}

impl Source for File {
    fn read_at(&self, buf: &mut [u8], position: u64) -> io::Result<usize> {
        loop {
            match FileExt::read_at(self, buf, position) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }

    fn size(&self) -> io::Result<u64> {
        Ok(self.metadata()?.len())
    }
}

impl Source for [u8] {
    fn read_at(&self, buf: &mut [u8], position: u64) -> io::Result<usize> {
        let Some(rest) = usize::try_from(position).ok().and_then(|p| self.get(p..)) else {
            return Ok(0);
        };
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        Ok(n)
    }

    fn size(&self) -> io::Result<u64> {
        Ok(<[u8]>::len(self) as u64)
    }
}

impl<S: Source + ?Sized> Source for &S {
    fn read_at(&self, buf: &mut [u8], position: u64) -> io::Result<usize> {
        (**self).read_at(buf, position)
    }

    fn size(&self) -> io::Result<u64> {
        (**self).size()
    }
}

/// How streaming reads are sized: the largest batch accepted and the read buffer. The default
/// is what the tool uses; tests shrink both to make batches straddle the buffer's refills.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadConfig {
    pub batch_bytes_max: u32,
    pub buffer_bytes: usize,
}

impl Default for ReadConfig {
    fn default() -> ReadConfig {
        ReadConfig {
            batch_bytes_max: BATCH_BYTES_MAX,
            buffer_bytes: DUMP_READ_BUFFER_BYTES as usize,
        }
    }
}

impl ReadConfig {
    /// A scanner over `[origin, limit)` of `source` (to its end without a limit).
    pub fn scanner<S: Source>(
        &self,
        source: S,
        origin: u64,
        limit: Option<u64>,
    ) -> StreamScanner<S> {
        StreamScanner::with_buffer_bytes(
            source,
            origin,
            limit,
            self.batch_bytes_max,
            self.buffer_bytes,
        )
    }
}

/// Walks the batches of a byte range of a [`Source`] like storage's `Scanner` walks a slice:
/// every valid batch in order, then one terminal item, then `None`. Positions in the items
/// are relative to the start of the range, as `Scanner`'s are relative to its slice.
pub struct StreamScanner<S> {
    source: S,
    /// Where the range starts in the source.
    origin: u64,
    /// Where the range ends in the source (a snapshot's footer); `None`: the source's end.
    limit: Option<u64>,
    batch_bytes_max: u32,
    buf: Vec<u8>,
    /// Range position of `buf[0]`.
    buf_at: u64,
    /// `buf[..filled]` holds the range's bytes from `buf_at`.
    filled: usize,
    /// The range ends at `buf_at + filled`.
    at_end: bool,
    /// Range position of the next batch.
    position: u64,
    finished: bool,
}

impl<S: Source> StreamScanner<S> {
    /// A scanner over `[origin, limit)` of `source` (to its end without a limit) that accepts
    /// batches up to `batch_bytes_max`, with a buffer of `buffer_bytes`, which must hold the
    /// largest batch accepted (and the smallest possible one).
    pub fn with_buffer_bytes(
        source: S,
        origin: u64,
        limit: Option<u64>,
        batch_bytes_max: u32,
        buffer_bytes: usize,
    ) -> Self {
        let batch_bytes_max = batch_bytes_max.min(BATCH_BYTES_MAX);
        // Every candidate the search for valid data looks at must fit whole (its smallest
        // possible batch included), or the search could not advance past it.
        assert!(
            buffer_bytes >= (batch_bytes_max as usize).max(BATCH_BYTES_MIN),
            "a {buffer_bytes}-byte buffer cannot hold a {batch_bytes_max}-byte batch"
        );
        assert!(limit.is_none_or(|limit| limit >= origin));
        StreamScanner {
            source,
            origin,
            limit,
            batch_bytes_max,
            buf: vec![0; buffer_bytes],
            buf_at: 0,
            filled: 0,
            at_end: false,
            position: 0,
            finished: false,
        }
    }

    /// Range position of the next byte the scanner will look at.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Continues the scan at `position` after a terminal item (past damage, to list what
    /// follows it).
    pub fn resume_at(&mut self, position: u64) {
        self.position = position;
        self.finished = false;
    }

    /// What the header at `position` claims, unchecked (for showing a batch that failed to
    /// decode); `None` when fewer than a header's bytes remain.
    pub fn peek_header_at(&mut self, position: u64) -> io::Result<Option<BatchHeader>> {
        let range = self.window(position, BATCH_HEADER_BYTES)?;
        Ok(peek_header(&self.buf[range]))
    }

    /// The buffer's bytes from range position `at`, at least `need` of them unless the range
    /// ends sooner. Reads as much as the buffer holds, moving bytes still needed to its front.
    fn window(&mut self, at: u64, need: usize) -> io::Result<Range<usize>> {
        assert!(need <= self.buf.len());
        let buffered_end = self.buf_at + self.filled as u64;
        if at < self.buf_at || at > buffered_end {
            self.buf_at = at;
            self.filled = 0;
            self.at_end = false;
        } else {
            let offset = (at - self.buf_at) as usize;
            if self.filled - offset >= need || self.at_end {
                return Ok(offset..self.filled);
            }
            self.buf.copy_within(offset..self.filled, 0);
            self.filled -= offset;
            self.buf_at = at;
        }
        while self.filled < self.buf.len() && !self.at_end {
            let from = self.origin + self.buf_at + self.filled as u64;
            let mut want = self.buf.len() - self.filled;
            if let Some(limit) = self.limit {
                let left = limit.saturating_sub(from);
                if left == 0 {
                    self.at_end = true;
                    break;
                }
                want = want.min(usize::try_from(left).unwrap_or(usize::MAX));
            }
            let read = self
                .source
                .read_at(&mut self.buf[self.filled..self.filled + want], from)?;
            if read == 0 {
                self.at_end = true;
            }
            self.filled += read;
        }
        Ok(0..self.filled)
    }

    /// The next item, as `Scanner::next` would give it over the whole range.
    pub fn next_item(&mut self) -> io::Result<Option<ScanItem<'_>>> {
        if self.finished {
            return Ok(None);
        }
        let position = self.position;
        let mut range = self.window(position, 8)?;
        let claimed = peek_batch_bytes(&self.buf[range.clone()]).map_or(0, |n| n as usize);
        if (BATCH_BYTES_MIN..=self.batch_bytes_max as usize).contains(&claimed)
            && claimed > range.len()
        {
            range = self.window(position, claimed)?;
        }
        // The header is Copy: decoding once and rebuilding the reference keeps the borrow of
        // the buffer out of the error path, which needs the buffer mutably.
        let decoded =
            decode_batch(&self.buf[range.clone()], self.batch_bytes_max).map(|batch| batch.header);
        match decoded {
            Ok(header) => {
                self.position += u64::from(header.batch_bytes);
                let bytes = &self.buf[range.start..range.start + header.batch_bytes as usize];
                Ok(Some(ScanItem::Batch {
                    position: position as usize,
                    batch: BatchRef { header, bytes },
                }))
            }
            Err(error) => {
                self.finished = true;
                self.verdict(position, error).map(Some)
            }
        }
    }

    /// What follows an invalid batch at `position`, by `Scanner`'s rules: only zeros is a clean
    /// end; a valid batch at any later byte makes it corruption; otherwise a torn tail ending at
    /// the last non-zero byte. One pass over the rest of the range, a buffer at a time.
    fn verdict(&mut self, position: u64, error: BatchError) -> io::Result<ScanItem<'static>> {
        let buffer_bytes = self.buf.len();
        let max = self.batch_bytes_max as usize;
        let mut candidate = position + 1;
        // Bytes in [position, tracked) have been looked at for the last non-zero one.
        let mut tracked = position;
        let mut nonzero_end: Option<u64> = None;
        loop {
            let range = self.window(tracked, buffer_bytes)?;
            let window = &self.buf[range];
            let window_end = tracked + window.len() as u64;
            let at_end = self.at_end;
            while candidate + BATCH_BYTES_MIN as u64 <= window_end {
                let bytes = &window[(candidate - tracked) as usize..];
                if bytes[MAGIC_AT] != BATCH_MAGIC {
                    if bytes[..8].iter().all(|&b| b == 0) {
                        // A batch starts with a non-zero size: jump to the next non-zero
                        // byte, minus the header bytes that may precede it.
                        match first_nonzero_at(bytes) {
                            Some(next) => {
                                candidate += next.saturating_sub(MAGIC_AT).max(1) as u64;
                            }
                            None => {
                                // Zeros to the window's end: no candidate before its last 8
                                // bytes can have a non-zero size.
                                candidate = candidate.max(window_end.saturating_sub(8));
                                break;
                            }
                        }
                    } else {
                        candidate += 1;
                    }
                    continue;
                }
                if bytes[ATTRIBUTES_AT] & !ATTRIBUTE_CONTROL == 0
                    && bytes[RESERVED_AT] == 0
                    && bytes[RESERVED_AT + 1] == 0
                {
                    let size = BigEndian::read_u32(&bytes[BATCH_BYTES_AT..]) as usize;
                    if (BATCH_BYTES_MIN..=max).contains(&size) && size > bytes.len() && !at_end {
                        // Undecidable until the buffer starts here.
                        break;
                    }
                    if decode_batch(bytes, self.batch_bytes_max).is_ok() {
                        return Ok(ScanItem::Corrupt {
                            position: position as usize,
                            error,
                            next_valid_position: candidate as usize,
                        });
                    }
                }
                candidate += 1;
            }
            let done_to = if at_end { window_end } else { candidate };
            let done = &window[..(done_to - tracked) as usize];
            if let Some(last) = done.iter().rposition(|&b| b != 0) {
                nonzero_end = Some(tracked + last as u64 + 1);
            }
            if at_end {
                break;
            }
            assert!(
                done_to > tracked,
                "the search for valid data always advances"
            );
            tracked = done_to;
        }
        Ok(match nonzero_end {
            None => ScanItem::CleanEnd {
                position: position as usize,
            },
            Some(nonzero_end) => ScanItem::TornTail {
                position: position as usize,
                nonzero_end: nonzero_end as usize,
                error,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::batch::{BatchSpec, Scanner, encode_batch};
    use proptest::prelude::*;

    /// An item in a comparable form.
    #[derive(Debug, PartialEq, Eq)]
    enum Seen {
        Batch(usize, Vec<u8>),
        CleanEnd(usize),
        Torn(usize, usize, BatchError),
        Corrupt(usize, BatchError, usize),
    }

    fn seen(item: &ScanItem<'_>) -> Seen {
        match item {
            ScanItem::Batch { position, batch } => Seen::Batch(*position, batch.bytes.to_vec()),
            ScanItem::CleanEnd { position } => Seen::CleanEnd(*position),
            ScanItem::TornTail {
                position,
                nonzero_end,
                error,
            } => Seen::Torn(*position, *nonzero_end, error.clone()),
            ScanItem::Corrupt {
                position,
                error,
                next_valid_position,
            } => Seen::Corrupt(*position, error.clone(), *next_valid_position),
        }
    }

    /// What `keel-dump log` does: scan, and after corruption resume at the valid batch.
    fn in_memory(bytes: &[u8], max: u32) -> Vec<Seen> {
        let mut out = Vec::new();
        let mut start = 0;
        loop {
            let mut resume = None;
            for item in Scanner::new(&bytes[start..], max) {
                let mut s = seen(&item);
                match &mut s {
                    Seen::Batch(p, _) | Seen::CleanEnd(p) => *p += start,
                    Seen::Torn(p, e, _) => {
                        *p += start;
                        *e += start;
                    }
                    Seen::Corrupt(p, _, n) => {
                        *p += start;
                        *n += start;
                        resume = Some(*n);
                    }
                }
                out.push(s);
            }
            match resume {
                Some(next) => start = next,
                None => return out,
            }
        }
    }

    fn streamed(bytes: &[u8], max: u32, buffer: usize) -> Vec<Seen> {
        let mut scanner = StreamScanner::with_buffer_bytes(bytes, 0, None, max, buffer);
        let mut out = Vec::new();
        loop {
            let Some(item) = scanner.next_item().unwrap() else {
                return out;
            };
            let s = seen(&item);
            let resume = match &s {
                Seen::Corrupt(_, _, next) => Some(*next),
                _ => None,
            };
            out.push(s);
            if let Some(next) = resume {
                scanner.resume_at(next as u64);
            }
        }
    }

    fn batch(base_offset: u64, records: &[Vec<u8>]) -> Vec<u8> {
        let records: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
        let mut out = Vec::new();
        encode_batch(
            &BatchSpec {
                base_offset,
                leader_epoch: 1,
                first_timestamp_ms: 7,
                max_timestamp_ms: 9,
                control: base_offset.is_multiple_of(3),
            },
            &records,
            &mut out,
        );
        out
    }

    /// Pieces a segment is made of: valid batches, zeros, garbage, damaged batches.
    #[derive(Debug, Clone)]
    enum Piece {
        Batch(Vec<Vec<u8>>),
        Zeros(usize),
        Garbage(Vec<u8>),
        Flipped(Vec<Vec<u8>>, usize, u8),
        Cut(Vec<Vec<u8>>, usize),
    }

    fn piece() -> impl Strategy<Value = Piece> {
        let records =
            proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..60), 1..5);
        prop_oneof![
            6 => records.clone().prop_map(Piece::Batch),
            2 => (1usize..400).prop_map(Piece::Zeros),
            1 => proptest::collection::vec(any::<u8>(), 1..120).prop_map(Piece::Garbage),
            1 => (records.clone(), any::<usize>(), 1u8..=255).prop_map(|(r, at, x)| Piece::Flipped(r, at, x)),
            1 => (records, any::<usize>()).prop_map(|(r, at)| Piece::Cut(r, at)),
        ]
    }

    fn build(pieces: &[Piece]) -> Vec<u8> {
        let mut bytes = Vec::new();
        let mut offset = 0;
        for piece in pieces {
            match piece {
                Piece::Batch(records) => {
                    bytes.extend(batch(offset, records));
                    offset += records.len() as u64;
                }
                Piece::Zeros(n) => bytes.extend(std::iter::repeat_n(0, *n)),
                Piece::Garbage(g) => bytes.extend(g),
                Piece::Flipped(records, at, xor) => {
                    let mut b = batch(offset, records);
                    let len = b.len();
                    b[at % len] ^= xor;
                    bytes.extend(b);
                }
                Piece::Cut(records, at) => {
                    let b = batch(offset, records);
                    let len = b.len();
                    bytes.extend(&b[..at % len]);
                }
            }
        }
        bytes
    }

    /// Batches of up to 4 records of up to 59 bytes stay below this.
    const MAX: u32 = 48 + 4 * (4 + 59);

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

        #[test]
        fn streaming_yields_what_the_in_memory_scanner_yields(
            pieces in proptest::collection::vec(piece(), 0..14),
            extra in 0usize..100,
        ) {
            let bytes = build(&pieces);
            let want = in_memory(&bytes, MAX);
            // The smallest buffer that holds a batch, and slightly larger ones: batches and
            // candidates straddle every refill boundary.
            for buffer in [MAX as usize, MAX as usize + 1, MAX as usize + extra, 4096] {
                prop_assert_eq!(&streamed(&bytes, MAX, buffer), &want, "buffer {}", buffer);
            }
            // The smallest buffer there can be: only empty-record batches are valid then.
            let min = BATCH_BYTES_MIN as u32;
            prop_assert_eq!(streamed(&bytes, min, BATCH_BYTES_MIN), in_memory(&bytes, min));
        }

        #[test]
        fn garbage_never_panics_and_agrees(bytes in proptest::collection::vec(any::<u8>(), 0..700)) {
            let want = in_memory(&bytes, MAX);
            prop_assert_eq!(streamed(&bytes, MAX, MAX as usize), want);
        }
    }

    #[test]
    fn a_batch_straddling_the_buffer_end_is_read_whole() {
        let records: Vec<Vec<u8>> = vec![vec![0xab; 50], vec![0xcd; 50]];
        let mut bytes = Vec::new();
        for offset in (0..20).step_by(2) {
            bytes.extend(batch(offset, &records));
        }
        let batch_len = batch(0, &records).len();
        // A buffer of one and a half batches: every other batch starts in one read and ends in
        // the next.
        let buffer = batch_len + batch_len / 2;
        let mut scanner =
            StreamScanner::with_buffer_bytes(&bytes[..], 0, None, batch_len as u32, buffer);
        let mut positions = Vec::new();
        while let Some(item) = scanner.next_item().unwrap() {
            match item {
                ScanItem::Batch { position, batch } => {
                    assert_eq!(batch.header.base_offset, positions.len() as u64 * 2);
                    assert_eq!(batch.records().count(), 2);
                    positions.push(position);
                }
                ScanItem::CleanEnd { position } => assert_eq!(position, bytes.len()),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(positions.len(), 10);
        assert_eq!(positions[3], 3 * batch_len);
    }

    #[test]
    fn a_limit_ends_the_range_and_an_origin_starts_it() {
        let one = batch(0, &[b"x".to_vec()]);
        let mut bytes = vec![9u8; 5];
        bytes.extend(&one);
        bytes.extend(batch(1, &[b"y".to_vec()]));
        let limit = (5 + one.len()) as u64;
        let mut scanner = StreamScanner::with_buffer_bytes(&bytes[..], 5, Some(limit), MAX, 512);
        assert!(matches!(
            scanner.next_item().unwrap(),
            Some(ScanItem::Batch { position: 0, .. })
        ));
        assert!(matches!(
            scanner.next_item().unwrap(),
            Some(ScanItem::CleanEnd { position }) if position == one.len()
        ));
        assert!(scanner.next_item().unwrap().is_none());
    }

    #[test]
    fn a_large_zero_tail_is_a_clean_end_and_damage_far_behind_it_is_found() {
        let mut bytes = batch(0, &[b"a".to_vec()]);
        let end = bytes.len();
        bytes.extend(vec![0u8; 10 * 4096]);
        let mut tail = bytes.clone();
        assert_eq!(
            streamed(&bytes, MAX, 512).last(),
            Some(&Seen::CleanEnd(end))
        );
        // One non-zero byte far behind the batch: a torn tail ending there.
        tail[end + 9000] = 1;
        assert_eq!(
            streamed(&tail, MAX, 512).last(),
            Some(&Seen::Torn(
                end,
                end + 9001,
                BatchError::BadSize {
                    batch_bytes: 0,
                    max: MAX
                }
            ))
        );
        // A valid batch far behind the zeros: corruption.
        let valid_at = bytes.len();
        bytes.extend(batch(1, &[b"b".to_vec()]));
        assert!(matches!(
            streamed(&bytes, MAX, 512)[1],
            Seen::Corrupt(p, _, n) if p == end && n == valid_at
        ));
    }
}
