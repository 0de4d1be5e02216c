//! The `Raft` state machine: its state, its public inputs, the one transition function, and
//! timers. Message handling lives in `election.rs` (Vote, BeginQuorumEpoch, EndQuorumEpoch),
//! `replication.rs` (Fetch, high watermark, proposals) and `snapshot.rs` (FetchSnapshot).
//!
//! Invariants kept here (asserted):
//! - `now_ms` never goes back; the epoch never goes back.
//! - Every change to (epoch, voted-for, leader) is handed out as `PersistElectionState`
//!   before any action that follows it in the same call.
//! - The high watermark never goes back while the node runs and never passes the log end.
//! - Observers are only ever Unattached or Follower.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Debug;

use super::action::{Action, FlushId, ProposeError};
use super::log::LogMeta;
use super::message::{Envelope, Message};
use super::role::{
    Candidate, Follower, Leader, Prospective, ReplicaProgress, Resigned, Role, RoleName, Unattached,
};
use super::types::{ElectionState, NodeId, RaftConfig, ReplicaKey, SnapshotId};
use crate::constants;
use crate::prng::Prng;

/// An opaque payload: the core only ever asks its length in bytes.
pub trait Payload: Clone + Debug {
    fn byte_len(&self) -> u64;
}

/// Plain bytes (the simulator's payload, and the simplest one for a driver).
impl Payload for Vec<u8> {
    fn byte_len(&self) -> u64 {
        self.len() as u64
    }
}

/// What the driver recovered from disk at start.
#[derive(Clone, Debug)]
pub struct Boot {
    pub election: ElectionState,
    pub log_start_offset: u64,
    pub log_end_offset: u64,
    /// (epoch, first offset) for each epoch in `[log_start_offset, log_end_offset)`.
    pub epochs: Vec<(u32, u64)>,
    pub snapshot: Option<SnapshotId>,
}

impl Boot {
    /// A freshly formatted node.
    pub fn empty() -> Boot {
        Boot {
            election: ElectionState::default(),
            log_start_offset: 0,
            log_end_offset: 0,
            epochs: Vec::new(),
            snapshot: None,
        }
    }
}

/// Accepted proposal: the records were given offsets `base_offset..=last_offset`.
#[derive(Clone, Debug)]
pub struct Proposed<P> {
    pub base_offset: u64,
    pub last_offset: u64,
    pub epoch: u32,
    pub actions: Vec<Action<P>>,
}

/// The leader's report on one replica (DescribeQuorum).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicaStatus {
    pub key: ReplicaKey,
    pub voter: bool,
    pub log_end_offset: Option<u64>,
    pub last_fetch_ms: Option<u64>,
    pub last_caught_up_ms: Option<u64>,
}

/// A read-only summary of a replica's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub role: RoleName,
    pub epoch: u32,
    pub leader: Option<NodeId>,
    pub voted_for: Option<ReplicaKey>,
    pub high_watermark: u64,
    pub log_start_offset: u64,
    pub log_end_offset: u64,
    pub flushed_end_offset: u64,
    pub last_epoch: u32,
    pub abstaining: bool,
    /// Leader only: every voter, then the tracked observers.
    pub replicas: Vec<ReplicaStatus>,
}

/// Where `transition` goes. The epoch is implied for roles that keep it or bump it.
#[derive(Clone, Debug)]
pub(super) enum Target {
    Unattached {
        epoch: u32,
        voted_for: Option<ReplicaKey>,
    },
    Prospective,
    Candidate,
    Leader,
    Follower {
        epoch: u32,
        leader: NodeId,
    },
    /// Same epoch, no leader, the vote kept: the leader followed said it does not lead.
    ForgetLeader,
    Resigned,
}

pub struct Raft<P> {
    pub(super) config: RaftConfig,
    pub(super) voter: bool,
    pub(super) prng: Prng,
    pub(super) now_ms: u64,
    pub(super) epoch: u32,
    pub(super) role: Role,
    pub(super) log: LogMeta,
    pub(super) high_watermark: u64,
    pub(super) abstain_until_offset: Option<u64>,
    /// (epoch, leader) of the leader this voter gave up on (fetch timeout, or its connection
    /// reset) and has not heard from since: another voter's claim to lead that epoch may then
    /// replace it (`election.rs`, `may_replace_known_leader`).
    pub(super) lost_leader: Option<(u32, NodeId)>,
    /// The epoch this process last led. One leader per epoch: a claim that another node leads
    /// it is false (a stranger's, or news a peer took from one) and is never followed
    /// (`election.rs`, `observe_epoch`, `refuse_leader_claim`). Not durable: after a restart
    /// such a claim is only refused by the usual rules.
    pub(super) led_epoch: Option<u32>,
    pub(super) next_correlation: u64,
    next_flush_id: u64,
    /// Flushes issued and not yet reported, with the offset each can certify (lowered when the
    /// log is truncated under them).
    flushes: VecDeque<(FlushId, u64)>,
    persisted: ElectionState,
    pub(super) actions: Vec<Action<P>>,
}

impl<P: Payload> Raft<P> {
    /// Start a replica from what was recovered. `seed` seeds the core's own PRNG.
    pub fn new(config: RaftConfig, boot: Boot, seed: u64, now_ms: u64) -> Raft<P> {
        config.validate();
        let voter = config.is_voter(&config.local);
        let log = LogMeta::recovered(
            boot.log_start_offset,
            boot.log_end_offset,
            boot.epochs,
            boot.snapshot,
        );
        let high_watermark = log.snapshot().map_or(0, |s| s.end_offset);
        let mut prng = Prng::new(seed);
        // Correlations start at a random point so that a response addressed to an earlier
        // run of this node (delayed in the network across a restart) matches nothing.
        let first_correlation = prng.next_u64() >> 1;
        let mut raft = Raft {
            voter,
            prng,
            now_ms,
            epoch: boot.election.epoch,
            role: Role::Unattached(Unattached {
                voted_for: None,
                election_deadline_ms: None,
                next_discovery_ms: now_ms,
            }),
            log,
            high_watermark,
            abstain_until_offset: boot.election.abstain_until_offset.filter(|_| voter),
            lost_leader: None,
            led_epoch: None,
            next_correlation: first_correlation,
            next_flush_id: 1,
            flushes: VecDeque::new(),
            persisted: boot.election,
            actions: Vec::new(),
            config,
        };
        assert!(
            raft.log.last_epoch() <= raft.epoch || raft.epoch == 0 && raft.log.last_epoch() == 0,
            "the log has records from an epoch newer than the persisted one"
        );
        let local = raft.config.local;
        let e = boot.election;
        raft.role = match e.leader {
            Some(l) if l == local.id && voter => {
                // It led this epoch before it stopped; it will not lead it again.
                Role::Resigned(Resigned {
                    election_deadline_ms: now_ms + raft.random_election_timeout_ms(),
                })
            }
            Some(l) if l != local.id => Role::Follower(raft.new_follower(l, e.voted_for)),
            _ => Role::Unattached(raft.new_unattached(if voter { e.voted_for } else { None })),
        };
        if raft.abstaining() {
            // Not observed by anyone yet, but keeps the status honest.
            raft.check_abstain();
        }
        raft
    }

    // ---- inputs ----

    /// Timers: call at (or after) `next_deadline_ms()`.
    pub fn tick(&mut self, now_ms: u64) -> Vec<Action<P>> {
        self.advance_clock(now_ms);
        self.on_timers();
        self.take_actions()
    }

    /// A message from replica `from`.
    pub fn receive(&mut self, now_ms: u64, from: NodeId, message: Message<P>) -> Vec<Action<P>> {
        self.advance_clock(now_ms);
        self.handle_message(from, message);
        self.on_timers();
        self.take_actions()
    }

    /// The driver's connection to `node` was reset, closed by the peer or refused: sooner than
    /// any timeout, evidence that `node`'s process is gone. A follower of `node` stops
    /// treating it as live and starts a pre-vote after a short random delay; a timeout, a
    /// slow answer or a silent partition is not such evidence and never reaches here.
    pub fn peer_unreachable(&mut self, now_ms: u64, node: NodeId) -> Vec<Action<P>> {
        self.advance_clock(now_ms);
        self.leader_unreachable(node);
        self.on_timers();
        self.take_actions()
    }

    /// Propose a batch of `record_count` records, `size_bytes` long, to be appended by the
    /// leader in its current epoch.
    pub fn propose(
        &mut self,
        now_ms: u64,
        record_count: u32,
        size_bytes: u32,
        payload: P,
    ) -> Result<Proposed<P>, ProposeError> {
        self.advance_clock(now_ms);
        let r = self.leader_propose(record_count, size_bytes, payload);
        let actions = self.take_actions();
        r.map(|(base_offset, last_offset)| Proposed {
            base_offset,
            last_offset,
            epoch: self.epoch,
            actions,
        })
    }

    /// Flush `id` (and every flush before it) completed.
    pub fn flushed(&mut self, now_ms: u64, id: FlushId) -> Vec<Action<P>> {
        self.advance_clock(now_ms);
        let mut certified = None;
        while let Some(&(fid, up_to)) = self.flushes.front() {
            if fid > id {
                break;
            }
            self.flushes.pop_front();
            certified = Some(up_to);
        }
        if let Some(up_to) = certified {
            self.log.mark_flushed(up_to);
            self.on_flushed();
        }
        self.take_actions()
    }

    /// The state machine wrote a snapshot of everything below `snapshot.end_offset`.
    pub fn snapshot_written(&mut self, now_ms: u64, snapshot: SnapshotId) -> Vec<Action<P>> {
        self.advance_clock(now_ms);
        assert!(
            snapshot.end_offset <= self.high_watermark,
            "snapshots are of committed records only"
        );
        if self.log.snapshot().is_some_and(|s| s >= snapshot) {
            return self.take_actions();
        }
        let old_start = self.log.start_offset();
        self.log.snapshot_created(snapshot);
        if self.log.start_offset() > old_start {
            self.actions.push(Action::DeleteLogPrefix {
                before_offset: self.log.start_offset(),
            });
        }
        self.take_actions()
    }

    /// Graceful shutdown: a leader hands over with EndQuorumEpoch.
    pub fn resign(&mut self, now_ms: u64) -> Vec<Action<P>> {
        self.advance_clock(now_ms);
        if matches!(self.role, Role::Leader(_)) {
            self.transition(Target::Resigned);
        }
        self.take_actions()
    }

    /// The earliest time at which `tick` has something to do.
    pub fn next_deadline_ms(&self) -> u64 {
        let mut d = u64::MAX;
        match &self.role {
            Role::Unattached(u) => {
                if let Some(e) = u.election_deadline_ms {
                    d = d.min(e);
                }
                if self.discovers() {
                    d = d.min(u.next_discovery_ms);
                }
            }
            Role::Prospective(p) => d = d.min(p.election_deadline_ms),
            Role::Candidate(c) => d = d.min(c.election_deadline_ms),
            Role::Resigned(r) => d = d.min(r.election_deadline_ms),
            Role::Follower(f) => {
                d = d.min(f.fetch_deadline_ms);
                match f.inflight {
                    Some((_, sent)) => {
                        d = d.min(
                            sent + self.config.fetch_max_wait_ms + self.config.request_timeout_ms,
                        )
                    }
                    None => d = d.min(f.next_fetch_ms),
                }
            }
            Role::Leader(l) => {
                d = d.min(l.check_quorum_deadline_ms);
                if !l.begin_quorum_unacked.is_empty() {
                    d = d.min(l.next_begin_quorum_ms);
                }
                if let Some(probe) = self.probe_times().map(|(_, at)| at).min() {
                    d = d.min(probe);
                }
                if let Some(f) = l.linger_flush_deadline_ms {
                    d = d.min(f);
                }
                for p in l.parked.values() {
                    d = d.min(p.deadline_ms);
                }
            }
        }
        d.max(self.now_ms)
    }

    pub fn status(&self) -> Status {
        let mut replicas = Vec::new();
        if let Role::Leader(l) = &self.role {
            for p in l.voters.values().chain(l.observers.values()) {
                let own = p.key == self.config.local;
                replicas.push(ReplicaStatus {
                    key: p.key,
                    voter: p.voter,
                    log_end_offset: if own {
                        Some(self.log.end_offset())
                    } else {
                        p.end_offset
                    },
                    last_fetch_ms: if own {
                        Some(self.now_ms)
                    } else {
                        p.last_fetch_ms
                    },
                    last_caught_up_ms: if own {
                        Some(self.now_ms)
                    } else {
                        p.last_caught_up_ms
                    },
                });
            }
        }
        let e = self.election_state();
        Status {
            role: self.role.name(),
            epoch: self.epoch,
            leader: e.leader,
            voted_for: e.voted_for,
            high_watermark: self.high_watermark,
            log_start_offset: self.log.start_offset(),
            log_end_offset: self.log.end_offset(),
            flushed_end_offset: self.log.flushed_end_offset(),
            last_epoch: self.log.last_epoch(),
            abstaining: self.abstaining(),
            replicas,
        }
    }

    pub fn config(&self) -> &RaftConfig {
        &self.config
    }

    /// Cheap accessors for drivers and checkers that look after every event.
    pub fn role(&self) -> RoleName {
        self.role.name()
    }
    pub fn epoch(&self) -> u32 {
        self.epoch
    }
    pub fn high_watermark(&self) -> u64 {
        self.high_watermark
    }
    pub fn leader(&self) -> Option<NodeId> {
        self.leader_id()
    }

    // ---- shared helpers ----

    fn advance_clock(&mut self, now_ms: u64) {
        assert!(now_ms >= self.now_ms, "time never goes back");
        self.now_ms = now_ms;
        assert!(
            self.actions.is_empty(),
            "actions are drained after every input"
        );
    }

    fn take_actions(&mut self) -> Vec<Action<P>> {
        std::mem::take(&mut self.actions)
    }

    pub(super) fn local_id(&self) -> NodeId {
        self.config.local.id
    }

    pub(super) fn next_correlation(&mut self) -> u64 {
        let c = self.next_correlation;
        self.next_correlation += 1;
        c
    }

    pub(super) fn send(&mut self, to: NodeId, message: Message<P>) {
        assert_ne!(to, self.local_id());
        self.actions.push(Action::Send(Envelope {
            to,
            message,
            fill: None,
        }));
    }

    pub(super) fn random_election_timeout_ms(&mut self) -> u64 {
        let t = self.config.election_timeout_ms;
        t + self.prng.below(t)
    }

    pub(super) fn abstaining(&self) -> bool {
        self.abstain_until_offset.is_some()
    }

    /// A node that lost records to corruption votes again once it has re-fetched past them.
    pub(super) fn check_abstain(&mut self) {
        if let Some(until) = self.abstain_until_offset
            && self.log.end_offset() >= until
            && self.log.flushed_end_offset() >= until
        {
            self.abstain_until_offset = None;
            self.persist_if_changed();
            if let Role::Unattached(u) = &mut self.role
                && self.voter
                && u.election_deadline_ms.is_none()
            {
                let t = self.config.election_timeout_ms;
                u.election_deadline_ms = Some(self.now_ms + t + self.prng.below(t));
            }
        }
    }

    /// Unattached replicas that cannot campaign ask around for the leader.
    pub(super) fn discovers(&self) -> bool {
        !self.voter || self.abstaining()
    }

    pub(super) fn new_unattached(&mut self, voted_for: Option<ReplicaKey>) -> Unattached {
        let election_deadline_ms = if self.voter && !self.abstaining() {
            Some(self.now_ms + self.random_election_timeout_ms())
        } else {
            None
        };
        Unattached {
            voted_for,
            election_deadline_ms,
            next_discovery_ms: self.now_ms,
        }
    }

    pub(super) fn new_follower(
        &mut self,
        leader: NodeId,
        voted_for: Option<ReplicaKey>,
    ) -> Follower {
        Follower {
            leader,
            voted_for,
            inflight: None,
            next_fetch_ms: self.now_ms,
            last_leader_contact_ms: None,
            fetch_deadline_ms: self.now_ms + self.config.fetch_timeout_ms,
            leader_resigned: false,
            leader_unreachable: false,
            snapshot_fetch: None,
        }
    }

    /// The election state the current role implies.
    pub(super) fn election_state(&self) -> ElectionState {
        let me = Some(self.config.local);
        let (voted_for, leader) = match &self.role {
            Role::Unattached(u) => (u.voted_for, None),
            Role::Prospective(p) => (p.voted_for, p.leader),
            Role::Candidate(_) => (me, None),
            Role::Leader(_) | Role::Resigned(_) => (me, Some(self.local_id())),
            Role::Follower(f) => (f.voted_for, Some(f.leader)),
        };
        ElectionState {
            epoch: self.epoch,
            voted_for,
            leader,
            abstain_until_offset: self.abstain_until_offset,
        }
    }

    pub(super) fn leader_id(&self) -> Option<NodeId> {
        self.election_state().leader
    }

    /// A flush in flight that already covers the whole log, if any.
    pub(super) fn flush_covering_end(&self) -> Option<FlushId> {
        self.flushes
            .back()
            .filter(|f| f.1 == self.log.end_offset())
            .map(|f| f.0)
    }

    /// Ask the driver to flush everything appended so far. Callers keep the number in flight
    /// bounded: the leader refuses proposals past `RAFT_MAX_FLUSHES_IN_FLIGHT`, followers reuse
    /// a flush that covers their log and issue one per fetched response at most.
    pub(super) fn issue_flush(&mut self) -> FlushId {
        assert!(
            self.flushes.len() <= 2 * constants::RAFT_MAX_FLUSHES_IN_FLIGHT,
            "flushes in flight are bounded"
        );
        let id = FlushId(self.next_flush_id);
        self.next_flush_id += 1;
        let up_to = self.log.end_offset();
        self.flushes.push_back((id, up_to));
        self.actions.push(Action::Flush {
            id,
            up_to_offset: up_to,
        });
        id
    }

    pub(super) fn flushes_in_flight(&self) -> usize {
        self.flushes.len()
    }

    /// Truncate the log (the driver too); flushes in flight certify nothing past the cut.
    pub(super) fn truncate_log(&mut self, to_offset: u64) {
        assert!(
            to_offset >= self.high_watermark,
            "truncating committed records: to {to_offset}, high watermark {}",
            self.high_watermark
        );
        self.log.truncate(to_offset);
        for f in self.flushes.iter_mut() {
            f.1 = f.1.min(to_offset);
        }
        self.actions.push(Action::Truncate { to_offset });
    }

    pub(super) fn set_high_watermark(&mut self, hw: u64) {
        assert!(
            hw <= self.log.end_offset(),
            "high watermark past the log end"
        );
        if hw > self.high_watermark {
            self.high_watermark = hw;
            self.actions.push(Action::Commit { high_watermark: hw });
        }
    }

    fn persist_if_changed(&mut self) {
        let e = self.election_state();
        if e != self.persisted {
            assert!(e.epoch >= self.persisted.epoch);
            self.persisted = e;
            self.actions.push(Action::PersistElectionState(e));
        }
    }

    /// Moves to another role. The only place the role changes. `e` is the current epoch, `e'`
    /// the epoch of the target; "leader learned" means a message named the leader of `e'`.
    ///
    /// | from \ to   | Unattached(e')                         | Prospective(e)         | Candidate(e+1)    | Leader(e)     | Follower(e', L)                          | Resigned(e)      |
    /// |-------------|----------------------------------------|------------------------|-------------------|---------------|------------------------------------------|------------------|
    /// | Unattached  | e'>e; e'=e granting a vote (none held) | election timeout       | -                 | -             | e'>=e, leader learned                    | -                |
    /// | Prospective | e'>e; e'=e: round lost/timed out and no leader known, or granting a vote (none held, no leader known) | - | pre-vote majority | - | e'>e; e'=e new leader learned, or round lost/timed out with a known leader | - |
    /// | Candidate   | e'>e                                   | election timeout, or lost + backoff | -    | vote majority | e'>=e, leader learned                    | -                |
    /// | Leader      | e'>e                                   | -                      | -                 | -             | e'>e, leader learned                     | check-quorum fails, resign() |
    /// | Follower    | e'>e; e'=e observer's fetch timeout, or the leader denies leading e (ForgetLeader) | fetch timeout (voter) | - | - | e'>e, leader learned | - |
    /// | Resigned    | e'>e                                   | election timeout       | -                 | -             | e'>e, leader learned                     | -                |
    ///
    /// Observers only ever take the Unattached and Follower columns. An abstaining voter (log
    /// cut by corruption) takes no Prospective/Candidate transition: its election timeouts
    /// re-arm and it waits to hear of a leader. Preconditions asserted: the epoch never
    /// decreases; Prospective, Candidate, Leader and Resigned are for voters only, and
    /// Prospective/Candidate never for an abstaining voter; Candidate only from a pre-vote
    /// majority, Leader only from a vote majority, Resigned only from Leader; a vote is never
    /// changed and a leader never replaced within an epoch. Every change of (epoch, vote,
    /// leader, abstain mark) is handed out as `PersistElectionState` before the actions of the
    /// new role.
    pub(super) fn transition(&mut self, target: Target) {
        let from = self.role.name();
        let old = self.election_state();
        match target {
            Target::Unattached { epoch, voted_for } => {
                assert!(
                    epoch >= self.epoch,
                    "epoch went back: {} -> {epoch}",
                    self.epoch
                );
                if epoch == self.epoch {
                    let same_epoch_ok = match &self.role {
                        Role::Unattached(u) => u.voted_for.is_none() && voted_for.is_some(),
                        Role::Prospective(p) => {
                            p.leader.is_none()
                                && (p.voted_for == voted_for
                                    || (p.voted_for.is_none() && voted_for.is_some()))
                        }
                        Role::Follower(_) => !self.voter && voted_for.is_none(),
                        _ => false,
                    };
                    assert!(
                        same_epoch_ok,
                        "illegal {from:?}({}) -> Unattached(same epoch, vote {voted_for:?})",
                        self.epoch
                    );
                }
                assert!(voted_for.is_none() || self.voter);
                self.leave_role(epoch);
                self.epoch = epoch;
                let u = self.new_unattached(voted_for);
                self.role = Role::Unattached(u);
            }
            Target::Prospective => {
                assert!(self.voter && !self.abstaining(), "{from:?} cannot campaign");
                let (voted_for, leader) = match &self.role {
                    Role::Unattached(u) => (u.voted_for, None),
                    Role::Follower(f) => (f.voted_for, Some(f.leader)),
                    Role::Candidate(_) | Role::Resigned(_) => (Some(self.config.local), None),
                    _ => panic!("illegal {from:?} -> Prospective"),
                };
                let correlation = self.next_correlation();
                let deadline = self.now_ms + self.random_election_timeout_ms();
                self.leave_role(self.epoch);
                let mut granted = BTreeSet::new();
                granted.insert(self.local_id());
                self.role = Role::Prospective(Prospective {
                    voted_for,
                    leader,
                    correlation,
                    granted,
                    rejected: BTreeSet::new(),
                    election_deadline_ms: deadline,
                });
            }
            Target::Candidate => {
                assert!(self.voter && !self.abstaining());
                match &self.role {
                    Role::Prospective(p) => assert!(p.granted.len() >= self.config.majority()),
                    _ => panic!("illegal {from:?} -> Candidate"),
                }
                let correlation = self.next_correlation();
                let deadline = self.now_ms + self.random_election_timeout_ms();
                self.leave_role(self.epoch + 1);
                self.epoch += 1;
                let mut granted = BTreeSet::new();
                granted.insert(self.local_id());
                self.role = Role::Candidate(Candidate {
                    correlation,
                    granted,
                    rejected: BTreeSet::new(),
                    election_deadline_ms: deadline,
                });
            }
            Target::Leader => {
                let granting = match &self.role {
                    Role::Candidate(c) => {
                        assert!(c.granted.len() >= self.config.majority());
                        c.granted.clone()
                    }
                    _ => panic!("illegal {from:?} -> Leader"),
                };
                self.leave_role(self.epoch);
                self.led_epoch = Some(self.epoch);
                self.role = Role::Leader(Box::new(self.new_leader(&granting)));
            }
            Target::Follower { epoch, leader } => {
                assert!(
                    epoch >= self.epoch,
                    "epoch went back: {} -> {epoch}",
                    self.epoch
                );
                assert_ne!(leader, self.local_id());
                let voted_for = if epoch == self.epoch {
                    match &self.role {
                        Role::Unattached(u) => u.voted_for,
                        Role::Prospective(p) => {
                            assert!(p.leader.is_none() || p.leader == Some(leader));
                            p.voted_for
                        }
                        Role::Candidate(_) => Some(self.config.local),
                        _ => panic!("illegal {from:?}({epoch}) -> Follower({epoch}, {leader})"),
                    }
                } else {
                    None
                };
                self.leave_role(epoch);
                self.epoch = epoch;
                let f = self.new_follower(leader, voted_for);
                self.role = Role::Follower(f);
            }
            Target::ForgetLeader => {
                let Role::Follower(f) = &self.role else {
                    panic!("illegal {from:?} -> ForgetLeader")
                };
                let voted_for = f.voted_for;
                self.leave_role(self.epoch);
                let u = self.new_unattached(voted_for);
                self.role = Role::Unattached(u);
            }
            Target::Resigned => {
                assert!(
                    matches!(self.role, Role::Leader(_)),
                    "illegal {from:?} -> Resigned"
                );
                let successors = self.preferred_successors();
                self.leave_role(self.epoch);
                let deadline = self.now_ms + self.random_election_timeout_ms();
                self.role = Role::Resigned(Resigned {
                    election_deadline_ms: deadline,
                });
                self.persist_if_changed();
                self.send_end_quorum_epoch(successors);
            }
        }
        let new = self.election_state();
        if new.epoch == old.epoch {
            if let (Some(a), Some(b)) = (old.voted_for, new.voted_for) {
                assert_eq!(a, b, "a vote is never changed within an epoch");
            }
            if let (Some(a), Some(b)) = (old.leader, new.leader) {
                assert_eq!(a, b, "a leader is never replaced within an epoch");
            }
        }
        self.persist_if_changed();
        self.enter_role();
    }

    /// Work a role does on leaving it.
    fn leave_role(&mut self, new_epoch: u32) {
        if let Role::Leader(l) = &mut self.role {
            // Parked fetchers learn right away that this node no longer leads.
            let parked = std::mem::take(&mut l.parked);
            for p in parked.into_values() {
                let message = Message::FetchResponse {
                    correlation: p.correlation,
                    error: Some(super::message::RaftError::NotLeader),
                    epoch: new_epoch,
                    leader: None,
                    high_watermark: self.high_watermark,
                    log_start_offset: self.log.start_offset(),
                    diverging: None,
                    snapshot: None,
                    batches: Vec::new(),
                };
                self.send(p.from, message);
            }
        }
    }

    /// Work a role does on entering it (after the election state is persisted).
    fn enter_role(&mut self) {
        match self.role.name() {
            RoleName::Prospective => self.send_vote_requests(true),
            RoleName::Candidate => {
                if self.config.voters.len() == 1 {
                    self.transition(Target::Leader);
                } else {
                    self.send_vote_requests(false);
                }
            }
            RoleName::Leader => self.leader_start_epoch(),
            RoleName::Follower => self.send_fetch(),
            _ => {}
        }
        self.check_pre_vote_outcome();
    }

    fn new_leader(&mut self, granting: &BTreeSet<NodeId>) -> Leader {
        let mut voters = BTreeMap::new();
        for v in &self.config.voters {
            voters.insert(
                v.id,
                ReplicaProgress {
                    key: *v,
                    voter: true,
                    end_offset: None,
                    last_fetch_ms: None,
                    last_caught_up_ms: None,
                    high_watermark_sent: 0,
                    last_probe_ms: None,
                },
            );
        }
        let granting_voters = self
            .config
            .voters
            .iter()
            .filter(|v| granting.contains(&v.id))
            .copied()
            .collect();
        Leader {
            epoch_start_offset: self.log.end_offset(),
            granting_voters,
            voters,
            observers: BTreeMap::new(),
            begin_quorum_unacked: self
                .config
                .voters
                .iter()
                .map(|v| v.id)
                .filter(|&id| id != self.local_id())
                .collect(),
            next_begin_quorum_ms: self.now_ms,
            started_ms: self.now_ms,
            check_quorum_deadline_ms: self.now_ms + self.config.check_quorum_timeout_ms,
            fetched_since_check: BTreeSet::new(),
            parked: BTreeMap::new(),
            linger_flush_deadline_ms: None,
        }
    }

    // ---- timers ----

    fn on_timers(&mut self) {
        // Each step may change the role; loop until nothing is due (bounded: every branch
        // either moves a deadline into the future or changes role, and roles cannot cycle
        // within one instant more than a few times).
        for _ in 0..16 {
            if !self.on_timer_once() {
                return;
            }
        }
    }

    /// Handles one due timer; false if none was due.
    fn on_timer_once(&mut self) -> bool {
        let now = self.now_ms;
        let abstaining = self.abstaining();
        let discovers = self.discovers();
        let voter = self.voter;
        let request_timeout = self.config.request_timeout_ms;
        let fetch_timeout = self.config.fetch_timeout_ms;
        let fetch_max_wait = self.config.fetch_max_wait_ms;
        match &mut self.role {
            Role::Unattached(u) => {
                if u.election_deadline_ms.is_some_and(|d| d <= now) {
                    if abstaining {
                        u.election_deadline_ms = None;
                    } else {
                        self.transition(Target::Prospective);
                    }
                    return true;
                }
                if discovers && u.next_discovery_ms <= now {
                    u.next_discovery_ms = now + request_timeout;
                    self.send_discovery_fetch();
                    return true;
                }
                false
            }
            Role::Prospective(p) => {
                if p.election_deadline_ms <= now {
                    self.prospective_lost();
                    return true;
                }
                false
            }
            Role::Candidate(c) => {
                if c.election_deadline_ms <= now {
                    self.transition(Target::Prospective);
                    return true;
                }
                false
            }
            Role::Resigned(r) => {
                if r.election_deadline_ms <= now {
                    if abstaining {
                        // It will hear of the next leader through BeginQuorumEpoch.
                        r.election_deadline_ms = now + fetch_timeout;
                    } else {
                        self.transition(Target::Prospective);
                    }
                    return true;
                }
                false
            }
            Role::Follower(f) => {
                if f.fetch_deadline_ms <= now {
                    let gave_up_on = (self.epoch, f.leader);
                    self.lost_leader = Some(gave_up_on);
                    if voter {
                        if abstaining {
                            // Cannot campaign; keep trying to fetch.
                            f.fetch_deadline_ms = now + fetch_timeout;
                        } else {
                            self.transition(Target::Prospective);
                        }
                    } else {
                        let epoch = self.epoch;
                        self.transition(Target::Unattached {
                            epoch,
                            voted_for: None,
                        });
                    }
                    return true;
                }
                match f.inflight {
                    Some((_, sent)) if sent + fetch_max_wait + request_timeout <= now => {
                        f.inflight = None;
                        self.send_fetch();
                        true
                    }
                    None if f.next_fetch_ms <= now => {
                        self.send_fetch();
                        true
                    }
                    _ => false,
                }
            }
            Role::Leader(_) => self.leader_timers(),
        }
    }

    /// A pre-vote round ended without a majority: back to following the known leader, or
    /// unattached, with a fresh randomized timeout (which is the backoff before the next round).
    pub(super) fn prospective_lost(&mut self) {
        let (leader, voted_for) = match &self.role {
            Role::Prospective(p) => (p.leader, p.voted_for),
            _ => unreachable!(),
        };
        let epoch = self.epoch;
        match leader {
            Some(l) => self.transition(Target::Follower { epoch, leader: l }),
            None => self.transition(Target::Unattached { epoch, voted_for }),
        }
    }
}
