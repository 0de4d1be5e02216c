//! A voter never stays out of the quorum, and a stranger's packet costs at most one election
//! (`raft/election.rs`, "Staying in the quorum"). Cluster scenarios in the simulator's scripted
//! mode, with every checker on after every event; the rules about single messages drive one
//! `Raft` directly.

#![cfg(feature = "sim")]

use keel::constants::{RAFT_BEGIN_QUORUM_EPOCH_RESEND_MS, RAFT_ELECTION_TIMEOUT_MS};
use keel::raft::{
    Action, Boot, DirectoryId, Message, NodeId, RaftConfig, RaftError, ReplicaKey, RoleName,
};
use keel::sim::Simulation;

type Raft = keel::raft::Raft<Vec<u8>>;

/// A three-voter cluster with its client on, settled under one leader: (sim, leader, the two
/// followers).
fn settled(seed: u64) -> (Simulation, NodeId, [NodeId; 2]) {
    let mut sim = Simulation::scripted(3, 0, seed);
    sim.start();
    sim.set_client(true);
    let l = sim.run_until_elected();
    sim.run_for(2_000).unwrap();
    let f: Vec<NodeId> = (1..=3).filter(|&id| id != l).collect();
    (sim, l, [f[0], f[1]])
}

fn vote(sim: &Simulation, candidate: NodeId, voter: NodeId, epoch: u32) -> Message<Vec<u8>> {
    Message::VoteRequest {
        correlation: 0,
        candidate_epoch: epoch,
        candidate: sim.key(candidate),
        voter: sim.key(voter),
        last_epoch: epoch,
        last_offset: 1 << 30,
        pre_vote: false,
    }
}

fn begin(sim: &Simulation, leader: NodeId, voter: NodeId, epoch: u32) -> Message<Vec<u8>> {
    Message::BeginQuorumEpochRequest {
        correlation: 0,
        epoch,
        leader,
        voter: sim.key(voter),
    }
}

fn end(leader: NodeId, epoch: u32) -> Message<Vec<u8>> {
    Message::EndQuorumEpochRequest {
        correlation: 0,
        epoch,
        leader,
        preferred_successors: Vec::new(),
    }
}

/// Every running voter follows one leader in one epoch: Some((leader, epoch)).
fn one_quorum(sim: &Simulation) -> Option<(NodeId, u32)> {
    let l = sim.leader()?;
    let epoch = sim.raft(l).epoch();
    (1..=3)
        .all(|id| {
            let r = sim.raft(id);
            r.epoch() == epoch && (id == l || r.leader() == Some(l))
        })
        .then_some((l, epoch))
}

/// Runs until every voter follows one leader in one epoch; returns how long that took.
fn time_to_one_quorum(sim: &mut Simulation, within_ms: u64) -> u64 {
    let from = sim.now_ms();
    while one_quorum(sim).is_none() {
        sim.run_for(5).unwrap();
        assert!(
            sim.now_ms() < from + within_ms,
            "voters still apart after {within_ms} ms: {:?}",
            (1..=3)
                .map(|id| (id, sim.raft(id).role(), sim.raft(id).epoch()))
                .collect::<Vec<_>>()
        );
    }
    sim.now_ms() - from
}

#[test]
fn a_strangers_messages_far_ahead_change_nothing_where_a_live_leader_is_known() {
    let (mut sim, l, [f, g]) = settled(41);
    let epoch = sim.raft(l).epoch();
    let elections = sim.stats.elections;
    let acked = sim.stats.acked;
    // A Vote for the other follower, 1000 epochs ahead, with a log far ahead, to a follower
    // and to the leader; a BeginQuorumEpoch naming the other follower; an EndQuorumEpoch.
    let messages = [
        (g, f, vote(&sim, g, f, epoch + 1_000)),
        (g, l, vote(&sim, g, l, epoch + 1_000)),
        (g, f, begin(&sim, g, f, epoch + 1_000)),
        (l, f, begin(&sim, l, f, epoch + 1_000)),
        (g, f, end(g, epoch + 1_000)),
        (g, l, end(g, epoch + 1_000)),
    ];
    for (claimed, to, message) in messages {
        sim.stranger_sends(claimed, to, message);
        sim.run_for(200).unwrap();
    }
    sim.run_for(3_000).unwrap();
    assert_eq!(one_quorum(&sim), Some((l, epoch)), "nothing moved");
    assert_eq!(sim.stats.elections, elections, "no election");
    assert!(sim.stats.acked > acked, "the client kept committing");
}

#[test]
fn a_voter_pushed_far_ahead_is_back_following_the_leader_within_two_election_timeouts() {
    let (mut sim, l, [f, g]) = settled(42);
    let epoch = sim.raft(l).epoch();
    // A restarted follower has not heard from its leader yet, so it is not sticky: a stranger's
    // Vote 1000 epochs ahead moves it there (and it grants it).
    sim.crash(f);
    sim.run_for(100).unwrap();
    sim.restart(f);
    sim.stranger_sends(g, f, vote(&sim, g, f, epoch + 1_000));
    sim.run_for(2).unwrap();
    assert_eq!(sim.raft(f).epoch(), epoch + 1_000);
    let elections = sim.stats.elections;
    let took = time_to_one_quorum(&mut sim, 2 * RAFT_ELECTION_TIMEOUT_MS);
    let (leader, now_epoch) = one_quorum(&sim).unwrap();
    assert!(now_epoch > epoch + 1_000, "the quorum moved past it");
    assert_eq!(leader, l, "the leader that probed it stood first and won");
    assert_eq!(sim.stats.elections, elections + 1, "it cost one election");
    // Silent for one probe period, then one election of a few round trips.
    assert!(
        took <= RAFT_BEGIN_QUORUM_EPOCH_RESEND_MS + 200,
        "took {took} ms"
    );
    let acked = sim.stats.acked;
    sim.run_for(1_000).unwrap();
    assert!(sim.stats.acked > acked, "and the quorum commits");
    assert_eq!(
        sim.raft(f).status().log_end_offset,
        sim.raft(l).status().log_end_offset
    );
}

#[test]
fn a_voter_misled_about_the_leader_forgets_it_and_rejoins() {
    let (mut sim, l, [f, g]) = settled(43);
    let epoch = sim.raft(l).epoch();
    // A BeginQuorumEpoch naming the other follower as leader of a later epoch, to a follower
    // that is not sticky yet: it follows a node that leads nothing.
    sim.crash(f);
    sim.run_for(100).unwrap();
    sim.restart(f);
    sim.stranger_sends(g, f, begin(&sim, g, f, epoch + 5));
    sim.run_for(2).unwrap();
    assert_eq!(sim.raft(f).role(), RoleName::Follower);
    assert_eq!(sim.raft(f).leader(), Some(g));
    // Its fetch to that node is answered from an older epoch: it forgets it, is probed, and
    // the quorum moves past its epoch.
    sim.run_for(20).unwrap();
    assert_eq!(sim.raft(f).role(), RoleName::Unattached);
    assert_eq!(sim.raft(f).epoch(), epoch + 5, "its epoch never goes back");
    time_to_one_quorum(&mut sim, 2 * RAFT_ELECTION_TIMEOUT_MS);
    assert!(one_quorum(&sim).unwrap().1 > epoch + 5);
}

#[test]
fn a_voter_that_granted_a_candidate_that_then_crashed_rejoins() {
    // Five voters; the leader keeps a majority while one voter has granted its vote in the
    // next epoch to a candidate that crashed before anyone else heard of that epoch.
    let mut sim = Simulation::scripted(5, 0, 44);
    sim.start();
    sim.set_client(true);
    let l = sim.run_until_elected();
    sim.run_for(2_000).unwrap();
    let others: Vec<NodeId> = (1..=5).filter(|&id| id != l).collect();
    let (voter, candidate) = (others[0], others[1]);
    let epoch = sim.raft(l).epoch();
    // The voter loses its leader for longer than the fetch timeout (so it grants votes), then
    // the candidate's Vote reaches it, and the candidate is gone.
    sim.block(l, voter);
    sim.run_for(2_500).unwrap();
    sim.crash(candidate);
    sim.stranger_sends(candidate, voter, vote(&sim, candidate, voter, epoch + 1));
    sim.run_for(5).unwrap();
    assert_eq!(sim.raft(voter).epoch(), epoch + 1);
    assert_eq!(sim.raft(voter).status().voted_for, Some(sim.key(candidate)));
    sim.heal();
    assert_eq!(sim.leader(), Some(l), "the leader kept its majority");
    let from = sim.now_ms();
    loop {
        sim.run_for(5).unwrap();
        assert!(sim.now_ms() < from + 2 * RAFT_ELECTION_TIMEOUT_MS);
        let Some(leader) = sim.leader() else {
            continue;
        };
        let e = sim.raft(leader).epoch();
        let all = others
            .iter()
            .filter(|&&id| id != candidate)
            .all(|&id| sim.raft(id).epoch() == e && sim.raft(id).leader() == Some(leader));
        if all {
            assert!(e > epoch + 1);
            break;
        }
    }
}

fn key(id: NodeId) -> ReplicaKey {
    ReplicaKey {
        id,
        directory_id: DirectoryId(1000 + u128::from(id)),
    }
}

fn answers(actions: &[Action<Vec<u8>>]) -> Vec<&Message<Vec<u8>>> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send(e) => Some(&e.message),
            _ => None,
        })
        .collect()
}

#[test]
fn a_begin_quorum_epoch_naming_a_leader_that_is_no_voter_is_refused() {
    let voters = vec![key(1), key(2), key(3)];
    let mut raft = Raft::new(RaftConfig::new(key(1), voters), Boot::empty(), 7, 0);
    let actions = raft.receive(
        10,
        99,
        Message::BeginQuorumEpochRequest {
            correlation: 5,
            epoch: 3,
            leader: 99,
            voter: key(1),
        },
    );
    assert_eq!(raft.epoch(), 0);
    assert_eq!(raft.role(), RoleName::Unattached);
    assert!(matches!(
        answers(&actions).as_slice(),
        [Message::BeginQuorumEpochResponse {
            error: Some(RaftError::InvalidVoterKey),
            ..
        }]
    ));
    assert!(
        !actions
            .iter()
            .any(|a| matches!(a, Action::PersistElectionState(_)))
    );
}

#[test]
fn a_second_leader_claimed_for_a_known_epoch_is_refused_not_asserted_on() {
    let voters = vec![key(1), key(2), key(3)];
    let mut raft = Raft::new(RaftConfig::new(key(1), voters), Boot::empty(), 7, 0);
    let begin = |leader| Message::BeginQuorumEpochRequest {
        correlation: 5,
        epoch: 2,
        leader,
        voter: key(1),
    };
    raft.receive(10, 2, begin(2));
    assert_eq!((raft.role(), raft.leader()), (RoleName::Follower, Some(2)));
    let actions = raft.receive(20, 3, begin(3));
    assert_eq!((raft.role(), raft.leader()), (RoleName::Follower, Some(2)));
    assert!(matches!(
        answers(&actions).as_slice(),
        [Message::BeginQuorumEpochResponse {
            error: Some(RaftError::InvalidVoterKey),
            leader: Some(2),
            ..
        }]
    ));
}

#[test]
fn a_follower_that_gave_up_on_its_leader_takes_another_voters_claim_for_the_epoch() {
    let voters = vec![key(1), key(2), key(3)];
    let mut raft = Raft::new(RaftConfig::new(key(1), voters), Boot::empty(), 7, 0);
    let begin = |leader| Message::BeginQuorumEpochRequest {
        correlation: 5,
        epoch: 2,
        leader,
        voter: key(1),
    };
    raft.receive(10, 2, begin(2));
    // Its connection to 2 is refused: 2 may have stopped for good, and a claim that named it
    // (a stranger's) would otherwise keep this follower away from the real leader forever.
    raft.peer_unreachable(11, 2);
    assert_eq!((raft.role(), raft.leader()), (RoleName::Follower, Some(2)));
    let actions = raft.receive(12, 3, begin(3));
    assert_eq!((raft.role(), raft.leader()), (RoleName::Follower, Some(3)));
    assert!(
        answers(&actions).iter().any(|m| matches!(
            m,
            Message::BeginQuorumEpochResponse {
                error: None,
                leader: Some(3),
                ..
            }
        )),
        "the claim is acknowledged"
    );
    assert_eq!(raft.epoch(), 2, "no epoch moved");
}

/// The correlation of the (pre-)vote requests among `actions`.
fn vote_correlation(actions: &[Action<Vec<u8>>]) -> u64 {
    actions
        .iter()
        .find_map(|a| match a {
            Action::Send(e) => match &e.message {
                Message::VoteRequest { correlation, .. } => Some(*correlation),
                _ => None,
            },
            _ => None,
        })
        .expect("vote requests sent")
}

/// Runs `raft` (voter 1 of 3) through a pre-vote and a vote granted by voter 2: it leads.
fn elect(raft: &mut Raft) -> u32 {
    let mut now = 0;
    let mut actions = Vec::new();
    while raft.role() != RoleName::Prospective {
        now += 10;
        actions = raft.tick(now);
        assert!(now < 10 * RAFT_ELECTION_TIMEOUT_MS, "no pre-vote started");
    }
    for pre_vote in [true, false] {
        let granted = Message::VoteResponse {
            correlation: vote_correlation(&actions),
            error: None,
            epoch: raft.epoch(),
            leader: None,
            granted: true,
            pre_vote,
        };
        now += 1;
        actions = raft.receive(now, 2, granted);
    }
    assert_eq!(raft.role(), RoleName::Leader);
    raft.epoch()
}

#[test]
fn a_node_that_led_an_epoch_never_follows_another_leader_of_it() {
    let voters = vec![key(1), key(2), key(3)];
    let mut raft = Raft::new(RaftConfig::new(key(1), voters), Boot::empty(), 7, 0);
    let epoch = elect(&mut raft);
    let mut now = 100_000;
    raft.resign(now);
    // Resigned, it stands again once its election timeout passes.
    let mut actions = Vec::new();
    while raft.role() != RoleName::Prospective {
        now += 10;
        actions = raft.tick(now);
        assert!(now < 200_000, "no pre-vote started after resigning");
    }
    assert_eq!(raft.epoch(), epoch);
    // A peer that believed a stranger's claim passes it on: "3 leads your epoch".
    let misled = Message::VoteResponse {
        correlation: vote_correlation(&actions),
        error: None,
        epoch,
        leader: Some(3),
        granted: false,
        pre_vote: true,
    };
    raft.receive(now + 1, 2, misled);
    assert_ne!(raft.leader(), Some(3), "it led epoch {epoch}: 3 did not");
    let claim = Message::BeginQuorumEpochRequest {
        correlation: 5,
        epoch,
        leader: 3,
        voter: key(1),
    };
    let actions = raft.receive(now + 2, 3, claim);
    assert_ne!(raft.leader(), Some(3), "still: it led epoch {epoch}");
    assert!(matches!(
        answers(&actions).as_slice(),
        [Message::BeginQuorumEpochResponse {
            error: Some(RaftError::InvalidVoterKey),
            ..
        }]
    ));
}
