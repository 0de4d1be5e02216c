//! Finding a data directory's files, and opening them without ever writing.
//!
//! Segments and snapshots are streamed through one bounded buffer (`stream`), never read whole
//! and never memory-mapped: a live node may truncate a segment, and a mapped file that shrinks
//! would kill this process with SIGBUS. Only the small files (meta.properties, quorum-state,
//! the epoch checkpoint, an index) are read whole, each under a limit.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::constants::{SEGMENT_BYTES_MAX, SEGMENTS_MAX, SMALL_FILE_BYTES_MAX};
use crate::storage::METADATA_PARTITION_DIR;
use crate::storage::segment::parse_segment_file_name;
use crate::storage::snapshot::SnapshotId;

/// The files of one metadata log.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    /// The data directory (holding `meta.properties`), when the path given was one.
    pub data_dir: Option<PathBuf>,
    /// The directory holding the segments.
    pub partition_dir: PathBuf,
    /// Segments by base offset.
    pub segments: Vec<(u64, PathBuf)>,
    /// Snapshots by id.
    pub snapshots: Vec<(SnapshotId, PathBuf)>,
}

/// Accepts a data directory, a partition directory or one segment file.
pub fn discover(path: &Path) -> io::Result<Layout> {
    if path.is_file() {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let base = parse_segment_file_name(name).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{} is not a segment file (NNNNNNNNNNNNNNNNNNNN.log)",
                    path.display()
                ),
            )
        })?;
        return Ok(Layout {
            data_dir: None,
            partition_dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
            segments: vec![(base, path.to_path_buf())],
            snapshots: Vec::new(),
        });
    }
    if !path.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("{} does not exist", path.display()),
        ));
    }
    let (data_dir, partition_dir) = if path.join(METADATA_PARTITION_DIR).is_dir() {
        (Some(path.to_path_buf()), path.join(METADATA_PARTITION_DIR))
    } else {
        let parent_has_meta = path
            .parent()
            .is_some_and(|p| p.join("meta.properties").is_file());
        (
            parent_has_meta.then(|| path.parent().expect("checked").to_path_buf()),
            path.to_path_buf(),
        )
    };
    let mut layout = Layout {
        data_dir,
        partition_dir: partition_dir.clone(),
        ..Layout::default()
    };
    for entry in std::fs::read_dir(&partition_dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(base) = parse_segment_file_name(&name) {
            layout.segments.push((base, entry.path()));
        } else if let Some(id) = SnapshotId::parse_file_name(&name) {
            layout.snapshots.push((id, entry.path()));
        }
    }
    if layout.segments.len() + layout.snapshots.len() > SEGMENTS_MAX as usize {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{} holds more than {SEGMENTS_MAX} segment and snapshot files, more than keel ever keeps",
                partition_dir.display()
            ),
        ));
    }
    layout.segments.sort();
    layout
        .snapshots
        .sort_by_key(|(id, _)| (id.end_offset, id.epoch));
    Ok(layout)
}

fn read_bounded(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let file = File::open(path)?;
    let length = file.metadata()?.len();
    if length > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{} is {length} bytes, above the {limit} bytes keel ever writes there",
                path.display()
            ),
        ));
    }
    let mut bytes = Vec::with_capacity(length as usize);
    file.take(limit).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Opens a file to read it, and only to read it.
pub fn open(path: &Path) -> io::Result<File> {
    File::open(path)
}

/// A small file (meta.properties, quorum-state, checkpoint, index).
pub fn read_small(path: &Path) -> io::Result<Vec<u8>> {
    read_bounded(
        path,
        SMALL_FILE_BYTES_MAX.max(u64::from(SEGMENT_BYTES_MAX) / 512),
    )
}
