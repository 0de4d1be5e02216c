//! Group commit without a cliff: while enough followers keep up, the leader lingers before its
//! own flush (one fsync for many proposals) because they commit without it; when one is down
//! and the leader's flush is on the commit path, it flushes at once (`raft/replication.rs`,
//! `own_flush_gates_commit`). Scripted simulator runs (1-5 ms messages, 1-3 ms flushes), every
//! checker on after every event.

#![cfg(feature = "sim")]

use keel::constants::{RAFT_APPEND_LINGER_MS, RAFT_FOLLOWER_KEEPING_UP_MS};
use keel::raft::NodeId;
use keel::sim::Simulation;

fn settled(seed: u64) -> (Simulation, NodeId, NodeId) {
    let mut sim = Simulation::scripted(3, 0, seed);
    sim.start();
    let leader = sim.run_until_elected();
    sim.run_for(1_000).unwrap();
    let follower = (1..=3).find(|&id| id != leader).unwrap();
    (sim, leader, follower)
}

/// Milliseconds from a proposal at the leader to its commit.
fn commit_ms(sim: &mut Simulation, leader: NodeId) -> u64 {
    let (_, last) = sim.propose(leader, 1).expect("the leader accepts");
    let from = sim.now_ms();
    while sim.raft(leader).high_watermark() <= last {
        sim.run_for(1).unwrap();
        assert!(sim.now_ms() < from + 5_000, "no commit within 5 s");
    }
    sim.now_ms() - from
}

fn median(mut values: Vec<u64>) -> u64 {
    values.sort_unstable();
    values[values.len() / 2]
}

#[test]
fn with_a_follower_down_the_leader_flushes_at_once_instead_of_lingering() {
    let mut healthy = Vec::new();
    let mut one_down = Vec::new();
    for seed in 0..10 {
        let (mut sim, leader, follower) = settled(500 + seed);
        for _ in 0..10 {
            healthy.push(commit_ms(&mut sim, leader));
            sim.run_for(50).unwrap();
        }
        sim.isolate(follower);
        // Long enough for the leader to see that it no longer keeps up.
        sim.run_for(RAFT_FOLLOWER_KEEPING_UP_MS + 600).unwrap();
        for _ in 0..10 {
            one_down.push(commit_ms(&mut sim, leader));
            sim.run_for(50).unwrap();
        }
        sim.heal();
    }
    let (healthy, one_down) = (median(healthy), median(one_down));
    println!("commit median: healthy {healthy} ms, one follower down {one_down} ms");
    assert!(
        one_down < RAFT_APPEND_LINGER_MS,
        "with a follower down a commit waits for no linger: {one_down} ms"
    );
    assert!(
        one_down <= healthy * 3 / 2 + 2,
        "no cliff: {one_down} ms against {healthy} ms healthy"
    );
}
