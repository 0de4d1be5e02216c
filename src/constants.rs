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

/// A frame buffer grows by at least this share of what it holds (and at least
/// [`FRAME_BUFFER_GROWTH_MIN_BYTES`]), never past the end of the frame being read: the
/// capacity stays within 25% of the bytes that really arrived (a `Vec` doubling would reach
/// 128 MiB for a 100 MiB frame, 200% for a frame just past a power of two), and a frame of
/// n bytes is still copied only a few times n over its growth.
pub const FRAME_BUFFER_GROWTH_PERCENT: usize = 25;

/// Smallest step of a frame buffer's growth, so a frame arriving in small pieces does not
/// reallocate per piece: one page.
pub const FRAME_BUFFER_GROWTH_MIN_BYTES: usize = 4096;

/// A frame buffer holding less than half its capacity is shrunk to what it holds, but not
/// below this: a connection's buffer does not keep the size of its largest request, while
/// small requests reuse the buffer they have.
pub const FRAME_BUFFER_KEEP_BYTES: usize = 64 * 1024;
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

// ---- Raft ----
//
// Timing defaults are Kafka's (`QuorumConfig`, `KafkaRaftClient`, `LeaderState`), so a keel
// quorum fails over on the same schedule an operator of KRaft expects. They are defaults:
// `raft::RaftConfig` carries the values a node runs with, and the simulator shortens none of
// them (it runs on simulated time, so long timeouts cost nothing).

/// Base election timeout. The timeout actually used is drawn uniformly from
/// `[RAFT_ELECTION_TIMEOUT_MS, 2 * RAFT_ELECTION_TIMEOUT_MS)` so that voters rarely time out
/// together and split the vote (Kafka `controller.quorum.election.timeout.ms`).
pub const RAFT_ELECTION_TIMEOUT_MS: u64 = 1_000;

/// A follower that has not had a successful Fetch answered by its leader for this long
/// considers the leader gone and starts a pre-vote (Kafka `controller.quorum.fetch.timeout.ms`).
pub const RAFT_FETCH_TIMEOUT_MS: u64 = 2_000;

/// A follower counts as keeping up with its leader while it has a Fetch parked there or sent
/// one within this long. With records flowing, a healthy follower sends its next Fetch as soon
/// as it has flushed the last answer (milliseconds, tens on a spinning disk); one that has
/// been silent for 100 ms is stopped, partitioned or far behind. When fewer followers keep up
/// than a majority needs without the leader, the leader's own flush is on the commit path and
/// it flushes in the iteration that appended instead of lingering (see `append_linger_ms`).
pub const RAFT_FOLLOWER_KEEPING_UP_MS: u64 = 100;

/// A follower whose connection to its leader was reset or refused (the leader's process is
/// gone: the kernel closed its sockets) starts a pre-vote after a delay drawn from
/// `[0, RAFT_LEADER_LOST_JITTER_MS)` instead of waiting out the fetch timeout. Every follower
/// sees the same reset within a millisecond; the spread makes them rarely stand together (a
/// split vote costs an election timeout), and the first of N followers starts after
/// `1/(N+1)` of it on average (67 ms with two followers). Capped at a quarter of the fetch
/// timeout by the node, so fast settings stay fast.
pub const RAFT_LEADER_LOST_JITTER_MS: u64 = 200;

/// A leader that has not been fetched from by a majority of voters for this long resigns
/// (Kafka's check-quorum, KAFKA-15489: 1.5 x the fetch timeout). Longer than the fetch timeout
/// so that a healthy leader is never the first to give up: followers notice a dead leader
/// before a live leader notices dead followers.
pub const RAFT_CHECK_QUORUM_TIMEOUT_MS: u64 = RAFT_FETCH_TIMEOUT_MS * 3 / 2;

/// The leader resends BeginQuorumEpoch to voters that have not acknowledged it this often
/// (Kafka: `fetch.timeout.ms / 2`), so a voter that missed the announcement learns of the new
/// leader well before its own fetch timeout sends it into an election.
pub const RAFT_BEGIN_QUORUM_EPOCH_RESEND_MS: u64 = RAFT_FETCH_TIMEOUT_MS / 2;

/// How long the leader parks a Fetch that has nothing new before answering it empty (Kafka
/// `MAX_FETCH_WAIT_MS`). Short enough that a parked fetch still carries high-watermark
/// updates and liveness evidence well inside the fetch timeout.
pub const RAFT_FETCH_MAX_WAIT_MS: u64 = 500;

/// A Fetch or FetchSnapshot not answered this long after its max wait is considered lost and
/// is sent again (fetches are idempotent). Kafka's `controller.quorum.request.timeout.ms` is
/// 2000 ms, as long as the fetch timeout, so there one lost Fetch starts an election; keel
/// retries at least twice within the fetch timeout instead (asserted below), because a lost
/// message must not cost the quorum its leader.
pub const RAFT_REQUEST_TIMEOUT_MS: u64 = 400;

/// Wait before refetching after the leader answered a Fetch with an error (Kafka
/// `controller.quorum.retry.backoff.ms`): keeps a follower from spinning against a node that
/// is not (or no longer) the leader.
pub const RAFT_RETRY_BACKOFF_MS: u64 = 20;

/// Largest Fetch response the leader builds, and largest batch a proposal may be (Kafka
/// `MAX_FETCH_SIZE_BYTES` = `MAX_BATCH_SIZE_BYTES` = 8 MiB). Equal, so that any single batch
/// always fits in one response and a follower can never be stuck behind an oversized batch.
pub const RAFT_MAX_FETCH_BYTES: u32 = 8 * 1024 * 1024;

// `propose` accepts at most [`BATCH_BYTES_MAX`] bytes and [`BATCH_RECORDS_MAX`] records: a
// batch the Raft core accepts is always one the log accepts.

/// Upper bound of the randomized backoff after a lost election (Kafka
/// `controller.quorum.election.backoff.max.ms`).
pub const RAFT_ELECTION_BACKOFF_MAX_MS: u64 = 1_000;

/// The leader waits this long after the first unflushed append before asking for a flush, so
/// one fsync covers every proposal of that window (Kafka `controller.quorum.append.linger.ms`),
/// while enough followers keep up to commit without it; when its own flush is needed for a
/// commit (a follower down in a three-voter quorum, a single voter) it does not wait: it
/// flushes in the event-loop iteration that appended, which batches whatever arrived while
/// the previous flush ran (`RAFT_FOLLOWER_KEEPING_UP_MS`).
pub const RAFT_APPEND_LINGER_MS: u64 = 25;

/// Bytes of snapshot sent per FetchSnapshot response. Same as a fetch: one response's worth.
pub const RAFT_SNAPSHOT_CHUNK_BYTES: u32 = RAFT_MAX_FETCH_BYTES;

/// Proposals the leader accepts beyond its high watermark, in records. Past it `propose`
/// answers Backpressure: the uncommitted tail (which the driver must hold in memory or in the
/// page cache until it is replicated) can never grow without bound while a follower is slow.
/// Ten full controller operations.
pub const RAFT_MAX_UNCOMMITTED_RECORDS: u64 = 10 * BATCH_RECORDS_MAX as u64;

/// Voters in one quorum. KRaft recommends 3 or 5; 9 leaves room and bounds every per-voter
/// table in the core.
pub const RAFT_MAX_VOTERS: usize = 9;

/// Observers (brokers) whose fetch state the leader tracks for DescribeQuorum and whose fetch
/// it may park. Past it the least recently seen observer is forgotten: an observer is never
/// counted toward the high watermark, so forgetting one only loses reporting detail.
pub const RAFT_MAX_TRACKED_OBSERVERS: usize = 1_024;

/// Number of epochs in the in-memory epoch history (epoch -> start offset) beyond which the
/// oldest entries are dropped only once a snapshot covers them; an assertion, not a
/// truncation: a log that needs more distinct epochs than this between snapshots is a bug.
pub const RAFT_MAX_EPOCH_HISTORY: usize = 100_000;

/// Flushes the core allows in flight at once (each is one `Flush` action not yet reported
/// done). The driver group-commits, so more than a few means the disk is far behind; past it
/// the leader answers Backpressure instead of queueing more work for the disk.
pub const RAFT_MAX_FLUSHES_IN_FLIGHT: usize = 64;

const _: () = assert!(RAFT_CHECK_QUORUM_TIMEOUT_MS * 2 == RAFT_FETCH_TIMEOUT_MS * 3);
const _: () = assert!(RAFT_CHECK_QUORUM_TIMEOUT_MS > RAFT_FETCH_TIMEOUT_MS);
const _: () = assert!(RAFT_BEGIN_QUORUM_EPOCH_RESEND_MS < RAFT_FETCH_TIMEOUT_MS);
const _: () = assert!(RAFT_FETCH_MAX_WAIT_MS < RAFT_FETCH_TIMEOUT_MS);
const _: () = assert!(BATCH_BYTES_MAX <= RAFT_MAX_FETCH_BYTES);
const _: () = assert!(RAFT_APPEND_LINGER_MS < RAFT_FETCH_MAX_WAIT_MS);
const _: () = assert!(RAFT_MAX_UNCOMMITTED_RECORDS >= BATCH_RECORDS_MAX as u64);
const _: () = assert!(RAFT_MAX_VOTERS % 2 == 1);
const _: () = assert!(RAFT_RETRY_BACKOFF_MS < RAFT_FETCH_MAX_WAIT_MS);
const _: () =
    assert!(2 * (RAFT_FETCH_MAX_WAIT_MS + RAFT_REQUEST_TIMEOUT_MS) < RAFT_FETCH_TIMEOUT_MS);

// ---- Node configuration ----

/// Largest `server.properties` keel reads. Real files are a few KiB; a multi-megabyte file is
/// not a configuration (a wrong path, a log file), and reading it whole would be pointless.
pub const CONFIG_FILE_BYTES_MAX: u64 = 1024 * 1024;

/// An unknown configuration key within this many edits (Levenshtein) of a known one is
/// answered with that key as a suggestion: two catches the usual typos (a dropped, doubled or
/// swapped letter, a wrong plural) while a key three edits away is more often another word.
pub const CONFIG_KEY_SUGGESTION_DISTANCE_MAX: usize = 2;

/// Default of `metadata.max.idle.interval.ms`: the active controller appends a NoOp record
/// this often when nothing else is written (KIP-835's 500 ms), so followers and observers see
/// the high watermark move and can tell a live idle quorum from a stuck one.
pub const METADATA_MAX_IDLE_INTERVAL_MS_DEFAULT: u64 = 500;

/// Smallest `metadata.log.segment.bytes` keel accepts: 1 MiB, so tests can make many segments
/// from little data. (Kafka's internal floor is 8 MiB, its default 1 GiB; keel's default is
/// [`SEGMENT_BYTES_DEFAULT`] because segments are preallocated.)
pub const METADATA_SEGMENT_BYTES_MIN: u32 = 1024 * 1024;

/// Largest value any `*.ms` setting may take: one day. A larger timeout is a typo, and bounding
/// it keeps deadline arithmetic (now + timeout) far from overflow.
pub const TIMEOUT_MS_MAX: u64 = 24 * 60 * 60 * 1000;

/// Smallest `socket.request.max.bytes`: 1 KiB. Below it even the quorum's own small requests
/// (a Vote or a follower's Fetch, a few hundred bytes with their headers) would not fit, so a
/// value that small is a mistake (a size meant in KiB) and is refused at start rather than
/// found later as closed connections. Kafka accepts any positive value; real settings are
/// megabytes.
pub const SOCKET_REQUEST_BYTES_MIN: u32 = 1024;

/// Largest value of a key Kafka declares as an `int` (`node.id`, `socket.request.max.bytes`,
/// `max.connections.per.ip`, `num.partitions`): Java's `Integer.MAX_VALUE`, so every value
/// Kafka accepts keel accepts too, and the value fits the int32 the wire carries it in.
pub const CONFIG_INT_MAX: u64 = i32::MAX as u64;

/// Largest value of a key Kafka declares as a `short` (`default.replication.factor`): Java's
/// `Short.MAX_VALUE`, the int16 the wire carries a replication factor in.
pub const CONFIG_SHORT_MAX: u64 = i16::MAX as u64;

/// Largest value of a key Kafka declares as a `long` (`queued.max.request.bytes`,
/// `metadata.log.max.record.bytes.between.snapshots`): Java's `Long.MAX_VALUE`.
pub const CONFIG_LONG_MAX: u64 = i64::MAX as u64;

const _: () = assert!(SOCKET_REQUEST_BYTES_MIN <= SOCKET_REQUEST_BYTES_MAX_DEFAULT);
const _: () = assert!(SOCKET_REQUEST_BYTES_MAX_DEFAULT as u64 <= CONFIG_INT_MAX);
const _: () = assert!(METADATA_SEGMENT_BYTES_MIN >= SEGMENT_BYTES_MIN);
const _: () = assert!(METADATA_SEGMENT_BYTES_MIN as u64 >= BATCH_BYTES_MAX as u64 / 8);
const _: () = assert!(METADATA_MAX_IDLE_INTERVAL_MS_DEFAULT < RAFT_FETCH_TIMEOUT_MS);

// ---- Node ----

/// Extra time, beyond a fetch's longest wait plus a request timeout, that the node lets the
/// Raft core keep an inbound request before answering `REQUEST_TIMED_OUT` itself. The core
/// answers every request it should well within that; this only bounds a connection's owed
/// responses if it ever does not, so one lost answer cannot wedge a peer's connection.
pub const NODE_UNANSWERED_REQUEST_GRACE_MS: u64 = 1_000;

// ---- Server ----

/// Default of `max.connections`: the inbound connection slots anyone may occupy. A controller
/// serves its 2-8 fellow voters, the brokers (hundreds in a large cluster) and a few admin
/// clients; slots are preallocated so their bookkeeping is fixed too. Kafka's default is
/// unlimited; keel keeps the 1024 it has always had. When every one is taken, a new connection
/// takes the slot of the least recently active one that is owed no answer (Kafka does the
/// same for its inter-broker listener); if every one is owed an answer, it is closed at once.
pub const SERVER_CLIENT_CONNECTIONS_DEFAULT: usize = 1024;

/// Largest `max.connections`. Every slot may hold [`SERVER_UNBUDGETED_READ_BYTES`] of a
/// partly read request outside `queued.max.request.bytes`, so this bounds that part of the
/// memory to 16384 x 64 KiB = 1 GiB, and it stays below the 20,000 descriptors a typical
/// hard `RLIMIT_NOFILE` allows.
pub const SERVER_CLIENT_CONNECTIONS_MAX: usize = 16_384;

/// Slots beyond `max.connections` that only the quorum's peers and brokers may hold: a
/// connection whose request is a Vote, BeginQuorumEpoch, EndQuorumEpoch, Fetch, FetchSnapshot,
/// BrokerRegistration or BrokerHeartbeat (on a controller listener) moves into them, and a
/// connection in them is never evicted. Each voter and each broker opens two links to every
/// controller (quorum and controller channels): 256 holds the other 8 voters of the largest
/// quorum and 120 brokers; a peer beyond that still has an ordinary slot, which its steady
/// traffic keeps far from being the least recently active. Nothing is authenticated yet, so a
/// client can claim these slots by sending a Vote; the pool is small so that costs little.
pub const SERVER_PEER_CONNECTIONS_RESERVED: usize = 256;

/// Default of `max.connections.per.ip`: Kafka's (Int.MaxValue, i.e. no limit), because a NAT or
/// a host running several brokers makes any smaller default wrong for someone.
pub const SERVER_CONNECTIONS_PER_IP_DEFAULT: u32 = i32::MAX as u32;

/// Default of `connections.max.idle.ms`: Kafka's ten minutes. A connection that moved no byte
/// for this long and is owed no answer is closed; every Kafka client reconnects on demand, and
/// a live peer moves bytes far more often (a fetch every 500 ms, a heartbeat every 2 s).
pub const SERVER_CONNECTIONS_IDLE_MS_DEFAULT: u64 = 600_000;

/// Default of `queued.max.request.bytes`: the node-wide budget of bytes reserved for partly
/// read requests larger than [`SERVER_UNBUDGETED_READ_BYTES`]. A request's whole size is
/// reserved when its size prefix arrives (as Kafka's memory pool does), so a granted request
/// can always complete; one that does not fit waits with its bytes in the kernel (TCP
/// back-pressure). Kafka's default is -1 (unlimited), which let 500 connections announcing
/// 100 MiB each grow a node without bound; 256 MiB lets two maximal requests
/// (`socket.request.max.bytes`, 100 MiB) be read at once plus room for smaller ones, and
/// with the per-connection allowance below bounds all partly read requests of a node with
/// default settings to 256 MiB + 1280 x 64 KiB = 336 MiB.
pub const SERVER_QUEUED_REQUEST_BYTES_DEFAULT: u64 = 256 * 1024 * 1024;

/// Bytes of partly read requests a connection may hold without the budget: a request of at
/// most this size (size prefix included) is always read, whatever large requests hold the
/// budget, so the quorum never stalls behind clients. Quorum RPCs and broker heartbeats are a
/// few hundred bytes, a registration a few KiB, so 64 KiB covers them with a wide margin while
/// 1280 slots of it are 80 MiB at most (and only what actually arrived is ever allocated).
pub const SERVER_UNBUDGETED_READ_BYTES: usize = 64 * 1024;

/// Connections accepted from one listener per event-loop iteration; more wait for the next
/// iteration (which then does not wait for the poll). Between two batches every accepted
/// connection is read, so a peer's first request is seen (and the peer classified) long before
/// a flood of new connections could make it the least recently active: with 1024 ordinary
/// slots a fresh connection survives 16 batches of a flood.
pub const SERVER_ACCEPTS_PER_ITERATION: usize = 64;

/// Connections the kernel queues for a listener until the node accepts them (`listen`'s
/// backlog; std's and mio's 128 otherwise). A burst of new connections (every broker
/// reconnecting after a controller restarts, or a flood) beyond the queue loses its SYNs, and a
/// client retries a lost SYN only after a second, so a short queue turns a burst into seconds
/// of delay. One ordinary pool's worth; the kernel caps it at `net.core.somaxconn` (4096 by
/// default since Linux 5.4).
pub const SERVER_LISTEN_BACKLOG: i32 = 1024;

/// Wait before accepting again after `accept` failed for want of resources (EMFILE, ENFILE,
/// ENOBUFS, ENOMEM): closing connections frees descriptors meanwhile, and retrying at once
/// would only spin. Short, so a freed descriptor serves a waiting client soon.
pub const SERVER_ACCEPT_RETRY_MS: u64 = 50;

/// Warnings about refused or closed client connections (malformed frames, unknown APIs, no
/// free slot) logged per window; the rest are counted and the count is logged with the next
/// one. A hostile or broken client can open connections in a loop: the log must not grow with
/// it, and ten lines a minute still show an operator what is happening.
pub const CONNECTION_WARNINGS_PER_WINDOW: u32 = 10;

/// The window of [`CONNECTION_WARNINGS_PER_WINDOW`].
pub const CONNECTION_WARNING_WINDOW_MS: u64 = 60_000;

/// Requests one connection may have awaiting a response. Kafka clients pipeline at most 5
/// (`max.in.flight.requests.per.connection`); a peer has one Fetch and a few votes in flight.
/// Past it the connection is not read until a response goes out, so a client cannot make a
/// node hold more than this many responses for it.
pub const SERVER_REQUESTS_IN_FLIGHT_PER_CONNECTION: usize = 16;

/// Bytes read from a socket per call: large enough for a whole metadata fetch response's
/// worth of batches in a few calls, small enough to be one reusable buffer per node.
pub const SERVER_READ_CHUNK_BYTES: usize = 256 * 1024;

/// Requests in flight on one link to a peer. Raft keeps one fetch and one election request in
/// flight per peer; the margin covers BeginQuorumEpoch resends.
pub const PEER_REQUESTS_IN_FLIGHT_MAX: usize = 8;

/// First reconnect backoff to a peer, and its cap (Kafka `reconnect.backoff.ms` and
/// `reconnect.backoff.max.ms`): a dead peer costs one connect attempt per backoff.
pub const PEER_RECONNECT_BACKOFF_MS: u64 = 50;
pub const PEER_RECONNECT_BACKOFF_MAX_MS: u64 = 1_000;

/// Largest response frame accepted from a peer: one maximal fetch response plus room for its
/// headers and endpoints.
pub const PEER_RESPONSE_FRAME_BYTES_MAX: u32 = RAFT_MAX_FETCH_BYTES + 1024 * 1024;

/// A warning that repeats (a broker's registration refused while the controllers elect a
/// leader, or while its previous incarnation's session runs out) is logged once per this
/// interval with the count of the repeats: a line per cause every 10 s says what is going on
/// without the 1,400 lines in 9 s that a 100 ms retry made.
pub const WARNING_REPEAT_INTERVAL_MS: u64 = 10_000;

/// After SIGTERM a leader keeps running this long at most, so its EndQuorumEpoch reaches the
/// other voters and one of them takes over at once instead of after a fetch timeout.
pub const SHUTDOWN_GRACE_MS: u64 = 1_000;

/// Bytes of zeros one idle step may write ahead of the log's head (`Log::prepare_ahead`): one
/// chunk, so an idle step costs one chunk write and one flush and a request arriving meanwhile
/// waits little.
pub const IDLE_PREPARE_STEP_BYTES: u64 = ZERO_FILL_CHUNK_BYTES as u64;

const _: () = assert!(SERVER_REQUESTS_IN_FLIGHT_PER_CONNECTION >= 5);
const _: () = assert!(SERVER_CLIENT_CONNECTIONS_DEFAULT <= SERVER_CLIENT_CONNECTIONS_MAX);
const _: () = assert!(SERVER_PEER_CONNECTIONS_RESERVED >= 2 * (RAFT_MAX_VOTERS - 1));
// The default budget holds a maximal default request beyond the unbudgeted part.
const _: () =
    assert!(SERVER_QUEUED_REQUEST_BYTES_DEFAULT >= SOCKET_REQUEST_BYTES_MAX_DEFAULT as u64);
const _: () = assert!(SERVER_UNBUDGETED_READ_BYTES <= SOCKET_REQUEST_BYTES_MAX_DEFAULT as usize);
const _: () = assert!(SERVER_ACCEPTS_PER_ITERATION > 0);
const _: () = assert!(SERVER_ACCEPTS_PER_ITERATION < SERVER_CLIENT_CONNECTIONS_DEFAULT);
const _: () = assert!(SERVER_CONNECTIONS_IDLE_MS_DEFAULT <= TIMEOUT_MS_MAX);
const _: () = assert!(PEER_RECONNECT_BACKOFF_MS <= PEER_RECONNECT_BACKOFF_MAX_MS);
const _: () = assert!(SHUTDOWN_GRACE_MS < RAFT_FETCH_TIMEOUT_MS);

// ---- Command-line tools ----

/// Timeout of one connect, read or write by a command-line tool: long enough for a node busy
/// with an election, short enough that a wrong address fails while the operator still waits.
pub const ADMIN_REQUEST_TIMEOUT_MS: u64 = 10_000;

/// Columns that help text generated at run time (the exit statuses after an admin command's
/// `--help`) is wrapped to: the width of the help written by hand beside it, whose lines are
/// those of keel's sources (clap prints help as written, without wrapping).
pub const HELP_WIDTH_COLUMNS: usize = 100;

/// `metadata.log.segment.bytes` of a `keel dev` node: segments are preallocated, and a dev
/// cluster of six nodes with the default size took 385 MB before its first topic; 4 MiB holds
/// tens of thousands of records and keeps the directory at a few MiB per node. (A batch is then
/// at most what fits one segment, about 4 MiB: more than any dev cluster's single change.)
pub const DEV_SEGMENT_BYTES: u32 = 4 * 1024 * 1024;
const _: () = assert!(DEV_SEGMENT_BYTES >= METADATA_SEGMENT_BYTES_MIN);

/// Most brokers `keel dev` starts: a laptop's worth (each is a process with its own log).
pub const DEV_BROKERS_MAX: u32 = 16;

/// How long `keel dev` waits for its quorum to elect a leader before giving up: many election
/// timeouts, so only a real failure (a port in use, a crashed node) runs into it.
pub const DEV_LEADER_WAIT_MS: u64 = 30_000;

/// How long `keel dev` waits for a child to stop after SIGTERM before killing it: longer than a
/// node's shutdown grace, so a leader's hand-over completes.
pub const DEV_STOP_WAIT_MS: u64 = 10_000;

const _: () = assert!(DEV_STOP_WAIT_MS > SHUTDOWN_GRACE_MS);

// ---- Admin commands (`keel topics`, `keel configs`, `keel cluster`) ----

/// Default of `--timeout-ms`, the bound of a whole admin command (every connect, request and
/// retry): Kafka's AdminClient `request.timeout.ms`, the time Kafka's own tools give one call.
pub const ADMIN_TIMEOUT_MS_DEFAULT: u64 = 30_000;

/// Largest `--timeout-ms`: the remaining time is sent to the controller in the requests'
/// `TimeoutMs`, an int32.
pub const ADMIN_TIMEOUT_MS_MAX: u64 = i32::MAX as u64;

/// Largest response an admin command accepts: kafka-python's admin client default
/// (`receive_message_max_bytes`), room for the Metadata of about a million partitions. The
/// buffer grows only as bytes arrive (by [`ADMIN_RESPONSE_READ_CHUNK_BYTES`] at a time), so a
/// size prefix that lies costs nothing until the bytes come.
pub const ADMIN_RESPONSE_FRAME_BYTES_MAX: u32 = 100_000_000;

/// Bytes a tool's response buffer grows by per read: one socket buffer's worth, so a large
/// response takes a few thousand reads and a lying size prefix allocates at most this much
/// ahead of the bytes that really arrived.
pub const ADMIN_RESPONSE_READ_CHUNK_BYTES: usize = 64 * 1024;

/// How many times a controller-bound request (CreateTopics, DeleteTopics, CreatePartitions,
/// IncrementalAlterConfigs) is sent again, with a fresh Metadata, to the items answered
/// `NOT_CONTROLLER`. kafka-python retries once; a leader change can take two rounds (the
/// Metadata may still name the old controller), and five rounds with the backoff below cover
/// about 2.5 s, several election timeouts. Past that the error is shown.
pub const ADMIN_NOT_CONTROLLER_RETRIES_MAX: u32 = 5;

/// First pause before a retry, and its cap, doubling in between: Kafka clients' `retry.backoff.ms`
/// and `retry.backoff.max.ms`. Also the pause between Metadata requests while no controller is
/// known (which only `--timeout-ms` bounds, as in Kafka's AdminClient).
pub const ADMIN_RETRY_BACKOFF_MS: u64 = 100;
pub const ADMIN_RETRY_BACKOFF_MAX_MS: u64 = 1_000;

const _: () = assert!(ADMIN_TIMEOUT_MS_DEFAULT <= ADMIN_TIMEOUT_MS_MAX);
const _: () = assert!(ADMIN_RESPONSE_FRAME_BYTES_MAX >= PEER_RESPONSE_FRAME_BYTES_MAX);
const _: () = assert!(ADMIN_RESPONSE_FRAME_BYTES_MAX <= i32::MAX as u32);
const _: () = assert!(ADMIN_RESPONSE_READ_CHUNK_BYTES > 0);
const _: () = assert!(ADMIN_RETRY_BACKOFF_MS <= ADMIN_RETRY_BACKOFF_MAX_MS);

// ---- Metadata ----
//
// Defaults of the quorum controller are Kafka's (`KRaftConfigs`, `ServerLogConfigs`,
// `TopicConfig`), so brokers and tools written for KRaft see the behaviour they expect.

/// `broker.session.timeout.ms`: a broker that sends no heartbeat for this long is fenced
/// (Kafka's default). Several heartbeat intervals, so one lost heartbeat never fences.
pub const BROKER_SESSION_TIMEOUT_MS_DEFAULT: u64 = 9_000;

/// `broker.heartbeat.interval.ms`: how often a broker heartbeats to the active controller
/// (Kafka's default): four heartbeats fit in a session, so fencing takes several losses.
pub const BROKER_HEARTBEAT_INTERVAL_MS_DEFAULT: u64 = 2_000;
const _: () =
    assert!(BROKER_HEARTBEAT_INTERVAL_MS_DEFAULT * 4 <= BROKER_SESSION_TIMEOUT_MS_DEFAULT);

/// How long a broker works on a client's write it forwards to the active controller before
/// it answers REQUEST_TIMED_OUT: Kafka's `request.timeout.ms` default, which is also how long
/// Kafka's clients wait for the answer. It covers waiting for a controller to be elected,
/// retries after a lost connection, and waiting for the broker's own image to show the
/// change.
pub const BROKER_FORWARD_TIMEOUT_MS: u64 = 30_000;

/// How many times a forwarded write follows leadership to another controller after the one
/// it was sent to dropped it: its connection was lost with the request in flight, or a later
/// epoch's leader was elected before it answered (Kafka's brokers requeue such a request
/// without limit). Once is what a leader killed or restarted mid-request needs: the write
/// completes on its successor instead of timing out. More is not allowed because a request
/// that made a controller crash would crash each one it is sent to in turn; with one move it
/// reaches at most two, and the client then gets REQUEST_TIMED_OUT with "not forwarded
/// again". An answer of NOT_CONTROLLER (nothing done) is sent again without counting.
pub const BROKER_FORWARD_MOVES_MAX: u32 = 1;

/// Longest a broker waits after SIGTERM for the controller to move its leaderships away and
/// agree to its shutdown (controlled shutdown) before it exits anyway: long enough for every
/// other broker to heartbeat past the change at the default interval, short enough for a
/// service manager's stop timeout (systemd's default is 90 s).
pub const BROKER_CONTROLLED_SHUTDOWN_MS_MAX: u64 = 10_000;
const _: () =
    assert!(BROKER_CONTROLLED_SHUTDOWN_MS_MAX >= 2 * BROKER_HEARTBEAT_INTERVAL_MS_DEFAULT);

/// Most entries (partitions, or coordinator keys) a broker's refusal of an API it does not
/// serve (Produce, Fetch, ListOffsets, FindCoordinator: `src/node/not_served.rs`) answers; the
/// rest of such a request is left out. A producer or consumer asks for at most a few thousand
/// partitions at once; without the bound a request of 8-byte partition entries would get an
/// answer some twenty times its size (an error message per partition), up to gigabytes for a
/// request at `socket.request.max.bytes`. 10,000 entries with their messages are about 2 MB.
pub const NOT_SERVED_ENTRIES_MAX: usize = 10_000;

/// `num.partitions`: partitions of a topic created with -1 (Kafka's default).
pub const DEFAULT_NUM_PARTITIONS: i32 = 1;

/// `default.replication.factor`: replication factor of a topic created with -1 (Kafka's
/// default).
pub const DEFAULT_REPLICATION_FACTOR: i16 = 1;

/// Longest topic name (Kafka's `Topic.MAX_NAME_LENGTH`): a partition directory is named
/// `<topic>-<partition>`, and with a dash and a partition index of up to 5 digits it stays
/// within the 255-byte file name limit.
pub const TOPIC_NAME_BYTES_MAX: usize = 249;

/// Topic ids the controller draws from its id source for one new topic before concluding
/// the source is broken (a random 122-bit id collides with an existing one practically never).
pub const TOPIC_ID_DRAWS_MAX: u32 = 64;

/// `metadata.log.max.record.bytes.between.snapshots` (Kafka's default, 20 MiB): a node writes
/// a snapshot once this many bytes of records were applied since the last one. Bounds both the
/// replay at start-up and the log a lagging replica fetches before a snapshot would be cheaper.
pub const SNAPSHOT_MAX_RECORD_BYTES_DEFAULT: u64 = 20 * 1024 * 1024;

/// `metadata.log.max.snapshot.interval.ms` (Kafka's default, one hour): a snapshot at least this
/// often when anything changed, so a quiet cluster's restart replays at most an hour of log.
pub const SNAPSHOT_MAX_INTERVAL_MS_DEFAULT: u64 = 60 * 60 * 1000;

/// How often the active controller's housekeeping runs at the latest (it also runs on every
/// event-loop iteration): a broker whose session expired is fenced within this much of the
/// expiry. Small next to `broker.session.timeout.ms` (9 s) and cheap: O(brokers).
pub const CONTROLLER_TICK_INTERVAL_MS: u64 = 100;

/// Batches the controller's housekeeping may propose in one tick. Fencing a broker that led
/// many partitions takes several batches; spreading them over ticks keeps one iteration short
/// and leaves room for clients' requests in between.
pub const CONTROLLER_TICK_BATCHES_MAX: usize = 4;

/// A broker stopping cleanly writes a snapshot of its image first when the log after its
/// latest snapshot holds at least this many bytes of records, so that its restart loads the
/// snapshot instead of replaying that log. Replaying 1 MiB takes a few milliseconds, less
/// than writing a large image costs; up to `metadata.log.max.record.bytes.between.snapshots`
/// (20 MiB) of small records took about 130 ms at 1 M partitions (`benches/catchup.rs`). The
/// snapshot is written while the controlled shutdown waits on the controller anyway.
pub const SNAPSHOT_AT_SHUTDOWN_BYTES_MIN: u64 = 1024 * 1024;

/// Bytes of records a node writes into a snapshot per event-loop iteration. A snapshot of a
/// million partitions is tens of MiB; written in one go it would stall the loop (and the
/// quorum's heartbeats) for a large part of a second on a spinning disk. 1 MiB takes about a
/// millisecond to encode and hand to the page cache, so the loop stays responsive and a
/// snapshot of 70 MiB still completes in 70 iterations.
pub const SNAPSHOT_STEP_BYTES: u64 = 1024 * 1024;

const _: () = assert!(BROKER_HEARTBEAT_INTERVAL_MS_DEFAULT * 3 < BROKER_SESSION_TIMEOUT_MS_DEFAULT);
const _: () = assert!(BROKER_SESSION_TIMEOUT_MS_DEFAULT <= TIMEOUT_MS_MAX);
const _: () = assert!(TOPIC_NAME_BYTES_MAX + 1 + 5 <= 255);

// ---- keel-dump ----
//
// `keel-dump` reads files of any size (a 1 GiB segment, a whole directory) through one fixed
// read buffer, so its memory does not grow with what it reads. Only `image` holds more: the
// metadata image itself, whose size is the cluster's, not the log's.

/// Bytes a streaming read fetches beyond one maximal batch. Reads of 1 MiB and more run at the
/// disk's (and the page cache's) sequential speed; smaller ones start to cost a system call
/// per few batches. It is also the step by which the search for valid data after a damaged
/// batch slides its window, so that search copies at most a batch per MiB it advances.
pub const DUMP_READ_CHUNK_BYTES: u32 = 1024 * 1024;

/// The one read buffer of a streaming scan: the largest batch whole, plus a read-ahead chunk.
/// Any valid batch fits in it whole, so the scan decodes every batch with storage's own
/// decoder, in place; this is the memory `log`, `verify` and `stats` use, whatever the size of
/// a segment or a directory.
pub const DUMP_READ_BUFFER_BYTES: u32 = BATCH_BYTES_MAX + DUMP_READ_CHUNK_BYTES;

/// Topic names `log --records` remembers (from TopicRecords, and the newest snapshot) to name
/// the topic of partition records. Real clusters have up to tens of thousands of topics; past
/// this bound records show the topic id alone, so no log can make the printer's memory grow
/// without limit (about 100 bytes a name: 10 MB at the bound).
pub const DUMP_TOPIC_NAMES_MAX: usize = 100_000;

/// Unreadable records (an unknown type or version, a body that does not decode) `verify`
/// lists one by one; the rest are counted. One is enough to stop a node, and a log written by
/// a newer keel may hold millions of them: the first hundred say what and where.
pub const DUMP_RECORD_PROBLEMS_MAX: usize = 100;

const _: () = assert!(DUMP_READ_CHUNK_BYTES > 0);
const _: () = assert!(DUMP_READ_BUFFER_BYTES as u64 > BATCH_BYTES_MAX as u64);
