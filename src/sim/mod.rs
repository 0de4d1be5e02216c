//! The deterministic whole-cluster simulator (test/feature `sim` only).
//!
//! N voters (1, 3 or 5) and M observers run the real `raft` core in one thread over a
//! simulated disk ([`disk`]) and a simulated network, from one seed: the seed fixes the cluster
//! shape and the fault mix ([`config`]) and every random draw of the run ([`cluster`]). Faults:
//! message loss, delay, reordering, duplication; symmetric and asymmetric partitions that heal;
//! crashes that lose unflushed data and may leave a torn last write; paused nodes that resume
//! with stale timers; bit flips in a crashed node's durable log; failing flushes (fail-stop);
//! strangers' Vote, BeginQuorumEpoch and EndQuorumEpoch requests claiming any sender and any
//! epoch (answered back to the stranger); candidates that crash right after standing.
//!
//! Checkers run after every event: at most one leader per epoch; epochs never go back on a node;
//! a node's high watermark never goes back while it runs; every committed offset holds the same
//! record on every node that has it (observers and installed snapshots included); no client
//! value is committed twice; a proposal acknowledged before another was proposed sits at a
//! lower offset. Liveness: after the fault phase everything heals, and a proposal made after
//! that must be acknowledged within the liveness budget; and within the rejoin budget of the
//! first leader after healing, every running voter must follow one leader in one epoch,
//! whatever epoch a fault pushed it to. A panic inside the core (an invariant assertion)
//! counts as a violation too.
//!
//! A failing run reports its seed, its settings, a one-line replay command and a trace of its
//! last events (obtained by replaying the seed with tracing on, which is exact because the run
//! is deterministic).

pub mod cluster;
pub mod config;
pub mod disk;

use std::panic::{AssertUnwindSafe, catch_unwind};

pub use cluster::{Simulation, Stats, Violation};
pub use config::{Faults, SimConfig};

/// The outcome of one seed.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub config: SimConfig,
    pub stats: Stats,
    pub violation: Option<Violation>,
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_string()
    }
}

/// Run one configuration; a panic in the core or the driver is reported as a violation.
pub fn run(config: SimConfig) -> Outcome {
    let mut sim = Simulation::new(config.clone());
    let result = catch_unwind(AssertUnwindSafe(|| sim.run()));
    let violation = match result {
        Ok(Ok(_)) => None,
        Ok(Err(v)) => Some(v),
        Err(p) => Some(Violation {
            message: format!("assertion failed inside the run: {}", panic_message(&*p)),
            at_ms: sim.stats.sim_ms,
            event: sim.stats.events,
        }),
    };
    Outcome {
        config,
        stats: sim.stats.clone(),
        violation,
    }
}

pub fn run_seed(seed: u64) -> Outcome {
    run(SimConfig::from_seed(seed))
}

/// The trace of the last events before a failure, by replaying the run with tracing on.
pub fn replay_trace(config: &SimConfig, stop_at_event: u64, lines: usize) -> String {
    let mut sim = Simulation::new(config.clone()).with_trace(Some(stop_at_event), lines);
    let _ = catch_unwind(AssertUnwindSafe(|| sim.run()));
    sim.trace_text()
}

/// The one-line command that replays `config`, if the seed alone (plus `--bug`) determines it.
pub fn replay_command(config: &SimConfig) -> String {
    let mut derived = SimConfig::from_seed(config.seed);
    derived.bug = config.bug;
    let bug = if config.bug == crate::raft::BugInjection::None {
        String::new()
    } else {
        format!(" --bug {:?}", config.bug)
    };
    let cmd = format!(
        "cargo run --release --features sim --bin keel-sim -- --seed {:#x}{bug}",
        config.seed
    );
    if derived == *config {
        cmd
    } else {
        format!(
            "sim::run(config) with the configuration printed above (a test pinned it; `{cmd}` runs the seed's own configuration)"
        )
    }
}

/// Everything a human needs to look at a failure and replay it.
pub fn report(outcome: &Outcome) -> String {
    let Some(v) = &outcome.violation else {
        return format!("seed {:#x}: ok, {:?}", outcome.config.seed, outcome.stats);
    };
    let c = &outcome.config;
    format!(
        "VIOLATION with seed {seed:#x}: {msg}\n\
         at {at} ms (simulated), event {ev}\n\
         cluster: {voters} voters, {observers} observers; bug injection: {bug:?}\n\
         faults: {faults:?}\n\
         fault phase {fp} ms, propose every {pe} ms, snapshot every {se} offsets, chunk {cb} bytes\n\
         replay: {replay}\n\
         last events:\n{trace}",
        seed = c.seed,
        msg = v.message,
        at = v.at_ms,
        ev = v.event,
        voters = c.voters,
        observers = c.observers,
        bug = c.bug,
        faults = c.faults,
        fp = c.fault_phase_ms,
        pe = c.propose_every_ms,
        se = c.snapshot_every,
        cb = c.snapshot_chunk_bytes,
        replay = replay_command(c),
        trace = replay_trace(c, v.event, cluster::TRACE_LINES),
    )
}
