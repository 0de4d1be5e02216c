//! One test per Raft/KRaft claim, each reading like the scenario it checks. Cluster scenarios
//! run in the simulator's scripted mode (fault-free network and disk, every checker still on
//! after every event); claims about single messages drive one `Raft` directly.

#![cfg(feature = "sim")]

use keel::raft::{
    Action, Boot, DirectoryId, ElectionState, Message, NodeId, RaftConfig, RaftError, ReplicaKey,
    RoleName,
};
use keel::sim::Simulation;

type Raft = keel::raft::Raft<Vec<u8>>;

fn key(id: NodeId) -> ReplicaKey {
    ReplicaKey {
        id,
        directory_id: DirectoryId(1000 + u128::from(id)),
    }
}

#[test]
fn a_follower_that_missed_two_epochs_truncates_to_the_diverging_offset() {
    let mut sim = Simulation::scripted(3, 0, 11);
    sim.start();
    let a = sim.run_until_elected();
    for _ in 0..5 {
        sim.propose(a, 2).expect("leader accepts");
    }
    sim.run_for(500).unwrap();
    let common_end = sim.raft(a).status().log_end_offset;
    let a_epoch = sim.raft(a).epoch();

    // The old leader is cut off and keeps writing records nobody else will ever have.
    sim.isolate(a);
    for _ in 0..3 {
        sim.propose(a, 3).expect("still thinks it leads");
    }
    assert!(sim.raft(a).status().log_end_offset > common_end);

    // Two epochs pass without it: one leader elected, then a graceful hand-over to the next.
    sim.run_for(6_000).unwrap();
    let b = sim.leader().expect("the majority elects a leader");
    assert_ne!(b, a);
    // One election, or more after a split vote: either way past the old leader's epoch.
    let b_epoch = sim.raft(b).epoch();
    assert!(b_epoch > a_epoch);
    sim.propose(b, 2).unwrap();
    sim.run_for(500).unwrap();
    sim.resign(b);
    sim.run_for(5_000).unwrap();
    let c = sim.leader().expect("a leader after the hand-over");
    assert!(sim.raft(c).epoch() > b_epoch);
    assert_eq!(
        sim.raft(a).epoch(),
        a_epoch,
        "pre-vote kept the isolated node's epoch"
    );

    // It comes back: the leader says its epoch ended at `common_end`; it cuts there and
    // catches up.
    sim.heal();
    sim.run_for(3_000).unwrap();
    assert!(
        sim.truncations().contains(&(a, common_end)),
        "truncations: {:?}, expected ({a}, {common_end})",
        sim.truncations()
    );
    assert_eq!(sim.raft(a).role(), RoleName::Follower);
    assert_eq!(sim.log_batches(a), sim.log_batches(c));
}

#[test]
fn a_partitioned_leader_resigns_after_check_quorum() {
    let mut sim = Simulation::scripted(3, 0, 12);
    sim.start();
    let l = sim.run_until_elected();
    sim.run_for(2_000).unwrap();
    let cut_at = sim.now_ms();
    sim.isolate(l);
    // Followers fetch every few ms, so the last majority contact was moments before the cut:
    // the leader holds on for most of 1.5 x fetch timeout (3 s), then gives up.
    sim.run_until(cut_at + 2_000).unwrap();
    assert_eq!(sim.raft(l).role(), RoleName::Leader);
    sim.run_until(cut_at + 3_100).unwrap();
    assert_eq!(sim.raft(l).role(), RoleName::Resigned);
}

#[test]
fn a_partitioned_minority_node_does_not_disrupt_the_quorum_when_it_returns() {
    let mut sim = Simulation::scripted(3, 0, 13);
    sim.start();
    sim.set_client(true);
    let l = sim.run_until_elected();
    sim.run_for(1_000).unwrap();
    let epoch = sim.raft(l).epoch();
    let f = (1..=3).find(|&id| id != l).unwrap();

    sim.isolate(f);
    for _ in 0..100 {
        sim.run_for(100).unwrap();
        // Its pre-votes fail, so it never bumps its epoch however long it is away.
        assert_eq!(sim.raft(f).epoch(), epoch);
    }
    let acked_before = sim.stats.acked;
    sim.heal();
    sim.run_for(3_000).unwrap();
    assert_eq!(sim.leader(), Some(l), "the leader was not disturbed");
    for id in 1..=3 {
        assert_eq!(sim.raft(id).epoch(), epoch);
    }
    assert_eq!(sim.raft(f).role(), RoleName::Follower);
    assert_eq!(sim.raft(f).leader(), Some(l));
    assert!(sim.stats.acked > acked_before, "the client kept committing");
}

#[test]
fn an_observer_never_votes() {
    let voters = vec![key(1), key(2), key(3)];
    let mut obs = Raft::new(RaftConfig::new(key(101), voters), Boot::empty(), 7, 0);
    let actions = obs.receive(
        10,
        1,
        Message::VoteRequest {
            correlation: 1,
            candidate_epoch: 1,
            candidate: key(1),
            voter: key(101),
            last_epoch: 0,
            last_offset: 0,
            pre_vote: false,
        },
    );
    assert!(
        !actions
            .iter()
            .any(|a| matches!(a, Action::PersistElectionState(_)))
    );
    let answers: Vec<_> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Send(e) if e.to == 1 && matches!(e.message, Message::VoteResponse { .. }) => {
                Some(&e.message)
            }
            _ => None,
        })
        .collect();
    assert!(matches!(
        answers.as_slice(),
        [Message::VoteResponse {
            granted: false,
            error: Some(RaftError::InvalidVoterKey),
            ..
        }]
    ));
    // However long it hears nothing, it only ever asks voters who leads; it never campaigns.
    for t in (1_000..60_000).step_by(500) {
        for a in obs.tick(t) {
            if let Action::Send(e) = a {
                assert!(
                    matches!(e.message, Message::FetchRequest { .. }),
                    "{:?}",
                    e.message
                );
            }
        }
        assert!(matches!(
            obs.role(),
            RoleName::Unattached | RoleName::Follower
        ));
    }

    // In a cluster whose leaders keep crashing, observers follow each new leader and never
    // hold a vote (the simulator also checks their role after every event).
    let mut sim = Simulation::scripted(3, 2, 14);
    sim.start();
    sim.set_client(true);
    for _ in 0..4 {
        let l = sim.run_until_elected();
        sim.run_for(1_000).unwrap();
        sim.crash(l);
        sim.run_for(6_000).unwrap();
        sim.restart(l);
    }
    sim.run_for(3_000).unwrap();
    let l = sim.run_until_elected();
    for o in [101, 102] {
        let s = sim.raft(o).status();
        assert_eq!(s.voted_for, None);
        assert_eq!(s.role, RoleName::Follower);
        assert_eq!(s.leader, Some(l));
    }
}

#[test]
fn a_fetcher_behind_the_log_start_installs_the_snapshot() {
    let mut sim = Simulation::scripted(3, 1, 15);
    sim.set_snapshot_every(20);
    sim.start();
    let l = sim.run_until_elected();
    let f = (1..=3).find(|&id| id != l).unwrap();
    sim.isolate(f);
    sim.isolate(101);
    for _ in 0..60 {
        sim.propose(l, 3).unwrap();
        sim.run_for(20).unwrap();
    }
    sim.run_for(500).unwrap();
    let leader_start = sim.raft(l).status().log_start_offset;
    assert!(
        leader_start > sim.raft(f).status().log_end_offset,
        "the follower is behind the log start"
    );
    sim.heal();
    sim.run_for(3_000).unwrap();
    assert!(
        sim.stats.snapshots_installed >= 2,
        "voter and observer both installed one"
    );
    for n in [f, 101] {
        let s = sim.raft(n).status();
        assert!(sim.snapshot_of(n).is_some());
        assert_eq!(s.log_end_offset, sim.raft(l).status().log_end_offset);
        assert_eq!(s.high_watermark, sim.raft(l).high_watermark());
    }
}

/// Drives a lone `Raft` to leadership of epoch 2 over a log of ten epoch-1 records, by hand.
fn leader_over_old_records(bug: keel::raft::BugInjection) -> Raft {
    let voters = vec![key(1), key(2), key(3)];
    let mut config = RaftConfig::new(key(1), voters);
    config.bug = bug;
    let boot = Boot {
        election: ElectionState {
            epoch: 1,
            ..ElectionState::default()
        },
        log_start_offset: 0,
        log_end_offset: 10,
        epochs: vec![(1, 0)],
        snapshot: None,
    };
    let mut raft = Raft::new(config, boot, 3, 0);
    let mut now = raft.next_deadline_ms();
    let mut actions = raft.tick(now);
    assert_eq!(raft.role(), RoleName::Prospective);
    for round in [true, false] {
        let correlation = actions
            .iter()
            .find_map(|a| match a {
                Action::Send(e) => match e.message {
                    Message::VoteRequest {
                        correlation,
                        pre_vote,
                        ..
                    } if pre_vote == round => Some(correlation),
                    _ => None,
                },
                _ => None,
            })
            .expect("a vote request went out");
        now += 1;
        actions = raft.receive(
            now,
            2,
            Message::VoteResponse {
                correlation,
                error: None,
                epoch: if round { 1 } else { 2 },
                leader: None,
                granted: true,
                pre_vote: round,
            },
        );
    }
    assert_eq!(raft.role(), RoleName::Leader);
    assert_eq!(raft.epoch(), 2);
    // The epoch-start record goes at offset 10; the leader flushes it.
    let flush = actions
        .iter()
        .find_map(|a| match a {
            Action::Flush { id, up_to_offset } => {
                assert_eq!(*up_to_offset, 11);
                Some(*id)
            }
            _ => None,
        })
        .expect("the epoch-start record is flushed at once");
    raft.flushed(now + 1, flush);
    raft
}

fn fetch(raft: &mut Raft, now: u64, offset: u64, last_epoch: u32) -> Vec<Action<Vec<u8>>> {
    raft.receive(
        now,
        2,
        Message::FetchRequest {
            correlation: now,
            replica: key(2),
            current_leader_epoch: 2,
            fetch_offset: offset,
            last_fetched_epoch: last_epoch,
            max_wait_ms: 0,
            max_bytes: 1 << 20,
        },
    )
}

#[test]
fn a_leader_does_not_advance_the_high_watermark_before_its_epoch_start_record_is_replicated() {
    let mut raft = leader_over_old_records(keel::raft::BugInjection::None);
    // Node 2 has all ten old records but not the epoch-start record: together with the leader
    // that is a majority holding offsets 0..10, and still nothing may commit.
    let actions = fetch(&mut raft, 3_000, 10, 1);
    assert_eq!(raft.high_watermark(), 0);
    assert!(!actions.iter().any(|a| matches!(a, Action::Commit { .. })));
    // Once node 2 holds the epoch-start record too, everything up to it commits.
    let actions = fetch(&mut raft, 3_001, 11, 2);
    assert_eq!(raft.high_watermark(), 11);
    assert!(actions.contains(&Action::Commit { high_watermark: 11 }));

    // The deliberately broken variant commits the old records early (what the simulator's
    // checkers must catch, see tests/sim_broken_variants.rs).
    let mut broken =
        leader_over_old_records(keel::raft::BugInjection::HighWatermarkBeforeEpochStart);
    fetch(&mut broken, 3_000, 10, 1);
    assert_eq!(broken.high_watermark(), 10);
}

#[test]
fn a_resigning_leader_hands_over_to_its_preferred_successor_without_waiting_for_timeouts() {
    let mut sim = Simulation::scripted(3, 0, 16);
    sim.start();
    sim.set_client(true);
    let l = sim.run_until_elected();
    sim.run_for(1_000).unwrap();
    let epoch = sim.raft(l).epoch();
    let resigned_at = sim.now_ms();
    sim.resign(l);
    assert_eq!(sim.raft(l).role(), RoleName::Resigned);
    // EndQuorumEpoch names the successors; the first starts its election after a short
    // backoff instead of the 2 s fetch timeout.
    while sim.leader().is_none_or(|x| x == l) {
        sim.run_for(10).unwrap();
        assert!(
            sim.now_ms() < resigned_at + 1_000,
            "hand-over took more than a second"
        );
    }
    let next = sim.leader().unwrap();
    assert_eq!(sim.raft(next).epoch(), epoch + 1);
    let acked = sim.stats.acked;
    sim.run_for(1_000).unwrap();
    assert!(sim.stats.acked > acked, "the new leader commits");
}

#[test]
fn the_leader_reports_every_replicas_fetch_state_for_describe_quorum() {
    let mut sim = Simulation::scripted(3, 1, 17);
    sim.start();
    sim.set_client(true);
    let l = sim.run_until_elected();
    sim.run_for(2_000).unwrap();
    let f = (1..=3).find(|&id| id != l).unwrap();
    sim.isolate(f);
    sim.run_for(1_000).unwrap();
    let now = sim.now_ms();
    let status = sim.raft(l).status();
    assert_eq!(status.role, RoleName::Leader);
    let by_id = |id| {
        status
            .replicas
            .iter()
            .find(|r| r.key.id == id)
            .expect("reported")
    };
    assert_eq!(status.replicas.len(), 4, "three voters and the observer");
    assert!(!by_id(101).voter && by_id(f).voter);
    for r in &status.replicas {
        assert!(r.log_end_offset.is_some() && r.last_fetch_ms.is_some());
    }
    // The isolated voter's last fetch is about a second old, the others' are fresh.
    assert!(now - by_id(f).last_fetch_ms.unwrap() >= 900);
    assert!(now - by_id(101).last_fetch_ms.unwrap() < 600);
    assert!(by_id(f).log_end_offset.unwrap() < status.log_end_offset);
    assert!(by_id(101).last_caught_up_ms.is_some());
}
