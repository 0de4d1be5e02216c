//! `keel-dump`: look inside a node's files without trusting the node.
//!
//! Built on the engine's own reading code — the batch decoder, the scanner's verdicts, the
//! per-batch rules and tail verdict of recovery (`storage::scan`), the snapshot checks, the
//! quorum-state and meta.properties decoders — and on the metadata layer's record decoder and
//! image, so the tool and the node can never disagree about what a file contains or means. It
//! only ever opens files read-only and streams segments and snapshots through one bounded
//! buffer (never mapping them), so it runs in constant memory and is safe on the directory of
//! a live node: a batch the node is still writing shows up as an incomplete tail, and the tool
//! says it stopped there.
//!
//! - [`files`]: finding segments, snapshots and the small files of a data directory.
//! - [`stream`]: the bounded streaming scanner (storage's `Scanner`, a buffer at a time).
//! - [`snapshot`]: snapshot files checked and read through bounded buffers.
//! - [`records`]: records as text and JSON.
//! - [`log`]: one line (or JSON object) per batch, and per record.
//! - [`verify`]: every check, every problem with file, byte position and offsets.
//! - [`stats`]: counts by record type, epoch and batch size.
//! - [`image`]: the metadata image as of an offset, from a snapshot and the log.
//! - [`text`]: timestamps (JSON strings are the leaf [`crate::json_escape`]).

pub mod files;
pub mod image;
pub mod log;
pub mod records;
pub mod snapshot;
pub mod stats;
pub mod stream;
pub mod text;
pub mod verify;
