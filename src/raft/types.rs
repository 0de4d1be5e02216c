//! Plain values the core is made of: replica identity, offsets with epochs, snapshot ids,
//! election state, batches, and the configuration a node runs with.
//!
//! Offsets are `u64` and epochs `u32`: keel never stores Kafka's `-1` sentinels, an absent value
//! is an `Option`. The node layer maps between these and the wire's `int64`/`int32`.

use crate::constants;

/// A node id (Kafka `node.id`).
pub type NodeId = u32;

/// A data directory id (Kafka `directory.id`, a UUID). A node whose disk was replaced has a new
/// directory id and must not vote as its old self (KIP-853).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DirectoryId(pub u128);

/// A replica: node id plus the directory it runs from. Voters are replica keys, not bare ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReplicaKey {
    pub id: NodeId,
    pub directory_id: DirectoryId,
}

/// An offset together with the epoch of the record just before it (or the epoch a range ends
/// in), the pair Raft compares logs by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OffsetAndEpoch {
    pub offset: u64,
    pub epoch: u32,
}

/// A snapshot covers every record below `end_offset`; `epoch` is the epoch of the record at
/// `end_offset - 1`. Ordered by offset first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SnapshotId {
    pub end_offset: u64,
    pub epoch: u32,
}

/// What must be durable before the node acts in its role (Kafka's `quorum-state` file).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ElectionState {
    pub epoch: u32,
    pub voted_for: Option<ReplicaKey>,
    pub leader: Option<NodeId>,
    /// keel's addition to Kafka's quorum state: recovery found corruption inside the log (not a
    /// torn tail) and cut the log there, so records this voter may have acknowledged are gone.
    /// Until its log reaches this offset again it neither votes nor stands for election, so it
    /// cannot help elect a leader that lacks committed records (KAFKA-14077). The driver sets it
    /// durably when recovery finds corruption (keeping the larger of old and new); the core
    /// clears it, through `PersistElectionState`, once the node has re-fetched that far. It is
    /// durable because a second crash before re-fetching must not make the node forget.
    pub abstain_until_offset: Option<u64>,
}

/// A batch of records as the core sees it: offsets, the epoch it was written in, its size,
/// and an opaque payload that only the driver can read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batch<P> {
    pub base_offset: u64,
    pub last_offset: u64,
    pub epoch: u32,
    pub size_bytes: u32,
    pub payload: P,
}

impl<P> Batch<P> {
    pub fn end_offset(&self) -> u64 {
        self.last_offset + 1
    }
}

/// The control record a new leader writes at the start of its epoch (Kafka LeaderChange).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaderChange {
    pub leader: NodeId,
    pub voters: Vec<ReplicaKey>,
    pub granting_voters: Vec<ReplicaKey>,
}

/// What a leader appends: client records (opaque) or its epoch-start control record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaderBatchContent<P> {
    Records { record_count: u32, payload: P },
    LeaderChange(LeaderChange),
}

/// Deliberately broken behaviours, so tests can show the simulator's checkers catch a broken
/// Raft. Off by default; never set outside tests.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum BugInjection {
    #[default]
    None,
    /// Grant votes without comparing logs (breaks "vote only for an up-to-date log").
    SkipUpToDateVoteCheck,
    /// A voter sends its next Fetch before flushing what it appended (breaks "a fetch offset
    /// is durable on the follower").
    FetchBeforeFlush,
    /// The leader advances the high watermark without waiting for its epoch-start record
    /// (breaks Raft's "commit only in your own term").
    HighWatermarkBeforeEpochStart,
    /// The leader never probes voters that stopped fetching (breaks "a voter pushed to a
    /// higher epoch is back in the quorum within a bound").
    NoRejoinProbe,
}

/// How one node runs the protocol. `voters` is the static voter set; a node whose key is not in
/// it is an observer.
#[derive(Clone, Debug)]
pub struct RaftConfig {
    pub local: ReplicaKey,
    pub voters: Vec<ReplicaKey>,
    pub election_timeout_ms: u64,
    pub fetch_timeout_ms: u64,
    pub check_quorum_timeout_ms: u64,
    pub begin_quorum_epoch_resend_ms: u64,
    pub fetch_max_wait_ms: u64,
    pub request_timeout_ms: u64,
    pub max_fetch_bytes: u32,
    pub election_backoff_max_ms: u64,
    /// Spread of the pre-vote start after the leader's connection was lost or refused
    /// ([`constants::RAFT_LEADER_LOST_JITTER_MS`]).
    pub leader_lost_jitter_ms: u64,
    pub append_linger_ms: u64,
    pub snapshot_chunk_bytes: u32,
    pub max_uncommitted_records: u64,
    #[doc(hidden)]
    pub bug: BugInjection,
}

impl RaftConfig {
    /// Kafka's defaults from `constants.rs`.
    pub fn new(local: ReplicaKey, voters: Vec<ReplicaKey>) -> RaftConfig {
        RaftConfig {
            local,
            voters,
            election_timeout_ms: constants::RAFT_ELECTION_TIMEOUT_MS,
            fetch_timeout_ms: constants::RAFT_FETCH_TIMEOUT_MS,
            check_quorum_timeout_ms: constants::RAFT_CHECK_QUORUM_TIMEOUT_MS,
            begin_quorum_epoch_resend_ms: constants::RAFT_BEGIN_QUORUM_EPOCH_RESEND_MS,
            fetch_max_wait_ms: constants::RAFT_FETCH_MAX_WAIT_MS,
            request_timeout_ms: constants::RAFT_REQUEST_TIMEOUT_MS,
            max_fetch_bytes: constants::RAFT_MAX_FETCH_BYTES,
            election_backoff_max_ms: constants::RAFT_ELECTION_BACKOFF_MAX_MS,
            leader_lost_jitter_ms: constants::RAFT_LEADER_LOST_JITTER_MS,
            append_linger_ms: constants::RAFT_APPEND_LINGER_MS,
            snapshot_chunk_bytes: constants::RAFT_SNAPSHOT_CHUNK_BYTES,
            max_uncommitted_records: constants::RAFT_MAX_UNCOMMITTED_RECORDS,
            bug: BugInjection::None,
        }
    }

    /// Checks the relations the protocol depends on; called once by `Raft::new`.
    pub fn validate(&self) {
        assert!(!self.voters.is_empty(), "a quorum needs at least one voter");
        assert!(self.voters.len() <= constants::RAFT_MAX_VOTERS);
        let mut ids: Vec<NodeId> = self.voters.iter().map(|v| v.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), self.voters.len(), "voter ids must be distinct");
        assert!(self.election_timeout_ms > 0 && self.fetch_timeout_ms > 0);
        assert!(self.check_quorum_timeout_ms > self.fetch_timeout_ms);
        assert!(self.fetch_max_wait_ms < self.fetch_timeout_ms);
        assert!(self.begin_quorum_epoch_resend_ms < self.fetch_timeout_ms);
        assert!(
            2 * (self.fetch_max_wait_ms + self.request_timeout_ms) < self.fetch_timeout_ms,
            "a lost fetch is retried at least twice before the follower gives up on its leader"
        );
        assert!(
            self.leader_lost_jitter_ms < self.fetch_timeout_ms,
            "a lost leader is suspected sooner than by the fetch timeout"
        );
        assert!(self.max_fetch_bytes > 0 && self.snapshot_chunk_bytes > 0);
        assert!(self.max_uncommitted_records >= constants::BATCH_RECORDS_MAX as u64);
    }

    pub fn is_voter(&self, key: &ReplicaKey) -> bool {
        self.voters.contains(key)
    }

    pub fn voter_id(&self, id: NodeId) -> Option<&ReplicaKey> {
        self.voters.iter().find(|v| v.id == id)
    }

    pub fn majority(&self) -> usize {
        self.voters.len() / 2 + 1
    }
}
