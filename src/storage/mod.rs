//! The storage engine: keel's only source of truth on disk. Files and bytes only; it never
//! knows Raft roles or record contents.
//!
//! A data directory (`metadata.log.dir`) holds `meta.properties` ([`meta_properties`]) and the
//! partition directory `__cluster_metadata-0/`, which holds the segment log ([`log`], built on
//! [`segment`], [`index`] and the batch format in [`batch`]), the epoch history checkpoint
//! ([`epochs`]), the election state ([`quorum_state`]) and snapshots ([`snapshot`]). The scan
//! of a segment and recovery's verdict on it live in [`scan`], shared with `keel-dump`. Every
//! file is described byte by byte, with the recovery table, in
//! `protocol-spec/storage-format.md`.
//!
//! Invariants kept by every module here: fixed-width big-endian integers on disk; every length
//! read from disk is checked against a limit from `constants` before use; a failed flush is
//! fatal ([`StorageError::FlushFailed`]) and never retried; small files are replaced
//! atomically (temp file, fsync, rename, directory fsync).

pub mod batch;
pub mod epochs;
pub mod error;
pub mod fsio;
pub mod index;
pub mod log;
pub mod meta_properties;
pub mod quorum_state;
pub mod scan;
pub mod segment;
pub mod snapshot;

pub use error::{Result, StorageError};
pub use log::{
    Log, LogConfig, RecoveryMode, RecoveryReport, RepairReport, TornTailCut, ZeroFillState,
};
pub use segment::WriteMode;

/// Name of the metadata partition directory inside the data directory (Kafka's name).
pub const METADATA_PARTITION_DIR: &str = "__cluster_metadata-0";
