//! Elections and leadership announcements: Vote (and pre-vote, KIP-996), BeginQuorumEpoch,
//! EndQuorumEpoch, and learning of newer epochs from any message.
//!
//! Rules kept here:
//! - A real vote is granted at most once per epoch, only by a voter that knows no leader in
//!   that epoch, and only to a candidate whose log (last epoch, end offset) is at least as up to
//!   date as the voter's. The vote is persisted (transition) before the response is sent.
//! - A pre-vote changes nothing on the receiver. It is granted only by a voter that has not
//!   heard from a live leader within the fetch timeout, for an up-to-date log.
//! - Only a pre-vote majority moves a voter to Candidate, which is the only epoch bump a voter
//!   makes by itself.
//! - A node whose log lost records to corruption (abstaining) grants nothing.

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
            Role::Prospective(p) => match p.leader {
                // The leader it already gave up on (fetch timeout): not news.
                Some(known) => {
                    assert_eq!(known, l, "two leaders in epoch {epoch}");
                    false
                }
                None => {
                    self.transition(Target::Follower { epoch, leader: l });
                    true
                }
            },
            Role::Follower(f) => {
                assert_eq!(f.leader, l, "two leaders in epoch {epoch}");
                false
            }
            Role::Leader(_) | Role::Resigned(_) => {
                assert_eq!(l, me, "two leaders in epoch {epoch}");
                false
            }
        }
    }

    /// Is the candidate's log at least as up to date as ours?
    fn log_up_to_date(&self, last_epoch: u32, last_offset: u64) -> bool {
        if self.config.bug == BugInjection::SkipUpToDateVoteCheck {
            return true;
        }
        (last_epoch, last_offset) >= (self.log.last_epoch(), self.log.end_offset())
    }

    /// Has this node heard from a live leader within the fetch timeout (or is it one)?
    fn knows_live_leader(&self) -> bool {
        match &self.role {
            Role::Leader(_) => true,
            Role::Follower(f) => {
                !f.leader_resigned
                    && f.last_leader_contact_ms
                        .is_some_and(|t| self.now_ms < t + self.config.fetch_timeout_ms)
            }
            _ => false,
        }
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
                && !self.knows_live_leader()
                && self.log_up_to_date(last_epoch, last_offset);
            return respond(self, None, granted);
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
        } else if epoch < self.epoch {
            Some(RaftError::FencedLeaderEpoch)
        } else {
            self.observe_epoch(epoch, Some(leader));
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
        } else if epoch < self.epoch {
            Some(RaftError::FencedLeaderEpoch)
        } else {
            self.observe_epoch(epoch, Some(leader));
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
