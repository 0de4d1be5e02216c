//! Every limit and default in keel, with the reason for its value.
//!
//! A limit that is not here does not exist: code that bounds a queue, a buffer, a frame or a
//! retry takes its bound from this module, so the bounds of the whole system can be read (and
//! argued about) in one place. Relations between limits are checked at compile time with
//! `const` assertions at the bottom of each section.

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

/// Largest batch `propose` accepts, see [`RAFT_MAX_FETCH_BYTES`].
pub const RAFT_MAX_BATCH_BYTES: u32 = 8 * 1024 * 1024;

/// Largest number of records in one proposed batch (Kafka's quorum controller caps a batch and
/// a user operation at 10 000 records, `QuorumController.MAX_RECORDS_PER_BATCH`).
pub const RAFT_MAX_RECORDS_PER_BATCH: u32 = 10_000;

/// Upper bound of the randomized backoff after a lost election (Kafka
/// `controller.quorum.election.backoff.max.ms`).
pub const RAFT_ELECTION_BACKOFF_MAX_MS: u64 = 1_000;

/// The leader waits this long after the first unflushed append before asking for a flush, so
/// one fsync covers every proposal of that window (Kafka `controller.quorum.append.linger.ms`).
pub const RAFT_APPEND_LINGER_MS: u64 = 25;

/// Bytes of snapshot sent per FetchSnapshot response. Same as a fetch: one response's worth.
pub const RAFT_SNAPSHOT_CHUNK_BYTES: u32 = RAFT_MAX_FETCH_BYTES;

/// Proposals the leader accepts beyond its high watermark, in records. Past it `propose`
/// answers Backpressure: the uncommitted tail (which the driver must hold in memory or in the
/// page cache until it is replicated) can never grow without bound while a follower is slow.
/// Ten full controller operations.
pub const RAFT_MAX_UNCOMMITTED_RECORDS: u64 = 10 * RAFT_MAX_RECORDS_PER_BATCH as u64;

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
const _: () = assert!(RAFT_MAX_BATCH_BYTES <= RAFT_MAX_FETCH_BYTES);
const _: () = assert!(RAFT_APPEND_LINGER_MS < RAFT_FETCH_MAX_WAIT_MS);
const _: () = assert!(RAFT_MAX_UNCOMMITTED_RECORDS >= RAFT_MAX_RECORDS_PER_BATCH as u64);
const _: () = assert!(RAFT_MAX_VOTERS % 2 == 1);
const _: () = assert!(RAFT_RETRY_BACKOFF_MS < RAFT_FETCH_MAX_WAIT_MS);
const _: () =
    assert!(2 * (RAFT_FETCH_MAX_WAIT_MS + RAFT_REQUEST_TIMEOUT_MS) < RAFT_FETCH_TIMEOUT_MS);
