//! Every limit and default in keel, with the reason for its value.
//!
//! A limit that is not here does not exist: code that bounds a queue, a buffer, a frame or a
//! retry takes its bound from this module, so the bounds of the whole system can be read (and
//! argued about) in one place. Relations between limits are checked at compile time with
//! `const` assertions at the bottom of each section.

// ---- Protocol ----

/// Largest request frame a node accepts unless `socket.request.max.bytes` says otherwise:
/// Kafka's default (100 MiB), so that every request a Kafka client can send to Kafka it can
/// send to keel. A frame announcing more is refused when its 4-byte size prefix arrives, before
/// any buffer of that size exists. (The server bounds the sum over connections on its own.)
pub const SOCKET_REQUEST_BYTES_MAX_DEFAULT: u32 = 100 * 1024 * 1024;

/// Longest string on the wire: Kafka's classic string length prefix is an int16, and Kafka
/// applies the same limit to compact strings, so neither side may exceed it.
pub const WIRE_STRING_BYTES_MAX: usize = i16::MAX as usize;

const _: () = assert!(
    SOCKET_REQUEST_BYTES_MAX_DEFAULT <= i32::MAX as u32,
    "a frame size is an int32"
);
