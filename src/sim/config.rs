//! What one simulated run looks like, drawn entirely from its seed: the cluster shape and a
//! swarm-testing fault mix (each fault kind is switched on or off per run and given its own
//! rate, so some runs hammer one fault and others mix several; Groce et al., "Swarm Testing").

use crate::prng::Prng;
use crate::raft::BugInjection;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Faults {
    /// Probability that a message is dropped.
    pub loss: f64,
    /// Probability that a message is delivered twice.
    pub duplicate: f64,
    /// Probability that a message is held back long enough to be overtaken.
    pub reorder: f64,
    pub delay_min_ms: u64,
    pub delay_max_ms: u64,
    /// Per fault tick (100 ms): probability of starting a partition.
    pub partition: f64,
    /// Of partitions, the share that cut one direction only.
    pub asymmetric: f64,
    /// Per fault tick: probability of crashing a running node.
    pub crash: f64,
    /// Per crash: probability that the first unflushed batch survives torn.
    pub torn_write: f64,
    /// Per crash: probability of flipping a bit in a durable batch while the node is down.
    pub bit_flip: f64,
    /// Per fault tick: probability of pausing a node (its timers go stale).
    pub pause: f64,
    /// Per flush: probability that it fails (the node stops for good).
    pub flush_failure: f64,
    /// Per crash: probability that the node comes back with a blank replacement disk (a new
    /// directory id, so it may only rejoin as an observer, KIP-853).
    pub disk_replace: f64,
    /// Per fault tick: probability that the leader resigns gracefully (EndQuorumEpoch).
    pub resign: f64,
    /// Per fault tick: probability that a stranger (anyone who can reach a voter's port;
    /// nothing is authenticated) sends a voter a Vote, BeginQuorumEpoch or EndQuorumEpoch
    /// claiming any sender and any epoch. Its answer goes back to the stranger.
    pub stranger: f64,
    /// Per node that becomes a candidate: probability that it crashes a moment later, after
    /// some voters may have granted it (and moved to its epoch) but before the rest heard.
    pub candidate_crash: f64,
    /// Per crash: probability that it is a process death the kernel announces (peers'
    /// connections reset, connects refused while it is down) rather than a silent one.
    pub crash_reset: f64,
    pub disk_latency_min_ms: u64,
    pub disk_latency_max_ms: u64,
}

impl Faults {
    /// A perfect network and disk: 1-5 ms per message, 1-3 ms per flush.
    pub fn none() -> Faults {
        Faults {
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            delay_min_ms: 1,
            delay_max_ms: 5,
            partition: 0.0,
            asymmetric: 0.0,
            crash: 0.0,
            torn_write: 0.0,
            bit_flip: 0.0,
            pause: 0.0,
            flush_failure: 0.0,
            disk_replace: 0.0,
            resign: 0.0,
            stranger: 0.0,
            candidate_crash: 0.0,
            crash_reset: 0.0,
            disk_latency_min_ms: 1,
            disk_latency_max_ms: 3,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct SimConfig {
    pub seed: u64,
    pub voters: usize,
    pub observers: usize,
    pub faults: Faults,
    /// Faults are injected during `[0, fault_phase_ms)`; then everything heals.
    pub fault_phase_ms: u64,
    /// After healing, a new proposal must be acknowledged within this long.
    pub liveness_budget_ms: u64,
    /// Client proposal interval.
    pub propose_every_ms: u64,
    /// Nodes snapshot every this many committed offsets (0: never).
    pub snapshot_every: u64,
    pub snapshot_chunk_bytes: u32,
    /// Largest fetch response; tiny values make followers take the log a batch at a time.
    pub max_fetch_bytes: u32,
    pub bug: BugInjection,
}

impl SimConfig {
    /// The run a seed stands for.
    pub fn from_seed(seed: u64) -> SimConfig {
        let mut p = Prng::new(seed ^ 0x5EED_0FC0_FFEE);
        let voters = [1, 3, 3, 5, 5][p.below(5) as usize];
        let observers = p.below(3) as usize;
        let on = |p: &mut Prng| p.chance(0.5);
        let rate = |p: &mut Prng, max: f64| if on(p) { p.unit() * max } else { 0.0 };
        let loss = rate(&mut p, 0.2);
        let duplicate = rate(&mut p, 0.1);
        let reorder = rate(&mut p, 0.2);
        let partition = rate(&mut p, 0.05);
        let asymmetric = p.unit();
        let crash = rate(&mut p, 0.03);
        let torn_write = p.unit();
        let bit_flip = rate(&mut p, 0.5);
        let pause = rate(&mut p, 0.02);
        let flush_failure = if p.chance(0.2) {
            p.unit() * 0.0005
        } else {
            0.0
        };
        let delay_min_ms = p.range_inclusive(0, 5);
        let delay_max_ms = delay_min_ms + p.range_inclusive(1, 60);
        let disk_latency_min_ms = p.range_inclusive(0, 5);
        let disk_latency_max_ms = disk_latency_min_ms + p.range_inclusive(0, 40);
        let max_fetch_bytes =
            [64, 1024, crate::constants::RAFT_MAX_FETCH_BYTES][p.below(3) as usize];
        let mut propose_every_ms = p.range_inclusive(5, 100);
        if max_fetch_bytes < 1024 {
            // About one batch per fetch round trip: propose slower than that, or the backlog
            // (not a fault) decides whether a new proposal commits in the liveness budget.
            propose_every_ms = propose_every_ms.max(2 * (delay_max_ms + disk_latency_max_ms) + 50);
        }
        let mut c = SimConfig {
            seed,
            voters,
            observers,
            faults: Faults {
                loss,
                duplicate,
                reorder,
                delay_min_ms,
                delay_max_ms,
                partition,
                asymmetric,
                crash,
                torn_write,
                bit_flip,
                pause,
                flush_failure,
                disk_replace: 0.0,
                resign: 0.0,
                stranger: 0.0,
                candidate_crash: 0.0,
                crash_reset: 0.0,
                disk_latency_min_ms,
                disk_latency_max_ms,
            },
            fault_phase_ms: p.range_inclusive(10_000, 40_000),
            liveness_budget_ms: 30_000,
            propose_every_ms,
            snapshot_every: [0, 16, 64, 256][p.below(4) as usize],
            snapshot_chunk_bytes: [32, 100, 4096][p.below(3) as usize],
            max_fetch_bytes,
            bug: BugInjection::None,
        };
        // Drawn last, so adding them left every earlier draw of a seed as it was.
        c.faults.disk_replace = if p.chance(0.2) { p.unit() * 0.3 } else { 0.0 };
        c.faults.resign = rate(&mut p, 0.02);
        if p.chance(0.1) {
            // Now and then a long run, where state has time to pile up.
            c.fault_phase_ms = p.range_inclusive(60_000, 180_000);
        }
        c.faults.stranger = rate(&mut p, 0.1);
        c.faults.candidate_crash = rate(&mut p, 0.3);
        // Most crashes are process deaths (the kernel resets their connections); some seeds
        // have none, so the timeouts alone are exercised too.
        c.faults.crash_reset = if p.chance(0.8) {
            0.5 + p.unit() * 0.5
        } else {
            0.0
        };
        c
    }
}
