//! FetchSnapshot: a fetcher behind the leader's log start downloads the leader's latest
//! snapshot in chunks, installs it, and resumes fetching at the snapshot's end.
//!
//! Rules kept here:
//! - The leader serves only its latest snapshot; any other id is SnapshotNotFound and the
//!   fetcher goes back to Fetch, which names the current one.
//! - Chunks are written in order; a response for another position or snapshot is ignored.
//! - Install replaces the whole log; the high watermark moves to at least the snapshot end
//!   (a snapshot only ever holds committed records).

use super::action::Action;
use super::core::{Payload, Raft};
use super::message::{Envelope, Fill, Message, RaftError};
use super::role::Role;
use super::types::{NodeId, ReplicaKey, SnapshotId};

impl<P: Payload> Raft<P> {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn handle_fetch_snapshot_request(
        &mut self,
        from: NodeId,
        correlation: u64,
        replica: ReplicaKey,
        current_leader_epoch: u32,
        snapshot: SnapshotId,
        position: u64,
        max_bytes: u32,
    ) {
        let is_leader = matches!(self.role, Role::Leader(_));
        let error = if replica.id != from {
            Some(RaftError::InvalidVoterKey)
        } else if !is_leader {
            Some(RaftError::NotLeader)
        } else if current_leader_epoch < self.epoch {
            Some(RaftError::FencedLeaderEpoch)
        } else if current_leader_epoch > self.epoch {
            Some(RaftError::UnknownLeaderEpoch)
        } else if self.log.snapshot() != Some(snapshot) {
            Some(RaftError::SnapshotNotFound)
        } else {
            None
        };
        if is_leader
            && error != Some(RaftError::InvalidVoterKey)
            && current_leader_epoch == self.epoch
        {
            let is_voter = self.config.is_voter(&replica);
            self.note_fetch(replica, is_voter);
        }
        let leader = match &self.role {
            Role::Resigned(_) => None,
            _ => self.leader_id(),
        };
        let message = Message::FetchSnapshotResponse {
            correlation,
            error,
            epoch: self.epoch,
            leader,
            snapshot,
            size: 0,
            position,
            chunk: None,
        };
        let fill = error.is_none().then_some(Fill::SnapshotChunk {
            snapshot,
            position,
            max_bytes: max_bytes.min(self.config.snapshot_chunk_bytes).max(1),
        });
        self.actions.push(Action::Send(Envelope {
            to: from,
            message,
            fill,
        }));
    }

    pub(super) fn handle_fetch_snapshot_response(&mut self, from: NodeId, m: Message<P>) {
        let Message::FetchSnapshotResponse {
            correlation,
            error,
            epoch,
            leader,
            snapshot,
            size,
            position,
            chunk,
        } = m
        else {
            unreachable!()
        };
        let expected = match &self.role {
            Role::Follower(f) => {
                f.leader == from
                    && f.inflight.is_some_and(|(c, _)| c == correlation)
                    && f.snapshot_fetch
                        .as_ref()
                        .is_some_and(|s| s.snapshot == snapshot && s.position == position)
            }
            _ => false,
        };
        if !expected {
            if leader.is_some() || epoch > self.epoch {
                self.observe_epoch(epoch, leader);
            }
            return;
        }
        let now = self.now_ms;
        if let Role::Follower(f) = &mut self.role {
            f.inflight = None;
        }
        if error.is_some() || epoch != self.epoch {
            if self.observe_epoch(epoch, leader) {
                return;
            }
            if let Role::Follower(f) = &mut self.role {
                // Start over with a plain Fetch, which names the leader's current snapshot.
                f.snapshot_fetch = None;
                f.next_fetch_ms = now + crate::constants::RAFT_RETRY_BACKOFF_MS;
            }
            return;
        }
        let fetch_timeout = self.config.fetch_timeout_ms;
        let Some(chunk) = chunk else {
            // The leader's driver could not read the snapshot: start over.
            if let Role::Follower(f) = &mut self.role {
                f.snapshot_fetch = None;
                f.next_fetch_ms = now + crate::constants::RAFT_RETRY_BACKOFF_MS;
            }
            return;
        };
        let len = chunk.byte_len();
        if let Role::Follower(f) = &mut self.role {
            f.last_leader_contact_ms = Some(now);
            f.leader_unreachable = false;
            self.lost_leader = None;
            if !f.leader_resigned {
                f.fetch_deadline_ms = now + fetch_timeout;
            }
        }
        if len == 0 || position + len > size {
            if let Role::Follower(f) = &mut self.role {
                f.snapshot_fetch = None;
                f.next_fetch_ms = now + crate::constants::RAFT_RETRY_BACKOFF_MS;
            }
            return;
        }
        self.actions.push(Action::WriteSnapshotChunk {
            snapshot,
            position,
            chunk,
        });
        let done = position + len == size;
        if let Role::Follower(f) = &mut self.role {
            let sf = f.snapshot_fetch.as_mut().expect("checked above");
            sf.position += len;
            if done {
                f.snapshot_fetch = None;
            }
        }
        if done {
            assert!(
                snapshot.end_offset >= self.high_watermark,
                "a fetched snapshot never goes behind what this node committed"
            );
            self.actions.push(Action::InstallSnapshot { snapshot });
            self.log.install_snapshot(snapshot);
            self.check_abstain();
            self.set_high_watermark(snapshot.end_offset);
        }
        self.send_fetch();
    }
}
