//! Kafka framing: every request and response is a 4-byte big-endian size, then that many bytes.
//!
//! [`FrameDecoder`] accepts bytes in whatever pieces the socket delivers them (one byte at a
//! time, or many frames in one read) and yields whole frames. Invariants:
//! - a size prefix above the configured maximum, or negative, is rejected as soon as its four
//!   bytes arrive, before any buffer of that size exists;
//! - the decoder's buffer only ever holds bytes that actually arrived, so its memory is bounded
//!   by `max_frame_bytes + 4` plus whatever the caller pushes beyond one frame (which the caller
//!   bounds by how much it reads before draining frames).

use std::fmt;

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

    /// Appends received bytes. Frames already returned are dropped from the buffer first, so
    /// the buffer never holds data the caller is done with.
    pub fn extend(&mut self, bytes: &[u8]) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
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
            decoder.buf.capacity() < 1024,
            "nothing of the announced size was allocated"
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
}
