//! The driver contract and the single-message rules of the core, checked on one `Raft` driven
//! by hand: what it asks to persist and when, what waits for a flush, what it refuses.

use keel::raft::{
    Action, Batch, Boot, DirectoryId, Fill, Message, NodeId, ProposeError, RaftConfig, RaftError,
    ReplicaKey, RoleName,
};

type Raft = keel::raft::Raft<Vec<u8>>;

fn key(id: NodeId) -> ReplicaKey {
    ReplicaKey {
        id,
        directory_id: DirectoryId(1000 + u128::from(id)),
    }
}

fn three_voters(local: NodeId) -> RaftConfig {
    RaftConfig::new(key(local), vec![key(1), key(2), key(3)])
}

fn sends(actions: &[Action<Vec<u8>>]) -> Vec<&Message<Vec<u8>>> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send(e) => Some(&e.message),
            _ => None,
        })
        .collect()
}

/// Node 1 of three, elected leader of epoch 1 by hand at about t = 2 s, its epoch-start
/// record flushed.
fn leader() -> (Raft, u64) {
    let mut raft = Raft::new(three_voters(1), Boot::empty(), 5, 0);
    let mut now = raft.next_deadline_ms();
    let mut actions = raft.tick(now);
    for pre_vote in [true, false] {
        let correlation = sends(&actions)
            .iter()
            .find_map(|m| match m {
                Message::VoteRequest {
                    correlation,
                    pre_vote: p,
                    ..
                } if *p == pre_vote => Some(*correlation),
                _ => None,
            })
            .expect("vote requests");
        now += 1;
        actions = raft.receive(
            now,
            2,
            Message::VoteResponse {
                correlation,
                error: None,
                epoch: if pre_vote { 0 } else { 1 },
                leader: None,
                granted: true,
                pre_vote,
            },
        );
    }
    assert_eq!(raft.role(), RoleName::Leader);
    let flush = actions
        .iter()
        .find_map(|a| match a {
            Action::Flush { id, .. } => Some(*id),
            _ => None,
        })
        .expect("flush of the epoch-start record");
    now += 1;
    raft.flushed(now, flush);
    (raft, now)
}

fn fetch_request(
    replica: ReplicaKey,
    offset: u64,
    last_epoch: u32,
    max_wait_ms: u64,
) -> Message<Vec<u8>> {
    Message::FetchRequest {
        correlation: 77,
        replica,
        current_leader_epoch: 1,
        fetch_offset: offset,
        last_fetched_epoch: last_epoch,
        max_wait_ms,
        max_bytes: 1 << 20,
    }
}

#[test]
fn a_vote_is_persisted_before_the_answer_that_grants_it() {
    let mut raft = Raft::new(three_voters(2), Boot::empty(), 1, 0);
    let actions = raft.receive(
        5,
        1,
        Message::VoteRequest {
            correlation: 9,
            candidate_epoch: 1,
            candidate: key(1),
            voter: key(2),
            last_epoch: 0,
            last_offset: 0,
            pre_vote: false,
        },
    );
    let persist = actions
        .iter()
        .position(|a| matches!(a, Action::PersistElectionState(e) if e.epoch == 1 && e.voted_for == Some(key(1))))
        .expect("the vote is persisted");
    let answer = actions
        .iter()
        .position(|a| matches!(a, Action::Send(e) if matches!(e.message, Message::VoteResponse { granted: true, .. })))
        .expect("the vote is granted");
    assert!(persist < answer, "persist first: {actions:?}");
    // A second candidate in the same epoch is refused: one vote per epoch.
    let actions = raft.receive(
        6,
        3,
        Message::VoteRequest {
            correlation: 10,
            candidate_epoch: 1,
            candidate: key(3),
            voter: key(2),
            last_epoch: 5,
            last_offset: 100,
            pre_vote: false,
        },
    );
    assert!(matches!(
        sends(&actions)[..],
        [Message::VoteResponse { granted: false, .. }]
    ));
}

#[test]
fn a_vote_for_a_less_up_to_date_log_is_refused() {
    let boot = Boot {
        log_start_offset: 0,
        log_end_offset: 10,
        epochs: vec![(1, 0)],
        ..Boot::empty()
    };
    let mut boot = boot;
    boot.election.epoch = 1;
    let mut raft = Raft::new(three_voters(2), boot, 1, 0);
    let ask = |last_epoch, last_offset, correlation| Message::VoteRequest {
        correlation,
        candidate_epoch: 2,
        candidate: key(1),
        voter: key(2),
        last_epoch,
        last_offset,
        pre_vote: false,
    };
    let shorter = raft.receive(5, 1, ask(1, 9, 1));
    assert!(matches!(
        sends(&shorter)[..],
        [Message::VoteResponse { granted: false, .. }]
    ));
    let equal = raft.receive(6, 1, ask(1, 10, 2));
    assert!(matches!(
        sends(&equal)[..],
        [Message::VoteResponse { granted: true, .. }]
    ));
}

#[test]
fn a_voter_with_the_wrong_directory_id_neither_votes_nor_counts() {
    let mut raft = Raft::new(three_voters(2), Boot::empty(), 1, 0);
    let replaced_disk = ReplicaKey {
        id: 1,
        directory_id: DirectoryId(42),
    };
    let actions = raft.receive(
        5,
        1,
        Message::VoteRequest {
            correlation: 1,
            candidate_epoch: 1,
            candidate: replaced_disk,
            voter: key(2),
            last_epoch: 0,
            last_offset: 0,
            pre_vote: false,
        },
    );
    assert!(matches!(
        sends(&actions)[..],
        [Message::VoteResponse {
            granted: false,
            error: Some(RaftError::InvalidVoterKey),
            ..
        }]
    ));
    assert_eq!(raft.epoch(), 0, "nothing changed");

    // At the leader, its fetches are served (so it can catch up) but never counted.
    let (mut leader, now) = leader();
    leader.receive(
        now + 1,
        3,
        fetch_request(
            ReplicaKey {
                id: 3,
                directory_id: DirectoryId(42),
            },
            1,
            1,
            0,
        ),
    );
    assert_eq!(leader.high_watermark(), 0);
    leader.receive(now + 2, 3, fetch_request(key(3), 1, 1, 0));
    assert_eq!(leader.high_watermark(), 1);
}

#[test]
fn a_voting_follower_sends_its_next_fetch_only_after_flushing() {
    let mut raft = Raft::new(three_voters(2), Boot::empty(), 1, 0);
    let actions = raft.receive(
        5,
        1,
        Message::BeginQuorumEpochRequest {
            correlation: 1,
            epoch: 1,
            leader: 1,
            voter: key(2),
        },
    );
    let first_fetch = sends(&actions)
        .into_iter()
        .find_map(|m| match m {
            Message::FetchRequest { correlation, .. } => Some(*correlation),
            _ => None,
        })
        .expect("a follower fetches at once");
    let batch = Batch {
        base_offset: 0,
        last_offset: 2,
        epoch: 1,
        size_bytes: 24,
        payload: vec![0u8; 24],
    };
    let actions = raft.receive(
        10,
        1,
        Message::FetchResponse {
            correlation: first_fetch,
            error: None,
            epoch: 1,
            leader: Some(1),
            high_watermark: 0,
            log_start_offset: 0,
            diverging: None,
            snapshot: None,
            batches: vec![batch],
        },
    );
    let append = actions
        .iter()
        .position(|a| matches!(a, Action::AppendFetched { .. }));
    let flush = actions.iter().find_map(|a| match a {
        Action::Flush {
            id,
            up_to_offset: 3,
        } => Some(*id),
        _ => None,
    });
    let held = actions.iter().find_map(|a| match a {
        Action::SendAfterFlush { flush, envelope } => {
            assert!(matches!(
                envelope.message,
                Message::FetchRequest {
                    fetch_offset: 3,
                    ..
                }
            ));
            Some(*flush)
        }
        _ => None,
    });
    assert!(append.is_some());
    assert_eq!(
        held, flush,
        "the next fetch waits for the flush of what it reports"
    );
    assert!(!actions.iter().any(
        |a| matches!(a, Action::Send(e) if matches!(e.message, Message::FetchRequest { .. }))
    ));
}

#[test]
fn proposals_past_the_uncommitted_bound_get_backpressure() {
    let (mut raft, now) = leader();
    let mut accepted = 0u64;
    let result = loop {
        match raft.propose(now + 1, 10_000, 1_000, vec![0]) {
            Ok(_) => accepted += 10_000,
            Err(e) => break e,
        }
        assert!(accepted <= keel::constants::RAFT_MAX_UNCOMMITTED_RECORDS);
    };
    assert_eq!(result, ProposeError::Backpressure);
    assert!(accepted >= keel::constants::RAFT_MAX_UNCOMMITTED_RECORDS - 10_000);
    assert_eq!(
        raft.propose(now + 1, 1, keel::constants::BATCH_BYTES_MAX + 1, vec![0])
            .unwrap_err(),
        ProposeError::TooLarge
    );
    let mut follower = Raft::new(three_voters(2), Boot::empty(), 1, 0);
    assert_eq!(
        follower.propose(1, 1, 8, vec![0]).unwrap_err(),
        ProposeError::NotLeader { leader_hint: None }
    );
}

#[test]
fn a_fetch_with_nothing_new_is_parked_until_data_arrives() {
    let (mut raft, now) = leader();
    // This fetch commits the leader's first record: nothing new to send, but the follower
    // would not learn the new high watermark until the wait expired, so it is answered now.
    let actions = raft.receive(now + 1, 2, fetch_request(key(2), 1, 1, 500));
    assert_eq!(raft.high_watermark(), 1);
    let told = actions.iter().find_map(|a| match a {
        Action::Send(e) if e.to == 2 => match &e.message {
            Message::FetchResponse { high_watermark, .. } => Some(*high_watermark),
            _ => None,
        },
        _ => None,
    });
    assert_eq!(
        told,
        Some(1),
        "answered with the new high watermark: {actions:?}"
    );
    // Now it knows everything: the next fetch waits for data.
    let actions = raft.receive(now + 1, 2, fetch_request(key(2), 1, 1, 500));
    assert!(sends(&actions).is_empty(), "parked: {actions:?}");
    let p = raft.propose(now + 2, 2, 16, vec![0; 16]).expect("leader");
    let answer = p
        .actions
        .iter()
        .find_map(|a| match a {
            Action::Send(e) if e.to == 2 => Some(e.fill),
            _ => None,
        })
        .expect("the parked fetch is answered when data arrives");
    assert_eq!(
        answer,
        Some(Fill::Records {
            from_offset: 1,
            end_offset: 3,
            max_bytes: 1 << 20
        })
    );
    // With nothing arriving, a parked fetch is answered empty at its max wait (node 3's
    // first fetch is answered at once: it has not been told the high watermark yet).
    raft.receive(now + 3, 3, fetch_request(key(3), 3, 1, 500));
    let actions = raft.receive(now + 3, 3, fetch_request(key(3), 3, 1, 500));
    assert!(sends(&actions).is_empty(), "parked: {actions:?}");
    assert!(raft.next_deadline_ms() <= now + 3 + 500);
    let actions = raft.tick(now + 3 + 500);
    assert!(
        actions
            .iter()
            .any(|a| matches!(a, Action::Send(e) if e.to == 3 && e.fill.is_none()))
    );
}

#[test]
fn begin_quorum_epoch_is_resent_until_acknowledged() {
    let (mut raft, now) = leader();
    let resend = keel::constants::RAFT_BEGIN_QUORUM_EPOCH_RESEND_MS;
    let begins = |actions: &[Action<Vec<u8>>]| -> Vec<NodeId> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Send(e) if matches!(e.message, Message::BeginQuorumEpochRequest { .. }) => {
                    Some(e.to)
                }
                _ => None,
            })
            .collect()
    };
    // Node 2 acknowledges by fetching; node 3 never answers.
    raft.receive(now + 1, 2, fetch_request(key(2), 1, 1, 0));
    let again = raft.tick(now + resend);
    assert_eq!(begins(&again), vec![3]);
}

#[test]
fn the_leader_answers_divergence_and_snapshots_by_offset_and_epoch() {
    let (mut raft, now) = leader();
    raft.propose(now + 1, 4, 32, vec![0; 32]).unwrap();
    // A follower with records from an epoch this log never had at offset 3.
    let mut actions = raft.receive(now + 2, 2, fetch_request(key(2), 3, 0, 0));
    assert!(matches!(
        sends(&actions)[..],
        [Message::FetchResponse { diverging: Some(d), .. }] if d.offset == 0 && d.epoch == 0
    ));
    // Commit everything, snapshot it, and a fetcher from offset 0 is sent to the snapshot.
    // (No follower kept up when the records were proposed, so the leader's own flush was on
    // the commit path and came at once rather than after the linger.)
    actions.extend(raft.receive(now + 3, 2, fetch_request(key(2), 5, 1, 0)));
    actions.extend(raft.tick(now + 100));
    let flush = actions
        .iter()
        .find_map(|a| match a {
            Action::Flush { id, .. } => Some(*id),
            _ => None,
        })
        .expect("the leader's flush");
    raft.flushed(now + 101, flush);
    assert_eq!(raft.high_watermark(), 5);
    let snap = keel::raft::SnapshotId {
        end_offset: 5,
        epoch: 1,
    };
    let actions = raft.snapshot_written(now + 102, snap);
    assert!(actions.contains(&Action::DeleteLogPrefix { before_offset: 5 }));
    let actions = raft.receive(now + 103, 3, fetch_request(key(3), 0, 0, 0));
    assert!(matches!(
        sends(&actions)[..],
        [Message::FetchResponse { snapshot: Some(s), .. }] if *s == snap
    ));
}

#[test]
fn a_prospective_ignores_pre_vote_answers_naming_the_leader_it_gave_up_on() {
    // Regression (seed 0x910a2dec89025cc1): node 2 follows leader 1, whose fetches stop.
    let mut raft = Raft::new(three_voters(2), Boot::empty(), 1, 0);
    raft.receive(
        5,
        1,
        Message::BeginQuorumEpochRequest {
            correlation: 1,
            epoch: 1,
            leader: 1,
            voter: key(2),
        },
    );
    // Its fetches go unanswered; it resends them, then gives up on the leader.
    let mut actions = Vec::new();
    while raft.role() == RoleName::Follower {
        actions = raft.tick(raft.next_deadline_ms());
    }
    assert_eq!(raft.role(), RoleName::Prospective);
    let correlation = sends(&actions)
        .iter()
        .find_map(|m| match m {
            Message::VoteRequest { correlation, .. } => Some(*correlation),
            _ => None,
        })
        .unwrap();
    // Node 3 still names leader 1 (it has not timed out yet) but grants: that is not news.
    let now = raft.next_deadline_ms();
    raft.receive(
        now,
        3,
        Message::VoteResponse {
            correlation,
            error: None,
            epoch: 1,
            leader: Some(1),
            granted: true,
            pre_vote: true,
        },
    );
    assert_eq!(
        raft.role(),
        RoleName::Candidate,
        "the pre-vote majority counts"
    );
    assert_eq!(raft.epoch(), 2);
}

#[test]
fn an_abstaining_voter_neither_votes_nor_campaigns_until_it_has_refetched() {
    // Regression (seed 0x6f267eff33b08c09): recovery cut a corrupt log at 3 of 10 records.
    let mut boot = Boot {
        log_start_offset: 0,
        log_end_offset: 3,
        epochs: vec![(1, 0)],
        ..Boot::empty()
    };
    boot.election.epoch = 1;
    boot.election.abstain_until_offset = Some(10);
    let mut raft = Raft::new(three_voters(2), boot, 1, 0);
    assert!(raft.status().abstaining);
    let actions = raft.receive(
        5,
        1,
        Message::VoteRequest {
            correlation: 1,
            candidate_epoch: 2,
            candidate: key(1),
            voter: key(2),
            last_epoch: 1,
            last_offset: 3,
            pre_vote: false,
        },
    );
    assert!(
        sends(&actions)
            .iter()
            .any(|m| matches!(m, Message::VoteResponse { granted: false, .. }))
    );
    for t in (100..20_000).step_by(100) {
        for a in raft.tick(t) {
            if let Action::Send(e) = a {
                assert!(
                    !matches!(e.message, Message::VoteRequest { .. }),
                    "it campaigned"
                );
            }
        }
    }
    // It follows the new leader and re-fetches past offset 10; then it may vote again, and
    // says so durably.
    let actions = raft.receive(
        20_000,
        1,
        Message::BeginQuorumEpochRequest {
            correlation: 2,
            epoch: 2,
            leader: 1,
            voter: key(2),
        },
    );
    let correlation = sends(&actions)
        .iter()
        .find_map(|m| match m {
            Message::FetchRequest {
                correlation,
                fetch_offset: 3,
                ..
            } => Some(*correlation),
            _ => None,
        })
        .expect("fetches from its log end");
    let batch = Batch {
        base_offset: 3,
        last_offset: 10,
        epoch: 2,
        size_bytes: 64,
        payload: vec![0; 64],
    };
    let actions = raft.receive(
        20_010,
        1,
        Message::FetchResponse {
            correlation,
            error: None,
            epoch: 2,
            leader: Some(1),
            high_watermark: 11,
            log_start_offset: 0,
            diverging: None,
            snapshot: None,
            batches: vec![batch],
        },
    );
    let flush = actions
        .iter()
        .find_map(|a| match a {
            Action::Flush { id, .. } => Some(*id),
            _ => None,
        })
        .unwrap();
    assert!(
        raft.status().abstaining,
        "not before the records are durable"
    );
    let actions = raft.flushed(20_020, flush);
    assert!(!raft.status().abstaining);
    assert!(
        actions.iter().any(
            |a| matches!(a, Action::PersistElectionState(e) if e.abstain_until_offset.is_none())
        )
    );
}

#[test]
fn a_response_addressed_to_an_earlier_run_of_the_node_matches_nothing() {
    // Found by the broken-variant search: a FetchResponse delayed across a restart carried a
    // correlation the restarted node had just reused, and was taken as the answer to its new
    // fetch. Each run now starts its correlations at a point drawn from its seed.
    let boot = || {
        let mut b = Boot::empty();
        b.election.epoch = 1;
        b.election.leader = Some(1);
        b
    };
    let first_fetch = |raft: &mut Raft| {
        let actions = raft.tick(10);
        sends(&actions)
            .iter()
            .find_map(|m| match m {
                Message::FetchRequest { correlation, .. } => Some(*correlation),
                _ => None,
            })
            .expect("a follower fetches")
    };
    let mut before = Raft::new(three_voters(2), boot(), 1, 0);
    let mut after = Raft::new(three_voters(2), boot(), 2, 0);
    let old = first_fetch(&mut before);
    let new = first_fetch(&mut after);
    assert_ne!(old, new);
    let actions = after.receive(
        20,
        1,
        Message::FetchResponse {
            correlation: old,
            error: None,
            epoch: 1,
            leader: Some(1),
            high_watermark: 0,
            log_start_offset: 0,
            diverging: Some(keel::raft::OffsetAndEpoch {
                offset: 0,
                epoch: 0,
            }),
            snapshot: None,
            batches: Vec::new(),
        },
    );
    assert!(
        !actions.iter().any(|a| matches!(a, Action::Truncate { .. })),
        "{actions:?}"
    );
}

#[test]
fn a_fetch_response_that_does_not_continue_the_log_is_refused_not_fatal() {
    let mut raft = Raft::new(three_voters(2), Boot::empty(), 1, 0);
    let actions = raft.receive(
        5,
        1,
        Message::BeginQuorumEpochRequest {
            correlation: 1,
            epoch: 1,
            leader: 1,
            voter: key(2),
        },
    );
    let fetch_correlation = |actions: &[Action<Vec<u8>>]| {
        sends(actions).iter().find_map(|m| match m {
            Message::FetchRequest {
                correlation,
                fetch_offset: 0,
                ..
            } => Some(*correlation),
            _ => None,
        })
    };
    let mut correlation = fetch_correlation(&actions).expect("a follower fetches");
    let mut now = 10;
    let batch = |base, last, epoch| Batch {
        base_offset: base,
        last_offset: last,
        epoch,
        size_bytes: 8,
        payload: vec![0u8; 8],
    };
    // Overlapping batches, and a batch from an epoch this node has never heard of.
    for batches in [vec![batch(0, 3, 1), batch(2, 4, 1)], vec![batch(0, 0, 7)]] {
        let actions = raft.receive(
            now,
            1,
            Message::FetchResponse {
                correlation,
                error: None,
                epoch: 1,
                leader: Some(1),
                high_watermark: 3,
                log_start_offset: 0,
                diverging: None,
                snapshot: None,
                batches,
            },
        );
        assert!(
            !actions
                .iter()
                .any(|a| matches!(a, Action::AppendFetched { .. } | Action::Commit { .. }))
        );
        assert_eq!(raft.status().log_end_offset, 0);
        // It fetches again (after the retry backoff) from where it was.
        now = raft.next_deadline_ms();
        let again = raft.tick(now);
        correlation = fetch_correlation(&again).expect("refetches from offset 0");
    }
}
