//! Elections and leadership announcements: Vote (and pre-vote, KIP-996), BeginQuorumEpoch,
//! EndQuorumEpoch, and learning of newer epochs from any message.
//!
//! Rules kept here:
//! - A real vote is granted at most once per epoch, only by a voter that knows no leader in
//!   that epoch, and only to a candidate whose log (last epoch, end offset) is at least as up to
//!   date as the voter's. The vote is persisted (transition) before the response is sent.
//! - A pre-vote changes nothing on the receiver. It is granted only by a voter that has not
//!   heard from a live leader within the fetch timeout, or whose connection to its leader
//!   was lost or refused since the leader last answered, for an up-to-date log.
//!
//! # A leader that is gone
//!
//! When a leader's process dies, the kernel closes its sockets: its followers' connections
//! are reset or closed at once and reconnects are refused. The driver reports that
//! ([`Raft::peer_unreachable`]); a follower then no longer counts that leader as live (so it
//! grants pre-votes and votes) and starts a pre-vote after a random delay below
//! `leader_lost_jitter_ms` instead of after the fetch timeout. The delay spreads the
//! followers that saw the same reset, so one of them usually wins its pre-vote and election
//! before another stands. Pre-vote keeps this safe against a leader that is alive after all
//! (a connection closed for another reason, a refusal by a firewall): no epoch moves unless
//! a majority also sees no live leader, and the follower that lost its pre-vote goes back to
//! following. A slow leader, a paused one or a partition that drops packets produces no reset
//! and still waits out the timeouts.
//! - Only a pre-vote majority moves a voter to Candidate, which is the only epoch bump a voter
//!   makes by itself.
//! - A node whose log lost records to corruption (abstaining) grants nothing.
//! - Requests are checked against what this node knows before they move it (nothing on the
//!   wire is authenticated yet): a BeginQuorumEpoch or EndQuorumEpoch must name a voter as
//!   its leader, and a Vote a voter as its candidate; a second leader claimed for an epoch
//!   whose leader this node knows is refused while that leader is live (or is this node),
//!   never asserted on (the claim may be forged). A follower whose known leader is no longer
//!   live takes the other claim: one of the two is false, and the one it knows may name a
//!   voter that stopped for good, which would keep it out of the quorum forever; the claimed
//!   leader's answer to its next fetch tells the truth.
//!
//! # Staying in the quorum: stickiness and the rejoin probe
//!
//! Two rules keep a voter from being pushed out of the quorum, and bring it back when it was.
//!
//! 1. **Leader stickiness** (Raft thesis 4.2.3, "disruptive servers"; Kafka's followers do the
//!    same for pre-votes). A voter that knows a live leader (it is the leader, or a follower
//!    that fetched from its leader within the fetch timeout and was not told it resigned)
//!    refuses a real Vote from anyone but that leader, and any BeginQuorumEpoch or
//!    EndQuorumEpoch for a higher epoch, without moving to that epoch: it answers with its
//!    own epoch and leader (`UNKNOWN_LEADER_EPOCH` for the announcements). A stranger's packet
//!    to such a voter changes nothing. (A leader that really moved on needs none of this: the
//!    answer to the follower's next fetch names its new epoch.) The one exemption: a follower
//!    grants the (pre-)vote of the very leader it follows when that leader stands in a newer
//!    epoch, which it does after the rejoin probe below; a stranger claiming to be that leader
//!    can so cost one election, no more.
//! 2. **The rejoin probe.** A voter can still reach a higher epoch than the quorum: a
//!    stranger's packet to a voter that knew no live leader then, or a vote it granted to a
//!    candidate that crashed before anyone else heard of its epoch. Pre-vote never lets the
//!    quorum follow it there, and it can never follow the quorum's leader back (epochs never
//!    go back), so on its own it would stay out for good. The leader therefore sends
//!    BeginQuorumEpoch every `begin_quorum_epoch_resend_ms` to each voter that has not
//!    fetched for that long. A voter in the leader's epoch just acknowledges it; a voter in
//!    a higher epoch answers `FENCED_LEADER_EPOCH` with its epoch. The leader then moves to
//!    that epoch (ignoring any leader the answer names: the voter may have been misled) and
//!    stands for election at once, without waiting for an election timeout. Its log is the
//!    most complete of those that followed it, its followers grant it as above, and the
//!    voter that was out grants it too: one election of a few round trips, after which every
//!    voter is in one epoch again. The probe is a message the leader sends on its own
//!    connection and acts only on the answer, so a stranger cannot fake it; the worst a
//!    stranger's single packet can cost is this one election.
//!
//! A follower told by the node it follows that it does not lead the follower's epoch (its
//! answer carries a lower epoch, or names another leader of that epoch) forgets it and goes
//! back to Unattached in the same epoch, keeping its vote: the claim it followed was false
//! (a leader persists its epoch before acting, and epochs never go back).
//!
//! Why safety is untouched: refusing a message, forgetting a leader and standing for
//! election early are all things a Raft node may do at any time; votes are still granted at
//! most once per epoch and only to up-to-date logs, and nothing here commits or truncates.
//! Why pre-vote keeps its guarantee: a partitioned voter still never raises its epoch on its
//! own, so when it comes back it is at or below the quorum's epoch and the probe only makes
//! it acknowledge; an election happens only for a voter that is really ahead. Why
//! check-quorum keeps its guarantee: a leader still resigns when a majority stops fetching,
//! and stickiness only ever keeps a node with its current leader, which check-quorum bounds.

use super::core::{Payload, Raft, Target};
use super::message::{Message, RaftError};
use super::role::Role;
use super::types::{BugInjection, NodeId, ReplicaKey};

impl<P: Payload> Raft<P> {
    pub(super) fn handle_message(&mut self, from: NodeId, message: Message<P>) {
        if from == self.local_id() {
            // Nothing is ever sent to oneself; a driver that loops one back is ignored.
            return;
        }
        match message {
            Message::VoteRequest {
                correlation,
                candidate_epoch,
                candidate,
                voter,
                last_epoch,
                last_offset,
                pre_vote,
            } => self.handle_vote_request(
                from,
                correlation,
                candidate_epoch,
                candidate,
                voter,
                (last_epoch, last_offset),
                pre_vote,
            ),
            Message::VoteResponse {
                correlation,
                error,
                epoch,
                leader,
                granted,
                pre_vote,
            } => self.handle_vote_response(
                from,
                correlation,
                error,
                epoch,
                leader,
                granted,
                pre_vote,
            ),
            Message::BeginQuorumEpochRequest {
                correlation,
                epoch,
                leader,
                voter,
            } => self.handle_begin_quorum_epoch(from, correlation, epoch, leader, voter),
            Message::BeginQuorumEpochResponse {
                error,
                epoch,
                leader,
                ..
            } => {
                if epoch > self.epoch && matches!(self.role, Role::Leader(_)) {
                    return self.rejoin_voter_ahead(epoch);
                }
                if self.observe_epoch(epoch, leader) {
                    return;
                }
                if let Role::Leader(l) = &mut self.role
                    && error.is_none()
                    && epoch == self.epoch
                {
                    l.begin_quorum_unacked.remove(&from);
                }
            }
            Message::EndQuorumEpochRequest {
                correlation,
                epoch,
                leader,
                preferred_successors,
            } => {
                self.handle_end_quorum_epoch(from, correlation, epoch, leader, preferred_successors)
            }
            Message::EndQuorumEpochResponse { epoch, leader, .. } => {
                self.observe_epoch(epoch, leader);
            }
            Message::FetchRequest {
                correlation,
                replica,
                current_leader_epoch,
                fetch_offset,
                last_fetched_epoch,
                max_wait_ms,
                max_bytes,
            } => self.handle_fetch_request(
                from,
                correlation,
                replica,
                current_leader_epoch,
                fetch_offset,
                last_fetched_epoch,
                max_wait_ms,
                max_bytes,
            ),
            m @ Message::FetchResponse { .. } => self.handle_fetch_response(from, m),
            Message::FetchSnapshotRequest {
                correlation,
                replica,
                current_leader_epoch,
                snapshot,
                position,
                max_bytes,
            } => self.handle_fetch_snapshot_request(
                from,
                correlation,
                replica,
                current_leader_epoch,
                snapshot,
                position,
                max_bytes,
            ),
            m @ Message::FetchSnapshotResponse { .. } => {
                self.handle_fetch_snapshot_response(from, m)
            }
        }
    }

    /// Any message carrying (epoch, leader) can tell this node of a newer epoch or of the
    /// leader of its own epoch. Returns true if the role changed.
    pub(super) fn observe_epoch(&mut self, epoch: u32, leader: Option<NodeId>) -> bool {
        let me = self.local_id();
        if epoch > self.epoch {
            match leader {
                Some(l) if l != me => self.transition(Target::Follower { epoch, leader: l }),
                _ => self.transition(Target::Unattached {
                    epoch,
                    voted_for: None,
                }),
            }
            return true;
        }
        if epoch < self.epoch {
            return false;
        }
        let Some(l) = leader else { return false };
        if l != me && self.led_epoch == Some(epoch) {
            // This node led the epoch: whoever names another leader for it is wrong.
            return false;
        }
        if l == me && !matches!(self.role, Role::Leader(_) | Role::Resigned(_)) {
            // This node led the epoch and has since resigned (possibly across a restart); the
            // news is old.
            return false;
        }
        match &self.role {
            Role::Unattached(_) | Role::Candidate(_) => {
                self.transition(Target::Follower { epoch, leader: l });
                true
            }
            // The leader it already gave up on (fetch timeout) is not news; another leader named
            // for an epoch whose leader this node knows cannot be true of a correct peer, and
            // is ignored rather than asserted on: the message may be a stranger's.
            Role::Prospective(p) => match p.leader {
                Some(_) => false,
                None => {
                    self.transition(Target::Follower { epoch, leader: l });
                    true
                }
            },
            Role::Follower(_) | Role::Leader(_) | Role::Resigned(_) => false,
        }
    }

    /// Is the candidate's log at least as up to date as ours?
    fn log_up_to_date(&self, last_epoch: u32, last_offset: u64) -> bool {
        if self.config.bug == BugInjection::SkipUpToDateVoteCheck {
            return true;
        }
        (last_epoch, last_offset) >= (self.log.last_epoch(), self.log.end_offset())
    }

    /// The live leader this node knows: itself as leader, or the leader a follower fetched
    /// from within the fetch timeout and was not told has resigned.
    fn live_leader(&self) -> Option<NodeId> {
        match &self.role {
            Role::Leader(_) => Some(self.local_id()),
            Role::Follower(f) => (!f.leader_resigned
                && !f.leader_unreachable
                && f.last_leader_contact_ms
                    .is_some_and(|t| self.now_ms < t + self.config.fetch_timeout_ms))
            .then_some(f.leader),
            _ => None,
        }
    }

    /// Stickiness: does this node know a live leader other than `node`? Then it refuses to
    /// let `node` move it to a higher epoch (see the module header).
    fn knows_live_leader_other_than(&self, node: NodeId) -> bool {
        self.live_leader().is_some_and(|l| l != node)
    }

    /// The leader this node knows for its current epoch, live or not.
    fn known_leader(&self) -> Option<NodeId> {
        match &self.role {
            Role::Leader(_) | Role::Resigned(_) => Some(self.local_id()),
            Role::Follower(f) => Some(f.leader),
            Role::Prospective(p) => p.leader,
            Role::Unattached(_) | Role::Candidate(_) => None,
        }
    }

    /// Why a BeginQuorumEpoch or EndQuorumEpoch claiming that `leader` leads `epoch` is
    /// refused, if it is: `leader` is no voter, this node knows another leader of `epoch`
    /// that it leads itself or that is live, or it knows a live leader (whoever it is) and
    /// `epoch` is newer (stickiness).
    fn refuse_leader_claim(&self, epoch: u32, leader: NodeId) -> Option<RaftError> {
        if self.config.voter_id(leader).is_none() {
            return Some(RaftError::InvalidVoterKey);
        }
        if epoch < self.epoch {
            return Some(RaftError::FencedLeaderEpoch);
        }
        if self.led_epoch == Some(epoch) && leader != self.local_id() {
            return Some(RaftError::InvalidVoterKey);
        }
        if epoch == self.epoch
            && self.known_leader().is_some_and(|known| known != leader)
            && !self.may_replace_known_leader()
        {
            return Some(RaftError::InvalidVoterKey);
        }
        if epoch > self.epoch && self.live_leader().is_some() {
            // Even for the leader it follows: if that leader really leads a newer epoch, its
            // answer to this node's next fetch says so.
            return Some(RaftError::UnknownLeaderEpoch);
        }
        None
    }

    /// Whether a follower may take another voter's claim to lead its epoch in place of the
    /// leader it knows: only once it gave up on that leader (its fetch timeout expired, or
    /// its connection was reset) and has not heard from it since; a leader it has only just
    /// learned of is kept. One of the two claims is false; the leader it knows may be a
    /// stranger's invention of a voter that has stopped for good, and then nothing would ever
    /// correct it. Following a claim is safe either way: the claimed leader's answer to the
    /// next fetch tells the truth, and a false one is forgotten (`forget_leader`).
    fn may_replace_known_leader(&self) -> bool {
        matches!(&self.role, Role::Follower(f) if self.lost_leader == Some((self.epoch, f.leader)))
            && self.live_leader().is_none()
    }

    /// Follows `leader` for `epoch`, a claim [`Raft::refuse_leader_claim`] let through.
    fn follow_claim(&mut self, epoch: u32, leader: NodeId) {
        if epoch == self.epoch
            && self.known_leader().is_some_and(|known| known != leader)
            && self.may_replace_known_leader()
        {
            self.transition(Target::ForgetLeader);
        }
        self.observe_epoch(epoch, Some(leader));
    }

    pub(super) fn send_vote_requests(&mut self, pre_vote: bool) {
        let correlation = match &self.role {
            Role::Prospective(p) => p.correlation,
            Role::Candidate(c) => c.correlation,
            _ => unreachable!(),
        };
        let voters: Vec<ReplicaKey> = self.config.voters.clone();
        for v in voters {
            if v.id == self.local_id() {
                continue;
            }
            let message = Message::VoteRequest {
                correlation,
                candidate_epoch: self.epoch,
                candidate: self.config.local,
                voter: v,
                last_epoch: self.log.last_epoch(),
                last_offset: self.log.end_offset(),
                pre_vote,
            };
            self.send(v.id, message);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn handle_vote_request(
        &mut self,
        from: NodeId,
        correlation: u64,
        candidate_epoch: u32,
        candidate: ReplicaKey,
        voter: ReplicaKey,
        (last_epoch, last_offset): (u32, u64),
        pre_vote: bool,
    ) {
        let respond = |raft: &mut Self, error: Option<RaftError>, granted: bool| {
            let message = Message::VoteResponse {
                correlation,
                error,
                epoch: raft.epoch,
                leader: raft.leader_id(),
                granted,
                pre_vote,
            };
            raft.send(from, message);
        };
        if !self.voter
            || voter != self.config.local
            || !self.config.is_voter(&candidate)
            || candidate.id != from
        {
            return respond(self, Some(RaftError::InvalidVoterKey), false);
        }
        if candidate_epoch < self.epoch {
            return respond(self, Some(RaftError::FencedLeaderEpoch), false);
        }
        if pre_vote {
            let granted = !self.abstaining()
                && !self.knows_live_leader_other_than(candidate.id)
                && self.log_up_to_date(last_epoch, last_offset);
            return respond(self, None, granted);
        }
        if self.knows_live_leader_other_than(candidate.id) {
            // Stickiness: a live leader is known; the candidate does not move this node.
            return respond(self, None, false);
        }
        if candidate_epoch > self.epoch {
            self.transition(Target::Unattached {
                epoch: candidate_epoch,
                voted_for: None,
            });
        }
        let (can_vote, already) = match &self.role {
            Role::Unattached(u) => (
                u.voted_for.is_none_or(|v| v == candidate),
                u.voted_for.is_some(),
            ),
            Role::Prospective(p) => (
                p.leader.is_none() && p.voted_for.is_none_or(|v| v == candidate),
                p.voted_for.is_some(),
            ),
            _ => (false, false),
        };
        let granted =
            can_vote && !self.abstaining() && self.log_up_to_date(last_epoch, last_offset);
        if granted && !already {
            let epoch = self.epoch;
            self.transition(Target::Unattached {
                epoch,
                voted_for: Some(candidate),
            });
        }
        respond(self, None, granted)
    }

    #[allow(clippy::too_many_arguments)]
    fn handle_vote_response(
        &mut self,
        from: NodeId,
        correlation: u64,
        error: Option<RaftError>,
        epoch: u32,
        leader: Option<NodeId>,
        granted: bool,
        pre_vote: bool,
    ) {
        if self.observe_epoch(epoch, leader) {
            return;
        }
        // A pre-vote does not move the receiver's epoch, so a grant may come from an epoch
        // behind ours; a real vote's receiver has moved to our epoch first.
        if error.is_some() || (epoch != self.epoch && !pre_vote) {
            return;
        }
        if !self.config.voters.iter().any(|v| v.id == from) {
            return;
        }
        let majority = self.config.majority();
        match &mut self.role {
            Role::Prospective(p) if pre_vote && p.correlation == correlation => {
                if granted {
                    p.granted.insert(from);
                } else {
                    p.rejected.insert(from);
                }
                if p.rejected.len() >= majority {
                    self.prospective_lost();
                } else {
                    self.check_pre_vote_outcome();
                }
            }
            Role::Candidate(c) if !pre_vote && c.correlation == correlation => {
                if granted {
                    c.granted.insert(from);
                    if c.granted.len() >= majority {
                        self.transition(Target::Leader);
                    }
                } else {
                    c.rejected.insert(from);
                    if c.rejected.len() >= majority {
                        // Lost: back off a random while before the next pre-vote.
                        let backoff = self.prng.below(self.config.election_backoff_max_ms.max(1));
                        c.election_deadline_ms = c.election_deadline_ms.min(self.now_ms + backoff);
                    }
                }
            }
            _ => {}
        }
    }

    pub(super) fn check_pre_vote_outcome(&mut self) {
        if let Role::Prospective(p) = &self.role
            && p.granted.len() >= self.config.majority()
        {
            self.transition(Target::Candidate);
        }
    }

    fn handle_begin_quorum_epoch(
        &mut self,
        from: NodeId,
        correlation: u64,
        epoch: u32,
        leader: NodeId,
        voter: ReplicaKey,
    ) {
        let error = if voter != self.config.local || leader != from {
            Some(RaftError::InvalidVoterKey)
        } else if let Some(refused) = self.refuse_leader_claim(epoch, leader) {
            Some(refused)
        } else {
            self.follow_claim(epoch, leader);
            None
        };
        let message = Message::BeginQuorumEpochResponse {
            correlation,
            error,
            epoch: self.epoch,
            leader: self.leader_id(),
        };
        self.send(from, message);
    }

    fn handle_end_quorum_epoch(
        &mut self,
        from: NodeId,
        correlation: u64,
        epoch: u32,
        leader: NodeId,
        preferred_successors: Vec<ReplicaKey>,
    ) {
        let error = if leader != from {
            Some(RaftError::InvalidVoterKey)
        } else if let Some(refused) = self.refuse_leader_claim(epoch, leader) {
            Some(refused)
        } else {
            self.follow_claim(epoch, leader);
            let position = preferred_successors
                .iter()
                .position(|k| *k == self.config.local);
            let backoff = match position {
                // Preferred successors go first, in order (Kafka's strict exponential backoff).
                Some(p) => (50u64 << p.min(8)).min(self.config.election_backoff_max_ms),
                None => self.random_election_timeout_ms(),
            };
            let now = self.now_ms;
            if let Role::Follower(f) = &mut self.role
                && f.leader == leader
                && self.voter
            {
                f.leader_resigned = true;
                f.fetch_deadline_ms = f.fetch_deadline_ms.min(now + backoff);
            }
            None
        };
        let message = Message::EndQuorumEpochResponse {
            correlation,
            error,
            epoch: self.epoch,
            leader: self.leader_id(),
        };
        self.send(from, message);
    }

    /// The connection to `node` was lost or refused: if it is this follower's leader, it is no
    /// longer live, and the follower suspects it after a random delay of at most
    /// `leader_lost_jitter_ms` instead of the fetch timeout (an observer rediscovers then).
    /// Only liveness moves: a pre-vote still needs a majority that also sees no live leader.
    pub(super) fn leader_unreachable(&mut self, node: NodeId) {
        let now = self.now_ms;
        // Perhaps the voter a discovering replica asked.
        self.ask_again_soon_if_still_discovering();
        let is_lost_leader =
            matches!(&self.role, Role::Follower(f) if f.leader == node && !f.leader_unreachable);
        if !is_lost_leader {
            return;
        }
        let delay = self.prng.below(self.config.leader_lost_jitter_ms.max(1));
        if let Role::Follower(f) = &mut self.role {
            f.leader_unreachable = true;
            f.fetch_deadline_ms = f.fetch_deadline_ms.min(now + delay);
        }
        self.lost_leader = Some((self.epoch, node));
    }

    /// The rejoin probe found a voter in `epoch`, ahead of this leader's: move there and stand
    /// for election at once (see the module header). The answer's leader is not followed.
    fn rejoin_voter_ahead(&mut self, epoch: u32) {
        self.transition(Target::Unattached {
            epoch,
            voted_for: None,
        });
        let now = self.now_ms;
        if let Role::Unattached(u) = &mut self.role
            && u.election_deadline_ms.is_some()
        {
            u.election_deadline_ms = Some(now);
        }
    }

    /// The node this follower follows says it does not lead this epoch: forget it, keeping
    /// the vote (see the module header).
    pub(super) fn forget_leader(&mut self) {
        if matches!(self.role, Role::Follower(_)) {
            self.transition(Target::ForgetLeader);
        }
    }

    /// Voters ordered by how far they have fetched, best first: the ones most likely to win.
    pub(super) fn preferred_successors(&self) -> Vec<ReplicaKey> {
        let Role::Leader(l) = &self.role else {
            return Vec::new();
        };
        let mut v: Vec<(u64, ReplicaKey)> = l
            .voters
            .values()
            .filter(|p| p.key != self.config.local)
            .map(|p| (p.end_offset.unwrap_or(0), p.key))
            .collect();
        v.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        v.into_iter().map(|(_, k)| k).collect()
    }

    pub(super) fn send_end_quorum_epoch(&mut self, successors: Vec<ReplicaKey>) {
        let voters: Vec<ReplicaKey> = self.config.voters.clone();
        for v in voters {
            if v.id == self.local_id() {
                continue;
            }
            let correlation = self.next_correlation();
            let message = Message::EndQuorumEpochRequest {
                correlation,
                epoch: self.epoch,
                leader: self.local_id(),
                preferred_successors: successors.clone(),
            };
            self.send(v.id, message);
        }
    }
}
