//! Pull replication: proposals on the leader, Fetch on both sides, the high watermark.
//!
//! Rules kept here:
//! - The leader answers a Fetch after validating (fetch offset, last fetched epoch) against its
//!   log: records, a diverging (epoch, end offset), or "fetch snapshot N". Only a valid fetch
//!   updates the replica's offset. A fetch with nothing new is parked until data arrives, the
//!   high watermark moves, or its max wait expires.
//! - The high watermark is the majority of voters' fetch offsets, counting the leader only up
//!   to what it has flushed, and it never moves until it covers the leader's epoch-start
//!   record. It never goes back.
//! - A voting follower flushes what it appended before it sends its next Fetch (the leader
//!   counts a voter's fetch offset as durable), so the next Fetch is `SendAfterFlush`.
//! - A follower learns the high watermark as min(leader's, own log end): it only commits
//!   records it has, all of which were validated against the leader's log.

use super::action::{Action, ProposeError};
use super::core::{Payload, Raft, Target};
use super::log::Validation;
use super::message::{Envelope, Fill, Message, RaftError};
use super::role::{ParkedFetch, ReplicaProgress, Role};
use super::types::{Batch, BugInjection, LeaderBatchContent, LeaderChange, NodeId, ReplicaKey};
use crate::constants;

/// Backoff before refetching after an error answer (Kafka `controller.quorum.retry.backoff.ms`).
const RETRY_BACKOFF_MS: u64 = constants::RAFT_RETRY_BACKOFF_MS;

impl<P: Payload> Raft<P> {
    pub(super) fn leader_propose(
        &mut self,
        record_count: u32,
        size_bytes: u32,
        payload: P,
    ) -> Result<(u64, u64), ProposeError> {
        if !matches!(self.role, Role::Leader(_)) {
            let hint = self.leader_id().filter(|&l| l != self.local_id());
            return Err(ProposeError::NotLeader { leader_hint: hint });
        }
        if record_count == 0
            || record_count > constants::BATCH_RECORDS_MAX
            || size_bytes > constants::BATCH_BYTES_MAX
        {
            return Err(ProposeError::TooLarge);
        }
        let uncommitted = self.log.end_offset() - self.high_watermark;
        if uncommitted + u64::from(record_count) > self.config.max_uncommitted_records
            || self.flushes_in_flight() >= constants::RAFT_MAX_FLUSHES_IN_FLIGHT
        {
            return Err(ProposeError::Backpressure);
        }
        let base = self.log.end_offset();
        let last = base + u64::from(record_count) - 1;
        self.log.append(base, last, self.epoch);
        self.actions.push(Action::AppendLeader {
            base_offset: base,
            last_offset: last,
            epoch: self.epoch,
            content: LeaderBatchContent::Records {
                record_count,
                payload,
            },
        });
        let now = self.now_ms;
        let flush_at = if self.own_flush_gates_commit() {
            now
        } else {
            now + self.config.append_linger_ms
        };
        if let Role::Leader(l) = &mut self.role {
            l.linger_flush_deadline_ms = Some(
                l.linger_flush_deadline_ms
                    .map_or(flush_at, |d| d.min(flush_at)),
            );
        }
        self.complete_parked_fetches();
        Ok((base, last))
    }

    /// Whether the leader's own flush is needed to commit what it appends now: fewer other
    /// voters keep up (a Fetch parked here, or one within `RAFT_FOLLOWER_KEEPING_UP_MS`) than
    /// a majority without the leader needs. Then lingering would only delay every commit.
    fn own_flush_gates_commit(&self) -> bool {
        let Role::Leader(l) = &self.role else {
            return false;
        };
        let now = self.now_ms;
        let keeping_up = l
            .voters
            .values()
            .filter(|p| p.key != self.config.local)
            .filter(|p| {
                l.parked.contains_key(&p.key)
                    || p.last_fetch_ms
                        .is_some_and(|t| now < t + constants::RAFT_FOLLOWER_KEEPING_UP_MS)
            })
            .count();
        keeping_up < self.config.majority()
    }

    /// First acts of a new leader: the epoch-start record, flushed at once, and the
    /// BeginQuorumEpoch announcement.
    pub(super) fn leader_start_epoch(&mut self) {
        let (start, granting) = match &self.role {
            Role::Leader(l) => (l.epoch_start_offset, l.granting_voters.clone()),
            _ => unreachable!(),
        };
        assert_eq!(start, self.log.end_offset());
        self.log.append(start, start, self.epoch);
        self.actions.push(Action::AppendLeader {
            base_offset: start,
            last_offset: start,
            epoch: self.epoch,
            content: LeaderBatchContent::LeaderChange(LeaderChange {
                leader: self.local_id(),
                voters: self.config.voters.clone(),
                granting_voters: granting,
            }),
        });
        self.issue_flush();
        self.send_begin_quorum_epochs();
    }

    /// (Re)announce this leader to every voter that has not acknowledged it yet.
    fn send_begin_quorum_epochs(&mut self) {
        let resend_ms = self.config.begin_quorum_epoch_resend_ms;
        let now = self.now_ms;
        let Role::Leader(l) = &mut self.role else {
            return;
        };
        l.next_begin_quorum_ms = now + resend_ms;
        let unacked = l.begin_quorum_unacked.clone();
        self.send_begin_quorum_epoch_to(unacked);
    }

    /// The rejoin probe (see `election.rs`): BeginQuorumEpoch to every voter that has not
    /// fetched for `begin_quorum_epoch_resend_ms`, again every `begin_quorum_epoch_resend_ms`
    /// while it stays silent. A voter in this epoch just acknowledges; one in a higher epoch
    /// answers with it.
    fn probe_silent_voters(&mut self) -> bool {
        let now = self.now_ms;
        let Some(due) = self.silent_voters_due(now) else {
            return false;
        };
        let Role::Leader(l) = &mut self.role else {
            unreachable!()
        };
        for id in &due {
            l.voters.get_mut(id).expect("a tracked voter").last_probe_ms = Some(now);
        }
        self.send_begin_quorum_epoch_to(due.into_iter().collect());
        true
    }

    /// Voters due a probe at `now` (None if none), excluding those still being announced to.
    fn silent_voters_due(&self, now: u64) -> Option<Vec<NodeId>> {
        let due: Vec<NodeId> = self
            .probe_times()
            .filter(|&(_, at)| at <= now)
            .map(|(id, _)| id)
            .collect();
        (!due.is_empty()).then_some(due)
    }

    /// When each voter (other than this leader, and not awaiting its first announcement) is
    /// due its next probe: `begin_quorum_epoch_resend_ms` after its last fetch (or this
    /// leader's start) or its last probe, whichever is later.
    pub(super) fn probe_times(&self) -> impl Iterator<Item = (NodeId, u64)> + '_ {
        let resend_ms = self.config.begin_quorum_epoch_resend_ms;
        let me = self.local_id();
        let leader = match &self.role {
            Role::Leader(l) if self.config.bug != BugInjection::NoRejoinProbe => Some(l),
            _ => None,
        };
        leader.into_iter().flat_map(move |l| {
            l.voters
                .values()
                .filter(move |p| p.key.id != me && !l.begin_quorum_unacked.contains(&p.key.id))
                .map(move |p| {
                    let quiet_since = p.last_fetch_ms.unwrap_or(l.started_ms);
                    let at = quiet_since.max(p.last_probe_ms.unwrap_or(0)) + resend_ms;
                    (p.key.id, at)
                })
        })
    }

    fn send_begin_quorum_epoch_to(&mut self, voters: std::collections::BTreeSet<NodeId>) {
        for id in voters {
            let voter = *self.config.voter_id(id).expect("announced ids are voters");
            let correlation = self.next_correlation();
            let message = Message::BeginQuorumEpochRequest {
                correlation,
                epoch: self.epoch,
                leader: self.local_id(),
                voter,
            };
            self.send(id, message);
        }
    }

    /// Leader timers; true if one was due.
    pub(super) fn leader_timers(&mut self) -> bool {
        let now = self.now_ms;
        let single = self.config.voters.len() == 1;
        let cq = self.config.check_quorum_timeout_ms;
        let Role::Leader(l) = &mut self.role else {
            unreachable!()
        };
        if l.check_quorum_deadline_ms <= now {
            if single {
                l.check_quorum_deadline_ms = now + cq;
            } else {
                self.transition(Target::Resigned);
            }
            return true;
        }
        if l.linger_flush_deadline_ms.is_some_and(|d| d <= now) {
            l.linger_flush_deadline_ms = None;
            self.issue_flush();
            return true;
        }
        if !l.begin_quorum_unacked.is_empty() && l.next_begin_quorum_ms <= now {
            self.send_begin_quorum_epochs();
            return true;
        }
        if !single && self.probe_silent_voters() {
            return true;
        }
        let Role::Leader(l) = &mut self.role else {
            unreachable!()
        };
        let expired: Vec<ReplicaKey> = l
            .parked
            .iter()
            .filter(|(_, p)| p.deadline_ms <= now)
            .map(|(k, _)| *k)
            .collect();
        if expired.is_empty() {
            return false;
        }
        let answers: Vec<ParkedFetch> = expired
            .iter()
            .map(|k| l.parked.remove(k).expect("just listed"))
            .collect();
        for p in answers {
            self.answer_parked(p);
        }
        true
    }

    pub(super) fn on_flushed(&mut self) {
        self.check_abstain();
        if matches!(self.role, Role::Leader(_)) {
            self.leader_maybe_advance_high_watermark();
        }
    }

    fn leader_maybe_advance_high_watermark(&mut self) {
        let me = self.local_id();
        let majority = self.config.majority();
        let flushed = self.log.flushed_end_offset();
        let Role::Leader(l) = &self.role else {
            unreachable!()
        };
        let mut offsets: Vec<u64> = self
            .config
            .voters
            .iter()
            .map(|v| {
                if v.id == me {
                    flushed
                } else {
                    l.voters.get(&v.id).and_then(|p| p.end_offset).unwrap_or(0)
                }
            })
            .collect();
        offsets.sort_unstable_by(|a, b| b.cmp(a));
        // A voter whose disk lost records may report less than before, so the majority offset
        // can dip; the high watermark itself never goes back.
        let majority_offset = offsets[majority - 1].min(self.log.end_offset());
        let covers_epoch_start = majority_offset > l.epoch_start_offset
            || self.config.bug == BugInjection::HighWatermarkBeforeEpochStart;
        if covers_epoch_start && majority_offset > self.high_watermark {
            self.set_high_watermark(majority_offset);
            self.complete_parked_fetches();
        }
    }

    fn fetch_response(
        &self,
        correlation: u64,
        error: Option<RaftError>,
        leader: Option<NodeId>,
    ) -> Message<P> {
        Message::FetchResponse {
            correlation,
            error,
            epoch: self.epoch,
            leader,
            high_watermark: self.high_watermark,
            log_start_offset: self.log.start_offset(),
            diverging: None,
            snapshot: None,
            batches: Vec::new(),
        }
    }

    /// Answer a valid fetch with what the log has from `fetch_offset` (possibly nothing).
    fn send_records(&mut self, to: NodeId, correlation: u64, fetch_offset: u64, max_bytes: u32) {
        let message = self.fetch_response(correlation, None, Some(self.local_id()));
        let end = self.log.end_offset();
        let fill = (fetch_offset < end).then_some(Fill::Records {
            from_offset: fetch_offset,
            end_offset: end,
            max_bytes: max_bytes.min(self.config.max_fetch_bytes).max(1),
        });
        self.actions
            .push(Action::Send(Envelope { to, message, fill }));
    }

    fn answer_parked(&mut self, p: ParkedFetch) {
        self.note_high_watermark_sent(p.replica);
        self.send_records(p.from, p.correlation, p.fetch_offset, p.max_bytes);
    }

    /// Records that `replica` is being told the current high watermark.
    fn note_high_watermark_sent(&mut self, replica: ReplicaKey) {
        let hw = self.high_watermark;
        let Role::Leader(l) = &mut self.role else {
            return;
        };
        let progress = match l.voters.get_mut(&replica.id) {
            Some(p) if p.key == replica => Some(p),
            _ => l.observers.get_mut(&replica),
        };
        if let Some(p) = progress {
            p.high_watermark_sent = hw;
        }
    }

    /// New data or a new high watermark: every parked fetch is answered now.
    fn complete_parked_fetches(&mut self) {
        let Role::Leader(l) = &mut self.role else {
            return;
        };
        let hw = self.high_watermark;
        let end = self.log.end_offset();
        let due: Vec<ReplicaKey> = l
            .parked
            .iter()
            .filter(|(_, p)| p.fetch_offset < end || p.high_watermark_sent < hw)
            .map(|(k, _)| *k)
            .collect();
        let mut answers = Vec::new();
        for k in due {
            answers.push(l.parked.remove(&k).expect("just listed"));
        }
        for p in answers {
            self.answer_parked(p);
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn handle_fetch_request(
        &mut self,
        from: NodeId,
        correlation: u64,
        replica: ReplicaKey,
        current_leader_epoch: u32,
        fetch_offset: u64,
        last_fetched_epoch: u32,
        max_wait_ms: u64,
        max_bytes: u32,
    ) {
        let me = self.local_id();
        if replica.id != from {
            let m = self.fetch_response(correlation, Some(RaftError::InvalidVoterKey), None);
            return self.send(from, m);
        }
        if !matches!(self.role, Role::Leader(_)) {
            let leader = match &self.role {
                Role::Resigned(_) => None,
                _ => self.leader_id(),
            };
            let m = self.fetch_response(correlation, Some(RaftError::NotLeader), leader);
            return self.send(from, m);
        }
        if current_leader_epoch < self.epoch {
            let m = self.fetch_response(correlation, Some(RaftError::FencedLeaderEpoch), Some(me));
            return self.send(from, m);
        }
        if current_leader_epoch > self.epoch {
            let m = self.fetch_response(correlation, Some(RaftError::UnknownLeaderEpoch), Some(me));
            return self.send(from, m);
        }
        // A voter id with another directory id is a replaced disk: it may catch up as an
        // observer but never counts toward the high watermark or check-quorum (KIP-853).
        let is_voter = self.config.is_voter(&replica);
        self.note_fetch(replica, is_voter);
        match self
            .log
            .validate_offset_and_epoch(fetch_offset, last_fetched_epoch)
        {
            Validation::Snapshot(s) => {
                let mut m = self.fetch_response(correlation, None, Some(me));
                if let Message::FetchResponse { snapshot, .. } = &mut m {
                    *snapshot = Some(s);
                }
                self.send(from, m);
            }
            Validation::Diverging(d) => {
                let mut m = self.fetch_response(correlation, None, Some(me));
                if let Message::FetchResponse { diverging, .. } = &mut m {
                    *diverging = Some(d);
                }
                self.send(from, m);
            }
            Validation::Valid => {
                let now = self.now_ms;
                let end = self.log.end_offset();
                let fetch_max_wait = self.config.fetch_max_wait_ms;
                {
                    let Role::Leader(l) = &mut self.role else {
                        unreachable!()
                    };
                    let progress = if is_voter {
                        l.voters.get_mut(&replica.id)
                    } else {
                        l.observers.get_mut(&replica)
                    };
                    if let Some(p) = progress {
                        p.end_offset = Some(fetch_offset);
                        if fetch_offset >= end {
                            p.last_caught_up_ms = Some(now);
                        }
                    }
                }
                if is_voter {
                    self.leader_maybe_advance_high_watermark();
                }
                let Role::Leader(l) = &mut self.role else {
                    unreachable!()
                };
                // A newer fetch from the same replica supersedes a parked one (the fetcher gave
                // up on it); answer the old one so nothing is left hanging.
                let superseded = l.parked.remove(&replica);
                let knows_high_watermark = match l.voters.get(&replica.id) {
                    Some(p) if p.key == replica => p.high_watermark_sent,
                    _ => l
                        .observers
                        .get(&replica)
                        .map_or(0, |p| p.high_watermark_sent),
                } >= self.high_watermark;
                let park = fetch_offset >= self.log.end_offset()
                    && max_wait_ms > 0
                    && knows_high_watermark;
                if park {
                    l.parked.insert(
                        replica,
                        ParkedFetch {
                            replica,
                            from,
                            correlation,
                            fetch_offset,
                            max_bytes,
                            deadline_ms: now + max_wait_ms.min(fetch_max_wait),
                            high_watermark_sent: self.high_watermark,
                        },
                    );
                }
                if let Some(old) = superseded {
                    self.answer_parked(old);
                }
                if !park {
                    // A fetch that may not wait is a discovery fetch or a follower's first:
                    // its answer may not be taken as a follower's, so it proves nothing.
                    if max_wait_ms > 0 {
                        self.note_high_watermark_sent(replica);
                    }
                    self.send_records(from, correlation, fetch_offset, max_bytes);
                }
            }
        }
    }

    /// Liveness bookkeeping for any fetch (or snapshot fetch) at the leader's epoch.
    pub(super) fn note_fetch(&mut self, replica: ReplicaKey, is_voter: bool) {
        let now = self.now_ms;
        let majority = self.config.majority();
        let cq = self.config.check_quorum_timeout_ms;
        let Role::Leader(l) = &mut self.role else {
            return;
        };
        if is_voter {
            let p = l
                .voters
                .get_mut(&replica.id)
                .expect("voters are all tracked");
            p.last_fetch_ms = Some(now);
            l.begin_quorum_unacked.remove(&replica.id);
            l.fetched_since_check.insert(replica.id);
            if l.fetched_since_check.len() + 1 >= majority {
                l.fetched_since_check.clear();
                l.check_quorum_deadline_ms = now + cq;
            }
            return;
        }
        if !l.observers.contains_key(&replica) {
            if l.observers.len() >= constants::RAFT_MAX_TRACKED_OBSERVERS {
                let oldest = l
                    .observers
                    .iter()
                    .min_by_key(|(k, p)| (p.last_fetch_ms, **k))
                    .map(|(k, _)| *k)
                    .expect("full map is not empty");
                l.observers.remove(&oldest);
                l.parked.remove(&oldest);
            }
            l.observers.insert(
                replica,
                ReplicaProgress {
                    key: replica,
                    voter: false,
                    end_offset: None,
                    last_fetch_ms: None,
                    last_caught_up_ms: None,
                    high_watermark_sent: 0,
                    last_probe_ms: None,
                },
            );
        }
        let p = l.observers.get_mut(&replica).expect("just inserted");
        p.last_fetch_ms = Some(now);
    }

    /// A follower's next fetch: from its log end, after flushing what it appended if it votes.
    pub(super) fn send_fetch(&mut self) {
        let now = self.now_ms;
        let correlation = self.next_correlation();
        let (leader, snapshot_fetch, first) = match &mut self.role {
            Role::Follower(f) => {
                f.inflight = Some((correlation, now));
                (
                    f.leader,
                    f.snapshot_fetch.clone(),
                    f.last_leader_contact_ms.is_none(),
                )
            }
            _ => unreachable!("only followers fetch"),
        };
        if let Some(sf) = snapshot_fetch {
            let message = Message::FetchSnapshotRequest {
                correlation,
                replica: self.config.local,
                current_leader_epoch: self.epoch,
                snapshot: sf.snapshot,
                position: sf.position,
                max_bytes: self.config.snapshot_chunk_bytes,
            };
            return self.send(leader, message);
        }
        let message = Message::FetchRequest {
            correlation,
            replica: self.config.local,
            current_leader_epoch: self.epoch,
            fetch_offset: self.log.end_offset(),
            last_fetched_epoch: self.log.last_epoch(),
            // The first fetch from a leader is answered at once: this node (perhaps just
            // restarted) does not know the high watermark, and the leader cannot tell.
            max_wait_ms: if first {
                0
            } else {
                self.config.fetch_max_wait_ms
            },
            max_bytes: self.config.max_fetch_bytes,
        };
        let envelope = Envelope {
            to: leader,
            message,
            fill: None,
        };
        if self.log.flushed_end_offset() < self.log.end_offset() {
            let waits = self.voter && self.config.bug != BugInjection::FetchBeforeFlush;
            let covering = self.flush_covering_end();
            if waits {
                let flush = covering.unwrap_or_else(|| self.issue_flush());
                self.actions
                    .push(Action::SendAfterFlush { flush, envelope });
                return;
            }
            // Observers fetch on at once and flush in the background, a bounded number at a
            // time (anything left unflushed is covered by the next one).
            if covering.is_none()
                && self.flushes_in_flight() < constants::RAFT_MAX_FLUSHES_IN_FLIGHT
            {
                self.issue_flush();
            }
        }
        self.actions.push(Action::Send(envelope));
    }

    /// A discovering replica that asked a voter who leads and learned of no leader (an
    /// election is under way), or could not reach it (the voter asked may be the one that just
    /// died), asks again after the retry backoff rather than the request timeout: a broker
    /// then follows a new leader within a few backoffs of its election. While no leader
    /// exists that is one small Fetch per backoff per discovering replica, as Kafka's
    /// observers send.
    pub(super) fn ask_again_soon_if_still_discovering(&mut self) {
        let now = self.now_ms;
        if !self.discovers() {
            return;
        }
        if let Role::Unattached(u) = &mut self.role {
            u.next_discovery_ms = u.next_discovery_ms.min(now + RETRY_BACKOFF_MS);
        }
    }

    /// Unattached observers (and abstaining voters) ask a random voter who leads.
    pub(super) fn send_discovery_fetch(&mut self) {
        let others: Vec<NodeId> = self
            .config
            .voters
            .iter()
            .map(|v| v.id)
            .filter(|&id| id != self.local_id())
            .collect();
        if others.is_empty() {
            return;
        }
        let to = others[self.prng.below(others.len() as u64) as usize];
        let correlation = self.next_correlation();
        let message = Message::FetchRequest {
            correlation,
            replica: self.config.local,
            current_leader_epoch: self.epoch,
            fetch_offset: self.log.end_offset(),
            last_fetched_epoch: self.log.last_epoch(),
            max_wait_ms: 0,
            max_bytes: self.config.max_fetch_bytes,
        };
        self.send(to, message);
    }

    pub(super) fn handle_fetch_response(&mut self, from: NodeId, m: Message<P>) {
        let Message::FetchResponse {
            correlation,
            error,
            epoch,
            leader,
            high_watermark,
            diverging,
            snapshot,
            batches,
            ..
        } = m
        else {
            unreachable!()
        };
        let expected = match &self.role {
            Role::Follower(f) => {
                f.leader == from
                    && f.snapshot_fetch.is_none()
                    && f.inflight.is_some_and(|(c, _)| c == correlation)
            }
            _ => false,
        };
        if !expected {
            // Stale, duplicated, or discovery: only its epoch/leader news is of use.
            if leader.is_some() || epoch > self.epoch {
                self.observe_epoch(epoch, leader);
            }
            self.ask_again_soon_if_still_discovering();
            return;
        }
        let now = self.now_ms;
        if let Role::Follower(f) = &mut self.role {
            f.inflight = None;
        }
        if epoch < self.epoch || (epoch == self.epoch && leader.is_some_and(|l| l != from)) {
            // The node this follower follows does not lead its epoch: the news it followed was
            // false (see `election.rs`). Forget it; follow the leader it names, if any.
            self.forget_leader();
            if epoch == self.epoch {
                self.observe_epoch(epoch, leader);
            }
            return;
        }
        if error.is_some() || epoch != self.epoch {
            if self.observe_epoch(epoch, leader) {
                return;
            }
            if let Role::Follower(f) = &mut self.role {
                f.next_fetch_ms = now + RETRY_BACKOFF_MS;
            }
            return;
        }
        if leader != Some(from) {
            // Malformed (a success names another leader): trust nothing in it.
            if let Role::Follower(f) = &mut self.role {
                f.next_fetch_ms = now + RETRY_BACKOFF_MS;
            }
            return;
        }
        let fetch_timeout = self.config.fetch_timeout_ms;
        if let Role::Follower(f) = &mut self.role {
            f.last_leader_contact_ms = Some(now);
            f.leader_unreachable = false;
            self.lost_leader = None;
            if !f.leader_resigned {
                f.fetch_deadline_ms = now + fetch_timeout;
            }
        }
        if let Some(d) = diverging {
            let to = self.log.truncation_offset(d);
            self.truncate_log(to);
            return self.send_fetch();
        }
        if let Some(s) = snapshot {
            if let Role::Follower(f) = &mut self.role {
                f.snapshot_fetch = Some(super::role::SnapshotFetch {
                    snapshot: s,
                    position: 0,
                });
            }
            return self.send_fetch();
        }
        if !batches.is_empty() {
            if !self.batches_extend_log(&batches) {
                // Not a continuation of this log (cannot happen with one fetch in flight and a
                // correct leader and driver): refetch rather than trust it.
                if let Role::Follower(f) = &mut self.role {
                    f.next_fetch_ms = now + RETRY_BACKOFF_MS;
                }
                return;
            }
            for b in &batches {
                self.log.append(b.base_offset, b.last_offset, b.epoch);
            }
            self.actions.push(Action::AppendFetched { batches });
            self.check_abstain();
        }
        let hw = high_watermark.min(self.log.end_offset());
        self.set_high_watermark(hw);
        self.send_fetch();
    }

    /// Do `batches` continue this log exactly: contiguous from its end, epochs never going
    /// back and never past the current epoch? Checked before anything is appended, so a
    /// malformed response (peer or decoder bug) is refused instead of tripping an assertion.
    fn batches_extend_log(&self, batches: &[Batch<P>]) -> bool {
        let mut next = self.log.end_offset();
        let mut epoch = self.log.last_epoch();
        for b in batches {
            if b.base_offset != next || b.last_offset < b.base_offset || b.epoch < epoch {
                return false;
            }
            if b.epoch > self.epoch {
                return false;
            }
            next = b.last_offset + 1;
            epoch = b.epoch;
        }
        true
    }
}
