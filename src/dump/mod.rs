//! `keel-dump`: look inside a node's files without trusting the node.
//!
//! Built on the storage engine's own reading code — the batch decoder and `Scanner`, the
//! segment scan and the recovery table's verdict (`storage::scan`), the snapshot validator,
//! the quorum-state and meta.properties decoders — so the tool and recovery can never disagree
//! about what a file contains. It only ever opens files read-only and maps one segment at a
//! time, so it runs in constant memory and is safe on the directory of a live node: a batch the
//! node is still writing shows up as an incomplete tail, and the tool says it stopped there.
//!
//! - [`files`]: finding segments, snapshots and the small files of a data directory.
//! - [`log`]: one line (or JSON object) per batch.
//! - [`verify`]: every check, every problem with file, byte position and offsets.
//! - [`stats`]: counts by epoch and batch size.
//! - [`text`]: timestamps and JSON strings.

pub mod files;
pub mod log;
pub mod stats;
pub mod text;
pub mod verify;
