//! A blocking Kafka-protocol client connection for command-line tools.
//!
//! One request at a time; every socket operation has a timeout, and responses are bounded by
//! [`RESPONSE_FRAME_BYTES_MAX`] like any frame keel reads.

use std::fmt;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::constants::{ADMIN_REQUEST_TIMEOUT_MS, PEER_RESPONSE_FRAME_BYTES_MAX};
use crate::protocol::envelope::{decode_response, encode_request};
use crate::protocol::frame::{FRAME_SIZE_PREFIX_BYTES, peek_frame_size};
use crate::protocol::{ApiMessage, DecodeError, EncodeError};

/// The largest response a tool accepts (one maximal fetch's worth).
pub const RESPONSE_FRAME_BYTES_MAX: u32 = PEER_RESPONSE_FRAME_BYTES_MAX;

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

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Connect { address, source } => {
                write!(f, "cannot connect to {address}: {source}")
            }
            ClientError::Io { address, source } => write!(f, "{address}: {source}"),
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
}

impl Client {
    /// Connects to `address` (`host:port`), with [`ADMIN_REQUEST_TIMEOUT_MS`] for the connect
    /// and every later read and write.
    pub fn connect(address: &str) -> Result<Client, ClientError> {
        let timeout = Duration::from_millis(ADMIN_REQUEST_TIMEOUT_MS);
        let connect_error = |source| ClientError::Connect {
            address: address.to_owned(),
            source,
        };
        let candidates: Vec<SocketAddr> =
            address.to_socket_addrs().map_err(connect_error)?.collect();
        let mut last_error = None;
        for candidate in candidates {
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
                    });
                }
                Err(e) => last_error = Some(e),
            }
        }
        Err(connect_error(last_error.unwrap_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::NotFound, "the name has no address")
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
        let correlation_id = self.next_correlation_id;
        self.next_correlation_id = self.next_correlation_id.wrapping_add(1);
        let mut out = Vec::new();
        encode_request(
            &mut out,
            correlation_id,
            Some("keel-admin"),
            version,
            request,
        )
        .map_err(ClientError::Encode)?;
        let io = |source| ClientError::Io {
            address: self.address.clone(),
            source,
        };
        self.stream.write_all(&out).map_err(io)?;
        let mut prefix = [0u8; FRAME_SIZE_PREFIX_BYTES];
        self.stream.read_exact(&mut prefix).map_err(io)?;
        let size = peek_frame_size(&prefix, RESPONSE_FRAME_BYTES_MAX)
            .map_err(|e| ClientError::Frame {
                address: self.address.clone(),
                reason: e.to_string(),
            })?
            .expect("four bytes were read");
        let mut frame = vec![0u8; size];
        self.stream.read_exact(&mut frame).map_err(io)?;
        let (got, response) =
            decode_response::<R>(&frame, version).map_err(|source| ClientError::Decode {
                address: self.address.clone(),
                source,
            })?;
        if got != correlation_id {
            return Err(ClientError::CorrelationMismatch {
                address: self.address.clone(),
                expected: correlation_id,
                got,
            });
        }
        Ok(response)
    }
}
