//! One accepted client connection: bytes in, whole request frames out, responses back in the
//! order the requests arrived.
//!
//! Invariants:
//! - Responses leave in request order, whatever order the node produces them in: every request
//!   taken from the connection reserves a slot in `owed`, and only the ready prefix of `owed`
//!   is moved to the write buffer (Kafka clients match responses to requests first-in
//!   first-out).
//! - Memory is bounded: at most `requests_in_flight_max` requests are owed a response, so the
//!   write side holds at most that many responses; the read side stops reading from the socket
//!   while it already buffers a whole frame's worth of unparsed bytes, and stops taking frames
//!   while `requests_in_flight_max` are owed.
//! - Because mio is edge-triggered, a connection that stopped reading early remembers it
//!   ([`Inbound::wants_read`]) so the event loop reads it again without waiting for a readiness
//!   event that would never come.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::SocketAddr;

use mio::net::TcpStream;

use crate::protocol::FrameDecoder;
use crate::protocol::frame::{FRAME_SIZE_PREFIX_BYTES, FrameError};

/// Identifies a request within its connection; answers carry it back.
pub type RequestSeq = u64;

/// What one call to [`Inbound::read`] ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadOutcome {
    /// Read until the socket had nothing more for now.
    Drained,
    /// Stopped with bytes possibly left in the socket (buffer full); call again later.
    Paused,
    /// The peer closed its side. Owed responses can still be written.
    PeerClosed,
}

#[derive(Debug)]
struct Owed {
    seq: RequestSeq,
    response: Option<Vec<u8>>,
}

#[derive(Debug)]
pub struct Inbound {
    stream: TcpStream,
    peer_addr: SocketAddr,
    decoder: FrameDecoder,
    /// Unparsed bytes allowed in the decoder before reading pauses: one maximal frame and its
    /// size prefix.
    read_buffer_bytes_max: usize,
    requests_in_flight_max: usize,
    owed: VecDeque<Owed>,
    next_seq: RequestSeq,
    write_buffer: Vec<u8>,
    written: usize,
    wants_read: bool,
    peer_closed: bool,
}

impl Inbound {
    pub fn new(
        stream: TcpStream,
        peer_addr: SocketAddr,
        max_frame_bytes: u32,
        requests_in_flight_max: usize,
    ) -> Self {
        assert!(requests_in_flight_max > 0);
        Self {
            stream,
            peer_addr,
            decoder: FrameDecoder::new(max_frame_bytes),
            read_buffer_bytes_max: max_frame_bytes as usize + FRAME_SIZE_PREFIX_BYTES,
            requests_in_flight_max,
            owed: VecDeque::new(),
            next_seq: 0,
            write_buffer: Vec::new(),
            written: 0,
            wants_read: true,
            peer_closed: false,
        }
    }

    pub fn stream_mut(&mut self) -> &mut TcpStream {
        &mut self.stream
    }

    pub fn peer_addr(&self) -> SocketAddr {
        self.peer_addr
    }

    /// True while the socket may hold bytes this connection has not read yet.
    pub fn wants_read(&self) -> bool {
        self.wants_read && !self.peer_closed
    }

    /// The poll said the socket is readable: read it in this iteration.
    pub fn mark_readable(&mut self) {
        self.wants_read = true;
    }

    /// True while responses are waiting to be written to the socket.
    pub fn wants_write(&self) -> bool {
        self.written < self.write_buffer.len()
    }

    /// Requests taken and not yet answered (or answered but not yet queued for writing).
    pub fn requests_owed(&self) -> usize {
        self.owed.len()
    }

    /// True once the peer closed and everything owed has been written: the slot can be freed.
    pub fn finished(&self) -> bool {
        self.peer_closed && self.owed.is_empty() && !self.wants_write()
    }

    /// Reads into the frame decoder until the socket is drained or one frame's worth of bytes
    /// is buffered. `scratch` is the event loop's shared read buffer.
    pub fn read(&mut self, scratch: &mut [u8]) -> io::Result<ReadOutcome> {
        assert!(!scratch.is_empty());
        loop {
            if self.decoder.buffered_bytes() >= self.read_buffer_bytes_max {
                self.wants_read = true;
                return Ok(ReadOutcome::Paused);
            }
            let room =
                (self.read_buffer_bytes_max - self.decoder.buffered_bytes()).min(scratch.len());
            match self.stream.read(&mut scratch[..room]) {
                Ok(0) => {
                    self.peer_closed = true;
                    self.wants_read = false;
                    return Ok(ReadOutcome::PeerClosed);
                }
                Ok(n) => self.decoder.extend(&scratch[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.wants_read = false;
                    return Ok(ReadOutcome::Drained);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The next whole request frame, if one is buffered and fewer than the maximum number of
    /// requests are owed an answer. The frame must be answered with [`Inbound::respond`] (or
    /// [`Inbound::forget`]) using the returned sequence number.
    pub fn next_request(&mut self) -> Result<Option<(RequestSeq, &[u8])>, FrameError> {
        if self.owed.len() >= self.requests_in_flight_max {
            return Ok(None);
        }
        let seq = self.next_seq;
        let Some(frame) = self.decoder.next_frame()? else {
            return Ok(None);
        };
        self.next_seq += 1;
        self.owed.push_back(Owed {
            seq,
            response: None,
        });
        // Taking a frame frees buffer space: reading may resume.
        self.wants_read = true;
        Ok(Some((seq, frame)))
    }

    /// Supplies the framed response to request `seq`. Responses are queued for writing as soon
    /// as every earlier request has its response.
    pub fn respond(&mut self, seq: RequestSeq, framed_response: Vec<u8>) {
        let slot = self
            .owed
            .iter_mut()
            .find(|owed| owed.seq == seq)
            .unwrap_or_else(|| panic!("response to request {seq}, which is not owed one"));
        assert!(slot.response.is_none(), "request {seq} answered twice");
        slot.response = Some(framed_response);
        self.queue_ready_responses();
    }

    /// Drops the slot of a request that gets no response (Kafka requests that expect none do
    /// not exist in keel's APIs; this is for requests whose connection is being closed).
    pub fn forget(&mut self, seq: RequestSeq) {
        self.owed.retain(|owed| owed.seq != seq);
        self.queue_ready_responses();
    }

    fn queue_ready_responses(&mut self) {
        while self
            .owed
            .front()
            .is_some_and(|owed| owed.response.is_some())
        {
            let owed = self.owed.pop_front().expect("front exists");
            if self.written == self.write_buffer.len() {
                self.write_buffer.clear();
                self.written = 0;
            }
            self.write_buffer
                .extend_from_slice(&owed.response.expect("checked above"));
        }
    }

    /// Writes queued responses until the socket would block. Returns whether everything queued
    /// has been written.
    pub fn write(&mut self) -> io::Result<bool> {
        while self.written < self.write_buffer.len() {
            match self.stream.write(&self.write_buffer[self.written..]) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::WriteZero,
                        "socket accepted no bytes",
                    ));
                }
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        self.write_buffer.clear();
        self.written = 0;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// A connected pair: a blocking std client and a non-blocking server-side `Inbound`.
    fn pair(max_frame_bytes: u32, in_flight: usize) -> (std::net::TcpStream, Inbound) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, peer) = listener.accept().unwrap();
        server.set_nonblocking(true).unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        (
            client,
            Inbound::new(
                TcpStream::from_std(server),
                peer,
                max_frame_bytes,
                in_flight,
            ),
        )
    }

    fn framed(body: &[u8]) -> Vec<u8> {
        let mut out = (body.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(body);
        out
    }

    /// Reads until `want` frames have arrived or 5 seconds pass.
    fn read_until(inbound: &mut Inbound, want: usize) -> Vec<(RequestSeq, Vec<u8>)> {
        read_within(inbound, want, Duration::from_secs(5))
    }

    fn read_within(
        inbound: &mut Inbound,
        want: usize,
        within: Duration,
    ) -> Vec<(RequestSeq, Vec<u8>)> {
        let mut scratch = vec![0u8; 7];
        let mut got = Vec::new();
        let deadline = Instant::now() + within;
        while got.len() < want && Instant::now() < deadline {
            inbound.read(&mut scratch).unwrap();
            while let Some((seq, frame)) = inbound.next_request().unwrap() {
                got.push((seq, frame.to_vec()));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        got
    }

    fn write_all(inbound: &mut Inbound) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !inbound.write().unwrap() {
            assert!(Instant::now() < deadline, "socket never drained");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn responses_leave_in_request_order_whatever_order_they_are_produced_in() {
        let (mut client, mut inbound) = pair(1024, 8);
        for body in [b"one".as_slice(), b"two", b"three"] {
            client.write_all(&framed(body)).unwrap();
        }
        let requests = read_until(&mut inbound, 3);
        assert_eq!(
            requests
                .iter()
                .map(|(_, f)| f.as_slice())
                .collect::<Vec<_>>(),
            [b"one".as_slice(), b"two", b"three"]
        );
        // The node answers the last request first, then the first, then the middle one.
        inbound.respond(requests[2].0, framed(b"3"));
        assert!(
            !inbound.wants_write(),
            "nothing may leave before the first response"
        );
        inbound.respond(requests[0].0, framed(b"1"));
        assert!(inbound.wants_write());
        inbound.respond(requests[1].0, framed(b"2"));
        write_all(&mut inbound);
        let mut received = [0u8; 15];
        client.read_exact(&mut received).unwrap();
        assert_eq!(
            received.to_vec(),
            [framed(b"1"), framed(b"2"), framed(b"3")].concat()
        );
        assert_eq!(inbound.requests_owed(), 0);
    }

    #[test]
    fn no_more_requests_are_taken_while_the_in_flight_limit_is_reached() {
        let (mut client, mut inbound) = pair(1024, 2);
        for body in [b"a".as_slice(), b"b", b"c"] {
            client.write_all(&framed(body)).unwrap();
        }
        // All three are in the socket; give the connection time to (wrongly) take the third.
        let first_two = read_within(&mut inbound, 3, Duration::from_millis(200));
        assert_eq!(first_two.len(), 2, "the third request waits for an answer");
        inbound.respond(first_two[0].0, framed(b"A"));
        let third = read_until(&mut inbound, 1);
        assert_eq!(third[0].1, b"c");
    }

    #[test]
    fn reading_pauses_with_a_whole_frame_buffered_and_resumes_when_it_is_taken() {
        let (mut client, mut inbound) = pair(64, 1);
        // Two maximal frames: the second must stay in the socket while the first is owed.
        client.write_all(&framed(&[1; 64])).unwrap();
        client.write_all(&framed(&[2; 64])).unwrap();
        let first = read_until(&mut inbound, 1);
        assert_eq!(first.len(), 1);
        let mut scratch = vec![0u8; 4096];
        let mut outcome = inbound.read(&mut scratch).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while outcome != ReadOutcome::Paused && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
            outcome = inbound.read(&mut scratch).unwrap();
        }
        assert_eq!(
            outcome,
            ReadOutcome::Paused,
            "a full frame is buffered, so reading pauses"
        );
        assert!(inbound.wants_read());
        assert!(
            inbound.decoder.buffered_bytes() <= 68,
            "never more than one frame and its prefix"
        );
        inbound.respond(first[0].0, framed(b"ok"));
        let second = read_until(&mut inbound, 1);
        assert_eq!(second[0].1, vec![2; 64]);
    }

    #[test]
    fn an_oversized_frame_is_refused_before_its_body_is_read() {
        let (mut client, mut inbound) = pair(64, 4);
        client.write_all(&65u32.to_be_bytes()).unwrap();
        let mut scratch = vec![0u8; 16];
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            inbound.read(&mut scratch).unwrap();
            match inbound.next_request() {
                Err(FrameError::TooLarge {
                    size: 65,
                    max_frame_bytes: 64,
                }) => break,
                Ok(None) => assert!(Instant::now() < deadline),
                other => panic!("unexpected {other:?}"),
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn a_peer_that_closes_is_finished_once_owed_responses_are_written() {
        let (mut client, mut inbound) = pair(1024, 4);
        client.write_all(&framed(b"last")).unwrap();
        client.shutdown(std::net::Shutdown::Write).unwrap();
        let requests = read_until(&mut inbound, 1);
        let mut scratch = vec![0u8; 16];
        let deadline = Instant::now() + Duration::from_secs(5);
        while inbound.read(&mut scratch).unwrap() != ReadOutcome::PeerClosed {
            assert!(Instant::now() < deadline);
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(!inbound.finished(), "a response is still owed");
        inbound.respond(requests[0].0, framed(b"bye"));
        write_all(&mut inbound);
        assert!(inbound.finished());
        let mut received = [0u8; 7];
        client.read_exact(&mut received).unwrap();
        assert_eq!(received.to_vec(), framed(b"bye"));
    }
}
