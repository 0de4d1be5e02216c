//! Raft messages as plain Rust values, and what the core hands the driver to send.
//!
//! These mirror KRaft's RPCs (Vote, BeginQuorumEpoch, EndQuorumEpoch, Fetch, FetchSnapshot)
//! field for field where the core needs the field, without the wire's topic/partition nesting
//! or its sentinels. The node layer converts them to and from Kafka protocol messages.
//!
//! Every request carries a `correlation` the core chose; a response echoes it. The core uses it
//! to drop stale, duplicated or reordered responses (the real transport is TCP and mostly
//! in order, the simulator is not, and the core must be right for both).

use super::types::{Batch, NodeId, OffsetAndEpoch, ReplicaKey, SnapshotId};

/// Errors a response can carry (mapped to Kafka error codes at the wire).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RaftError {
    /// The request's epoch is older than the receiver's (FENCED_LEADER_EPOCH).
    FencedLeaderEpoch,
    /// The request's epoch is newer than the receiver knows (UNKNOWN_LEADER_EPOCH).
    UnknownLeaderEpoch,
    /// The receiver is not the leader (NOT_LEADER_OR_FOLLOWER); the response's leader fields
    /// say who is, if known.
    NotLeader,
    /// The sender's or receiver's (id, directory id) is not the voter it claims (INVALID_VOTER_KEY).
    InvalidVoterKey,
    /// The snapshot asked for is not the leader's latest (SNAPSHOT_NOT_FOUND).
    SnapshotNotFound,
}

/// A message between two replicas. `P` is the opaque batch/snapshot payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message<P> {
    VoteRequest {
        correlation: u64,
        /// For a pre-vote, the candidate's *current* epoch; for a vote, the epoch it stands in.
        candidate_epoch: u32,
        candidate: ReplicaKey,
        /// The key the candidate believes the receiver has (KIP-853).
        voter: ReplicaKey,
        last_epoch: u32,
        last_offset: u64,
        pre_vote: bool,
    },
    VoteResponse {
        correlation: u64,
        error: Option<RaftError>,
        epoch: u32,
        leader: Option<NodeId>,
        granted: bool,
        pre_vote: bool,
    },
    BeginQuorumEpochRequest {
        correlation: u64,
        epoch: u32,
        leader: NodeId,
        voter: ReplicaKey,
    },
    BeginQuorumEpochResponse {
        correlation: u64,
        error: Option<RaftError>,
        epoch: u32,
        leader: Option<NodeId>,
    },
    EndQuorumEpochRequest {
        correlation: u64,
        epoch: u32,
        leader: NodeId,
        preferred_successors: Vec<ReplicaKey>,
    },
    EndQuorumEpochResponse {
        correlation: u64,
        error: Option<RaftError>,
        epoch: u32,
        leader: Option<NodeId>,
    },
    FetchRequest {
        correlation: u64,
        replica: ReplicaKey,
        current_leader_epoch: u32,
        fetch_offset: u64,
        last_fetched_epoch: u32,
        max_wait_ms: u64,
        max_bytes: u32,
    },
    FetchResponse {
        correlation: u64,
        error: Option<RaftError>,
        epoch: u32,
        leader: Option<NodeId>,
        high_watermark: u64,
        log_start_offset: u64,
        /// The fetcher's log diverges: truncate to at most this (epoch, end offset) and refetch.
        diverging: Option<OffsetAndEpoch>,
        /// The fetch offset is behind the log start: fetch this snapshot first.
        snapshot: Option<SnapshotId>,
        /// Filled in by the leader's driver (see [`Fill::Records`]); parsed by the fetcher's.
        batches: Vec<Batch<P>>,
    },
    FetchSnapshotRequest {
        correlation: u64,
        replica: ReplicaKey,
        current_leader_epoch: u32,
        snapshot: SnapshotId,
        position: u64,
        max_bytes: u32,
    },
    FetchSnapshotResponse {
        correlation: u64,
        error: Option<RaftError>,
        epoch: u32,
        leader: Option<NodeId>,
        snapshot: SnapshotId,
        /// Total snapshot size in bytes; filled in by the driver with the chunk.
        size: u64,
        position: u64,
        /// Filled in by the leader's driver (see [`Fill::SnapshotChunk`]).
        chunk: Option<P>,
    },
}

impl<P> Message<P> {
    pub fn correlation(&self) -> u64 {
        match self {
            Message::VoteRequest { correlation, .. }
            | Message::VoteResponse { correlation, .. }
            | Message::BeginQuorumEpochRequest { correlation, .. }
            | Message::BeginQuorumEpochResponse { correlation, .. }
            | Message::EndQuorumEpochRequest { correlation, .. }
            | Message::EndQuorumEpochResponse { correlation, .. }
            | Message::FetchRequest { correlation, .. }
            | Message::FetchResponse { correlation, .. }
            | Message::FetchSnapshotRequest { correlation, .. }
            | Message::FetchSnapshotResponse { correlation, .. } => *correlation,
        }
    }

    /// A short name for traces.
    pub fn name(&self) -> &'static str {
        match self {
            Message::VoteRequest { pre_vote: true, .. } => "PreVote",
            Message::VoteRequest { .. } => "Vote",
            Message::VoteResponse { pre_vote: true, .. } => "PreVoteResp",
            Message::VoteResponse { .. } => "VoteResp",
            Message::BeginQuorumEpochRequest { .. } => "BeginQuorumEpoch",
            Message::BeginQuorumEpochResponse { .. } => "BeginQuorumEpochResp",
            Message::EndQuorumEpochRequest { .. } => "EndQuorumEpoch",
            Message::EndQuorumEpochResponse { .. } => "EndQuorumEpochResp",
            Message::FetchRequest { .. } => "Fetch",
            Message::FetchResponse { .. } => "FetchResp",
            Message::FetchSnapshotRequest { .. } => "FetchSnapshot",
            Message::FetchSnapshotResponse { .. } => "FetchSnapshotResp",
        }
    }
}

/// What the leader's driver must read from its own storage and put into an outgoing response
/// before sending it. The core knows offsets, not bytes, so it describes the read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fill {
    /// Put into `FetchResponse::batches` the whole batches starting exactly at `from_offset`,
    /// all ending at or below `end_offset`, at most `max_bytes` in total but always at least one
    /// batch if `from_offset < end_offset` (so an oversized batch can never stall a follower).
    Records {
        from_offset: u64,
        end_offset: u64,
        max_bytes: u32,
    },
    /// Put into `FetchSnapshotResponse::chunk` the bytes `[position, position + max_bytes)` of
    /// snapshot `snapshot` (fewer at its end) and its total size into `size`. The driver keeps
    /// the latest snapshot it reported readable until it reports a newer one.
    SnapshotChunk {
        snapshot: SnapshotId,
        position: u64,
        max_bytes: u32,
    },
}

/// A message to send, and what to fill into it first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope<P> {
    pub to: NodeId,
    pub message: Message<P>,
    pub fill: Option<Fill>,
}
