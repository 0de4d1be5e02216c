//! One simulated cluster: nodes (the real `raft` core over a simulated disk), a lossy network,
//! a client, fault injection, and the checkers, all driven by one event queue ordered by
//! (time, sequence) and one seeded PRNG. The same seed always gives the same run.
//!
//! The simulator is also the reference driver of the core's contract (see `raft::action`):
//! actions are executed in order, election state and snapshot installs are durable at once,
//! flushes complete later and in order, `SendAfterFlush` messages are held until their flush
//! completes and are lost if the node crashes first.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::fmt::Write as _;

use super::config::SimConfig;
use super::disk::{Disk, StoredBatch};
use crate::prng::Prng;
use crate::raft::{
    Action, Boot, DirectoryId, Envelope, Fill, FlushId, LeaderBatchContent, Message, NodeId,
    ProposeError, Raft, RaftConfig, ReplicaKey, RoleName, SnapshotId,
};

/// Control records carry this bit in their simulated value; client values never do.
const CONTROL_BIT: u64 = 1 << 63;
const FAULT_TICK_MS: u64 = 100;
/// A node that runs more timer ticks than this at one instant is livelocked.
const MAX_TICKS_PER_INSTANT: u32 = 1_000;
/// Proposals the client keeps outstanding at most.
const CLIENT_MAX_IN_FLIGHT: usize = 64;
/// Trace lines printed with a failure.
pub const TRACE_LINES: usize = 60;
/// Correlations of a stranger's requests carry this bit (the core's own stay below 2^63);
/// the answers to them go back to the stranger, not to the node it claimed to be.
const STRANGER_BIT: u64 = 1 << 63;
/// A node id no voter or observer has: a stranger claiming to be someone who is not a voter.
const STRANGER_ID: NodeId = 9_999;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub message: String,
    pub at_ms: u64,
    pub event: u64,
}

#[derive(Clone, Debug)]
enum Event {
    Deliver {
        from: NodeId,
        to: NodeId,
        message: Message<Vec<u8>>,
    },
    Tick {
        node: usize,
        incarnation: u64,
    },
    FlushDone {
        node: usize,
        incarnation: u64,
        id: FlushId,
    },
    Propose,
    FaultTick,
    Restart {
        node: usize,
        incarnation: u64,
    },
    /// A candidate's crash soon after it stood (the `candidate_crash` fault).
    CrashCandidate {
        node: usize,
        incarnation: u64,
    },
    Resume {
        node: usize,
        incarnation: u64,
    },
    /// `node`'s connection to `peer` was reset or refused: what its driver reports when
    /// `peer`'s process died (the `crash_reset` fault).
    Unreachable {
        node: usize,
        incarnation: u64,
        peer: NodeId,
    },
    HealLinks {
        links: Vec<(NodeId, NodeId)>,
    },
    HealAll,
}

struct Queued {
    at_ms: u64,
    seq: u64,
    event: Event,
}

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        (self.at_ms, self.seq) == (other.at_ms, other.seq)
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Queued {
    fn cmp(&self, other: &Self) -> Ordering {
        // BinaryHeap is a max-heap: reverse for earliest first.
        (other.at_ms, other.seq).cmp(&(self.at_ms, self.seq))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NodeState {
    Up,
    Down,
    Paused,
    /// Fail-stopped after a failed flush; never comes back.
    Stopped,
}

struct SimNode {
    key: ReplicaKey,
    voter: bool,
    raft: Option<Raft<Vec<u8>>>,
    disk: Disk,
    state: NodeState,
    incarnation: u64,
    deferred: Vec<Event>,
    held: Vec<(FlushId, Envelope<Vec<u8>>)>,
    scheduled_tick_ms: u64,
    last_flush_done_ms: u64,
    ticks_at: (u64, u32),
    /// Checker state: the highest epoch this node ever reported (election state is durable).
    max_epoch: u32,
    /// Checker state: high watermark in this incarnation.
    last_hw: u64,
    /// The node's state machine: what it has applied (restarted from its snapshot).
    machine: Machine,
    /// Epochs in which this node's leadership was checked for completeness.
    checked_leadership: Vec<u32>,
    /// Bit flips or fail-stop hit this voter (bounded so a majority stays healthy).
    damaged: bool,
    /// The role seen after the last event (to notice a node becoming a candidate).
    last_role: Option<RoleName>,
    /// Down after a process death that the kernel announced: its peers' connections were
    /// reset, and connecting to it is refused until it restarts.
    refuses_connections: bool,
}

struct Pending {
    node: usize,
    incarnation: u64,
    base: u64,
    epoch: u32,
    values: Vec<u64>,
    max_acked_at_propose: Option<u64>,
    proposed_ms: u64,
}

/// Counters a run reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub events: u64,
    pub sim_ms: u64,
    pub proposals: u64,
    pub acked: u64,
    pub committed_offsets: u64,
    pub crashes: u64,
    pub partitions: u64,
    pub pauses: u64,
    pub bit_flips: u64,
    pub torn_writes: u64,
    pub fail_stops: u64,
    pub disk_replacements: u64,
    pub resignations: u64,
    pub snapshots_installed: u64,
    pub elections: u64,
    pub stranger_messages: u64,
    pub candidate_crashes: u64,
    /// Connection resets and refusals reported to drivers (crashes seen as process deaths).
    pub resets: u64,
    /// After healing: from the first leader to every running voter following one leader in
    /// one epoch (the rejoin checker's figure).
    pub rejoin_ms: Option<u64>,
}

pub struct Simulation {
    pub config: SimConfig,
    prng: Prng,
    /// Draws for connection resets, apart from `prng` so that modelling them left every
    /// other draw of a seed as it was.
    reset_prng: Prng,
    now_ms: u64,
    seq: u64,
    queue: BinaryHeap<Queued>,
    nodes: Vec<SimNode>,
    ids: Vec<NodeId>,
    /// The voter set as configured at the start (a replaced disk does not change it).
    voter_keys: Vec<ReplicaKey>,
    blocked: BTreeMap<(NodeId, NodeId), u32>,
    faults_on: bool,
    client_on: bool,
    truncations: Vec<(NodeId, u64)>,
    healed_at_ms: Option<u64>,
    live_after_heal: bool,
    /// After healing: when a leader first ran, and whether every running voter has since
    /// followed one leader in one epoch.
    first_leader_after_heal_ms: Option<u64>,
    rejoined_after_heal: bool,
    // checker state
    truth: Vec<(u32, u64)>,
    /// The epoch in which each committed offset was first seen committed.
    truth_commit_epochs: Vec<u32>,
    /// `truth_digests[k]` is the state machine digest after applying `truth[..=k]`.
    truth_digests: Vec<u64>,
    value_offsets: BTreeMap<u64, u64>,
    leaders: BTreeMap<u32, NodeId>,
    pending: Vec<Pending>,
    max_acked_offset: Option<u64>,
    next_value: u64,
    client_target: Option<NodeId>,
    violation: Option<Violation>,
    pub stats: Stats,
    trace: Option<VecDeque<String>>,
    trace_lines: usize,
    stop_at_event: Option<u64>,
}

impl Simulation {
    pub fn new(config: SimConfig) -> Simulation {
        let mut prng = Prng::new(config.seed);
        let mut ids: Vec<NodeId> = (1..=config.voters as NodeId).collect();
        ids.extend((0..config.observers as NodeId).map(|i| 101 + i));
        let keys: Vec<ReplicaKey> = ids
            .iter()
            .map(|&id| ReplicaKey {
                id,
                directory_id: DirectoryId(u128::from(prng.next_u64()) << 64 | u128::from(id)),
            })
            .collect();
        let nodes = keys
            .iter()
            .enumerate()
            .map(|(i, k)| SimNode {
                key: *k,
                voter: i < config.voters,
                raft: None,
                disk: Disk::default(),
                state: NodeState::Down,
                incarnation: 0,
                deferred: Vec::new(),
                held: Vec::new(),
                scheduled_tick_ms: u64::MAX,
                last_flush_done_ms: 0,
                ticks_at: (0, 0),
                max_epoch: 0,
                last_hw: 0,
                machine: Machine::default(),
                checked_leadership: Vec::new(),
                damaged: false,
                last_role: None,
                refuses_connections: false,
            })
            .collect();
        Simulation {
            prng,
            reset_prng: Prng::new(config.seed ^ 0x0005_E7C0_11EC_7ED0),
            now_ms: 0,
            seq: 0,
            queue: BinaryHeap::new(),
            nodes,
            ids,
            voter_keys: keys[..config.voters].to_vec(),
            blocked: BTreeMap::new(),
            faults_on: true,
            client_on: true,
            truncations: Vec::new(),
            healed_at_ms: None,
            live_after_heal: false,
            first_leader_after_heal_ms: None,
            rejoined_after_heal: false,
            truth: Vec::new(),
            truth_commit_epochs: Vec::new(),
            truth_digests: Vec::new(),
            value_offsets: BTreeMap::new(),
            leaders: BTreeMap::new(),
            pending: Vec::new(),
            max_acked_offset: None,
            next_value: 1,
            client_target: None,
            violation: None,
            stats: Stats::default(),
            trace: None,
            trace_lines: TRACE_LINES,
            stop_at_event: None,
            config,
        }
    }

    /// Keep a readable trace of the last events (used when replaying a failure).
    pub fn with_trace(mut self, stop_at_event: Option<u64>, lines: usize) -> Simulation {
        self.trace = Some(VecDeque::new());
        self.trace_lines = lines.max(1);
        self.stop_at_event = stop_at_event;
        self
    }

    pub fn trace_text(&self) -> String {
        let mut s = String::new();
        if let Some(t) = &self.trace {
            for line in t {
                let _ = writeln!(s, "  {line}");
            }
        }
        s
    }

    /// Batches of node `id`'s written log overlapping `[from, to)`, for debugging a failure.
    pub fn describe_log(&self, id: NodeId, from: u64, to: u64) -> String {
        let n = &self.nodes[self.index_of(id)];
        let mut s = format!("node {id} log start {}:", n.disk.log_start_offset);
        for b in n.disk.written() {
            if b.last_offset >= from && b.base_offset < to {
                let _ = write!(s, " [{}..{} e{}]", b.base_offset, b.last_offset, b.epoch);
            }
        }
        s
    }

    fn raft_config(&self, node: usize) -> RaftConfig {
        let mut c = RaftConfig::new(self.nodes[node].key, self.voter_keys.clone());
        c.snapshot_chunk_bytes = self.config.snapshot_chunk_bytes;
        c.max_fetch_bytes = self.config.max_fetch_bytes;
        c.bug = self.config.bug;
        c
    }

    fn push(&mut self, at_ms: u64, event: Event) {
        self.seq += 1;
        self.queue.push(Queued {
            at_ms,
            seq: self.seq,
            event,
        });
    }

    fn note(&mut self, f: impl FnOnce() -> String) {
        if let Some(t) = &mut self.trace {
            if t.len() >= self.trace_lines {
                t.pop_front();
            }
            let line = format!("[{:>8} ms #{:>7}] {}", self.now_ms, self.stats.events, f());
            t.push_back(line);
        }
    }

    fn fail(&mut self, message: String) {
        if self.violation.is_none() {
            self.note(|| format!("VIOLATION: {message}"));
            self.violation = Some(Violation {
                message,
                at_ms: self.now_ms,
                event: self.stats.events,
            });
        }
    }

    /// Runs to completion: Ok when every check held and the cluster was live after healing.
    pub fn run(&mut self) -> Result<Stats, Violation> {
        for i in 0..self.nodes.len() {
            self.start_node(i);
        }
        let first = self.config.propose_every_ms;
        self.push(first, Event::Propose);
        self.push(FAULT_TICK_MS, Event::FaultTick);
        self.push(self.config.fault_phase_ms, Event::HealAll);
        let deadline = self.config.fault_phase_ms + self.config.liveness_budget_ms;
        while let Some(q) = self.queue.pop() {
            assert!(q.at_ms >= self.now_ms);
            self.now_ms = q.at_ms;
            self.stats.events += 1;
            self.stats.sim_ms = self.now_ms;
            self.handle(q.event);
            self.check_every_event();
            if let Some(v) = &self.violation {
                return Err(v.clone());
            }
            if self.stop_at_event.is_some_and(|e| self.stats.events >= e) {
                break;
            }
            if self.live_after_heal && self.rejoined_after_heal {
                return Ok(self.stats.clone());
            }
            if self.now_ms > deadline {
                let pending: Vec<String> = self
                    .pending
                    .iter()
                    .take(4)
                    .map(|p| {
                        format!(
                            "node {} at {}..={} e{}",
                            self.nodes[p.node].key.id,
                            p.base,
                            p.last(),
                            p.epoch
                        )
                    })
                    .collect();
                self.fail(format!(
                    "liveness: no new proposal acknowledged within {} ms after healing (roles: {}; {} proposals outstanding: {pending:?})",
                    self.config.liveness_budget_ms,
                    self.describe_roles(),
                    self.pending.len(),
                ));
                return Err(self.violation.clone().expect("just set"));
            }
        }
        match &self.violation {
            Some(v) => Err(v.clone()),
            None if self.stop_at_event.is_some() => Ok(self.stats.clone()),
            None => {
                self.fail("event queue ran dry".to_string());
                Err(self.violation.clone().expect("just set"))
            }
        }
    }

    fn describe_roles(&self) -> String {
        let mut s = String::new();
        for n in &self.nodes {
            match &n.raft {
                Some(r) => {
                    let _ = write!(
                        s,
                        "{}:{:?}(e{} hw{} leo{}{}) ",
                        n.key.id,
                        r.role(),
                        r.epoch(),
                        r.high_watermark(),
                        r.status().log_end_offset,
                        if r.status().abstaining {
                            " abstaining"
                        } else {
                            ""
                        }
                    );
                }
                None => {
                    let _ = write!(s, "{}:{:?} ", n.key.id, n.state);
                }
            }
        }
        s
    }

    // ---- node lifecycle ----

    fn start_node(&mut self, i: usize) {
        self.nodes[i].refuses_connections = false;
        let rec = self.nodes[i].disk.recover();
        if rec.torn_tail {
            self.stats.torn_writes += 1;
        }
        if let Some(until) = rec.corrupted_until.filter(|_| self.nodes[i].voter) {
            // Recorded durably before the node runs (the driver's half of the abstain rule).
            let e = &mut self.nodes[i].disk.election;
            e.abstain_until_offset = Some(e.abstain_until_offset.map_or(until, |u| u.max(until)));
        }
        let boot = Boot {
            election: self.nodes[i].disk.election,
            log_start_offset: rec.log_start_offset,
            log_end_offset: rec.log_end_offset,
            epochs: rec.epochs.clone(),
            snapshot: rec.snapshot,
        };
        let config = self.raft_config(i);
        let seed = self.prng.next_u64();
        let raft = Raft::new(config, boot, seed, self.now_ms);
        let machine = match &self.nodes[i].disk.snapshot {
            Some((_, bytes)) => Machine::decode(bytes),
            None => Machine::default(),
        };
        let node = &mut self.nodes[i];
        node.incarnation += 1;
        node.state = NodeState::Up;
        node.last_hw = raft.high_watermark();
        node.raft = Some(raft);
        node.machine = machine;
        node.deferred.clear();
        node.held.clear();
        node.scheduled_tick_ms = u64::MAX;
        node.last_flush_done_ms = self.now_ms;
        let id = node.key.id;
        self.note(|| {
            format!(
                "node {id} starts: log [{}, {}) snapshot {:?}{}{}",
                rec.log_start_offset,
                rec.log_end_offset,
                rec.snapshot,
                if rec.torn_tail { ", torn tail cut" } else { "" },
                match rec.corrupted_until {
                    Some(u) => format!(", CORRUPTION cut, abstains until {u}"),
                    None => String::new(),
                }
            )
        });
        self.reschedule_tick(i);
    }

    /// Crashes node `i`; `announced`: whether the kernel announces the death to its peers
    /// (None: as the `crash_reset` fault draws).
    fn crash_node(&mut self, i: usize, announced: Option<bool>) {
        let torn = self.prng.chance(self.config.faults.torn_write);
        let node = &mut self.nodes[i];
        node.raft = None;
        node.state = NodeState::Down;
        node.disk.crash(torn);
        node.held.clear();
        node.deferred.clear();
        self.pending.retain(|p| p.node != i);
        self.stats.crashes += 1;
        let id = self.nodes[i].key.id;
        self.announce_death(i, announced);
        self.note(|| {
            format!(
                "node {id} CRASHES{}",
                if torn { " (torn write)" } else { "" }
            )
        });
        if self.prng.chance(self.config.faults.disk_replace) && self.may_damage(i) {
            let node = &mut self.nodes[i];
            node.disk = Disk::default();
            node.key.directory_id = DirectoryId(u128::from(self.prng.next_u64()) << 64 | 0xd15c);
            // A new disk is a new replica: its epochs start over.
            node.max_epoch = 0;
            if node.voter {
                node.damaged = true;
            }
            self.stats.disk_replacements += 1;
            self.note(|| format!("node {id}: DISK REPLACED (blank, new directory id)"));
            return;
        }
        if self.prng.chance(self.config.faults.bit_flip) && self.may_damage(i) {
            let pick = self.prng.next_u64();
            if let Some(off) = self.nodes[i].disk.flip_bit(pick) {
                self.nodes[i].damaged = true;
                self.stats.bit_flips += 1;
                self.note(|| format!("node {id}: BIT FLIP in durable batch at offset {off}"));
            }
        }
    }

    /// A process death the kernel announces (the `crash_reset` fault; a machine that loses
    /// power or a cable announces nothing): every peer it could reach sees its connection
    /// reset after one message delay, and connecting to it is refused until it restarts.
    fn announce_death(&mut self, i: usize, announced: Option<bool>) {
        let drawn = self.reset_prng.chance(self.config.faults.crash_reset);
        let announced = announced.unwrap_or(drawn);
        self.nodes[i].refuses_connections = announced;
        if !announced {
            return;
        }
        let dead = self.nodes[i].key.id;
        for j in 0..self.nodes.len() {
            let peer = &self.nodes[j];
            if j == i
                || !matches!(peer.state, NodeState::Up | NodeState::Paused)
                || self.blocked.contains_key(&(dead, peer.key.id))
            {
                continue;
            }
            let f = self.config.faults;
            let delay = self
                .reset_prng
                .range_inclusive(f.delay_min_ms, f.delay_max_ms);
            let incarnation = peer.incarnation;
            self.push(
                self.now_ms + delay,
                Event::Unreachable {
                    node: j,
                    incarnation,
                    peer: dead,
                },
            );
        }
    }

    /// At most a minority of voters may ever be damaged (bit flips, fail-stop), so that a
    /// healthy majority can always elect a leader after healing; observers have no limit.
    fn may_damage(&self, i: usize) -> bool {
        if !self.nodes[i].voter || self.nodes[i].damaged {
            return true;
        }
        let damaged = self.nodes.iter().filter(|n| n.voter && n.damaged).count();
        damaged < (self.config.voters - 1) / 2
    }

    fn reschedule_tick(&mut self, i: usize) {
        let node = &self.nodes[i];
        let Some(raft) = &node.raft else { return };
        if node.state != NodeState::Up {
            return;
        }
        let d = raft.next_deadline_ms().max(self.now_ms);
        if d < node.scheduled_tick_ms || node.scheduled_tick_ms < self.now_ms {
            let incarnation = node.incarnation;
            self.nodes[i].scheduled_tick_ms = d;
            self.push(
                d,
                Event::Tick {
                    node: i,
                    incarnation,
                },
            );
        }
    }

    fn index_of(&self, id: NodeId) -> usize {
        self.ids
            .iter()
            .position(|&x| x == id)
            .expect("known node id")
    }

    // ---- events ----

    fn handle(&mut self, event: Event) {
        match event {
            Event::Deliver { from, to, message } => {
                let i = self.index_of(to);
                if self.blocked.contains_key(&(from, to)) {
                    return;
                }
                match self.nodes[i].state {
                    NodeState::Up => {}
                    NodeState::Paused => {
                        self.nodes[i]
                            .deferred
                            .push(Event::Deliver { from, to, message });
                        return;
                    }
                    NodeState::Down | NodeState::Stopped => return,
                }
                self.note(|| format!("{from} -> {to}: {}", describe(&message)));
                let now = self.now_ms;
                let raft = self.nodes[i].raft.as_mut().expect("up");
                let actions = raft.receive(now, from, message);
                self.execute(i, actions);
            }
            Event::Tick { node, incarnation } => {
                let n = &mut self.nodes[node];
                if n.incarnation != incarnation || n.state != NodeState::Up {
                    return;
                }
                if n.scheduled_tick_ms != self.now_ms {
                    return;
                }
                n.scheduled_tick_ms = u64::MAX;
                if n.ticks_at.0 == self.now_ms {
                    n.ticks_at.1 += 1;
                } else {
                    n.ticks_at = (self.now_ms, 1);
                }
                if n.ticks_at.1 > MAX_TICKS_PER_INSTANT {
                    let id = n.key.id;
                    self.fail(format!("node {id}: timer livelock at {} ms", self.now_ms));
                    return;
                }
                let now = self.now_ms;
                let before = n.raft.as_ref().map(|r| r.role());
                let actions = n.raft.as_mut().expect("up").tick(now);
                let after = n.raft.as_ref().map(|r| r.role());
                if before != after {
                    let id = n.key.id;
                    let e = n.raft.as_ref().expect("up").epoch();
                    self.note(|| format!("node {id} timer: {before:?} -> {after:?} (epoch {e})"));
                }
                self.execute(node, actions);
            }
            Event::FlushDone {
                node,
                incarnation,
                id,
            } => {
                let n = &self.nodes[node];
                if n.incarnation != incarnation {
                    return;
                }
                match n.state {
                    NodeState::Up => {}
                    NodeState::Paused => {
                        let e = Event::FlushDone {
                            node,
                            incarnation,
                            id,
                        };
                        self.nodes[node].deferred.push(e);
                        return;
                    }
                    NodeState::Down | NodeState::Stopped => return,
                }
                if self.faults_on
                    && self.prng.chance(self.config.faults.flush_failure)
                    && self.may_damage(node)
                {
                    let nid = self.nodes[node].key.id;
                    self.note(|| format!("node {nid}: FLUSH FAILS, node stops for good"));
                    self.crash_node(node, None);
                    self.nodes[node].state = NodeState::Stopped;
                    if self.nodes[node].voter {
                        self.nodes[node].damaged = true;
                    }
                    self.stats.fail_stops += 1;
                    return;
                }
                self.nodes[node].disk.flush();
                let (released, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.nodes[node].held)
                    .into_iter()
                    .partition(|(f, _)| *f <= id);
                self.nodes[node].held = kept;
                let now = self.now_ms;
                let actions = self.nodes[node].raft.as_mut().expect("up").flushed(now, id);
                for (_, env) in released {
                    self.send(node, env);
                }
                self.execute(node, actions);
            }
            Event::Propose => {
                if self.client_on {
                    self.client_propose();
                    let every = self.config.propose_every_ms;
                    self.push(self.now_ms + every, Event::Propose);
                }
            }
            Event::FaultTick => {
                if self.faults_on {
                    self.inject_faults();
                    self.push(self.now_ms + FAULT_TICK_MS, Event::FaultTick);
                }
            }
            Event::CrashCandidate { node, incarnation } => {
                if self.faults_on
                    && self.nodes[node].state == NodeState::Up
                    && self.nodes[node].incarnation == incarnation
                {
                    self.stats.candidate_crashes += 1;
                    self.crash_and_restart_later(node);
                }
            }
            Event::Restart { node, incarnation } => {
                if self.faults_on
                    && self.nodes[node].state == NodeState::Down
                    && self.nodes[node].incarnation == incarnation
                {
                    self.start_node(node);
                }
            }
            Event::Resume { node, incarnation } => {
                if self.nodes[node].state == NodeState::Paused
                    && self.nodes[node].incarnation == incarnation
                {
                    self.resume(node);
                }
            }
            Event::Unreachable {
                node,
                incarnation,
                peer,
            } => {
                let n = &mut self.nodes[node];
                if n.incarnation != incarnation {
                    return;
                }
                match n.state {
                    NodeState::Up => {}
                    NodeState::Paused => {
                        n.deferred.push(Event::Unreachable {
                            node,
                            incarnation,
                            peer,
                        });
                        return;
                    }
                    NodeState::Down | NodeState::Stopped => return,
                }
                self.stats.resets += 1;
                let id = n.key.id;
                self.note(|| format!("{id}: connection to {peer} reset or refused"));
                let now = self.now_ms;
                let raft = self.nodes[node].raft.as_mut().expect("up");
                let actions = raft.peer_unreachable(now, peer);
                self.execute(node, actions);
            }
            Event::HealLinks { links } => {
                for l in links {
                    if let Some(c) = self.blocked.get_mut(&l) {
                        *c -= 1;
                        if *c == 0 {
                            self.blocked.remove(&l);
                        }
                    }
                }
            }
            Event::HealAll => self.heal_all(),
        }
    }

    fn resume(&mut self, i: usize) {
        self.nodes[i].state = NodeState::Up;
        let id = self.nodes[i].key.id;
        self.note(|| format!("node {id} resumes (stale timers)"));
        self.nodes[i].scheduled_tick_ms = u64::MAX;
        self.reschedule_tick(i);
        let deferred = std::mem::take(&mut self.nodes[i].deferred);
        for e in deferred {
            self.handle(e);
            if self.nodes[i].state != NodeState::Up {
                break;
            }
        }
    }

    fn heal_all(&mut self) {
        self.note(|| "HEAL: faults stop, partitions heal, every node restarts/resumes".to_string());
        self.faults_on = false;
        self.healed_at_ms = Some(self.now_ms);
        self.blocked.clear();
        for i in 0..self.nodes.len() {
            match self.nodes[i].state {
                NodeState::Down => self.start_node(i),
                NodeState::Paused => self.resume(i),
                _ => {}
            }
        }
    }

    fn inject_faults(&mut self) {
        let f = self.config.faults;
        let n = self.nodes.len();
        if self.prng.chance(f.crash) {
            let i = self.prng.below(n as u64) as usize;
            if self.nodes[i].state == NodeState::Up {
                self.crash_and_restart_later(i);
            }
        }
        if self.prng.chance(f.stranger) {
            self.stranger_message();
        }
        if self.prng.chance(f.resign) {
            let leader = (0..n).find(|&i| {
                self.nodes[i].state == NodeState::Up
                    && self.nodes[i]
                        .raft
                        .as_ref()
                        .is_some_and(|r| r.role() == RoleName::Leader)
            });
            if let Some(i) = leader {
                let id = self.nodes[i].key.id;
                self.note(|| format!("node {id} RESIGNS gracefully"));
                self.stats.resignations += 1;
                let now = self.now_ms;
                let actions = self.nodes[i].raft.as_mut().expect("up").resign(now);
                self.execute(i, actions);
            }
        }
        if self.prng.chance(f.pause) {
            let i = self.prng.below(n as u64) as usize;
            if self.nodes[i].state == NodeState::Up {
                self.nodes[i].state = NodeState::Paused;
                let id = self.nodes[i].key.id;
                self.note(|| format!("node {id} PAUSED"));
                self.stats.pauses += 1;
                let back = self.now_ms + self.prng.range_inclusive(100, 6_000);
                let incarnation = self.nodes[i].incarnation;
                self.push(
                    back,
                    Event::Resume {
                        node: i,
                        incarnation,
                    },
                );
            }
        }
        if n > 1 && self.prng.chance(f.partition) {
            let mut side: Vec<NodeId> = Vec::new();
            let mut other: Vec<NodeId> = Vec::new();
            for &id in &self.ids {
                if self.prng.chance(0.5) {
                    side.push(id);
                } else {
                    other.push(id);
                }
            }
            if !side.is_empty() && !other.is_empty() {
                let asym = self.prng.chance(f.asymmetric);
                let mut links = Vec::new();
                for &a in &side {
                    for &b in &other {
                        links.push((a, b));
                        if !asym {
                            links.push((b, a));
                        }
                    }
                }
                for l in &links {
                    *self.blocked.entry(*l).or_insert(0) += 1;
                }
                self.stats.partitions += 1;
                self.note(|| {
                    format!(
                        "PARTITION {side:?} {} {other:?}",
                        if asym { "-/->" } else { "<-/->" }
                    )
                });
                let heal = self.now_ms + self.prng.range_inclusive(200, 10_000);
                self.push(heal, Event::HealLinks { links });
            }
        }
    }

    fn crash_and_restart_later(&mut self, i: usize) {
        self.crash_node(i, None);
        let back = self.now_ms + self.prng.range_inclusive(100, 5_000);
        let incarnation = self.nodes[i].incarnation;
        self.push(
            back,
            Event::Restart {
                node: i,
                incarnation,
            },
        );
    }

    /// A stranger's request to a running voter: a Vote (pre-vote or real), BeginQuorumEpoch
    /// or EndQuorumEpoch, claiming to come from a voter (with its directory id, which
    /// DescribeQuorum tells anyone, or a wrong one) or from a node that is no voter, at an
    /// epoch near the target's or far above it.
    fn stranger_message(&mut self) {
        let targets: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| self.nodes[i].voter && self.nodes[i].state == NodeState::Up)
            .collect();
        if targets.is_empty() {
            return;
        }
        let target = targets[self.prng.below(targets.len() as u64) as usize];
        let target_key = self.nodes[target].key;
        let epoch = self.nodes[target].raft.as_ref().expect("up").epoch();
        let epoch = match self.prng.below(4) {
            0 => epoch,
            1 => epoch + 1,
            2 => epoch + self.prng.range_inclusive(2, 5) as u32,
            _ => epoch + self.prng.range_inclusive(6, 1_000) as u32,
        };
        let claimed = if self.prng.chance(0.85) {
            let mut key = self.voter_keys[self.prng.below(self.voter_keys.len() as u64) as usize];
            if self.prng.chance(0.1) {
                key.directory_id = DirectoryId(u128::from(self.prng.next_u64()));
            }
            key
        } else {
            ReplicaKey {
                id: STRANGER_ID,
                directory_id: DirectoryId(7),
            }
        };
        let correlation = STRANGER_BIT | self.prng.next_u64();
        let message = match self.prng.below(3) {
            0 => Message::VoteRequest {
                correlation,
                candidate_epoch: epoch,
                candidate: claimed,
                voter: target_key,
                last_epoch: epoch,
                last_offset: self.prng.below(1 << 20),
                pre_vote: self.prng.chance(0.3),
            },
            1 => Message::BeginQuorumEpochRequest {
                correlation,
                epoch,
                leader: claimed.id,
                voter: target_key,
            },
            _ => Message::EndQuorumEpochRequest {
                correlation,
                epoch,
                leader: claimed.id,
                preferred_successors: Vec::new(),
            },
        };
        self.stats.stranger_messages += 1;
        let to = target_key.id;
        self.note(|| format!("STRANGER as {} -> {to}: {}", claimed.id, describe(&message)));
        let at = self.now_ms + self.prng.range_inclusive(1, 5);
        self.push(
            at,
            Event::Deliver {
                from: claimed.id,
                to,
                message,
            },
        );
    }

    // ---- the driver: executing the core's actions ----

    fn execute(&mut self, i: usize, actions: Vec<Action<Vec<u8>>>) {
        for a in actions {
            if self.nodes[i].state != NodeState::Up {
                return;
            }
            match a {
                Action::PersistElectionState(e) => {
                    let id = self.nodes[i].key.id;
                    self.note(|| format!("node {id} persists {e:?}"));
                    self.nodes[i].disk.election = e;
                }
                Action::AppendLeader {
                    base_offset,
                    last_offset,
                    epoch,
                    content,
                } => {
                    let payload = match content {
                        LeaderBatchContent::Records { payload, .. } => payload,
                        LeaderBatchContent::LeaderChange(lc) => {
                            self.stats.elections += 1;
                            let v = CONTROL_BIT | u64::from(lc.leader) << 32 | u64::from(epoch);
                            v.to_le_bytes().to_vec()
                        }
                    };
                    assert_eq!(payload.len() as u64, 8 * (last_offset - base_offset + 1));
                    let b = StoredBatch::new(base_offset, last_offset, epoch, payload);
                    self.nodes[i].disk.append(b);
                }
                Action::AppendFetched { batches } => {
                    for b in batches {
                        let sb = StoredBatch::new(b.base_offset, b.last_offset, b.epoch, b.payload);
                        self.nodes[i].disk.append(sb);
                    }
                }
                Action::Truncate { to_offset } => {
                    let id = self.nodes[i].key.id;
                    self.note(|| format!("node {id} truncates to {to_offset}"));
                    self.truncations.push((id, to_offset));
                    // Proposals whose records were just cut can never be acknowledged.
                    self.pending
                        .retain(|p| p.node != i || p.base < to_offset && p.last() < to_offset);
                    self.nodes[i].disk.truncate(to_offset);
                }
                Action::Flush { id, .. } => {
                    let f = self.config.faults;
                    let lat = self
                        .prng
                        .range_inclusive(f.disk_latency_min_ms, f.disk_latency_max_ms);
                    // Flushes complete in the order issued.
                    let at = (self.now_ms + lat).max(self.nodes[i].last_flush_done_ms);
                    self.nodes[i].last_flush_done_ms = at;
                    let incarnation = self.nodes[i].incarnation;
                    self.push(
                        at,
                        Event::FlushDone {
                            node: i,
                            incarnation,
                            id,
                        },
                    );
                }
                Action::Send(env) => self.send(i, env),
                Action::SendAfterFlush { flush, envelope } => {
                    self.nodes[i].held.push((flush, envelope));
                }
                Action::Commit { high_watermark } => self.apply(i, high_watermark),
                Action::DeleteLogPrefix { before_offset } => {
                    let d = &mut self.nodes[i].disk;
                    assert!(
                        d.snapshot
                            .as_ref()
                            .is_some_and(|s| s.0.end_offset >= before_offset)
                    );
                    d.log_start_offset = d.log_start_offset.max(before_offset);
                }
                Action::WriteSnapshotChunk {
                    snapshot,
                    position,
                    chunk,
                } => {
                    let d = &mut self.nodes[i].disk;
                    if position == 0 || d.partial_snapshot.as_ref().is_none_or(|p| p.0 != snapshot)
                    {
                        d.partial_snapshot = Some((snapshot, Vec::new()));
                    }
                    let p = d.partial_snapshot.as_mut().expect("just set");
                    assert_eq!(
                        p.1.len() as u64,
                        position,
                        "snapshot chunks arrive in order"
                    );
                    p.1.extend_from_slice(&chunk);
                }
                Action::InstallSnapshot { snapshot } => self.install_snapshot(i, snapshot),
            }
        }
        self.reschedule_tick(i);
    }

    fn send(&mut self, i: usize, mut env: Envelope<Vec<u8>>) {
        if let Some(fill) = env.fill.take() {
            self.fill(i, fill, &mut env.message);
        }
        let from = self.nodes[i].key.id;
        let to = env.to;
        if is_response(&env.message) && env.message.correlation() & STRANGER_BIT != 0 {
            // The answer to a stranger's request goes back to the stranger.
            return;
        }
        let target = self.index_of(to);
        if self.nodes[target].state == NodeState::Down
            && self.nodes[target].refuses_connections
            && !is_response(&env.message)
        {
            // The connect is refused; the sender's driver hears of it after a round trip.
            let f = self.config.faults;
            let delay = self
                .reset_prng
                .range_inclusive(f.delay_min_ms, f.delay_max_ms);
            let incarnation = self.nodes[i].incarnation;
            self.push(
                self.now_ms + delay,
                Event::Unreachable {
                    node: i,
                    incarnation,
                    peer: to,
                },
            );
            return;
        }
        let f = self.config.faults;
        let (loss, dup, reorder) = if self.faults_on {
            (f.loss, f.duplicate, f.reorder)
        } else {
            (0.0, 0.0, 0.0)
        };
        if self.prng.chance(loss) {
            return;
        }
        let copies = if self.prng.chance(dup) { 2 } else { 1 };
        for _ in 0..copies {
            let mut delay = self.prng.range_inclusive(f.delay_min_ms, f.delay_max_ms);
            if self.prng.chance(reorder) {
                delay += self.prng.range_inclusive(50, 1_500);
            }
            let message = env.message.clone();
            self.push(self.now_ms + delay, Event::Deliver { from, to, message });
        }
    }

    /// The leader's driver resolves a read description into data from its own disk.
    fn fill(&mut self, i: usize, fill: Fill, message: &mut Message<Vec<u8>>) {
        let disk = &self.nodes[i].disk;
        match (fill, message) {
            (
                Fill::Records {
                    from_offset,
                    end_offset,
                    max_bytes,
                },
                Message::FetchResponse { batches, .. },
            ) => {
                let start = disk
                    .batch_index_at(from_offset)
                    .unwrap_or_else(|| panic!("fill from {from_offset}: no batch starts there"));
                let mut total = 0u64;
                for b in &disk.written()[start..] {
                    if b.last_offset >= end_offset {
                        break;
                    }
                    let size = b.payload.len() as u64 + 24;
                    if !batches.is_empty() && total + size > u64::from(max_bytes) {
                        break;
                    }
                    total += size;
                    batches.push(b.to_batch());
                }
            }
            (
                Fill::SnapshotChunk {
                    snapshot,
                    position,
                    max_bytes,
                },
                Message::FetchSnapshotResponse { size, chunk, .. },
            ) => {
                if let Some((id, bytes)) = &disk.snapshot
                    && *id == snapshot
                    && position < bytes.len() as u64
                {
                    let end = (position + u64::from(max_bytes)).min(bytes.len() as u64);
                    *size = bytes.len() as u64;
                    *chunk = Some(bytes[position as usize..end as usize].to_vec());
                }
            }
            (f, m) => panic!("fill {f:?} does not fit {}", m.name()),
        }
    }

    fn install_snapshot(&mut self, i: usize, snapshot: SnapshotId) {
        let node = &mut self.nodes[i];
        let (id, bytes) = node
            .disk
            .partial_snapshot
            .take()
            .expect("install after chunks");
        assert_eq!(id, snapshot);
        let machine = Machine::decode(&bytes);
        node.disk.install_snapshot(id, bytes);
        // The log its proposals sat in is gone: their outcome is unknown to this node.
        self.pending.retain(|p| p.node != i);
        self.stats.snapshots_installed += 1;
        let nid = node.key.id;
        self.note(|| format!("node {nid} installs snapshot {snapshot:?}"));
        if machine.applied != snapshot.end_offset || machine.last_epoch != snapshot.epoch {
            self.fail(format!(
                "node {nid}: snapshot {snapshot:?} holds {} offsets ending in epoch {}",
                machine.applied, machine.last_epoch
            ));
            return;
        }
        // The snapshot's digest must be the digest of the cluster's committed prefix.
        let expected = self.truth_digest(snapshot.end_offset);
        if Some(machine.digest) != expected {
            self.fail(format!(
                "node {nid}: installed snapshot {snapshot:?} differs from the committed log \
                 (digest {:#x}, committed {expected:x?})",
                machine.digest
            ));
            return;
        }
        self.nodes[i].machine = machine;
    }

    /// Apply newly committed offsets on node `i`, checking each against the cluster-wide
    /// committed log, then acknowledge the client's proposals that it now sees committed.
    fn apply(&mut self, i: usize, hw: u64) {
        let from = self.nodes[i].machine.applied;
        for off in from..hw {
            let node = &self.nodes[i];
            let b = node.disk.batch_containing(off).unwrap_or_else(|| {
                panic!(
                    "node {}: committed offset {off} not in its log",
                    node.key.id
                )
            });
            let v = value_at(b, off);
            let e = b.epoch;
            self.nodes[i].machine.apply(e, v);
            if !self.agree(i, off, e, v) {
                return;
            }
        }
        self.acknowledge(i, hw);
        self.maybe_snapshot(i, hw);
    }

    /// The committed-prefix checker: every node that has committed `off` has the same record
    /// there, and no client value is committed twice.
    fn agree(&mut self, i: usize, off: u64, epoch: u32, value: u64) -> bool {
        let id = self.nodes[i].key.id;
        if let Some(&(te, tv)) = self.truth.get(off as usize) {
            if (te, tv) != (epoch, value) {
                self.fail(format!(
                    "committed logs differ at offset {off}: node {id} has (epoch {epoch}, value {value:#x}), \
                     the cluster committed (epoch {te}, value {tv:#x})"
                ));
                return false;
            }
            return true;
        }
        assert_eq!(off as usize, self.truth.len(), "truth grows in order");
        // Leader completeness, continuously: a record committed in epoch E (the epoch of the
        // node that first applies it, which learned the high watermark from E's leader) is in
        // the log of every leader of epoch E or later.
        let commit_epoch = self.nodes[i].raft.as_ref().map_or(0, |r| r.epoch());
        for n in &self.nodes {
            let Some(r) = &n.raft else { continue };
            if r.role() != RoleName::Leader || r.epoch() < commit_epoch {
                continue;
            }
            if off < n.disk.log_start_offset {
                continue;
            }
            let has = n
                .disk
                .batch_containing(off)
                .map(|b| (b.epoch, value_at(b, off)));
            if has != Some((epoch, value)) {
                let (lid, le) = (n.key.id, r.epoch());
                self.fail(format!(
                    "leader {lid} of epoch {le} lacks a record committed in epoch {commit_epoch}: \
                     at offset {off} it has {has:?}, node {id} committed (epoch {epoch}, value {value:#x})"
                ));
                return false;
            }
        }
        self.truth.push((epoch, value));
        self.truth_commit_epochs.push(commit_epoch);
        let prev = self.truth_digests.last().copied().unwrap_or(0);
        self.truth_digests.push(Machine::chain(prev, epoch, value));
        self.stats.committed_offsets = self.truth.len() as u64;
        if value & CONTROL_BIT == 0
            && let Some(prev) = self.value_offsets.insert(value, off)
        {
            self.fail(format!(
                "value {value:#x} committed twice: offsets {prev} and {off}"
            ));
            return false;
        }
        true
    }

    fn truth_digest(&self, end_offset: u64) -> Option<u64> {
        match end_offset {
            0 => Some(0),
            n => self.truth_digests.get(n as usize - 1).copied(),
        }
    }

    fn acknowledge(&mut self, i: usize, hw: u64) {
        let incarnation = self.nodes[i].incarnation;
        let mut k = 0;
        while k < self.pending.len() {
            let p = &self.pending[k];
            let last = p.base + p.values.len() as u64 - 1;
            if p.node != i || p.incarnation != incarnation || last >= hw {
                k += 1;
                continue;
            }
            let p = self.pending.remove(k);
            let disk = &self.nodes[i].disk;
            let ours = p.values.iter().enumerate().all(|(j, v)| {
                let off = p.base + j as u64;
                disk.batch_containing(off)
                    .is_some_and(|b| b.epoch == p.epoch && value_at(b, off) == *v)
            });
            if !ours {
                continue; // replaced before it committed: never acknowledged, nothing promised
            }
            if let Some(m) = p.max_acked_at_propose
                && p.base <= m
            {
                self.fail(format!(
                    "acknowledgment order: proposal at {} acknowledged after one at {m} that was \
                         acknowledged before it was proposed",
                    p.base
                ));
                return;
            }
            self.max_acked_offset = Some(self.max_acked_offset.map_or(last, |m| m.max(last)));
            self.stats.acked += 1;
            if self.healed_at_ms.is_some_and(|h| p.proposed_ms >= h) {
                self.live_after_heal = true;
            }
        }
    }

    fn maybe_snapshot(&mut self, i: usize, hw: u64) {
        let every = self.config.snapshot_every;
        if every == 0 || hw == 0 {
            return;
        }
        let node = &self.nodes[i];
        let last = node.disk.snapshot.as_ref().map_or(0, |s| s.0.end_offset);
        if hw < last + every {
            return;
        }
        assert_eq!(
            node.machine.applied, hw,
            "snapshot of exactly what was applied"
        );
        let bytes = node.machine.encode();
        let id = SnapshotId {
            end_offset: hw,
            epoch: node.machine.last_epoch,
        };
        self.nodes[i].disk.snapshot = Some((id, bytes));
        let now = self.now_ms;
        let actions = self.nodes[i]
            .raft
            .as_mut()
            .expect("up")
            .snapshot_written(now, id);
        self.execute(i, actions);
    }

    // ---- the client ----

    fn client_propose(&mut self) {
        if self.pending.len() >= CLIENT_MAX_IN_FLIGHT {
            // A closed-loop client: it bounds its outstanding requests and waits for each to
            // resolve (acknowledged, or known lost: cut from its node's log, or its node
            // crashed). Without the bound, or with a client that gives up and proposes more, a
            // slow (lossy, one-batch-per-fetch) cluster builds a backlog that, not any fault,
            // decides whether a new proposal commits in the liveness budget.
            return;
        }
        let voters = self.config.voters as u64;
        let target = match self.client_target {
            Some(t) => t,
            None => self.ids[self.prng.below(voters) as usize],
        };
        let i = self.index_of(target);
        if self.nodes[i].state != NodeState::Up {
            self.client_target = None;
            return;
        }
        let count = self.prng.range_inclusive(1, 3) as u32;
        match self.propose_to(i, count) {
            Ok(_) => {}
            Err(ProposeError::NotLeader { leader_hint }) => self.client_target = leader_hint,
            Err(ProposeError::Backpressure) | Err(ProposeError::TooLarge) => {}
        }
    }

    /// Propose `count` fresh client values to node `i`; the proposal is acknowledged when that
    /// node sees it committed.
    fn propose_to(&mut self, i: usize, count: u32) -> Result<(u64, u64), ProposeError> {
        assert_eq!(self.nodes[i].state, NodeState::Up);
        let values: Vec<u64> = (0..count)
            .map(|_| {
                let v = self.next_value;
                self.next_value += 1;
                v
            })
            .collect();
        let payload: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let now = self.now_ms;
        let size = payload.len() as u32;
        let raft = self.nodes[i].raft.as_mut().expect("up");
        let p = raft.propose(now, count, size, payload)?;
        self.stats.proposals += 1;
        self.pending.push(Pending {
            node: i,
            incarnation: self.nodes[i].incarnation,
            base: p.base_offset,
            epoch: p.epoch,
            values,
            max_acked_at_propose: self.max_acked_offset,
            proposed_ms: now,
        });
        let range = (p.base_offset, p.last_offset);
        self.execute(i, p.actions);
        Ok(range)
    }

    // ---- checkers that look at every node after every event ----

    fn check_every_event(&mut self) {
        self.notice_new_candidates();
        self.check_rejoined();
        for i in 0..self.nodes.len() {
            let Some(raft) = &self.nodes[i].raft else {
                continue;
            };
            let (id, epoch, hw, role) = (
                self.nodes[i].key.id,
                raft.epoch(),
                raft.high_watermark(),
                raft.role(),
            );
            // Observers, and voter ids running from a replaced disk, never campaign.
            let votes = raft.config().is_voter(&raft.config().local);
            let node = &mut self.nodes[i];
            if epoch < node.max_epoch {
                let m = node.max_epoch;
                self.fail(format!("node {id}: epoch went back from {m} to {epoch}"));
                return;
            }
            node.max_epoch = epoch;
            if hw < node.last_hw {
                let m = node.last_hw;
                self.fail(format!(
                    "node {id}: high watermark went back from {m} to {hw}"
                ));
                return;
            }
            node.last_hw = hw;
            if !votes && !matches!(role, RoleName::Unattached | RoleName::Follower) {
                self.fail(format!("observer {id} is {role:?}"));
                return;
            }
            if role == RoleName::Leader {
                let prev = *self.leaders.entry(epoch).or_insert(id);
                if prev != id {
                    self.fail(format!("two leaders in epoch {epoch}: {prev} and {id}"));
                    return;
                }
                if !self.nodes[i].checked_leadership.contains(&epoch) {
                    self.nodes[i].checked_leadership.push(epoch);
                    if let Err(m) = self.leader_has_every_committed_record(i) {
                        self.fail(format!("leader {id} of epoch {epoch} {m}"));
                        return;
                    }
                }
            }
        }
    }
}

impl Simulation {
    /// The `candidate_crash` fault: a node that just became a candidate may crash a moment
    /// later, once its vote requests are out (some voters may have granted it and moved to its
    /// epoch) but perhaps before it heard back.
    fn notice_new_candidates(&mut self) {
        for i in 0..self.nodes.len() {
            let role = self.nodes[i].raft.as_ref().map(|r| r.role());
            let was = std::mem::replace(&mut self.nodes[i].last_role, role);
            if role != Some(RoleName::Candidate) || was == Some(RoleName::Candidate) {
                continue;
            }
            if self.faults_on && self.prng.chance(self.config.faults.candidate_crash) {
                let f = self.config.faults;
                let at = self.now_ms
                    + self
                        .prng
                        .range_inclusive(f.delay_min_ms + 1, 2 * f.delay_max_ms + 2);
                let incarnation = self.nodes[i].incarnation;
                self.push(
                    at,
                    Event::CrashCandidate {
                        node: i,
                        incarnation,
                    },
                );
            }
        }
    }

    /// How long after healing, counted from the first leader, every running voter must
    /// follow one leader in one epoch (issue #12's bound: two election timeouts once it can
    /// reach the others; plus the rejoin probe's period twice, the time a silent voter takes
    /// to be probed, and the fetch timeout for a voter that must first notice its leader
    /// gone).
    fn rejoin_budget_ms(&self) -> u64 {
        let c = RaftConfig::new(self.voter_keys[0], self.voter_keys.clone());
        2 * c.election_timeout_ms + 2 * c.begin_quorum_epoch_resend_ms + c.fetch_timeout_ms
    }

    /// The rejoin checker: after the last fault (healing), whatever epoch a voter was pushed
    /// to, every running voter ends up following the leader, within the budget.
    fn check_rejoined(&mut self) {
        if self.healed_at_ms.is_none() || self.rejoined_after_heal {
            return;
        }
        let leader = self
            .nodes
            .iter()
            .filter_map(|n| n.raft.as_ref())
            .filter(|r| r.role() == RoleName::Leader)
            .max_by_key(|r| r.epoch())
            .map(|r| (r.config().local.id, r.epoch()));
        let Some((leader, epoch)) = leader else {
            return;
        };
        let first = *self.first_leader_after_heal_ms.get_or_insert(self.now_ms);
        let stray = self.nodes.iter().find(|n| {
            let Some(r) = &n.raft else {
                return false;
            };
            let votes = r.config().is_voter(&r.config().local);
            votes
                && n.state == NodeState::Up
                && !(r.epoch() == epoch
                    && (r.config().local.id == leader
                        || (r.role() == RoleName::Follower && r.leader() == Some(leader))))
        });
        match stray {
            None => {
                self.rejoined_after_heal = true;
                self.stats.rejoin_ms = Some(self.now_ms - first);
            }
            Some(n) if self.now_ms > first + self.rejoin_budget_ms() => {
                let r = n.raft.as_ref().expect("running");
                let message = format!(
                    "liveness: voter {} is {:?} in epoch {} (leader {:?}) {} ms after node {leader} led epoch {epoch} following the heal; every running voter must follow the leader within {} ms",
                    n.key.id,
                    r.role(),
                    r.epoch(),
                    r.leader(),
                    self.now_ms - first,
                    self.rejoin_budget_ms()
                );
                self.fail(message);
            }
            Some(_) => {}
        }
    }

    /// Leader completeness: a new leader's log (with its snapshot) holds every record the
    /// cluster committed in its epoch or earlier ones. Checked when it takes office, before it
    /// can overwrite anything on its followers. (A stale leader, elected late in an old epoch by
    /// delayed votes, need not have what later epochs committed; it cannot commit anything.)
    fn leader_has_every_committed_record(&self, i: usize) -> Result<(), String> {
        let disk = &self.nodes[i].disk;
        let leader_epoch = self.nodes[i].raft.as_ref().map_or(0, |r| r.epoch());
        let committed = self
            .truth_commit_epochs
            .iter()
            .rposition(|&e| e <= leader_epoch)
            .map_or(0, |p| p as u64 + 1);
        if disk.end_offset() < committed {
            return Err(format!(
                "lacks committed records: its log ends at {}, the cluster committed up to {committed}",
                disk.end_offset()
            ));
        }
        if let Some((id, bytes)) = &disk.snapshot {
            let m = Machine::decode(bytes);
            if id.end_offset <= committed && Some(m.digest) != self.truth_digest(id.end_offset) {
                return Err(format!(
                    "has a snapshot {id:?} that differs from the committed log"
                ));
            }
        }
        for off in disk.log_start_offset..committed {
            if self.truth_commit_epochs[off as usize] > leader_epoch {
                continue;
            }
            let b = disk
                .batch_containing(off)
                .ok_or_else(|| format!("has no record at committed offset {off}"))?;
            let (e, v) = self.truth[off as usize];
            if (b.epoch, value_at(b, off)) != (e, v) {
                return Err(format!(
                    "has (epoch {}, value {:#x}) at offset {off} where the cluster committed (epoch {e}, value {v:#x})",
                    b.epoch,
                    value_at(b, off)
                ));
            }
        }
        Ok(())
    }
}

impl Pending {
    fn last(&self) -> u64 {
        self.base + self.values.len() as u64 - 1
    }
}

fn value_at(b: &StoredBatch, off: u64) -> u64 {
    let j = (off - b.base_offset) as usize * 8;
    u64::from_le_bytes(b.payload[j..j + 8].try_into().expect("8 bytes"))
}

/// The simulated state machine: a bounded table (so a snapshot stays small however long the
/// run, as a real metadata image does) plus a digest chained over every applied record, so an
/// installed snapshot can be checked against the committed log it claims to summarise.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Machine {
    applied: u64,
    last_epoch: u32,
    digest: u64,
    slots: [u64; MACHINE_SLOTS],
}

const MACHINE_SLOTS: usize = 32;

impl Machine {
    fn chain(prev: u64, epoch: u32, value: u64) -> u64 {
        let mut p = Prng::new(prev ^ value.rotate_left(17) ^ u64::from(epoch) << 40);
        p.next_u64()
    }

    fn apply(&mut self, epoch: u32, value: u64) {
        self.applied += 1;
        self.last_epoch = epoch;
        self.digest = Self::chain(self.digest, epoch, value);
        self.slots[(value % MACHINE_SLOTS as u64) as usize] = value;
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(20 + 8 * MACHINE_SLOTS);
        out.extend_from_slice(&self.applied.to_le_bytes());
        out.extend_from_slice(&self.last_epoch.to_le_bytes());
        out.extend_from_slice(&self.digest.to_le_bytes());
        for s in &self.slots {
            out.extend_from_slice(&s.to_le_bytes());
        }
        out
    }

    fn decode(bytes: &[u8]) -> Machine {
        assert_eq!(
            bytes.len(),
            20 + 8 * MACHINE_SLOTS,
            "simulated snapshot size"
        );
        let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8"));
        let mut m = Machine {
            applied: u64_at(0),
            last_epoch: u32::from_le_bytes(bytes[8..12].try_into().expect("4")),
            digest: u64_at(12),
            slots: [0; MACHINE_SLOTS],
        };
        for (k, s) in m.slots.iter_mut().enumerate() {
            *s = u64_at(20 + 8 * k);
        }
        m
    }
}

fn is_response(m: &Message<Vec<u8>>) -> bool {
    matches!(
        m,
        Message::VoteResponse { .. }
            | Message::BeginQuorumEpochResponse { .. }
            | Message::EndQuorumEpochResponse { .. }
            | Message::FetchResponse { .. }
            | Message::FetchSnapshotResponse { .. }
    )
}

fn describe(m: &Message<Vec<u8>>) -> String {
    match m {
        Message::VoteRequest {
            candidate_epoch,
            last_epoch,
            last_offset,
            ..
        } => format!(
            "{} epoch {candidate_epoch} last ({last_epoch}, {last_offset})",
            m.name()
        ),
        Message::VoteResponse {
            epoch,
            granted,
            error,
            ..
        } => format!("{} epoch {epoch} granted {granted} {error:?}", m.name()),
        Message::BeginQuorumEpochRequest { epoch, .. }
        | Message::EndQuorumEpochRequest { epoch, .. } => {
            format!("{} epoch {epoch}", m.name())
        }
        Message::FetchRequest {
            fetch_offset,
            last_fetched_epoch,
            current_leader_epoch,
            ..
        } => format!(
            "Fetch epoch {current_leader_epoch} offset {fetch_offset} last epoch {last_fetched_epoch}"
        ),
        Message::FetchResponse {
            error,
            epoch,
            high_watermark,
            diverging,
            snapshot,
            batches,
            ..
        } => format!(
            "FetchResp epoch {epoch} hw {high_watermark} {}{}{}{}",
            error.map(|e| format!("{e:?} ")).unwrap_or_default(),
            diverging
                .map(|d| format!("diverging {d:?} "))
                .unwrap_or_default(),
            snapshot
                .map(|s| format!("snapshot {s:?} "))
                .unwrap_or_default(),
            match (batches.first(), batches.last()) {
                (Some(f), Some(l)) => format!("records [{}, {}]", f.base_offset, l.last_offset),
                _ => String::new(),
            }
        ),
        Message::FetchSnapshotRequest {
            snapshot, position, ..
        } => {
            format!("FetchSnapshot {snapshot:?} at {position}")
        }
        _ => format!("{} epoch {:?}", m.name(), epoch_of(m)),
    }
}

fn epoch_of(m: &Message<Vec<u8>>) -> Option<u32> {
    match m {
        Message::BeginQuorumEpochResponse { epoch, .. }
        | Message::EndQuorumEpochResponse { epoch, .. }
        | Message::FetchSnapshotResponse { epoch, .. } => Some(*epoch),
        _ => None,
    }
}

/// Scripted control, for scenario tests: a fault-free cluster (1-5 ms message delay, 1-3 ms
/// flushes) that a test drives step by step, with every checker still running after every event.
impl Simulation {
    pub fn scripted(voters: usize, observers: usize, seed: u64) -> Simulation {
        let mut c = SimConfig::from_seed(seed);
        c.voters = voters;
        c.observers = observers;
        c.faults = super::config::Faults::none();
        c.fault_phase_ms = u64::MAX / 4;
        c.snapshot_every = 0;
        c.snapshot_chunk_bytes = 100;
        c.max_fetch_bytes = crate::constants::RAFT_MAX_FETCH_BYTES;
        c.propose_every_ms = 50;
        let mut sim = Simulation::new(c);
        sim.client_on = false;
        sim
    }

    /// Start every node at time 0.
    pub fn start(&mut self) {
        for i in 0..self.nodes.len() {
            self.start_node(i);
        }
    }

    /// Turn the background client (a proposal every 50 ms to whoever leads) on or off.
    pub fn set_client(&mut self, on: bool) {
        if on && !self.client_on {
            let at = self.now_ms + self.config.propose_every_ms;
            self.push(at, Event::Propose);
        }
        self.client_on = on;
    }

    pub fn set_snapshot_every(&mut self, offsets: u64) {
        self.config.snapshot_every = offsets;
    }

    /// Process every event up to `until_ms`, checking after each.
    pub fn run_until(&mut self, until_ms: u64) -> Result<(), Violation> {
        while self.queue.peek().is_some_and(|q| q.at_ms <= until_ms) {
            let q = self.queue.pop().expect("peeked");
            self.now_ms = q.at_ms;
            self.stats.events += 1;
            self.stats.sim_ms = self.now_ms;
            self.handle(q.event);
            self.check_every_event();
            if let Some(v) = &self.violation {
                return Err(v.clone());
            }
        }
        self.now_ms = self.now_ms.max(until_ms);
        Ok(())
    }

    pub fn run_for(&mut self, ms: u64) -> Result<(), Violation> {
        self.run_until(self.now_ms + ms)
    }

    /// Runs until a leader is elected (checked every 100 ms), at most 10 s; the leader.
    /// Panics if none is, or if a checker fails meanwhile: for scripted tests.
    pub fn run_until_elected(&mut self) -> NodeId {
        for _ in 0..100 {
            if let Some(l) = self.leader() {
                return l;
            }
            self.run_for(100).expect("checkers hold");
        }
        panic!("no leader elected within 10 s");
    }

    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// Cut every link to and from `id`.
    pub fn isolate(&mut self, id: NodeId) {
        for &other in &self.ids {
            if other != id {
                *self.blocked.entry((id, other)).or_insert(0) += 1;
                *self.blocked.entry((other, id)).or_insert(0) += 1;
            }
        }
    }

    /// Cut the link from `from` to `to` only.
    pub fn block(&mut self, from: NodeId, to: NodeId) {
        *self.blocked.entry((from, to)).or_insert(0) += 1;
    }

    pub fn heal(&mut self) {
        self.blocked.clear();
    }

    /// Crashes `id` silently (power loss: its peers hear nothing).
    pub fn crash(&mut self, id: NodeId) {
        let i = self.index_of(id);
        self.crash_node(i, Some(false));
    }

    /// `node`'s driver reports its connection to `peer` reset or refused, in 1 ms, whatever
    /// `peer` is doing (a connection closed for another reason, a firewall's reject).
    pub fn report_unreachable(&mut self, node: NodeId, peer: NodeId) {
        let i = self.index_of(node);
        let incarnation = self.nodes[i].incarnation;
        self.push(
            self.now_ms + 1,
            Event::Unreachable {
                node: i,
                incarnation,
                peer,
            },
        );
    }

    /// Kills `id`'s process (kill -9): its peers' connections are reset after one message
    /// delay, and connecting to it is refused until it restarts.
    pub fn kill(&mut self, id: NodeId) {
        let i = self.index_of(id);
        self.crash_node(i, Some(true));
    }

    pub fn restart(&mut self, id: NodeId) {
        let i = self.index_of(id);
        assert_eq!(self.nodes[i].state, NodeState::Down);
        self.start_node(i);
    }

    /// A stranger's request to `to`, claiming to come from `claimed` (any id): delivered in
    /// 1 ms; the answer goes back to the stranger. The request's correlation is replaced.
    pub fn stranger_sends(&mut self, claimed: NodeId, to: NodeId, mut message: Message<Vec<u8>>) {
        let correlation = STRANGER_BIT | self.prng.next_u64();
        match &mut message {
            Message::VoteRequest { correlation: c, .. }
            | Message::BeginQuorumEpochRequest { correlation: c, .. }
            | Message::EndQuorumEpochRequest { correlation: c, .. }
            | Message::FetchRequest { correlation: c, .. }
            | Message::FetchSnapshotRequest { correlation: c, .. } => *c = correlation,
            other => panic!("a stranger sends requests, not {}", other.name()),
        }
        self.stats.stranger_messages += 1;
        let at = self.now_ms + 1;
        self.push(
            at,
            Event::Deliver {
                from: claimed,
                to,
                message,
            },
        );
    }

    /// The key voter `id` runs with.
    pub fn key(&self, id: NodeId) -> ReplicaKey {
        self.nodes[self.index_of(id)].key
    }

    /// Graceful shutdown of a leader: it resigns with EndQuorumEpoch.
    pub fn resign(&mut self, id: NodeId) {
        let i = self.index_of(id);
        let now = self.now_ms;
        let actions = self.nodes[i].raft.as_mut().expect("up").resign(now);
        self.execute(i, actions);
    }

    pub fn raft(&self, id: NodeId) -> &Raft<Vec<u8>> {
        self.nodes[self.index_of(id)]
            .raft
            .as_ref()
            .expect("node is up")
    }

    /// The running leader with the highest epoch, if any.
    pub fn leader(&self) -> Option<NodeId> {
        self.nodes
            .iter()
            .filter_map(|n| n.raft.as_ref().map(|r| (r, n.key.id)))
            .filter(|(r, _)| r.role() == RoleName::Leader)
            .max_by_key(|(r, _)| r.epoch())
            .map(|(_, id)| id)
    }

    pub fn propose(&mut self, id: NodeId, count: u32) -> Result<(u64, u64), ProposeError> {
        let i = self.index_of(id);
        self.propose_to(i, count)
    }

    /// (node, offset) of every truncation so far, in order.
    pub fn truncations(&self) -> &[(NodeId, u64)] {
        &self.truncations
    }

    /// (base offset, last offset, epoch) of every batch in `id`'s log.
    pub fn log_batches(&self, id: NodeId) -> Vec<(u64, u64, u32)> {
        self.nodes[self.index_of(id)]
            .disk
            .written()
            .iter()
            .filter(|b| b.last_offset >= self.nodes[self.index_of(id)].disk.log_start_offset)
            .map(|b| (b.base_offset, b.last_offset, b.epoch))
            .collect()
    }

    /// Offsets the whole cluster has committed (as applied by any node).
    pub fn committed_offsets(&self) -> u64 {
        self.truth.len() as u64
    }

    pub fn snapshot_of(&self, id: NodeId) -> Option<SnapshotId> {
        self.nodes[self.index_of(id)]
            .disk
            .snapshot
            .as_ref()
            .map(|s| s.0)
    }
}
