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
// ---- Storage ----

/// Largest record batch, in bytes, that the log accepts (header included). Kafka's KRaft uses
/// the same 8 MiB (`MAX_BATCH_SIZE_BYTES`), so a batch a Kafka-sized controller produces always
/// fits, and a single corrupt length field can never make a reader look further than this.
pub const BATCH_BYTES_MAX: u32 = 8 * 1024 * 1024;

/// Most records in one batch. KRaft's controller caps one operation at 10,000 records
/// (`MAX_RECORDS_PER_BATCH`); a larger bound would only let a corrupt count claim more work.
pub const BATCH_RECORDS_MAX: u32 = 10_000;

/// Default size of one segment file, whose blocks are reserved in full (`fallocate`) when the
/// segment is created. 64 MiB is what etcd's WAL and HashiCorp's raft-wal preallocate: large
/// enough that rolls (which cost a flush and a directory fsync) are rare, small enough that the
/// whole metadata log (Kafka's soft retention is 100 MiB) is a handful of files. Zeros are not
/// written in full at creation (that stalled the event loop for 70-330 ms per roll); see
/// `ZERO_FILL_CHUNK_BYTES` and `PREPARE_AHEAD_BYTES_DEFAULT`.
pub const SEGMENT_BYTES_DEFAULT: u32 = 64 * 1024 * 1024;

/// Largest configurable segment. Positions inside a segment are stored as `u32` in the sparse
/// index, and 1 GiB is Kafka's own default segment size.
pub const SEGMENT_BYTES_MAX: u32 = 1024 * 1024 * 1024;

/// Smallest configurable segment. Only tests go this low (they want many rolls from few bytes);
/// production should keep the default. It must still hold the segment header and one batch.
pub const SEGMENT_BYTES_MIN: u32 = 1024;

/// Bytes of batches between two entries of the sparse offset index. Kafka's
/// `index.interval.bytes` default: a lookup then scans at most ~4 KiB of headers.
pub const INDEX_INTERVAL_BYTES_DEFAULT: u32 = 4096;

/// Largest snapshot file keel will open or accept, in bytes. A metadata image of a very large
/// Kafka cluster is tens of MiB; 4 GiB leaves two orders of magnitude of headroom while still
/// bounding what a corrupt or hostile length can make us map or hash.
pub const SNAPSHOT_BYTES_MAX: u64 = 4 * 1024 * 1024 * 1024;

/// Largest small metadata file (quorum-state, meta.properties, leader-epoch-checkpoint) keel
/// will read, in bytes. The real files are a few hundred bytes; anything larger is not ours.
pub const SMALL_FILE_BYTES_MAX: u64 = 64 * 1024;

/// Most entries in the epoch history. One entry per leader epoch that wrote to the retained
/// log; a million elections is far beyond any real cluster, and the bound keeps a corrupt
/// checkpoint file from making us allocate without limit.
pub const EPOCH_HISTORY_ENTRIES_MAX: u32 = 1_000_000;

/// Most segment files one log may have. At the default segment size this is 64 TiB of log,
/// far beyond a metadata log; the bound keeps a directory full of junk from exhausting memory
/// or file descriptors at open.
pub const SEGMENTS_MAX: u32 = 100_000;

/// Default step of the zeroed frontier of a segment (`LogConfig::zero_fill_chunk_bytes`): a
/// new or re-extended segment gets one chunk of real zeros, an append that would pass the
/// frontier first zero-fills whole chunks up to it, and the idle-time `Log::prepare_ahead`
/// works toward chunk boundaries. It bounds what one append can wait for zeros when idle
/// preparation fell behind: 1 MiB is ~0.3-1 ms of writing into the page cache here, and large
/// enough that the flush after it converts a whole chunk of extents in one journal commit.
/// Also the largest single zero write (and buffer) the storage engine makes.
pub const ZERO_FILL_CHUNK_BYTES: u32 = 1024 * 1024;

/// Default distance ahead of the write head that `Log::prepare_ahead` keeps zero-filled
/// (`LogConfig::prepare_ahead_bytes`), and so also how close to the end of the active segment
/// the head gets before the spare next segment is created. Equal to `BATCH_BYTES_MAX`, so that
/// after one idle moment even a maximal batch lands entirely in zero-filled blocks and never
/// waits for zeros or makes its flush commit an extent conversion.
pub const PREPARE_AHEAD_BYTES_DEFAULT: u32 = 8 * 1024 * 1024;

const _: () = assert!(SEGMENT_BYTES_MIN <= SEGMENT_BYTES_DEFAULT);
const _: () = assert!(SEGMENT_BYTES_DEFAULT <= SEGMENT_BYTES_MAX);
// Positions in a segment are u32 in the index and in the batch scanner.
const _: () = assert!((SEGMENT_BYTES_MAX as u64) < u32::MAX as u64);
// The default segment must hold one maximal batch after its header.
const _: () = assert!(BATCH_BYTES_MAX + 64 <= SEGMENT_BYTES_DEFAULT);
const _: () = assert!(INDEX_INTERVAL_BYTES_DEFAULT > 0);
const _: () = assert!(ZERO_FILL_CHUNK_BYTES > 0 && ZERO_FILL_CHUNK_BYTES <= SEGMENT_BYTES_MAX);
const _: () = assert!(PREPARE_AHEAD_BYTES_DEFAULT >= BATCH_BYTES_MAX);
const _: () = assert!(PREPARE_AHEAD_BYTES_DEFAULT <= SEGMENT_BYTES_MAX);
