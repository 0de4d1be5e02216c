//! A node's data directory: formatting it, and opening it with every start-up check.
//!
//! `keel format` writes `meta.properties` (cluster id, node id, a directory id: fresh, or the
//! one `--initial-controllers` gives) and the partition directory, with the other voters'
//! directory ids pinned when they are given; it refuses a directory that is already formatted. `keel start`
//! never formats: it refuses an unformatted directory, a node id or cluster id that does not
//! match, and a directory another process holds (an exclusive `flock` on `.lock`, held for the
//! life of the process).

use std::fmt;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use super::directories::VoterDirectories;
use crate::config::InitialController;
use crate::protocol::Uuid;
use crate::storage::meta_properties::{MetaProperties, random_uuid};
use crate::storage::{METADATA_PARTITION_DIR, StorageError};

const LOCK_FILE: &str = ".lock";

/// Why a directory cannot be formatted or opened.
#[derive(Debug)]
pub enum DataDirError {
    AlreadyFormatted {
        dir: PathBuf,
        meta: MetaProperties,
    },
    NotFormatted {
        dir: PathBuf,
    },
    NodeIdMismatch {
        dir: PathBuf,
        configured: u32,
        stored: u32,
    },
    ClusterIdMismatch {
        dir: PathBuf,
        expected: String,
        stored: String,
    },
    BadClusterId {
        cluster_id: String,
    },
    Locked {
        dir: PathBuf,
    },
    /// A directory id to pin is already another node's: two voters cannot share a disk.
    DirectoryTaken {
        directory: Uuid,
        node_id: u32,
    },
    Storage(StorageError),
    Io {
        dir: PathBuf,
        source: std::io::Error,
    },
}

impl fmt::Display for DataDirError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataDirError::AlreadyFormatted { dir, meta } => write!(
                f,
                "{} is already formatted (cluster {}, node {}); use --ignore-formatted to leave it as it is",
                dir.display(),
                meta.cluster_id,
                meta.node_id
            ),
            DataDirError::NotFormatted { dir } => write!(
                f,
                "{} is not formatted (no meta.properties): run `keel format --config ... --cluster-id ...` first",
                dir.display()
            ),
            DataDirError::NodeIdMismatch {
                dir,
                configured,
                stored,
            } => write!(
                f,
                "node.id is {configured} but {} was formatted for node {stored}",
                dir.display()
            ),
            DataDirError::ClusterIdMismatch {
                dir,
                expected,
                stored,
            } => write!(
                f,
                "cluster id {expected} was asked for but {} belongs to cluster {stored}",
                dir.display()
            ),
            DataDirError::BadClusterId { cluster_id } => write!(
                f,
                "{cluster_id:?} is not a cluster id: expected 22 characters of URL-safe base64, as `keel random-uuid` prints"
            ),
            DataDirError::Locked { dir } => {
                write!(
                    f,
                    "{} is in use by another keel process (its .lock is held)",
                    dir.display()
                )
            }
            DataDirError::DirectoryTaken { directory, node_id } => write!(
                f,
                "directory {directory} is node {node_id}'s: two voters cannot have the same directory"
            ),
            DataDirError::Storage(e) => write!(f, "{e}"),
            DataDirError::Io { dir, source } => write!(f, "{}: {source}", dir.display()),
        }
    }
}

impl std::error::Error for DataDirError {}

impl From<StorageError> for DataDirError {
    fn from(e: StorageError) -> Self {
        DataDirError::Storage(e)
    }
}

/// Formats `dir` for `node_id` in cluster `cluster_id`. With `ignore_formatted`, an already
/// formatted directory is left untouched and its identity returned.
///
/// `initial_controllers` (`keel format --initial-controllers`, already checked against the
/// configured voters) gives every voter's directory id: this node takes its own, and the
/// others' are pinned before the node can ever hear from a replacement disk. Empty: a random
/// directory id and nothing pinned.
pub fn format(
    dir: &Path,
    cluster_id: &str,
    node_id: u32,
    ignore_formatted: bool,
    initial_controllers: &[InitialController],
) -> Result<MetaProperties, DataDirError> {
    if cluster_id.parse::<Uuid>().is_err() {
        return Err(DataDirError::BadClusterId {
            cluster_id: cluster_id.to_owned(),
        });
    }
    std::fs::create_dir_all(dir).map_err(|source| DataDirError::Io {
        dir: dir.to_owned(),
        source,
    })?;
    if let Some(meta) = MetaProperties::read(dir)? {
        return if ignore_formatted {
            Ok(meta)
        } else {
            Err(DataDirError::AlreadyFormatted {
                dir: dir.to_owned(),
                meta,
            })
        };
    }
    let partition = dir.join(METADATA_PARTITION_DIR);
    std::fs::create_dir_all(&partition).map_err(|source| DataDirError::Io {
        dir: partition.clone(),
        source,
    })?;
    // The pins are durable before meta.properties, the mark of a formatted directory: a
    // format cut short leaves a directory that is still unformatted and can be formatted again.
    let mut pins = VoterDirectories::load(&partition)?;
    for controller in initial_controllers {
        if controller.voter.id != node_id {
            pins.pin(controller.voter.id, controller.directory_id)?;
        }
    }
    let directory_id = match initial_controllers.iter().find(|c| c.voter.id == node_id) {
        Some(own) => own.directory_id,
        None => random_uuid()?,
    };
    let meta = MetaProperties {
        cluster_id: cluster_id.to_owned(),
        node_id,
        directory_id,
    };
    meta.write(dir)?;
    Ok(meta)
}

/// An opened, locked data directory.
#[derive(Debug)]
pub struct DataDir {
    pub root: PathBuf,
    pub partition: PathBuf,
    pub meta: MetaProperties,
    /// Holds the exclusive lock until dropped (the process exits).
    _lock: File,
}

impl DataDir {
    /// Opens `dir` for node `node_id`, checking the cluster id if one is expected.
    pub fn open(
        dir: &Path,
        node_id: u32,
        expected_cluster_id: Option<&str>,
    ) -> Result<DataDir, DataDirError> {
        if !dir.is_dir() {
            return Err(DataDirError::NotFormatted {
                dir: dir.to_owned(),
            });
        }
        let lock = lock(dir)?;
        let meta = MetaProperties::read(dir)?.ok_or_else(|| DataDirError::NotFormatted {
            dir: dir.to_owned(),
        })?;
        if meta.node_id != node_id {
            return Err(DataDirError::NodeIdMismatch {
                dir: dir.to_owned(),
                configured: node_id,
                stored: meta.node_id,
            });
        }
        if let Some(expected) = expected_cluster_id
            && expected != meta.cluster_id
        {
            return Err(DataDirError::ClusterIdMismatch {
                dir: dir.to_owned(),
                expected: expected.to_owned(),
                stored: meta.cluster_id,
            });
        }
        let partition = dir.join(METADATA_PARTITION_DIR);
        std::fs::create_dir_all(&partition).map_err(|source| DataDirError::Io {
            dir: partition.clone(),
            source,
        })?;
        Ok(DataDir {
            root: dir.to_owned(),
            partition,
            meta,
            _lock: lock,
        })
    }
}

/// Pins `directory` for voter `voter` in the data directory of node `node_id`, which must be
/// formatted and not in use (the lock is taken). Returns the pin it replaced.
pub fn pin_directory(
    dir: &Path,
    node_id: u32,
    voter: u32,
    directory: Uuid,
) -> Result<Option<Uuid>, DataDirError> {
    let opened = DataDir::open(dir, node_id, None)?;
    let mut pins = VoterDirectories::load(&opened.partition)?;
    let taken = std::iter::once((node_id, opened.meta.directory_id))
        .chain(pins.pins())
        .find(|&(id, pinned)| pinned == directory && id != voter);
    if let Some((node_id, _)) = taken {
        return Err(DataDirError::DirectoryTaken { directory, node_id });
    }
    let previous = pins.pinned(voter);
    pins.pin(voter, directory)?;
    Ok(previous)
}

fn lock(dir: &Path) -> Result<File, DataDirError> {
    let path = dir.join(LOCK_FILE);
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| DataDirError::Io {
            dir: path.clone(),
            source,
        })?;
    // SAFETY: flock on a descriptor we own; it only takes an advisory lock.
    let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if locked != 0 {
        let error = std::io::Error::last_os_error();
        return if error.raw_os_error() == Some(libc::EWOULDBLOCK) {
            Err(DataDirError::Locked {
                dir: dir.to_owned(),
            })
        } else {
            Err(DataDirError::Io {
                dir: path,
                source: error,
            })
        };
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("keel-datadir-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    const CLUSTER: &str = "MkU3OEVBNTcwNTJENDM2Qg";

    #[test]
    fn format_then_open_and_every_refusal_names_the_problem() {
        let dir = temp_dir("refusals");
        assert!(matches!(
            DataDir::open(&dir, 1, None),
            Err(DataDirError::NotFormatted { .. })
        ));
        assert!(matches!(
            format(&dir, "not a uuid", 1, false, &[]),
            Err(DataDirError::BadClusterId { .. })
        ));
        let meta = format(&dir, CLUSTER, 1, false, &[]).unwrap();
        assert!(matches!(
            format(&dir, CLUSTER, 1, false, &[]),
            Err(DataDirError::AlreadyFormatted { .. })
        ));
        assert_eq!(
            format(&dir, CLUSTER, 1, true, &[]).unwrap(),
            meta,
            "ignore-formatted keeps the identity"
        );
        let err = DataDir::open(&dir, 2, None).unwrap_err();
        assert!(err.to_string().contains("node.id is 2"), "{err}");
        let err = DataDir::open(&dir, 1, Some("AAAAAAAAAAAAAAAAAAAAAA")).unwrap_err();
        assert!(
            matches!(err, DataDirError::ClusterIdMismatch { .. }),
            "{err}"
        );
        let opened = DataDir::open(&dir, 1, Some(CLUSTER)).unwrap();
        assert_eq!(opened.meta, meta);
        assert!(opened.partition.is_dir());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_second_opener_of_the_same_directory_is_refused() {
        let dir = temp_dir("lock");
        format(&dir, CLUSTER, 1, false, &[]).unwrap();
        let first = DataDir::open(&dir, 1, None).unwrap();
        let err = DataDir::open(&dir, 1, None).unwrap_err();
        assert!(matches!(err, DataDirError::Locked { .. }), "{err}");
        drop(first);
        DataDir::open(&dir, 1, None).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn initial_controllers_give_this_node_its_directory_and_pin_the_others() {
        use crate::config::VoterAddress;
        use crate::storage::METADATA_PARTITION_DIR;

        let dir = temp_dir("initial");
        let controller = |id: u32, byte: u8| InitialController {
            voter: VoterAddress {
                id,
                host: "127.0.0.1".into(),
                port: 9092 + id as u16,
            },
            directory_id: Uuid::from_bytes([byte; 16]),
        };
        let initial = [controller(1, 11), controller(2, 12), controller(3, 13)];
        let meta = format(&dir, CLUSTER, 2, false, &initial).unwrap();
        assert_eq!(meta.directory_id, Uuid::from_bytes([12; 16]));
        let pins = VoterDirectories::load(&dir.join(METADATA_PARTITION_DIR)).unwrap();
        assert_eq!(
            pins.pins().collect::<Vec<_>>(),
            vec![
                (1, Uuid::from_bytes([11; 16])),
                (3, Uuid::from_bytes([13; 16]))
            ],
            "every other voter is pinned, this node is not"
        );
        assert_eq!(DataDir::open(&dir, 2, Some(CLUSTER)).unwrap().meta, meta);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
