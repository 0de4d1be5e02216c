//! What the core asks its driver to do, in order, and the replies it expects back.
//!
//! The driver contract (etcd's Ready shape, with KRaft's durability rules):
//!
//! 1. Execute the actions of one call in the order given.
//! 2. `PersistElectionState` and `InstallSnapshot` are synchronous: they must be durable before
//!    the driver executes the next action (a vote, a BeginQuorumEpoch answer, a fetch from the
//!    snapshot's end all depend on them).
//! 3. `Append*`, `Truncate` and `DeleteLogPrefix` change the log in memory/page cache; they
//!    need not be durable until a `Flush` covers them.
//! 4. `Flush { id }` may complete later; when it has, the driver calls
//!    `Raft::flushed(now_ms, id)`. Flushes complete in the order issued. A failed flush is
//!    fatal for the node (fail-stop, never retried).
//! 5. `SendAfterFlush { flush, .. }` is held until flush `flush` has completed, then sent. If
//!    the node stops first it is dropped.
//! 6. `Send` fills in `Envelope::fill` from storage and sends; losing it is always safe.
//! 7. `Commit { high_watermark }`: every record below it is committed and may be applied.

use super::message::Envelope;
use super::types::{Batch, ElectionState, LeaderBatchContent, SnapshotId};

/// Identifies one flush request; ids increase by one per `Flush` action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FlushId(pub u64);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action<P> {
    /// Durably store the election state before executing any later action.
    PersistElectionState(ElectionState),
    /// Append one batch the leader created at `base_offset..=last_offset` in `epoch`.
    AppendLeader {
        base_offset: u64,
        last_offset: u64,
        epoch: u32,
        content: LeaderBatchContent<P>,
    },
    /// Append batches fetched from the leader, exactly as received.
    AppendFetched {
        batches: Vec<Batch<P>>,
    },
    /// Remove every record at or after `to_offset`.
    Truncate {
        to_offset: u64,
    },
    /// Make everything appended so far durable; report with `Raft::flushed(id)`.
    Flush {
        id: FlushId,
        up_to_offset: u64,
    },
    Send(Envelope<P>),
    /// Send only once flush `flush` has completed.
    SendAfterFlush {
        flush: FlushId,
        envelope: Envelope<P>,
    },
    /// Records below `high_watermark` are committed.
    Commit {
        high_watermark: u64,
    },
    /// A snapshot covering everything below `snapshot.end_offset` exists (reported by the
    /// state machine); records before `before_offset` may now be deleted.
    DeleteLogPrefix {
        before_offset: u64,
    },
    /// Write `chunk` at `position` of the snapshot being fetched (chunks arrive in order).
    WriteSnapshotChunk {
        snapshot: SnapshotId,
        position: u64,
        chunk: P,
    },
    /// The fetched snapshot is complete: make it durable, discard the whole log, restart the
    /// log at `snapshot.end_offset`, and load the state machine from the snapshot.
    InstallSnapshot {
        snapshot: SnapshotId,
    },
}

/// Why a proposal was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProposeError {
    /// Not the leader; propose to `leader_hint` if known.
    NotLeader { leader_hint: Option<u32> },
    /// Too much is uncommitted or the disk is behind: retry later.
    Backpressure,
    /// The batch is larger than a batch may be.
    TooLarge,
}
