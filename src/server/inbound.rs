//! One accepted client connection: bytes in, whole request frames out, responses back in the
//! order the requests arrived; and [`ReadBudget`], the node-wide budget of bytes reserved for
//! partly read requests (`queued.max.request.bytes`).
//!
//! Invariants:
//! - Responses leave in request order, whatever order the node produces them in: every request
//!   taken from the connection reserves a slot in `owed`, and only the ready prefix of `owed`
//!   is moved to the write buffer (Kafka clients match responses to requests first-in
//!   first-out).
//! - Memory is bounded: at most `requests_in_flight_max` requests are owed a response, so the
//!   write side holds at most that many responses; the read side stops taking frames while
//!   `requests_in_flight_max` are owed, and holds at most `unbudgeted_bytes` of unparsed bytes,
//!   or, while the next frame is larger than that, exactly that frame, whose bytes beyond
//!   `unbudgeted_bytes` are reserved in the [`ReadBudget`] when its size prefix arrives. A
//!   frame the budget cannot hold yet is not read further (its bytes stay in the kernel: TCP
//!   back-pressure) until the budget frees; a frame of at most `unbudgeted_bytes` never waits
//!   for it. The decoder's capacity never exceeds what the connection may hold, so the memory
//!   of all partly read requests is at most the budget plus `unbudgeted_bytes` per connection.
//! - A connection's reservation is returned to the budget when its frame is taken or when the
//!   connection is dropped ([`Inbound::release_budget`]), so the budget never leaks.
//! - Because mio is edge-triggered, a connection that stopped reading early remembers it
//!   ([`Inbound::wants_read`]) and says when it could go on without a readiness event
//!   ([`Inbound::can_progress`]), so the event loop reads it again without waiting for an event
//!   that would never come.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::SocketAddr;

use mio::net::TcpStream;

use crate::protocol::FrameDecoder;
use crate::protocol::frame::{FRAME_SIZE_PREFIX_BYTES, Frame, FrameError};

/// Identifies a request within its connection; answers carry it back.
pub type RequestSeq = u64;

/// What one call to [`Inbound::read`] ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadOutcome {
    /// Read until the socket had nothing more for now.
    Drained,
    /// Stopped with bytes possibly left in the socket (buffer full, or the next frame waits
    /// for the budget); call again later.
    Paused,
    /// The peer closed its side. Owed responses can still be written.
    PeerClosed,
}

/// The node-wide budget of bytes reserved for partly read large requests.
#[derive(Debug)]
pub struct ReadBudget {
    bytes_max: usize,
    bytes_reserved: usize,
}

impl ReadBudget {
    pub fn new(bytes_max: usize) -> ReadBudget {
        ReadBudget {
            bytes_max,
            bytes_reserved: 0,
        }
    }

    /// Bytes that can still be reserved.
    pub fn available_bytes(&self) -> usize {
        self.bytes_max - self.bytes_reserved
    }

    pub fn reserved_bytes(&self) -> usize {
        self.bytes_reserved
    }

    fn try_reserve(&mut self, bytes: usize) -> bool {
        if bytes > self.available_bytes() {
            return false;
        }
        self.bytes_reserved += bytes;
        true
    }

    fn release(&mut self, bytes: usize) {
        assert!(
            bytes <= self.bytes_reserved,
            "released more than was reserved"
        );
        self.bytes_reserved -= bytes;
    }
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
    /// Unparsed bytes the connection may hold without a reservation (and the most it ever
    /// holds while the next frame is no larger).
    unbudgeted_bytes: usize,
    /// Bytes of the budget reserved for the next frame (0 if it is small or not granted yet).
    reserved_bytes: usize,
    /// The next frame's reservation was refused: it waits for the budget to free.
    waiting_for_budget: bool,
    requests_in_flight_max: usize,
    owed: VecDeque<Owed>,
    next_seq: RequestSeq,
    write_buffer: Vec<u8>,
    written: usize,
    wants_read: bool,
    peer_closed: bool,
    /// Bytes moved (in or out) since the last [`Inbound::take_activity`].
    active: bool,
}

impl Inbound {
    /// `unbudgeted_bytes` must hold the smallest frames (a size prefix and a request header).
    pub fn new(
        stream: TcpStream,
        peer_addr: SocketAddr,
        max_frame_bytes: u32,
        unbudgeted_bytes: usize,
        requests_in_flight_max: usize,
    ) -> Self {
        assert!(requests_in_flight_max > 0);
        assert!(unbudgeted_bytes > FRAME_SIZE_PREFIX_BYTES);
        Self {
            stream,
            peer_addr,
            decoder: FrameDecoder::new(max_frame_bytes),
            unbudgeted_bytes,
            reserved_bytes: 0,
            waiting_for_budget: false,
            requests_in_flight_max,
            owed: VecDeque::new(),
            next_seq: 0,
            write_buffer: Vec::new(),
            written: 0,
            wants_read: true,
            peer_closed: false,
            active: false,
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

    /// True if a call to [`Inbound::read`] or [`Inbound::next_request`] could make progress now
    /// without a new readiness event: a whole frame can be taken, or the socket may have bytes
    /// and there is room for them (within the reservation, or the budget now has what the
    /// waiting frame needs).
    pub fn can_progress(&self, budget: &ReadBudget) -> bool {
        if self.owed.len() < self.requests_in_flight_max && self.decoder.has_frame() {
            return true;
        }
        if !self.wants_read() {
            return false;
        }
        if self.decoder.buffered_bytes() < self.hold_bytes_max() {
            return true;
        }
        self.waiting_for_budget
            && self
                .reservation_needed()
                .is_some_and(|bytes| bytes <= budget.available_bytes())
    }

    /// True while the next frame waits for the budget to free.
    pub fn waiting_for_budget(&self) -> bool {
        self.waiting_for_budget
    }

    /// Bytes of the budget this connection holds.
    pub fn reserved_bytes(&self) -> usize {
        self.reserved_bytes
    }

    /// Bytes allocated for unparsed input (what this connection's partly read requests cost).
    pub fn read_buffer_capacity_bytes(&self) -> usize {
        self.decoder.capacity_bytes()
    }

    /// Returns this connection's reservation to `budget`; call before dropping it.
    pub fn release_budget(&mut self, budget: &mut ReadBudget) {
        budget.release(std::mem::take(&mut self.reserved_bytes));
        self.waiting_for_budget = false;
    }

    /// Whether bytes moved since the last call.
    pub fn take_activity(&mut self) -> bool {
        std::mem::take(&mut self.active)
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

    /// The most unparsed bytes the connection may hold now: the next frame exactly while it
    /// has a reservation, else the unbudgeted allowance.
    fn hold_bytes_max(&self) -> usize {
        self.unbudgeted_bytes + self.reserved_bytes
    }

    /// Bytes the next frame must reserve before more of it is read: its length beyond the
    /// unbudgeted allowance, if its size prefix has arrived and it is that large.
    fn reservation_needed(&self) -> Option<usize> {
        match self.decoder.pending_frame_bytes() {
            Ok(Some(total)) if total > self.unbudgeted_bytes => Some(total - self.unbudgeted_bytes),
            _ => None,
        }
    }

    /// Reserves the budget the next frame needs, if it needs some and has none yet.
    fn claim_budget(&mut self, budget: &mut ReadBudget) {
        if self.reserved_bytes > 0 {
            return;
        }
        match self.reservation_needed() {
            Some(bytes) if budget.try_reserve(bytes) => {
                self.reserved_bytes = bytes;
                self.waiting_for_budget = false;
            }
            Some(_) => self.waiting_for_budget = true,
            None => self.waiting_for_budget = false,
        }
    }

    /// Reads into the frame decoder until the socket is drained or the connection holds all it
    /// may (see [`Inbound::hold_bytes_max`]). `scratch` is the event loop's shared read buffer.
    pub fn read(&mut self, scratch: &mut [u8], budget: &mut ReadBudget) -> io::Result<ReadOutcome> {
        assert!(!scratch.is_empty());
        loop {
            self.claim_budget(budget);
            let hold_max = self.hold_bytes_max();
            let buffered = self.decoder.buffered_bytes();
            if buffered >= hold_max {
                self.wants_read = true;
                return Ok(ReadOutcome::Paused);
            }
            let room = (hold_max - buffered).min(scratch.len());
            match self.stream.read(&mut scratch[..room]) {
                Ok(0) => {
                    self.peer_closed = true;
                    self.wants_read = false;
                    return Ok(ReadOutcome::PeerClosed);
                }
                Ok(n) => {
                    self.active = true;
                    self.decoder.extend_capped(&scratch[..n], hold_max);
                }
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
    /// [`Inbound::forget`]) using the returned sequence number. A reservation the frame held
    /// returns to `budget`.
    pub fn next_request(
        &mut self,
        budget: &mut ReadBudget,
    ) -> Result<Option<(RequestSeq, Frame)>, FrameError> {
        if self.owed.len() >= self.requests_in_flight_max {
            return Ok(None);
        }
        let seq = self.next_seq;
        let Some(frame) = self.decoder.take_frame()? else {
            return Ok(None);
        };
        // The reservation was the next frame's, which is this one.
        budget.release(std::mem::take(&mut self.reserved_bytes));
        self.waiting_for_budget = false;
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
                Ok(n) => {
                    self.written += n;
                    self.active = true;
                }
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

    /// A connected pair: a blocking std client and a non-blocking server-side `Inbound` that
    /// may hold one maximal frame without the budget.
    fn pair(max_frame_bytes: u32, in_flight: usize) -> (std::net::TcpStream, Inbound) {
        pair_with(max_frame_bytes, max_frame_bytes as usize + 4, in_flight)
    }

    fn pair_with(
        max_frame_bytes: u32,
        unbudgeted_bytes: usize,
        in_flight: usize,
    ) -> (std::net::TcpStream, Inbound) {
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
                unbudgeted_bytes,
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
        let mut budget = ReadBudget::new(usize::MAX);
        let mut got = Vec::new();
        let deadline = Instant::now() + within;
        while got.len() < want && Instant::now() < deadline {
            inbound.read(&mut scratch, &mut budget).unwrap();
            while let Some((seq, frame)) = inbound.next_request(&mut budget).unwrap() {
                got.push((seq, frame.body().to_vec()));
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
        let mut budget = ReadBudget::new(0);
        let mut outcome = inbound.read(&mut scratch, &mut budget).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while outcome != ReadOutcome::Paused && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
            outcome = inbound.read(&mut scratch, &mut budget).unwrap();
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
        let mut budget = ReadBudget::new(0);
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            inbound.read(&mut scratch, &mut budget).unwrap();
            match inbound.next_request(&mut budget) {
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
        let mut budget = ReadBudget::new(0);
        let deadline = Instant::now() + Duration::from_secs(5);
        while inbound.read(&mut scratch, &mut budget).unwrap() != ReadOutcome::PeerClosed {
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

    /// Reads `inbound` (answering every request) until `done` holds; panics after 5 seconds.
    fn pump(
        inbound: &mut Inbound,
        budget: &mut ReadBudget,
        frames: &mut Vec<Vec<u8>>,
        mut done: impl FnMut(&Inbound, &[Vec<u8>]) -> bool,
    ) {
        let mut scratch = vec![0u8; 64 * 1024];
        let deadline = Instant::now() + Duration::from_secs(5);
        while !done(inbound, frames) {
            assert!(Instant::now() < deadline, "condition not reached");
            inbound.read(&mut scratch, budget).unwrap();
            while let Some((seq, frame)) = inbound.next_request(budget).unwrap() {
                frames.push(frame.body().to_vec());
                inbound.respond(seq, framed(b"ok"));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn a_large_frame_waits_for_the_budget_and_resumes_when_another_frame_frees_it() {
        const SMALL: usize = 1024;
        let big = vec![9u8; 300_000];
        let mut budget = ReadBudget::new(400_000);
        let (mut client_a, mut a) = pair_with(1 << 20, SMALL, 4);
        let (mut client_b, mut b) = pair_with(1 << 20, SMALL, 4);
        // A's frame is announced first and takes most of the budget; it arrives in two parts.
        client_a.write_all(&framed(&big)[..200_000]).unwrap();
        let (mut frames_a, mut frames_b) = (Vec::new(), Vec::new());
        pump(&mut a, &mut budget, &mut frames_a, |a, _| {
            a.decoder.buffered_bytes() == 200_000
        });
        assert_eq!(a.reserved_bytes(), 300_004 - SMALL);
        // B's frame does not fit beside it: B holds at most its unbudgeted bytes, and says it
        // cannot progress (no spinning) while the budget is short.
        client_b.write_all(&framed(&big)).unwrap();
        pump(&mut b, &mut budget, &mut frames_b, |b, _| {
            b.waiting_for_budget() && b.decoder.buffered_bytes() == SMALL
        });
        assert_eq!(b.reserved_bytes(), 0);
        assert!(!b.can_progress(&budget));
        assert!(b.read_buffer_capacity_bytes() <= SMALL);
        // A completes; its reservation returns, and B goes on.
        client_a.write_all(&framed(&big)[200_000..]).unwrap();
        pump(&mut a, &mut budget, &mut frames_a, |_, f| f.len() == 1);
        assert_eq!(frames_a[0], big);
        assert_eq!(budget.reserved_bytes(), 0);
        assert!(
            b.can_progress(&budget),
            "the budget freed: B reads without an event"
        );
        pump(&mut b, &mut budget, &mut frames_b, |_, f| f.len() == 1);
        assert_eq!(frames_b[0], big);
        assert_eq!(budget.reserved_bytes(), 0);
    }

    #[test]
    fn small_frames_are_read_while_a_large_one_holds_the_whole_budget() {
        let mut budget = ReadBudget::new(100_000);
        let (mut hog_client, mut hog) = pair_with(1 << 20, 1024, 4);
        // Announce a frame that takes the whole budget, and never finish it.
        hog_client
            .write_all(&(100_000u32 + 1020).to_be_bytes())
            .unwrap();
        let mut hog_frames = Vec::new();
        pump(&mut hog, &mut budget, &mut hog_frames, |hog, _| {
            hog.reserved_bytes() > 0
        });
        assert_eq!(budget.available_bytes(), 0);
        let (mut client, mut inbound) = pair_with(1 << 20, 1024, 4);
        let mut frames = Vec::new();
        for i in 0..50u8 {
            client.write_all(&framed(&[i; 200])).unwrap();
        }
        pump(&mut inbound, &mut budget, &mut frames, |_, f| f.len() == 50);
        assert_eq!(frames[49], vec![49; 200]);
        // Dropping the hog returns its reservation.
        hog.release_budget(&mut budget);
        assert_eq!(budget.reserved_bytes(), 0);
    }

    #[test]
    fn a_trickled_large_frame_allocates_little_more_than_what_arrived() {
        let mut budget = ReadBudget::new(usize::MAX);
        let (mut client, mut inbound) = pair_with(8 << 20, 1024, 4);
        let body = vec![3u8; 5 << 20];
        let bytes = framed(&body);
        let mut frames = Vec::new();
        let mut sent = 0;
        for piece in bytes.chunks(97 * 1024) {
            client.write_all(piece).unwrap();
            sent += piece.len();
            pump(&mut inbound, &mut budget, &mut frames, |i, f| {
                !f.is_empty() || i.decoder.buffered_bytes() == sent
            });
            if frames.is_empty() {
                let capacity = inbound.read_buffer_capacity_bytes();
                assert!(
                    capacity <= sent + sent / 4 + 4096,
                    "{capacity} bytes allocated for {sent} received"
                );
            }
        }
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0], body);
        assert_eq!(budget.reserved_bytes(), 0);
        assert!(
            inbound.read_buffer_capacity_bytes() <= 64 * 1024,
            "the buffer does not keep the size of its largest frame"
        );
    }
}
