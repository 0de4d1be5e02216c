//! The Kafka wire protocol: bytes <-> message structs. Pure: no I/O, no clocks.
//!
//! - [`primitives`]: the bounds-checked reader and the writer for Kafka's primitive types.
//! - [`Uuid`]: Kafka's 128-bit ids (the leaf [`crate::uuid`], re-exported: messages carry them).
//! - [`frame`]: the 4-byte size prefix and an incremental frame decoder.
//! - [`error_code`]: Kafka's error codes.
//! - [`message`]: the trait every message implements and the tagged-field machinery.
//! - [`messages`]: every request, response and header, generated at build time from the
//!   schemas in `protocol-spec/schemas/` (one schema per message; see `build.rs`).
//! - [`envelope`]: whole requests and responses: header + body, header-version rules, the
//!   KIP-511 answer to an ApiVersions version keel does not know.
//!
//! Invariants: decoding never panics and never allocates more than the input justifies;
//! encoding refuses values a version cannot carry instead of dropping them.

pub mod envelope;
pub mod error_code;
pub mod frame;
pub mod message;
pub mod messages;
pub mod primitives;

pub use envelope::{
    RequestDecodeError, RequestFrame, decode_request, decode_response, decode_response_body,
    encode_api_versions_unsupported, encode_request, encode_request_body, encode_response,
    encode_response_body,
};
pub use error_code::ErrorCode;
pub use frame::{Frame, FrameDecoder, FrameError};
pub use message::{ApiMessage, Message};
pub use messages::{ApiKey, RequestBody, ResponseBody};
pub use primitives::{DecodeError, DecodeErrorKind, EncodeError, Reader};
// The codec reads and writes Kafka's uuids; the type is the crate's leaf `crate::uuid`.
pub use crate::uuid::Uuid;

#[cfg(test)]
mod spec_pages;
#[cfg(test)]
mod tests;
