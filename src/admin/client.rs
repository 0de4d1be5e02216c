//! A blocking Kafka-protocol client connection for command-line tools.
//!
//! One request at a time; every socket operation has a timeout: either
//! [`ADMIN_REQUEST_TIMEOUT_MS`] per operation ([`Client::connect`]) or whatever is left of one
//! deadline for the whole command ([`Client::connect_until`]). Responses are bounded by
//! [`RESPONSE_FRAME_BYTES_MAX`], and the buffer for one grows only as its bytes arrive, so a
//! lying size prefix costs no memory.

use std::fmt;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use crate::constants::{
    ADMIN_REQUEST_TIMEOUT_MS, ADMIN_RESPONSE_FRAME_BYTES_MAX, ADMIN_RESPONSE_READ_CHUNK_BYTES,
};
use crate::protocol::envelope::{decode_response, encode_request};
use crate::protocol::frame::{FRAME_SIZE_PREFIX_BYTES, peek_frame_size};
use crate::protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};
use crate::protocol::{ApiKey, ApiMessage, DecodeError, EncodeError, ErrorCode, FrameError};

/// The largest response a tool accepts.
pub const RESPONSE_FRAME_BYTES_MAX: u32 = ADMIN_RESPONSE_FRAME_BYTES_MAX;

/// The client id in every request header, and the software name in ApiVersions (KIP-511: it
/// must match `[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?`).
pub const CLIENT_ID: &str = "keel-admin";

#[derive(Debug)]
pub enum ClientError {
    Connect {
        address: String,
        source: std::io::Error,
    },
    Io {
        address: String,
        source: std::io::Error,
    },
    /// The server closed the connection before the whole response arrived.
    Closed {
        address: String,
    },
    /// The deadline passed while waiting for the server.
    TimedOut {
        address: String,
    },
    Frame {
        address: String,
        reason: String,
    },
    Decode {
        address: String,
        source: DecodeError,
    },
    Encode(EncodeError),
    CorrelationMismatch {
        address: String,
        expected: i32,
        got: i32,
    },
}

impl ClientError {
    /// Whether the failure is the network's (connecting, a lost connection, no answer in time)
    /// rather than an answer that makes no sense or a request that cannot be written.
    pub fn is_network(&self) -> bool {
        matches!(
            self,
            ClientError::Connect { .. }
                | ClientError::Io { .. }
                | ClientError::Closed { .. }
                | ClientError::TimedOut { .. }
        )
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Connect { address, source } => {
                write!(f, "cannot connect to {address}: {source}")
            }
            ClientError::Io { address, source } => write!(f, "{address}: {source}"),
            ClientError::Closed { address } => {
                write!(f, "{address} closed the connection before answering")
            }
            ClientError::TimedOut { address } => {
                write!(f, "{address} did not answer in time")
            }
            ClientError::Frame { address, reason } => write!(f, "{address}: {reason}"),
            ClientError::Decode { address, source } => {
                write!(f, "{address} sent a response keel cannot read: {source}")
            }
            ClientError::Encode(e) => write!(f, "cannot encode the request: {e}"),
            ClientError::CorrelationMismatch {
                address,
                expected,
                got,
            } => {
                write!(f, "{address} answered request {got}, expected {expected}")
            }
        }
    }
}

impl std::error::Error for ClientError {}

/// A connection to one node.
pub struct Client {
    address: String,
    stream: TcpStream,
    next_correlation_id: i32,
    /// When set, every socket operation waits at most until then.
    deadline: Option<Instant>,
}

/// The shortest socket timeout set (zero means "no timeout" to the OS).
const TIMEOUT_FLOOR: Duration = Duration::from_millis(1);

impl Client {
    /// Connects to `address` (`host:port`), with [`ADMIN_REQUEST_TIMEOUT_MS`] for the connect
    /// and every later read and write.
    pub fn connect(address: &str) -> Result<Client, ClientError> {
        Client::connect_with(
            address,
            Duration::from_millis(ADMIN_REQUEST_TIMEOUT_MS),
            None,
        )
    }

    /// Connects to `address` (`host:port`); the connect and every later read and write end at
    /// `deadline` at the latest ([`ClientError::TimedOut`] or a connect error).
    pub fn connect_until(address: &str, deadline: Instant) -> Result<Client, ClientError> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ClientError::TimedOut {
                address: address.to_owned(),
            });
        }
        Client::connect_with(address, left, Some(deadline))
    }

    fn connect_with(
        address: &str,
        timeout: Duration,
        deadline: Option<Instant>,
    ) -> Result<Client, ClientError> {
        let connect_error = |source| ClientError::Connect {
            address: address.to_owned(),
            source,
        };
        let candidates: Vec<SocketAddr> =
            address.to_socket_addrs().map_err(connect_error)?.collect();
        let mut last_error = None;
        for candidate in candidates {
            let timeout = match deadline {
                Some(deadline) => deadline.saturating_duration_since(Instant::now()),
                None => timeout,
            };
            if timeout.is_zero() {
                break;
            }
            match TcpStream::connect_timeout(&candidate, timeout) {
                Ok(stream) => {
                    stream
                        .set_read_timeout(Some(timeout))
                        .map_err(connect_error)?;
                    stream
                        .set_write_timeout(Some(timeout))
                        .map_err(connect_error)?;
                    let _ = stream.set_nodelay(true);
                    return Ok(Client {
                        address: address.to_owned(),
                        stream,
                        next_correlation_id: 0,
                        deadline,
                    });
                }
                Err(e) => last_error = Some(e),
            }
        }
        Err(connect_error(last_error.unwrap_or_else(|| {
            std::io::Error::new(ErrorKind::TimedOut, "no time left to connect")
        })))
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    /// Sends `request` at `version` and waits for the response of type `R`.
    pub fn call<Q: ApiMessage, R: ApiMessage>(
        &mut self,
        request: &Q,
        version: i16,
    ) -> Result<R, ClientError> {
        let frame = self.exchange(request, version)?;
        let (_, response) =
            decode_response::<R>(&frame, version).map_err(|source| ClientError::Decode {
                address: self.address.clone(),
                source,
            })?;
        Ok(response)
    }

    /// The ApiVersions handshake: asks with the newest version keel knows and, if the server
    /// answers `UNSUPPORTED_VERSION` (KIP-511: a v0 body listing the ApiVersions versions it
    /// knows), once more with the newest version both know. Returns the version of the answer
    /// and the answer, whose error code the caller checks.
    pub fn api_versions(&mut self) -> Result<(i16, ApiVersionsResponse), ClientError> {
        let ours = ApiKey::ApiVersions.versions();
        let mut version = *ours.end();
        loop {
            let mut request = ApiVersionsRequest::default();
            if version >= 3 {
                request.client_software_name = CLIENT_ID.into();
                request.client_software_version = env!("CARGO_PKG_VERSION").into();
            }
            let frame = self.exchange(&request, version)?;
            // The response header is v0 in every version and the error code comes first in
            // every body, so it can be read before the version of the body is known.
            let error_code = frame
                .get(4..6)
                .map(|b| i16::from_be_bytes([b[0], b[1]]))
                .unwrap_or_default();
            let unsupported = error_code == ErrorCode::UnsupportedVersion.code();
            let body_version = if unsupported { 0 } else { version };
            let (_, response) = decode_response::<ApiVersionsResponse>(&frame, body_version)
                .map_err(|source| ClientError::Decode {
                    address: self.address.clone(),
                    source,
                })?;
            if !unsupported {
                return Ok((version, response));
            }
            let theirs = response
                .api_keys
                .iter()
                .find(|k| k.api_key == ApiKey::ApiVersions as i16)
                .map(|k| k.max_version);
            match theirs {
                Some(theirs) if theirs < version && theirs >= *ours.start() => version = theirs,
                _ => return Ok((body_version, response)),
            }
        }
    }

    /// Sends one request and reads the frame answering it (correlation id checked).
    fn exchange<Q: ApiMessage>(
        &mut self,
        request: &Q,
        version: i16,
    ) -> Result<Vec<u8>, ClientError> {
        let correlation_id = self.next_correlation_id;
        self.next_correlation_id = self.next_correlation_id.wrapping_add(1);
        let mut out = Vec::new();
        encode_request(&mut out, correlation_id, Some(CLIENT_ID), version, request)
            .map_err(ClientError::Encode)?;
        self.write_all(&out)?;
        let mut prefix = [0u8; FRAME_SIZE_PREFIX_BYTES];
        self.read_exact(&mut prefix)?;
        let size = peek_frame_size(&prefix, RESPONSE_FRAME_BYTES_MAX)
            .map_err(|e| ClientError::Frame {
                address: self.address.clone(),
                reason: match e {
                    FrameError::TooLarge { size, .. } => format!(
                        "it announces a response of {size} bytes, more than the \
                         {RESPONSE_FRAME_BYTES_MAX} keel accepts"
                    ),
                    FrameError::NegativeSize { size } => {
                        format!("it announces a response of negative size {size}")
                    }
                },
            })?
            .expect("four bytes were read");
        let mut frame = Vec::with_capacity(size.min(ADMIN_RESPONSE_READ_CHUNK_BYTES));
        while frame.len() < size {
            let start = frame.len();
            let chunk = (size - start).min(ADMIN_RESPONSE_READ_CHUNK_BYTES);
            frame.resize(start + chunk, 0);
            self.read_exact(&mut frame[start..])?;
        }
        let got = frame
            .first_chunk::<4>()
            .map(|b| i32::from_be_bytes(*b))
            .ok_or_else(|| ClientError::Frame {
                address: self.address.clone(),
                reason: format!("a response frame of {size} bytes has no correlation id"),
            })?;
        if got != correlation_id {
            return Err(ClientError::CorrelationMismatch {
                address: self.address.clone(),
                expected: correlation_id,
                got,
            });
        }
        Ok(frame)
    }

    /// Sets the socket timeouts to what is left of the deadline, if there is one.
    fn arm_timeout(&mut self) -> Result<(), ClientError> {
        let Some(deadline) = self.deadline else {
            return Ok(());
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ClientError::TimedOut {
                address: self.address.clone(),
            });
        }
        let left = left.max(TIMEOUT_FLOOR);
        let io = |source| ClientError::Io {
            address: self.address.clone(),
            source,
        };
        self.stream.set_read_timeout(Some(left)).map_err(io)?;
        self.stream.set_write_timeout(Some(left)).map_err(io)?;
        Ok(())
    }

    fn io_error(&self, source: std::io::Error) -> ClientError {
        match source.kind() {
            ErrorKind::WouldBlock | ErrorKind::TimedOut => ClientError::TimedOut {
                address: self.address.clone(),
            },
            ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset | ErrorKind::BrokenPipe => {
                ClientError::Closed {
                    address: self.address.clone(),
                }
            }
            _ => ClientError::Io {
                address: self.address.clone(),
                source,
            },
        }
    }

    fn write_all(&mut self, mut bytes: &[u8]) -> Result<(), ClientError> {
        while !bytes.is_empty() {
            self.arm_timeout()?;
            match self.stream.write(bytes) {
                Ok(0) => {
                    return Err(ClientError::Closed {
                        address: self.address.clone(),
                    });
                }
                Ok(n) => bytes = &bytes[n..],
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io_error(e)),
            }
        }
        Ok(())
    }

    fn read_exact(&mut self, mut buffer: &mut [u8]) -> Result<(), ClientError> {
        while !buffer.is_empty() {
            self.arm_timeout()?;
            match self.stream.read(buffer) {
                Ok(0) => {
                    return Err(ClientError::Closed {
                        address: self.address.clone(),
                    });
                }
                Ok(n) => buffer = &mut buffer[n..],
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io_error(e)),
            }
        }
        Ok(())
    }
}
