//! Kafka framing: every request and response is a 4-byte big-endian size, then that many bytes.
//!
//! [`FrameDecoder`] accepts bytes in whatever pieces the socket delivers them (one byte at a
//! time, or many frames in one read) and yields whole frames. Invariants:
//! - a size prefix above the configured maximum, or negative, is rejected as soon as its four
//!   bytes arrive, before any buffer of that size exists;
//! - the decoder's buffer only ever holds bytes that actually arrived, so its memory is bounded
//!   by `max_frame_bytes + 4` plus whatever the caller pushes beyond one frame (which the caller
//!   bounds by how much it reads before draining frames);
//! - its capacity follows what arrived: it grows by at most `FRAME_BUFFER_GROWTH_PERCENT` (or
//!   `FRAME_BUFFER_GROWTH_MIN_BYTES`) at a time, never past the end of the frame being read nor
//!   past the cap the caller gives ([`FrameDecoder::extend_capped`]), and it is shrunk once it
//!   holds less than half of it (down to `FRAME_BUFFER_KEEP_BYTES`);
//! - [`FrameDecoder::take_frame`] hands a large frame over without copying it, so taking a
//!   frame never holds it twice.

use std::fmt;

use crate::constants::{
    FRAME_BUFFER_GROWTH_MIN_BYTES, FRAME_BUFFER_GROWTH_PERCENT, FRAME_BUFFER_KEEP_BYTES,
};

/// Bytes of the size prefix.
pub const FRAME_SIZE_PREFIX_BYTES: usize = 4;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// The size prefix announces more than the configured maximum.
    TooLarge { size: u32, max_frame_bytes: u32 },
    /// The size prefix is negative as an int32, which Kafka treats as invalid.
    NegativeSize { size: i32 },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::TooLarge {
                size,
                max_frame_bytes,
            } => write!(
                f,
                "frame of {size} bytes exceeds the maximum of {max_frame_bytes} bytes \
                 (socket.request.max.bytes)"
            ),
            FrameError::NegativeSize { size } => write!(f, "frame size {size} is negative"),
        }
    }
}

impl std::error::Error for FrameError {}

/// Incremental frame decoder. Feed it with [`FrameDecoder::extend`], drain it with
/// [`FrameDecoder::next_frame`].
#[derive(Debug)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    /// Start of the bytes not yet handed out as frames.
    start: usize,
    max_frame_bytes: u32,
}

impl FrameDecoder {
    pub fn new(max_frame_bytes: u32) -> Self {
        assert!(
            max_frame_bytes <= i32::MAX as u32,
            "a Kafka frame size is an int32"
        );
        Self {
            buf: Vec::new(),
            start: 0,
            max_frame_bytes,
        }
    }

    /// Bytes received but not yet returned as frames.
    pub fn buffered_bytes(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Bytes the buffer has allocated (what it costs in memory).
    pub fn capacity_bytes(&self) -> usize {
        self.buf.capacity()
    }

    /// The whole length (size prefix included) of the next frame not yet returned, once its
    /// size prefix has arrived; an invalid prefix is the error [`FrameDecoder::next_frame`]
    /// will return.
    pub fn pending_frame_bytes(&self) -> Result<Option<usize>, FrameError> {
        Ok(
            peek_frame_size(&self.buf[self.start..], self.max_frame_bytes)?
                .map(|size| FRAME_SIZE_PREFIX_BYTES + size),
        )
    }

    /// True if a whole frame (or an invalid size prefix) is buffered: the next
    /// [`FrameDecoder::next_frame`] returns something other than `Ok(None)`.
    pub fn has_frame(&self) -> bool {
        match self.pending_frame_bytes() {
            Ok(Some(total)) => self.buffered_bytes() >= total,
            Ok(None) => false,
            Err(_) => true,
        }
    }

    /// Appends received bytes. Frames already returned are dropped from the buffer first, so
    /// the buffer never holds data the caller is done with.
    pub fn extend(&mut self, bytes: &[u8]) {
        self.extend_capped(bytes, usize::MAX);
    }

    /// [`FrameDecoder::extend`], growing the buffer's capacity to at most `capacity_max`
    /// bytes (or exactly what the bytes need, if that is more): a caller that bounds what it
    /// holds bounds what is allocated for it too.
    pub fn extend_capped(&mut self, bytes: &[u8], capacity_max: usize) {
        self.compact();
        let needed = self.buf.len() + bytes.len();
        if needed > self.buf.capacity() {
            let held = self.buf.len();
            let step =
                (held * FRAME_BUFFER_GROWTH_PERCENT / 100).max(FRAME_BUFFER_GROWTH_MIN_BYTES);
            let mut target = needed.max(held + step).min(capacity_max);
            // Never past the end of the frame being read, unless the bytes reach beyond it.
            if let Ok(Some(size)) = peek_frame_size(&self.buf, self.max_frame_bytes) {
                let frame_end = FRAME_SIZE_PREFIX_BYTES + size;
                if frame_end >= needed {
                    target = target.min(frame_end);
                }
            }
            let target = target.max(needed);
            self.buf.reserve_exact(target - held);
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Drops the frames already returned from the front of the buffer, and shrinks a buffer
    /// that holds less than half its capacity.
    fn compact(&mut self) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.shrink_if_sparse();
    }

    fn shrink_if_sparse(&mut self) {
        let held = self.buf.len();
        if self.buf.capacity() > FRAME_BUFFER_KEEP_BYTES && held < self.buf.capacity() / 2 {
            self.buf.shrink_to(held.max(FRAME_BUFFER_KEEP_BYTES));
        }
    }

    /// The next whole frame, owned, if one is buffered (`Ok(None)` if more bytes are needed).
    /// A frame larger than what follows it in the buffer is handed over without copying (the
    /// bytes after it move to a buffer of their own), so taking a 100 MiB frame never holds
    /// it twice. After an error the stream cannot be resynchronised: close the connection.
    pub fn take_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        let Some(total) = self.pending_frame_bytes()? else {
            return Ok(None);
        };
        if self.buffered_bytes() < total {
            return Ok(None);
        }
        let end = self.start + total;
        let after = self.buf.len() - end;
        let frame = if total > after && total > FRAME_BUFFER_KEEP_BYTES {
            self.compact();
            let rest = self.buf.split_off(total);
            Frame {
                bytes: std::mem::replace(&mut self.buf, rest),
                body_start: FRAME_SIZE_PREFIX_BYTES,
            }
        } else {
            let body = self.buf[self.start + FRAME_SIZE_PREFIX_BYTES..end].to_vec();
            self.start = end;
            // The rest moves to the front only when more bytes arrive (extend), so taking many
            // small frames from one read copies each once.
            if self.start == self.buf.len() {
                self.buf.clear();
                self.start = 0;
                self.shrink_if_sparse();
            }
            Frame {
                bytes: body,
                body_start: 0,
            }
        };
        Ok(Some(frame))
    }

    /// The next whole frame's body (without its size prefix), `Ok(None)` if more bytes are
    /// needed. After an error the stream cannot be resynchronised: close the connection.
    pub fn next_frame(&mut self) -> Result<Option<&[u8]>, FrameError> {
        let pending = &self.buf[self.start..];
        let Some(size) = peek_frame_size(pending, self.max_frame_bytes)? else {
            return Ok(None);
        };
        let end = FRAME_SIZE_PREFIX_BYTES + size;
        if pending.len() < end {
            return Ok(None);
        }
        let frame_start = self.start + FRAME_SIZE_PREFIX_BYTES;
        self.start += end;
        Ok(Some(&self.buf[frame_start..frame_start + size]))
    }
}

/// One whole frame taken out of a [`FrameDecoder`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    bytes: Vec<u8>,
    body_start: usize,
}

impl Frame {
    /// The frame's body, without its size prefix.
    pub fn body(&self) -> &[u8] {
        &self.bytes[self.body_start..]
    }

    /// The request api key at the start of the body (a Kafka request header begins with it),
    /// if the body is long enough to have one.
    pub fn request_api_key(&self) -> Option<i16> {
        self.body()
            .first_chunk::<2>()
            .map(|key| i16::from_be_bytes(*key))
    }
}

/// Reads and checks the size prefix at the start of `bytes`: `Ok(None)` if fewer than four
/// bytes are present.
pub fn peek_frame_size(bytes: &[u8], max_frame_bytes: u32) -> Result<Option<usize>, FrameError> {
    let Some(prefix) = bytes.first_chunk::<FRAME_SIZE_PREFIX_BYTES>() else {
        return Ok(None);
    };
    let size = i32::from_be_bytes(*prefix);
    if size < 0 {
        return Err(FrameError::NegativeSize { size });
    }
    let size = size as u32;
    if size > max_frame_bytes {
        return Err(FrameError::TooLarge {
            size,
            max_frame_bytes,
        });
    }
    Ok(Some(size as usize))
}

/// Appends one frame to `out`: reserves the size prefix, lets `write_body` append the body,
/// then fills in the size. If `write_body` fails, `out` is restored to its previous length.
pub fn write_frame<E>(
    out: &mut Vec<u8>,
    write_body: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
) -> Result<(), E> {
    let prefix_at = out.len();
    out.extend_from_slice(&[0; FRAME_SIZE_PREFIX_BYTES]);
    if let Err(e) = write_body(out) {
        out.truncate(prefix_at);
        return Err(e);
    }
    let body_bytes = out.len() - prefix_at - FRAME_SIZE_PREFIX_BYTES;
    let size = i32::try_from(body_bytes).expect("a frame body fits an int32");
    out[prefix_at..prefix_at + FRAME_SIZE_PREFIX_BYTES].copy_from_slice(&size.to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(bodies: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for body in bodies {
            write_frame::<()>(&mut out, |w| {
                w.extend_from_slice(body);
                Ok(())
            })
            .unwrap();
        }
        out
    }

    fn drain(decoder: &mut FrameDecoder) -> Vec<Vec<u8>> {
        let mut frames = Vec::new();
        while let Some(frame) = decoder.next_frame().unwrap() {
            frames.push(frame.to_vec());
        }
        frames
    }

    #[test]
    fn frames_fed_one_byte_at_a_time_come_out_whole() {
        let bodies: [&[u8]; 3] = [b"first", b"", b"third frame"];
        let stream = framed(&bodies);
        let mut decoder = FrameDecoder::new(1024);
        let mut frames = Vec::new();
        for byte in &stream {
            decoder.extend(std::slice::from_ref(byte));
            frames.extend(drain(&mut decoder));
        }
        assert_eq!(frames, bodies.map(<[u8]>::to_vec));
        assert_eq!(decoder.buffered_bytes(), 0);
    }

    #[test]
    fn many_frames_in_one_read_all_come_out() {
        let bodies: [&[u8]; 4] = [b"a", b"bb", b"ccc", b"dddd"];
        let mut stream = framed(&bodies);
        stream.extend_from_slice(&[0, 0, 0, 9, b'p']); // start of a fifth, incomplete frame
        let mut decoder = FrameDecoder::new(1024);
        decoder.extend(&stream);
        assert_eq!(drain(&mut decoder), bodies.map(<[u8]>::to_vec));
        assert_eq!(decoder.buffered_bytes(), 5);
    }

    #[test]
    fn an_oversized_prefix_is_rejected_before_its_body_arrives() {
        let mut decoder = FrameDecoder::new(100);
        decoder.extend(&[0x7f, 0xff, 0xff]);
        assert_eq!(decoder.next_frame(), Ok(None));
        decoder.extend(&[0xff]);
        assert_eq!(
            decoder.next_frame(),
            Err(FrameError::TooLarge {
                size: i32::MAX as u32,
                max_frame_bytes: 100
            })
        );
        assert!(
            decoder.buf.capacity() <= FRAME_BUFFER_GROWTH_MIN_BYTES,
            "nothing of the announced size was allocated, only one growth step"
        );
    }

    #[test]
    fn a_negative_prefix_is_rejected() {
        let mut decoder = FrameDecoder::new(100);
        decoder.extend(&[0xff, 0xff, 0xff, 0xfe]);
        assert_eq!(
            decoder.next_frame(),
            Err(FrameError::NegativeSize { size: -2 })
        );
    }

    #[test]
    fn a_frame_of_exactly_the_maximum_is_accepted() {
        let body = vec![7u8; 100];
        let mut decoder = FrameDecoder::new(100);
        decoder.extend(&framed(&[&body]));
        assert_eq!(decoder.next_frame().unwrap(), Some(&body[..]));
    }

    #[test]
    fn a_failed_body_writer_leaves_the_output_untouched() {
        let mut out = vec![1, 2, 3];
        let result = write_frame(&mut out, |w| {
            w.extend_from_slice(b"partial");
            Err("no")
        });
        assert_eq!(result, Err("no"));
        assert_eq!(out, [1, 2, 3]);
    }

    #[test]
    fn capacity_follows_the_bytes_that_arrived_and_stops_at_the_frame_end() {
        let body = vec![5u8; 3_000_000];
        let stream = framed(&[&body, b"next"]);
        let mut decoder = FrameDecoder::new(4_000_000);
        let frame_end = 4 + body.len();
        for piece in stream[..frame_end].chunks(65_536) {
            decoder.extend(piece);
            let held = decoder.buffered_bytes();
            let capacity = decoder.capacity_bytes();
            assert!(
                capacity <= held + held / 4 + FRAME_BUFFER_GROWTH_MIN_BYTES,
                "{capacity} bytes allocated for {held}"
            );
            assert!(capacity <= frame_end, "never past the frame's end");
        }
        // A cap from the caller bounds the growth too.
        let mut capped = FrameDecoder::new(4_000_000);
        capped.extend_capped(&stream[..100_000], 100_000);
        assert_eq!(capped.capacity_bytes(), 100_000);
        decoder.extend(&stream[frame_end..]);
        assert_eq!(decoder.pending_frame_bytes(), Ok(Some(frame_end)));
        assert!(decoder.has_frame());
        let frame = decoder.take_frame().unwrap().unwrap();
        assert_eq!(frame.body(), &body[..]);
        assert_eq!(frame.request_api_key(), Some(0x0505));
        // The large frame was handed over whole; what followed it has a small buffer of its own.
        assert!(decoder.capacity_bytes() <= FRAME_BUFFER_KEEP_BYTES);
        assert_eq!(decoder.take_frame().unwrap().unwrap().body(), b"next");
        assert_eq!(decoder.take_frame(), Ok(None));
        assert_eq!(decoder.buffered_bytes(), 0);
    }

    #[test]
    fn small_frames_taken_from_a_large_buffer_let_it_shrink() {
        let mut decoder = FrameDecoder::new(1 << 20);
        let bodies: Vec<Vec<u8>> = (0..2_000u32).map(|i| i.to_be_bytes().repeat(50)).collect();
        let refs: Vec<&[u8]> = bodies.iter().map(Vec::as_slice).collect();
        let stream = framed(&refs);
        decoder.extend(&stream);
        assert!(decoder.capacity_bytes() >= stream.len());
        for body in &bodies {
            assert_eq!(decoder.take_frame().unwrap().unwrap().body(), &body[..]);
        }
        assert_eq!(decoder.take_frame(), Ok(None));
        assert!(decoder.capacity_bytes() <= FRAME_BUFFER_KEEP_BYTES);
        assert_eq!(
            decoder.take_frame(),
            Ok(None),
            "an empty decoder has nothing to give"
        );
        decoder.extend(&[0xff, 0xff, 0xff, 0xff]);
        assert!(
            decoder.has_frame(),
            "an invalid prefix is something to report"
        );
        assert_eq!(
            decoder.take_frame(),
            Err(FrameError::NegativeSize { size: -1 })
        );
    }
}
