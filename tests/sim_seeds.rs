//! CI's fixed range of simulator seeds. Every seed must pass every checker; together they must
//! cover every cluster shape (1, 3 and 5 voters, with and without observers) and every fault
//! kind, so the range cannot quietly become a run of fault-free clusters.
//!
//! `cargo run --release --features sim --bin keel-sim -- --seed 0x...` replays any seed; `--minutes M` explores
//! beyond this range.

#![cfg(feature = "sim")]

use std::collections::BTreeSet;

use keel::sim::{self, Stats};

const SEEDS_PER_PART: u64 = 4_000;

fn run_range(part: u64) -> (Stats, BTreeSet<(usize, bool)>) {
    let mut total = Stats::default();
    let mut shapes = BTreeSet::new();
    for k in part * SEEDS_PER_PART..(part + 1) * SEEDS_PER_PART {
        let seed = keel::prng::Prng::new(k).next_u64();
        let o = sim::run_seed(seed);
        assert!(o.violation.is_none(), "{}", sim::report(&o));
        shapes.insert((o.config.voters, o.config.observers > 0));
        let s = &o.stats;
        total.events += s.events;
        total.proposals += s.proposals;
        total.acked += s.acked;
        total.crashes += s.crashes;
        total.partitions += s.partitions;
        total.pauses += s.pauses;
        total.bit_flips += s.bit_flips;
        total.torn_writes += s.torn_writes;
        total.fail_stops += s.fail_stops;
        total.disk_replacements += s.disk_replacements;
        total.resignations += s.resignations;
        total.snapshots_installed += s.snapshots_installed;
        total.elections += s.elections;
        total.stranger_messages += s.stranger_messages;
        total.candidate_crashes += s.candidate_crashes;
        total.resets += s.resets;
        if let Some(ms) = s.rejoin_ms {
            total.rejoin_ms = Some(total.rejoin_ms.map_or(ms, |m: u64| m.max(ms)));
        }
    }
    (total, shapes)
}

fn check(part: u64) {
    let (t, shapes) = run_range(part);
    println!("part {part}: {SEEDS_PER_PART} seeds, {t:?}");
    for voters in [1, 3, 5] {
        for observers in [false, true] {
            assert!(
                shapes.contains(&(voters, observers)),
                "shape ({voters}, {observers}) not covered"
            );
        }
    }
    assert!(t.acked > t.proposals / 2, "most proposals commit: {t:?}");
    assert!(
        t.elections > SEEDS_PER_PART,
        "leaders change within runs: {t:?}"
    );
    for (name, n) in [
        ("crashes", t.crashes),
        ("partitions", t.partitions),
        ("pauses", t.pauses),
        ("bit flips", t.bit_flips),
        ("torn writes", t.torn_writes),
        ("fail-stops", t.fail_stops),
        ("disk replacements", t.disk_replacements),
        ("graceful resignations", t.resignations),
        ("snapshot installs", t.snapshots_installed),
        ("strangers' messages", t.stranger_messages),
        ("candidates crashed after standing", t.candidate_crashes),
        ("connection resets and refusals", t.resets),
    ] {
        assert!(n > 0, "no {name} in the range: {t:?}");
    }
}

#[test]
fn seeds_part_0() {
    check(0);
}

#[test]
fn seeds_part_1() {
    check(1);
}

#[test]
fn seeds_part_2() {
    check(2);
}

#[test]
fn seeds_part_3() {
    check(3);
}

#[test]
fn a_seed_replays_exactly() {
    // Replay commands and failure traces rely on it: same seed, same run, event for event.
    for k in 0..20 {
        let seed = keel::prng::Prng::new(1_000_000 + k).next_u64();
        let a = sim::run_seed(seed);
        let b = sim::run_seed(seed);
        assert_eq!(a.stats, b.stats, "seed {seed:#x}");
        let c = sim::SimConfig::from_seed(seed);
        let end = a.stats.events;
        assert_eq!(
            sim::replay_trace(&c, end, 200),
            sim::replay_trace(&c, end, 200)
        );
        assert!(!sim::replay_trace(&c, end, 5).is_empty());
    }
}
