//! The storage error type: expected failures of the storage engine, each naming what failed.
//!
//! Two variants are environmental stops that the node must turn into one log line and an exit:
//! [`StorageError::FlushFailed`] (never retry a flush: after a failed fsync/msync the kernel may
//! already have dropped the dirty pages, see fsyncgate) and [`StorageError::Corruption`]
//! (committed data is damaged; truncating it could undo a commit). [`StorageError::is_fatal`]
//! says which errors those are.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Everything the storage engine can fail with.
#[derive(Debug)]
pub enum StorageError {
    /// An fsync, fdatasync or msync failed. Fatal: the process must log and exit.
    FlushFailed { path: PathBuf, source: io::Error },
    /// A previous flush failed; the log refuses all further work (see `FlushFailed`).
    Poisoned,
    /// Damaged data that may have been committed: a bad batch followed by valid data, or a bad
    /// batch in a sealed segment, or a broken invariant between files. Fatal unless the log was
    /// opened in repair mode.
    Corruption {
        path: PathBuf,
        position: u64,
        offset: Option<u64>,
        reason: String,
    },
    /// A small metadata file (quorum-state, meta.properties, checkpoint, snapshot) is unreadable.
    BadFile { path: PathBuf, reason: String },
    /// Preallocating a file failed for lack of space; nothing was changed.
    DiskFull { path: PathBuf, bytes: u64 },
    /// Any other I/O error, with the file it happened on.
    Io { path: PathBuf, source: io::Error },
    /// A batch given to append is not acceptable (bad CRC, wrong offset, epoch going back...).
    InvalidBatch { reason: String },
    /// A read or truncate named an offset outside `[log_start_offset, log_end_offset]`.
    OffsetOutOfRange {
        offset: u64,
        log_start_offset: u64,
        log_end_offset: u64,
    },
    /// An argument broke the API's contract in a way the caller can check (empty batch, ...).
    InvalidArgument { reason: String },
}

impl StorageError {
    /// True for errors after which the process must stop (log + exit), never retry.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            StorageError::FlushFailed { .. }
                | StorageError::Poisoned
                | StorageError::Corruption { .. }
        )
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> StorageError {
        StorageError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn bad_file(path: impl Into<PathBuf>, reason: impl Into<String>) -> StorageError {
        StorageError::BadFile {
            path: path.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn invalid_batch(reason: impl Into<String>) -> StorageError {
        StorageError::InvalidBatch {
            reason: reason.into(),
        }
    }

    pub(crate) fn invalid_argument(reason: impl Into<String>) -> StorageError {
        StorageError::InvalidArgument {
            reason: reason.into(),
        }
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StorageError::FlushFailed { path, source } => {
                write!(
                    f,
                    "flush failed on {}: {source} (fatal: data may be lost, not retrying)",
                    path.display()
                )
            }
            StorageError::Poisoned => write!(f, "log unusable after an earlier failed flush"),
            StorageError::Corruption {
                path,
                position,
                offset,
                reason,
            } => {
                write!(
                    f,
                    "corruption in {} at byte position {position}",
                    path.display()
                )?;
                if let Some(offset) = offset {
                    write!(f, " (offset {offset})")?;
                }
                write!(f, ": {reason}")
            }
            StorageError::BadFile { path, reason } => {
                write!(f, "bad file {}: {reason}", path.display())
            }
            StorageError::DiskFull { path, bytes } => {
                write!(
                    f,
                    "disk full: cannot reserve {bytes} bytes for {}",
                    path.display()
                )
            }
            StorageError::Io { path, source } => {
                write!(f, "I/O error on {}: {source}", path.display())
            }
            StorageError::InvalidBatch { reason } => write!(f, "invalid batch: {reason}"),
            StorageError::OffsetOutOfRange {
                offset,
                log_start_offset,
                log_end_offset,
            } => write!(
                f,
                "offset {offset} outside the log [{log_start_offset}, {log_end_offset}]"
            ),
            StorageError::InvalidArgument { reason } => write!(f, "invalid argument: {reason}"),
        }
    }
}

impl std::error::Error for StorageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StorageError::FlushFailed { source, .. } | StorageError::Io { source, .. } => {
                Some(source)
            }
            _ => None,
        }
    }
}

/// Result of storage operations.
pub type Result<T> = std::result::Result<T, StorageError>;
