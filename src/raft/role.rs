//! The roles a replica can be in, each holding only its own data. The epoch lives beside the
//! role in `Raft` because every role has one; which roles are legal after which is decided in
//! one place, `Raft::transition` (see its doc comment for the table).

use std::collections::{BTreeMap, BTreeSet};

use super::types::{NodeId, ReplicaKey, SnapshotId};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RoleName {
    Unattached,
    Prospective,
    Candidate,
    Leader,
    Follower,
    Resigned,
}

/// No leader known in this epoch.
#[derive(Clone, Debug)]
pub struct Unattached {
    pub voted_for: Option<ReplicaKey>,
    /// Voters only: when to start a pre-vote. `None` for observers and abstaining voters.
    pub election_deadline_ms: Option<u64>,
    /// Observers (and abstaining voters) ask a random voter who leads, this often.
    pub next_discovery_ms: u64,
}

/// Pre-vote round (KIP-996): asking whether a majority would vote, without bumping the epoch.
#[derive(Clone, Debug)]
pub struct Prospective {
    pub voted_for: Option<ReplicaKey>,
    /// The leader of this epoch if one was known; a prospective that knows one never grants a
    /// real vote in this epoch, and goes back to following it if the pre-vote fails.
    pub leader: Option<NodeId>,
    pub correlation: u64,
    pub granted: BTreeSet<NodeId>,
    pub rejected: BTreeSet<NodeId>,
    pub election_deadline_ms: u64,
}

/// Standing for election in this epoch, having voted for itself.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub correlation: u64,
    pub granted: BTreeSet<NodeId>,
    pub rejected: BTreeSet<NodeId>,
    pub election_deadline_ms: u64,
}

/// The leader's view of one replica's fetching.
#[derive(Clone, Debug)]
pub struct ReplicaProgress {
    pub key: ReplicaKey,
    pub voter: bool,
    /// Fetch offset of the replica's last valid Fetch (durable on a voter).
    pub end_offset: Option<u64>,
    pub last_fetch_ms: Option<u64>,
    pub last_caught_up_ms: Option<u64>,
    /// The high watermark in the last answer to a fetch of the replica that could wait: a
    /// fetch with nothing new is parked only if the replica already knows the current high
    /// watermark, else it would learn of a commit only when the wait expires (the problem
    /// KIP-1166 solves). A restarted replica's first fetch does not wait, so a stale value
    /// from its previous process never parks it.
    pub high_watermark_sent: u64,
    /// Voters: when the leader last probed it for being silent (see `election.rs`).
    pub last_probe_ms: Option<u64>,
}

/// A Fetch with nothing new, parked until data arrives, the high watermark moves, or it expires.
#[derive(Clone, Debug)]
pub struct ParkedFetch {
    pub replica: ReplicaKey,
    pub from: NodeId,
    pub correlation: u64,
    pub fetch_offset: u64,
    pub max_bytes: u32,
    pub deadline_ms: u64,
    pub high_watermark_sent: u64,
}

#[derive(Clone, Debug)]
pub struct Leader {
    pub epoch_start_offset: u64,
    pub granting_voters: Vec<ReplicaKey>,
    /// Voters by id (only keys that match the voter set).
    pub voters: BTreeMap<NodeId, ReplicaProgress>,
    /// Observers, and voter ids fetching with a different directory id.
    pub observers: BTreeMap<ReplicaKey, ReplicaProgress>,
    /// Voters that have not acknowledged this leader yet: BeginQuorumEpoch goes to them
    /// every `begin_quorum_epoch_resend_ms`. (Voters that stopped fetching get it too, from
    /// the rejoin probe: see `election.rs`.)
    pub begin_quorum_unacked: BTreeSet<NodeId>,
    pub next_begin_quorum_ms: u64,
    /// When this node became leader: a voter that has not fetched since counts as silent
    /// from then on.
    pub started_ms: u64,
    pub check_quorum_deadline_ms: u64,
    pub fetched_since_check: BTreeSet<NodeId>,
    pub parked: BTreeMap<ReplicaKey, ParkedFetch>,
    /// When the first not-yet-flushed append happened plus the linger.
    pub linger_flush_deadline_ms: Option<u64>,
}

/// An in-progress snapshot download.
#[derive(Clone, Debug)]
pub struct SnapshotFetch {
    pub snapshot: SnapshotId,
    pub position: u64,
}

#[derive(Clone, Debug)]
pub struct Follower {
    pub leader: NodeId,
    pub voted_for: Option<ReplicaKey>,
    /// Correlation and send time of the Fetch or FetchSnapshot in flight.
    pub inflight: Option<(u64, u64)>,
    /// When to send the next fetch if none is in flight (retry backoff after an error).
    pub next_fetch_ms: u64,
    /// Last time the leader answered a fetch successfully; a follower that heard from its
    /// leader within the fetch timeout rejects pre-votes.
    pub last_leader_contact_ms: Option<u64>,
    /// Voters: start a pre-vote at this time unless the leader answers first. Observers:
    /// forget the leader and rediscover.
    pub fetch_deadline_ms: u64,
    /// The leader announced it is resigning (EndQuorumEpoch): it is no longer live.
    pub leader_resigned: bool,
    /// The driver's connection to the leader was lost or refused since its last answer: it is
    /// no longer live (a pre-vote is granted, and this node starts one soon).
    pub leader_unreachable: bool,
    pub snapshot_fetch: Option<SnapshotFetch>,
}

#[derive(Clone, Debug)]
pub struct Resigned {
    pub election_deadline_ms: u64,
}

#[derive(Clone, Debug)]
pub enum Role {
    Unattached(Unattached),
    Prospective(Prospective),
    Candidate(Candidate),
    Leader(Box<Leader>),
    Follower(Follower),
    Resigned(Resigned),
}

impl Role {
    pub fn name(&self) -> RoleName {
        match self {
            Role::Unattached(_) => RoleName::Unattached,
            Role::Prospective(_) => RoleName::Prospective,
            Role::Candidate(_) => RoleName::Candidate,
            Role::Leader(_) => RoleName::Leader,
            Role::Follower(_) => RoleName::Follower,
            Role::Resigned(_) => RoleName::Resigned,
        }
    }
}
