//! One client connection from this node to another (a voter, or the active controller): send
//! requests, match responses by correlation id, time requests out, reconnect with backoff.
//!
//! Invariants:
//! - Requests are answered in order on one connection (Kafka servers answer in order), so the
//!   oldest in-flight request is always the one the next response belongs to; a response with
//!   another correlation id is a protocol error and the connection is dropped.
//! - Every request ends exactly once: with its response, or with a [`LinkError`] when it times
//!   out or the connection fails. A failure fails every request in flight on that connection,
//!   each with [`LinkError::NotSent`] if its last byte never left, so that a caller can tell a
//!   request the peer never saw (safe to send elsewhere) from one it may have acted on.
//! - At most `requests_in_flight_max` requests are in flight; past it `send` refuses. A link
//!   that is backing off after a failure refuses immediately (the caller's own timers resend;
//!   Raft tolerates lost messages by design).
//! - Reconnects back off exponentially from `backoff_ms` to `backoff_max_ms` with +-20% jitter
//!   (Kafka's `reconnect.backoff.ms` rules), so a dead peer costs one connect attempt per
//!   backoff, and peers that restart together do not reconnect in lockstep.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::SocketAddr;

use mio::net::TcpStream;

use crate::node::LinkError;
use crate::protocol::envelope::{decode_response_body, encode_request_body};
use crate::protocol::{ApiKey, DecodeError, FrameDecoder, RequestBody, ResponseBody};

/// A finished request: its caller token and the outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub token: u64,
    pub api_key: ApiKey,
    pub result: Result<ResponseBody, LinkError>,
}

#[derive(Debug, Clone, Copy)]
pub struct LinkConfig {
    pub max_frame_bytes: u32,
    pub requests_in_flight_max: usize,
    pub backoff_ms: u64,
    pub backoff_max_ms: u64,
}

#[derive(Debug)]
struct InFlight {
    correlation_id: i32,
    api_key: ApiKey,
    version: i16,
    deadline_ms: u64,
    token: u64,
    /// Where the request's last byte sits in the connection's byte stream.
    ends_at_byte: u64,
}

#[derive(Debug)]
enum State {
    /// Not connected; the next attempt may start at `retry_at_ms`.
    Idle {
        retry_at_ms: u64,
    },
    Connecting(TcpStream),
    Connected(TcpStream),
}

#[derive(Debug)]
pub struct PeerLink {
    addr: SocketAddr,
    client_id: String,
    config: LinkConfig,
    state: State,
    decoder: FrameDecoder,
    write_buffer: Vec<u8>,
    written: usize,
    in_flight: VecDeque<InFlight>,
    next_correlation_id: i32,
    consecutive_failures: u32,
    /// Bytes queued on, and written to, the current connection since it was opened.
    stream_bytes_queued: u64,
    stream_bytes_written: u64,
    /// The peer refused, reset or closed the connection (see [`PeerLink::take_lost_by_peer`]).
    lost_by_peer: bool,
}

/// Exponential backoff with +-20% jitter; `random` supplies the jitter bits.
pub fn backoff_delay_ms(config: &LinkConfig, consecutive_failures: u32, random: u64) -> u64 {
    let exponent = consecutive_failures.saturating_sub(1).min(20);
    let base = config
        .backoff_ms
        .saturating_mul(1 << exponent)
        .min(config.backoff_max_ms);
    // Uniform in [0.8, 1.2] x base, in integer arithmetic.
    let jitter_permille = 800 + random % 401;
    base * jitter_permille / 1000
}

impl PeerLink {
    pub fn new(addr: SocketAddr, client_id: &str, config: LinkConfig) -> Self {
        assert!(config.requests_in_flight_max > 0);
        assert!(config.backoff_ms > 0 && config.backoff_ms <= config.backoff_max_ms);
        Self {
            addr,
            client_id: client_id.to_owned(),
            config,
            state: State::Idle { retry_at_ms: 0 },
            decoder: FrameDecoder::new(config.max_frame_bytes),
            write_buffer: Vec::new(),
            written: 0,
            in_flight: VecDeque::new(),
            next_correlation_id: 0,
            consecutive_failures: 0,
            stream_bytes_queued: 0,
            stream_bytes_written: 0,
            lost_by_peer: false,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn is_connected(&self) -> bool {
        matches!(self.state, State::Connected(_))
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// The socket, while there is one (to register with the poll).
    pub fn stream_mut(&mut self) -> Option<&mut TcpStream> {
        match &mut self.state {
            State::Connecting(stream) | State::Connected(stream) => Some(stream),
            State::Idle { .. } => None,
        }
    }

    /// Starts connecting if idle and the backoff has passed. Returns true when a new socket
    /// was created (the caller registers it with its poll). `random` supplies backoff jitter.
    pub fn maybe_connect(&mut self, now_ms: u64, random: u64) -> bool {
        let State::Idle { retry_at_ms } = self.state else {
            return false;
        };
        if now_ms < retry_at_ms {
            return false;
        }
        match TcpStream::connect(self.addr) {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                self.state = State::Connecting(stream);
                true
            }
            Err(e) => {
                // Immediate failures (no route, no local ports) back off like refused connects.
                self.lost_by_peer |= e.kind() == io::ErrorKind::ConnectionRefused;
                self.consecutive_failures += 1;
                self.state = State::Idle {
                    retry_at_ms: now_ms
                        + backoff_delay_ms(&self.config, self.consecutive_failures, random),
                };
                false
            }
        }
    }

    /// Queues a request. While connecting it waits in the write buffer; while idle (backing
    /// off) it is refused. On success returns the correlation id used.
    pub fn send(
        &mut self,
        now_ms: u64,
        token: u64,
        version: i16,
        body: &RequestBody,
        timeout_ms: u64,
    ) -> Result<i32, LinkError> {
        if matches!(self.state, State::Idle { .. })
            || self.in_flight.len() >= self.config.requests_in_flight_max
        {
            return Err(LinkError::NotReady);
        }
        let correlation_id = self.next_correlation_id;
        self.next_correlation_id = self.next_correlation_id.wrapping_add(1).max(0);
        if self.written == self.write_buffer.len() {
            self.write_buffer.clear();
            self.written = 0;
        }
        let before = self.write_buffer.len();
        encode_request_body(
            &mut self.write_buffer,
            correlation_id,
            Some(&self.client_id),
            version,
            body,
        )
        .map_err(|e| LinkError::Malformed(e.to_string()))?;
        self.stream_bytes_queued += (self.write_buffer.len() - before) as u64;
        self.in_flight.push_back(InFlight {
            correlation_id,
            api_key: body.api_key(),
            version,
            deadline_ms: now_ms + timeout_ms,
            token,
            ends_at_byte: self.stream_bytes_queued,
        });
        Ok(correlation_id)
    }

    /// Handles readiness of the socket: finishes a connect, writes queued requests, reads
    /// responses. Returns the requests that finished.
    pub fn on_ready(&mut self, now_ms: u64, scratch: &mut [u8], random: u64) -> Vec<Completion> {
        if let State::Connecting(stream) = &self.state {
            match stream.take_error() {
                Ok(None) if stream.peer_addr().is_ok() => {
                    let State::Connecting(stream) =
                        std::mem::replace(&mut self.state, State::Idle { retry_at_ms: 0 })
                    else {
                        unreachable!("checked above")
                    };
                    self.state = State::Connected(stream);
                    self.consecutive_failures = 0;
                }
                Ok(None) => return Vec::new(), // still connecting
                Ok(Some(_)) | Err(_) => return self.fail_by_peer(now_ms, random),
            }
        }
        let State::Connected(stream) = &mut self.state else {
            return Vec::new();
        };
        while self.written < self.write_buffer.len() {
            match stream.write(&self.write_buffer[self.written..]) {
                Ok(0) => return self.fail_by_peer(now_ms, random),
                Ok(n) => {
                    self.written += n;
                    self.stream_bytes_written += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return self.fail_by_peer(now_ms, random),
            }
        }
        // Read everything available first, then decode: responses that arrived just before the
        // peer closed must still complete their requests.
        let mut closed = false;
        loop {
            match stream.read(scratch) {
                Ok(0) => {
                    closed = true;
                    break;
                }
                Ok(n) => self.decoder.extend(&scratch[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    closed = true;
                    break;
                }
            }
        }
        let mut finished = Vec::new();
        loop {
            let frame = match self.decoder.next_frame() {
                Ok(Some(frame)) => frame.to_vec(),
                Ok(None) => break,
                Err(e) => {
                    finished.extend(self.fail(now_ms, random, LinkError::Malformed(e.to_string())));
                    return finished;
                }
            };
            match self.complete(&frame) {
                Ok(completion) => finished.push(completion),
                Err(error) => {
                    finished.extend(self.fail(now_ms, random, error));
                    return finished;
                }
            }
        }
        if closed {
            finished.extend(self.fail_by_peer(now_ms, random));
        }
        finished
    }

    fn complete(&mut self, frame: &[u8]) -> Result<Completion, LinkError> {
        let Some(expected) = self.in_flight.front() else {
            return Err(LinkError::Malformed(
                "a response arrived with no request in flight".into(),
            ));
        };
        let decoded: Result<_, DecodeError> =
            decode_response_body(frame, expected.api_key, expected.version);
        let (correlation_id, body) = decoded.map_err(|e| LinkError::Malformed(e.to_string()))?;
        if correlation_id != expected.correlation_id {
            return Err(LinkError::Malformed(format!(
                "response has correlation id {correlation_id}, expected {}",
                expected.correlation_id
            )));
        }
        let request = self.in_flight.pop_front().expect("front exists");
        Ok(Completion {
            token: request.token,
            api_key: request.api_key,
            result: Ok(body),
        })
    }

    /// Fails the oldest request's connection if its deadline has passed.
    pub fn check_timeouts(&mut self, now_ms: u64, random: u64) -> Vec<Completion> {
        match self.in_flight.front() {
            Some(oldest) if oldest.deadline_ms <= now_ms => {
                self.fail(now_ms, random, LinkError::TimedOut)
            }
            _ => Vec::new(),
        }
    }

    /// The earliest time this link needs attention: a request deadline, or the end of a backoff
    /// (only while the caller wants the link connected, which it signals by calling
    /// [`PeerLink::maybe_connect`]).
    pub fn next_deadline_ms(&self) -> Option<u64> {
        let request = self.in_flight.front().map(|r| r.deadline_ms);
        let retry = match self.state {
            State::Idle { retry_at_ms } => Some(retry_at_ms),
            _ => None,
        };
        match (request, retry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Drops the connection and fails everything in flight with `error`.
    /// The peer's side ended the connection: refused it, reset it or closed it. Unlike a
    /// timeout or a bad answer, this is what a peer whose process is gone looks like.
    fn fail_by_peer(&mut self, now_ms: u64, random: u64) -> Vec<Completion> {
        self.lost_by_peer = true;
        self.fail(now_ms, random, LinkError::Disconnected)
    }

    /// Whether the peer ended the connection (refused, reset, closed) since the last call.
    pub fn take_lost_by_peer(&mut self) -> bool {
        std::mem::take(&mut self.lost_by_peer)
    }

    fn fail(&mut self, now_ms: u64, random: u64, error: LinkError) -> Vec<Completion> {
        self.consecutive_failures += 1;
        self.state = State::Idle {
            retry_at_ms: now_ms + backoff_delay_ms(&self.config, self.consecutive_failures, random),
        };
        self.decoder = FrameDecoder::new(self.config.max_frame_bytes);
        self.write_buffer.clear();
        self.written = 0;
        let written = std::mem::take(&mut self.stream_bytes_written);
        self.stream_bytes_queued = 0;
        self.in_flight
            .drain(..)
            .map(|request| Completion {
                token: request.token,
                api_key: request.api_key,
                result: Err(if request.ends_at_byte <= written {
                    error.clone()
                } else {
                    LinkError::NotSent
                }),
            })
            .collect()
    }

    /// Closes the link (shutdown), failing what is in flight.
    pub fn close(&mut self, now_ms: u64) -> Vec<Completion> {
        let failed = self.fail(now_ms, 0, LinkError::Disconnected);
        self.consecutive_failures = 0;
        failed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::envelope::encode_response_body;
    use crate::protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};
    use crate::protocol::{RequestFrame, decode_request};
    use std::time::{Duration, Instant};

    const CONFIG: LinkConfig = LinkConfig {
        max_frame_bytes: 1 << 20,
        requests_in_flight_max: 4,
        backoff_ms: 50,
        backoff_max_ms: 1000,
    };

    fn api_versions() -> RequestBody {
        RequestBody::ApiVersions(ApiVersionsRequest::default())
    }

    /// Drives the link until `done` or 5 seconds pass, collecting completions.
    fn drive(link: &mut PeerLink, mut done: impl FnMut(&[Completion]) -> bool) -> Vec<Completion> {
        let start = Instant::now();
        let mut scratch = vec![0u8; 4096];
        let mut all = Vec::new();
        while !done(&all) {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "link made no progress: {all:?}"
            );
            let now = start.elapsed().as_millis() as u64;
            link.maybe_connect(now, 7);
            all.extend(link.on_ready(now, &mut scratch, 7));
            all.extend(link.check_timeouts(now, 7));
            std::thread::sleep(Duration::from_millis(1));
        }
        all
    }

    /// A server thread that reads `count` requests and answers them (in order) with ApiVersions
    /// responses whose error code is the request's correlation id.
    fn answering_server(count: usize) -> (SocketAddr, std::thread::JoinHandle<Vec<RequestFrame>>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let handle = std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().unwrap();
            let mut seen = Vec::new();
            for _ in 0..count {
                let mut size = [0u8; 4];
                socket.read_exact(&mut size).unwrap();
                let mut frame = vec![0u8; u32::from_be_bytes(size) as usize];
                socket.read_exact(&mut frame).unwrap();
                let request = decode_request(&frame).unwrap();
                let body = ResponseBody::ApiVersions(ApiVersionsResponse {
                    error_code: request.correlation_id() as i16,
                    ..Default::default()
                });
                let mut out = Vec::new();
                encode_response_body(&mut out, request.correlation_id(), request.version(), &body)
                    .unwrap();
                socket.write_all(&out).unwrap();
                seen.push(request);
            }
            seen
        });
        (addr, handle)
    }

    #[test]
    fn requests_sent_while_connecting_are_delivered_and_answered_in_order() {
        let (addr, server) = answering_server(3);
        let mut link = PeerLink::new(addr, "keel-1", CONFIG);
        assert!(link.maybe_connect(0, 7));
        for token in [10, 11, 12] {
            link.send(0, token, 3, &api_versions(), 5_000).unwrap();
        }
        let done = drive(&mut link, |c| c.len() == 3);
        let tokens: Vec<u64> = done.iter().map(|c| c.token).collect();
        assert_eq!(tokens, [10, 11, 12]);
        for (i, completion) in done.iter().enumerate() {
            let Ok(ResponseBody::ApiVersions(body)) = &completion.result else {
                panic!("{completion:?}")
            };
            assert_eq!(
                body.error_code, i as i16,
                "matched to its own correlation id"
            );
        }
        let seen = server.join().unwrap();
        assert_eq!(seen[0].header.client_id.as_deref(), Some("keel-1"));
    }

    #[test]
    fn a_refused_connection_fails_what_was_queued_and_backs_off() {
        // Bind then drop a listener: its port refuses connections.
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let mut link = PeerLink::new(addr, "keel-1", CONFIG);
        link.maybe_connect(0, 7);
        link.send(0, 1, 3, &api_versions(), 5_000).unwrap();
        let done = drive(&mut link, |c| !c.is_empty());
        assert_eq!(
            done[0].result,
            Err(LinkError::NotSent),
            "never written: the peer cannot have seen it"
        );
        assert_eq!(
            link.send(0, 2, 3, &api_versions(), 5_000),
            Err(LinkError::NotReady),
            "backing off"
        );
        let retry_at = link.next_deadline_ms().unwrap();
        assert!(
            retry_at >= 40,
            "backs off at least 0.8 x 50 ms, got {retry_at}"
        );
    }

    #[test]
    fn a_peer_that_closes_after_reading_a_request_may_have_acted_on_it() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().unwrap();
            let mut size = [0u8; 4];
            socket.read_exact(&mut size).unwrap();
            let mut frame = vec![0u8; u32::from_be_bytes(size) as usize];
            socket.read_exact(&mut frame).unwrap();
            // Dies of it: closes without answering.
        });
        let mut link = PeerLink::new(addr, "keel-1", CONFIG);
        link.maybe_connect(0, 7);
        link.send(0, 1, 3, &api_versions(), 5_000).unwrap();
        let done = drive(&mut link, |c| !c.is_empty());
        assert_eq!(done[0].token, 1);
        assert_eq!(done[0].result, Err(LinkError::Disconnected));
        server.join().unwrap();
    }

    #[test]
    fn a_silent_peer_times_the_request_out() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut link = PeerLink::new(listener.local_addr().unwrap(), "keel-1", CONFIG);
        link.maybe_connect(0, 7);
        link.send(0, 9, 3, &api_versions(), 50).unwrap();
        let done = drive(&mut link, |c| !c.is_empty());
        assert_eq!(done[0].token, 9);
        assert_eq!(done[0].result, Err(LinkError::TimedOut));
        drop(listener);
    }

    #[test]
    fn backoff_grows_exponentially_to_its_cap_with_bounded_jitter() {
        for failures in 1..30 {
            let base = (50u64 << (failures - 1).min(20)).min(1000);
            for random in [0, 200, 400, u64::MAX] {
                let delay = backoff_delay_ms(&CONFIG, failures, random);
                assert!(
                    delay >= base * 8 / 10 && delay <= base * 12 / 10,
                    "{failures}: {delay}"
                );
            }
        }
        assert_eq!(backoff_delay_ms(&CONFIG, 1, 200), 50);
        assert_eq!(backoff_delay_ms(&CONFIG, 25, 200), 1000);
    }

    #[test]
    fn the_in_flight_limit_refuses_more_requests() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut link = PeerLink::new(listener.local_addr().unwrap(), "keel-1", CONFIG);
        link.maybe_connect(0, 7);
        for token in 0..4 {
            link.send(0, token, 3, &api_versions(), 5_000).unwrap();
        }
        assert_eq!(
            link.send(0, 4, 3, &api_versions(), 5_000),
            Err(LinkError::NotReady)
        );
    }
}
