//! File-system primitives with keel's durability rules: flushes whose failure is fatal,
//! directory fsyncs, block preallocation, zero-filling, atomic replacement of small files,
//! bounded reads.
//!
//! Every flush error becomes [`StorageError::FlushFailed`] and is never retried. Every read of a
//! file checks its length against a limit before allocating. Tests can inject failures of
//! preallocation and flushes (per thread) to exercise the disk-full and fsyncgate paths.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use super::error::{Result, StorageError};

/// Suffix of a file being written before it is renamed into place.
pub const TEMP_SUFFIX: &str = ".tmp";

#[cfg(test)]
thread_local! {
    /// When set, the next preallocation fails with ENOSPC (test hook).
    pub static FAIL_NEXT_PREALLOCATION: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// When set, the next flush fails with EIO (test hook).
    pub static FAIL_NEXT_FLUSH: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

#[cfg(test)]
fn injected(
    flag: &'static std::thread::LocalKey<std::cell::Cell<bool>>,
    errno: i32,
) -> Option<std::io::Error> {
    if flag.with(|f| f.replace(false)) {
        Some(std::io::Error::from_raw_os_error(errno))
    } else {
        None
    }
}

/// Runs a flush (fsync, fdatasync, msync); any error is the fatal `FlushFailed`.
pub fn flush_or_fail(path: &Path, flush: impl FnOnce() -> std::io::Result<()>) -> Result<()> {
    #[cfg(test)]
    if let Some(source) = injected(&FAIL_NEXT_FLUSH, libc::EIO) {
        return Err(StorageError::FlushFailed {
            path: path.to_path_buf(),
            source,
        });
    }
    flush().map_err(|source| StorageError::FlushFailed {
        path: path.to_path_buf(),
        source,
    })
}

/// fsync of a file's data and metadata (size changes included).
pub fn sync_all(file: &File, path: &Path) -> Result<()> {
    flush_or_fail(path, || file.sync_all())
}

/// fdatasync: the data, plus only the metadata needed to read it back.
pub fn sync_data(file: &File, path: &Path) -> Result<()> {
    flush_or_fail(path, || file.sync_data())
}

/// fsync of a directory, so that creations, renames and deletions in it are durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    let handle = File::open(dir).map_err(|e| StorageError::io(dir, e))?;
    flush_or_fail(dir, || handle.sync_all())
}

/// Reserves real blocks for `[0, length)` so that later writes (also through a map) cannot
/// fail for lack of space. Disk full is [`StorageError::DiskFull`].
pub fn preallocate(file: &File, path: &Path, length: u64) -> Result<()> {
    #[cfg(test)]
    if injected(&FAIL_NEXT_PREALLOCATION, libc::ENOSPC).is_some() {
        return Err(StorageError::DiskFull {
            path: path.to_path_buf(),
            bytes: length,
        });
    }
    let length_signed = libc::off_t::try_from(length).map_err(|_| {
        StorageError::invalid_argument(format!("cannot preallocate {length} bytes"))
    })?;
    // SAFETY: plain syscall on a file descriptor we own; no memory is passed.
    let rc = unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, length_signed) };
    if rc == 0 {
        return Ok(());
    }
    let error = std::io::Error::last_os_error();
    match error.raw_os_error() {
        Some(libc::ENOSPC) | Some(libc::EDQUOT) => Err(StorageError::DiskFull {
            path: path.to_path_buf(),
            bytes: length,
        }),
        Some(libc::EOPNOTSUPP) => {
            // File systems without fallocate: posix_fallocate writes zeros, which reserves too.
            // SAFETY: as above.
            let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, length_signed) };
            match rc {
                0 => Ok(()),
                libc::ENOSPC => Err(StorageError::DiskFull {
                    path: path.to_path_buf(),
                    bytes: length,
                }),
                errno => Err(StorageError::io(
                    path,
                    std::io::Error::from_raw_os_error(errno),
                )),
            }
        }
        _ => Err(StorageError::io(path, error)),
    }
}

/// Writes real zeros over `[from, to)` of `file`, in writes of at most
/// `ZERO_FILL_CHUNK_BYTES`, and returns how many bytes it wrote. Blocks reserved by
/// [`preallocate`] are *unwritten* extents: they read as zeros, but the first flush of data
/// written into them must also commit the extent conversion through the file system's journal.
/// Once these zeros are flushed the blocks are ordinary written blocks, so later flushes of
/// data there are plain overwrites. The caller flushes.
pub fn write_zeros(file: &File, path: &Path, from: u64, to: u64) -> Result<u64> {
    if to <= from {
        return Ok(0);
    }
    let piece = (to - from).min(u64::from(crate::constants::ZERO_FILL_CHUNK_BYTES));
    let zeros = vec![0u8; piece as usize];
    let mut position = from;
    while position < to {
        let n = (to - position).min(piece) as usize;
        std::os::unix::fs::FileExt::write_all_at(file, &zeros[..n], position)
            .map_err(|e| StorageError::io(path, e))?;
        position += n as u64;
    }
    Ok(to - from)
}

/// Reads a whole file that must be at most `max_bytes` long.
pub fn read_bounded(path: &Path, max_bytes: u64) -> Result<Vec<u8>> {
    let file = File::open(path).map_err(|e| StorageError::io(path, e))?;
    let length = file
        .metadata()
        .map_err(|e| StorageError::io(path, e))?
        .len();
    if length > max_bytes {
        return Err(StorageError::bad_file(
            path,
            format!("{length} bytes, more than the {max_bytes} allowed"),
        ));
    }
    let mut bytes = Vec::with_capacity(length as usize);
    file.take(max_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| StorageError::io(path, e))?;
    if bytes.len() as u64 > max_bytes {
        return Err(StorageError::bad_file(
            path,
            "file grew past its limit while being read",
        ));
    }
    Ok(bytes)
}

/// Replaces `dir/name` with `bytes` atomically: write `name.tmp`, fsync it, rename it over
/// `name`, fsync the directory. A crash leaves either the old or the new file, never a mix.
pub fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    let final_path = dir.join(name);
    let temp_path = dir.join(format!("{name}{TEMP_SUFFIX}"));
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&temp_path)
        .map_err(|e| StorageError::io(&temp_path, e))?;
    file.write_all(bytes)
        .map_err(|e| StorageError::io(&temp_path, e))?;
    sync_all(&file, &temp_path)?;
    drop(file);
    fs::rename(&temp_path, &final_path).map_err(|e| StorageError::io(&final_path, e))?;
    sync_dir(dir)
}

/// Removes a file and makes the removal durable.
pub fn remove_durably(path: &Path) -> Result<()> {
    fs::remove_file(path).map_err(|e| StorageError::io(path, e))?;
    sync_dir(parent_of(path))
}

/// The directory holding `path` (`.` for a bare name).
pub fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// Names of the entries of `dir`, skipping names that are not UTF-8 (keel never writes those).
pub fn list_dir(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| StorageError::io(dir, e))? {
        let entry = entry.map_err(|e| StorageError::io(dir, e))?;
        if let Some(name) = entry.file_name().to_str() {
            names.push((name.to_string(), entry.path()));
        }
    }
    names.sort();
    Ok(names)
}
