//! Seeds that once failed, each named for the bug it exposed. A run is a function of (seed,
//! configuration, code): the configurations below are pinned as they were printed by the
//! failing report, so they keep exercising the fault mix that found the bug even as the code
//! (and with it the exact interleaving) changes. Each bug also has a direct test of the fixed
//! rule next to the core's other contract tests (tests/raft_contract.rs).

#![cfg(feature = "sim")]

use keel::raft::BugInjection;
use keel::sim::{self, Faults, SimConfig};

#[allow(clippy::too_many_arguments)]
fn pinned(
    seed: u64,
    voters: usize,
    observers: usize,
    faults: Faults,
    fault_phase_ms: u64,
    propose_every_ms: u64,
    snapshot_every: u64,
    snapshot_chunk_bytes: u32,
) -> SimConfig {
    SimConfig {
        seed,
        voters,
        observers,
        faults,
        fault_phase_ms,
        liveness_budget_ms: 30_000,
        propose_every_ms,
        snapshot_every,
        snapshot_chunk_bytes,
        max_fetch_bytes: keel::constants::RAFT_MAX_FETCH_BYTES,
        bug: BugInjection::None,
    }
}

fn passes(config: SimConfig) {
    let o = sim::run(config);
    assert!(o.violation.is_none(), "{}", sim::report(&o));
    assert!(o.stats.acked > 0, "the run did real work: {:?}", o.stats);
}

fn faults(f: &[(&str, f64)], delay: (u64, u64), disk: (u64, u64)) -> Faults {
    let mut x = Faults::none();
    for &(k, v) in f {
        match k {
            "loss" => x.loss = v,
            "duplicate" => x.duplicate = v,
            "reorder" => x.reorder = v,
            "partition" => x.partition = v,
            "asymmetric" => x.asymmetric = v,
            "crash" => x.crash = v,
            "torn_write" => x.torn_write = v,
            "bit_flip" => x.bit_flip = v,
            "pause" => x.pause = v,
            "flush_failure" => x.flush_failure = v,
            "stranger" => x.stranger = v,
            "candidate_crash" => x.candidate_crash = v,
            "resign" => x.resign = v,
            "crash_reset" => x.crash_reset = v,
            other => panic!("unknown fault {other}"),
        }
    }
    (x.delay_min_ms, x.delay_max_ms) = delay;
    (x.disk_latency_min_ms, x.disk_latency_max_ms) = disk;
    x
}

/// A prospective voter went back to following its dead leader whenever a pre-vote answer named
/// that leader, so after the leader crashed nobody could ever be elected (liveness).
#[test]
fn seed_0x910a2dec89025cc1_pre_vote_answers_naming_the_dead_leader() {
    let f = faults(
        &[
            ("crash", 0.01693306847151365),
            ("torn_write", 0.6332222313299151),
            ("pause", 0.008601765516014628),
        ],
        (3, 35),
        (3, 30),
    );
    passes(pinned(0x910a_2dec_8902_5cc1, 5, 0, f, 22_971, 92, 64, 64));
}

/// A leader whose log was found corrupt at restart came back Resigned and tried to campaign
/// while it must abstain (core assertion).
#[test]
fn seed_0x51c9d6dbc0a79ca_an_abstaining_resigned_leader_campaigned() {
    passes(SimConfig::from_seed(0x051c_9d6d_bc0a_79ca));
}

/// A voter whose log lost records to a bit flip abstained from voting, crashed again before
/// re-fetching, forgot it had to abstain, and helped elect a leader that lacked a committed
/// record. The abstain mark is now part of the durable election state.
#[test]
fn seed_0x6f267eff33b08c09_forgotten_abstention_lost_a_committed_record() {
    let f = faults(
        &[
            ("loss", 0.15883507308039252),
            ("partition", 0.03818058454308126),
            ("asymmetric", 0.4041638462580842),
            ("crash", 0.023017709370818422),
            ("torn_write", 0.5879288338685448),
            ("bit_flip", 0.2752317445471511),
        ],
        (3, 48),
        (2, 38),
    );
    passes(pinned(0x6f26_7eff_33b0_8c09, 5, 1, f, 27_177, 94, 256, 512));
}

/// A follower told "your log diverges at the end of epoch 2" had no epoch 2 and cut its log at
/// the leader's offset, inside one of its own batches.
#[test]
fn seed_0xeb177f40c68ad471_truncation_inside_a_batch() {
    let f = faults(
        &[
            ("loss", 0.12565152850571001),
            ("duplicate", 0.04572557202126283),
            ("reorder", 0.10145369349636164),
            ("partition", 0.004711673562058078),
            ("asymmetric", 0.9506250073256888),
            ("torn_write", 0.9850508993115409),
            ("pause", 0.015314609139143669),
        ],
        (2, 45),
        (1, 12),
    );
    passes(pinned(0xeb17_7f40_c68a_d471, 5, 0, f, 37_282, 17, 64, 4096));
}

/// Followers far behind never finished downloading a snapshot because a newer one replaced it
/// first (the simulated state machine grew with the log; it is now bounded, as a metadata image
/// is).
#[test]
fn seed_0xa8ff913fc250c570_snapshot_download_starved() {
    let f = faults(
        &[
            ("reorder", 0.10963783704620039),
            ("asymmetric", 0.30269907819143993),
            ("torn_write", 0.01120252099308472),
            ("flush_failure", 3.570842913823963e-5),
        ],
        (0, 57),
        (4, 12),
    );
    passes(pinned(0xa8ff_913f_c250_c570, 3, 2, f, 12_634, 7, 64, 64));
}

/// A checker false positive: a candidate paused for seconds was elected late in an old epoch
/// by delayed votes; the election-time completeness check wrongly demanded records committed in
/// later epochs.
#[test]
fn seed_0xb87b16960347e416_a_stale_leader_elected_late_is_not_incomplete() {
    passes(SimConfig::from_seed(0xb87b_1696_0347_e416));
}

/// Harness bug, liveness: a client that gave up on requests after 10 s and proposed more let a
/// lossy cluster that replicates one batch per fetch build a backlog of thousands of records,
/// so no new proposal could commit within the budget. The client is now closed-loop.
#[test]
fn seed_0x63c59d87e0f38729_an_open_loop_client_built_an_endless_backlog() {
    passes(SimConfig::from_seed(0x63c5_9d87_e0f3_8729));
}

/// Harness bug, liveness: proposals to a follower that then installed a snapshot were never
/// resolved, so the closed-loop client waited for them forever.
#[test]
fn seed_0xce75423732a4c1b6_proposals_lost_with_a_replaced_log_blocked_the_client() {
    passes(SimConfig::from_seed(0xce75_4237_32a4_c1b6));
}

/// A stranger's EndQuorumEpoch, claiming as voter 4 that it leads epoch 3, moved voter 2 to
/// follow 4 in epoch 3 while 4 had stopped for good (a failed flush). Voter 3 really led epoch
/// 3, but voter 2 refused its BeginQuorumEpoch as a second leader of a known epoch, and 4 could
/// never answer a fetch: voter 2 stayed out of the quorum. A follower whose known leader is
/// not live now takes the other voter's claim (`election.rs`, `may_replace_known_leader`).
#[test]
fn seed_0xf4e753e6064f21c5_a_strangers_claim_for_a_dead_voter_kept_a_follower_out() {
    passes(SimConfig::from_seed(0xf4e7_53e6_064f_21c5));
}

/// A stranger posing as a stopped voter claimed to lead the real leader's epoch; a follower
/// that had given up on the real leader took the claim and later passed it on in a pre-vote
/// answer to the real leader itself, which had resigned (check-quorum) and followed the
/// invented leader of the epoch it had led, so the quorum took over 6 s after the heal to
/// elect again (liveness). A node that led an epoch now never follows another leader for it.
#[test]
fn seed_0x377f120be2f316d0_the_leader_of_an_epoch_followed_an_invented_leader_of_it() {
    let f = faults(
        &[
            ("loss", 0.17036601197581885),
            ("partition", 0.00989670111608303),
            ("asymmetric", 0.17079892302489585),
            ("torn_write", 0.5107508117828691),
            ("flush_failure", 0.00043810681440846423),
            ("resign", 0.017274297810735025),
            ("stranger", 0.0984789980145076),
            ("candidate_crash", 0.15016876491038586),
            ("crash_reset", 0.5757900633895346),
        ],
        (0, 9),
        (0, 27),
    );
    passes(pinned(
        0x377f_120b_e2f3_16d0,
        3,
        1,
        f,
        107_827,
        19,
        64,
        4096,
    ));
}
