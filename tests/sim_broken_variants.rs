//! A checker that cannot catch a broken Raft is not a checker. Each test switches off one rule
//! of the core (through `RaftConfig::bug`, compiled in but off by default) and shows that the
//! simulator's checkers report a violation within a bounded range of seeds, and that the same
//! seeds pass with the rule on.
//!
//! The fault mix is narrowed per rule to the faults that can expose it (as a swarm run would
//! by chance), so the search stays short enough for CI.

#![cfg(feature = "sim")]

use keel::raft::BugInjection;
use keel::sim::{self, Faults, SimConfig};

/// Returns (seed, violation message) of the first violating seed in `seeds`.
fn first_violation(
    bug: BugInjection,
    seeds: std::ops::Range<u64>,
    tweak: fn(&mut SimConfig),
) -> Option<(u64, String)> {
    for seed in seeds {
        let mut c = SimConfig::from_seed(seed);
        tweak(&mut c);
        c.bug = bug;
        let o = sim::run(c);
        if let Some(v) = o.violation {
            return Some((seed, v.message));
        }
    }
    None
}

fn assert_caught_and_correct_passes(bug: BugInjection, bound: u64, tweak: fn(&mut SimConfig)) {
    let (seed, message) = first_violation(bug, 0..bound, tweak)
        .unwrap_or_else(|| panic!("{bug:?} went unnoticed for {bound} seeds"));
    println!("{bug:?}: caught at seed {seed:#x}: {message}");
    assert!(
        !message.contains("assertion failed inside the run"),
        "caught by a core assertion, not by a simulator checker: {message}"
    );
    let mut c = SimConfig::from_seed(seed);
    tweak(&mut c);
    let correct = sim::run(c);
    assert!(
        correct.violation.is_none(),
        "the correct core fails the same seed: {:?}",
        correct.violation
    );
}

fn crashes_only(c: &mut SimConfig) {
    let mut f = Faults::none();
    f.crash = 0.08;
    f.disk_latency_min_ms = 5;
    f.disk_latency_max_ms = 60;
    f.delay_max_ms = 20;
    c.faults = f;
    c.voters = 3;
    c.fault_phase_ms = 20_000;
}

#[test]
fn skipping_the_up_to_date_vote_check_is_caught() {
    assert_caught_and_correct_passes(BugInjection::SkipUpToDateVoteCheck, 1_000, crashes_only);
}

#[test]
fn fetching_before_flushing_is_caught() {
    assert_caught_and_correct_passes(BugInjection::FetchBeforeFlush, 5_000, crashes_only);
}

fn crashes_and_small_fetches(c: &mut SimConfig) {
    crashes_only(c);
    c.faults.loss = 0.15;
    c.faults.reorder = 0.15;
    c.faults.duplicate = 0.05;
    c.faults.crash = 0.03;
    // A leader deposed while it still holds old-epoch records is what exposes the rule.
    // Followers that hear from a live leader ignore higher-epoch votes (stickiness), so it
    // takes a leader that stops and comes back: a paused one.
    c.faults.pause = 0.03;
    c.max_fetch_bytes = 64;
    c.propose_every_ms = 160;
}

#[test]
fn committing_before_the_epoch_start_record_is_caught() {
    assert_caught_and_correct_passes(
        BugInjection::HighWatermarkBeforeEpochStart,
        10_000,
        crashes_and_small_fetches,
    );
}

/// Strangers' messages and candidates that crash right after standing, in three or five
/// voters: the faults that push a voter to an epoch the quorum never reaches by itself.
fn strangers_and_crashing_candidates(c: &mut SimConfig) {
    let mut f = Faults::none();
    f.stranger = 0.1;
    f.candidate_crash = 0.3;
    f.crash = 0.01;
    f.delay_max_ms = 20;
    c.faults = f;
    c.fault_phase_ms = 15_000;
}

#[test]
fn a_leader_that_never_probes_silent_voters_is_caught() {
    assert_caught_and_correct_passes(
        BugInjection::NoRejoinProbe,
        2_000,
        strangers_and_crashing_candidates,
    );
}
