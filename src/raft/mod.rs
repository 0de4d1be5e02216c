//! The Raft consensus core, KRaft-style. Pure and deterministic: no I/O, no clock, no threads,
//! no randomness of its own. The same inputs always give the same outputs.
//!
//! # Shape
//!
//! Events in, actions out (etcd-raft's Ready shape). A driver (the node layer, or the
//! simulator) owns a [`Raft`] and calls one input at a time, each with the current time:
//! [`Raft::receive`] (a message from a replica), [`Raft::tick`] (at [`Raft::next_deadline_ms`]),
//! [`Raft::propose`], [`Raft::flushed`], [`Raft::snapshot_written`], [`Raft::resign`]. Each
//! returns an ordered list of [`Action`]s the driver executes in order under the contract in
//! [`action`]'s header. [`Raft::status`] is a read-only view (role, epoch, leader, high
//! watermark, per-replica fetch state for DescribeQuorum).
//!
//! # Bytes
//!
//! The core never reads a record. Messages and actions are generic over an opaque payload
//! `P` (the simulator uses small in-memory buffers, the node will use byte buffers read from
//! its mmap). The core keeps only log metadata ([`log`]): start, end and flushed offsets, the
//! epoch history and the latest snapshot id. Consequences:
//! - A follower hands the core fetched batches as [`Batch`] summaries (base offset, last
//!   offset, epoch, size) that its driver parsed, with the payload attached; the core appends
//!   them by handing them back in `AppendFetched`.
//! - A leader answers a Fetch with an [`Envelope`] whose [`Fill`] says "records from offset X
//!   up to the log end, at most N bytes"; its driver reads them from its own log and puts them
//!   into the response. FetchSnapshot chunks work the same way.
//! - The leader's epoch-start control record is described, not encoded
//!   ([`LeaderBatchContent::LeaderChange`]); the driver encodes it.
//!
//! # Where keel differs from the lead's sketch or from Kafka, and why
//!
//! - Flush completion is reported as `flushed(FlushId)`, not `flushed_up_to(offset)`: a
//!   follower can truncate while a flush is in flight, and the flush then certifies nothing
//!   past the truncation point even if the offset it was issued for is reached again by new
//!   records. Ids make that bookkeeping exact; `Action::Flush` still carries the offset.
//! - A lost Fetch is resent after max wait + `RAFT_REQUEST_TIMEOUT_MS` (400 ms), not Kafka's
//!   2 s request timeout: one dropped message must not start an election.
//! - The election state carries `abstain_until_offset` (a voter whose log lost records to
//!   corruption does not vote until it has re-fetched them); Kafka has no such mark.
//! - A fetch from a voter id with another directory id is served as an observer's (so a
//!   replaced disk can catch up) but never counts toward the high watermark or check-quorum;
//!   its votes are refused (KIP-853).
//! - Requests carry correlations starting at a seeded random point, so a response delayed
//!   across a restart of the requester matches nothing. The driver passes a fresh seed to
//!   every `Raft::new`.
//! - A follower told its log diverges at (epoch E, offset X) that has no epoch E truncates to
//!   the end of its own largest earlier epoch, not to X (X may fall inside one of its batches);
//!   the next fetch narrows it down, as Kafka's replica fetcher does.
//!
//! # Assertions and peer input
//!
//! Assertions state the core's invariants and stay on. Malformed input from a peer or a
//! decoder (a fetched batch that does not continue the log, a snapshot chunk at the wrong
//! position, a request whose replica id is not its sender) is refused and retried, never
//! asserted on. Nothing on the wire is authenticated yet, so whatever a request claims is
//! checked, not trusted: a second leader named for an epoch whose live leader this node knows
//! is refused (a stranger can forge it), and a leader this node follows that answers from an
//! older epoch, or names another leader, is forgotten (`election.rs`). What is asserted about
//! peers is only what arrives in answers to this node's own requests and would mean safety is
//! already lost: a leader asking a follower to cut records it has committed. Stopping is the
//! conservative answer there.
//!
//! A voter never stays out of the quorum: live leaders are sticky, and a leader probes
//! voters that stopped fetching, so one pushed to a higher epoch is back within one probe
//! period and one election (`election.rs`, "Staying in the quorum").
//!
//! # Modules
//!
//! - [`types`]: replica keys, offsets/epochs, snapshot ids, batches, config.
//! - [`message`]: the RPCs as plain values; [`Envelope`] and [`Fill`].
//! - [`action`]: the actions and the driver contract.
//! - [`log`]: log metadata and Kafka's offset/epoch validation.
//! - `role`: the role enum and per-role data.
//! - `core`: [`Raft`], its inputs, the transition function (with the transition table), timers.
//! - `election`, `replication`, `snapshot`: message handling by topic.

pub mod action;
mod core;
mod election;
pub mod log;
pub mod message;
mod replication;
pub mod role;
mod snapshot;
pub mod types;

pub use action::{Action, FlushId, ProposeError};
pub use core::{Boot, Payload, Proposed, Raft, ReplicaStatus, Status};
pub use message::{Envelope, Fill, Message, RaftError};
pub use role::RoleName;
pub use types::{
    Batch, BugInjection, DirectoryId, ElectionState, LeaderBatchContent, LeaderChange, NodeId,
    OffsetAndEpoch, RaftConfig, ReplicaKey, SnapshotId,
};
