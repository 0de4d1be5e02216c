//! The single-threaded event loop of a node: one `mio::Poll` for listeners, client
//! connections, links to the other voters and the shutdown signal.
//!
//! One iteration: poll with a timeout set by the earliest deadline (the node's timers, request
//! timeouts, reconnects); read every ready socket and hand whole frames to the node; tick the
//! node; then group commit (`Node::end_of_iteration`: one flush for every append of the
//! iteration, which releases what waited for it); then write. Connections live in a fixed number
//! of slots; a connection beyond them is closed at once. Nothing here blocks.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use log::{debug, error, info, warn};
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token};

use crate::node::{Channel, Clock, ConnectionId, Fatal, Node, Output, RequestOutcome};
use crate::raft::NodeId;
use crate::raft::prng::Prng;

use super::inbound::{Inbound, ReadOutcome};
use super::outbound::{Completion, LinkConfig, LinkError, PeerLink};
use super::signals::ShutdownSignal;
use super::warn_limit::WarnLimit;
use crate::constants::{CONNECTION_WARNING_WINDOW_MS, CONNECTION_WARNINGS_PER_WINDOW};

const SIGNAL_TOKEN: Token = Token(0);
const LISTENER_TOKEN_BASE: usize = 1;
const PEER_TOKEN_BASE: usize = 1 << 16;
const CONNECTION_TOKEN_BASE: usize = 1 << 20;

/// How the loop is sized.
#[derive(Debug, Clone)]
pub struct LoopConfig {
    pub connections_max: usize,
    pub requests_in_flight_per_connection: usize,
    pub max_frame_bytes: u32,
    pub read_chunk_bytes: usize,
    pub peer_link: LinkConfig,
    /// How long a leader keeps running after a shutdown signal so its resignation leaves.
    pub shutdown_grace_ms: u64,
}

/// Why the loop stopped.
#[derive(Debug)]
pub enum LoopExit {
    /// A shutdown signal, handled: leadership handed over, log flushed.
    Shutdown,
    /// The node hit a failure it cannot continue after (flush failed, storage error).
    Fatal(Fatal),
    /// The poll itself failed.
    Io(io::Error),
}

struct Slot {
    generation: u32,
    connection: Option<Inbound>,
    /// Index of the listener the connection came in on.
    listener: usize,
}

pub struct EventLoop {
    poll: Poll,
    listeners: Vec<TcpListener>,
    slots: Vec<Slot>,
    /// Links to other nodes: to the voters for the quorum, and (brokers) to every controller
    /// for registration, heartbeats and forwarded writes, on connections of their own so
    /// that a parked Fetch never holds up a heartbeat.
    peers: BTreeMap<(NodeId, Channel), PeerLink>,
    peer_tokens: Vec<(NodeId, Channel)>,
    node: Node,
    signal: Option<ShutdownSignal>,
    scratch: Vec<u8>,
    prng: Prng,
    start: Instant,
    config: LoopConfig,
    /// Budget for warnings about client connections (anyone can trigger them).
    connection_warnings: WarnLimit,
}

fn connection_id(slot: usize, generation: u32) -> ConnectionId {
    (u64::from(generation) << 32) | slot as u64
}

/// Binds every address of `listen`. Done before the node opens its log, so a port that is
/// taken stops the start before any disk work.
pub fn bind_listeners(listen: &[SocketAddr]) -> io::Result<Vec<TcpListener>> {
    listen
        .iter()
        .map(|address| {
            TcpListener::bind(*address)
                .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {address}: {e}")))
        })
        .collect()
}

impl EventLoop {
    /// Serves `listeners` (see [`bind_listeners`]) and prepares links to `peers` (each on
    /// the channel given).
    pub fn new(
        node: Node,
        listeners: Vec<TcpListener>,
        peers: &[(NodeId, Channel, SocketAddr)],
        signal: Option<ShutdownSignal>,
        config: LoopConfig,
        seed: u64,
        start: Instant,
    ) -> io::Result<EventLoop> {
        let poll = Poll::new()?;
        let mut listeners = listeners;
        for (i, listener) in listeners.iter_mut().enumerate() {
            poll.registry().register(
                listener,
                Token(LISTENER_TOKEN_BASE + i),
                Interest::READABLE,
            )?;
            info!("listening on {}", listener.local_addr()?);
        }
        let mut signal = signal;
        if let Some(signal) = &mut signal {
            poll.registry()
                .register(signal.receiver_mut(), SIGNAL_TOKEN, Interest::READABLE)?;
        }
        let client_id = format!("keel-node-{}", node.node_id());
        let peer_tokens: Vec<(NodeId, Channel)> = peers
            .iter()
            .map(|(id, channel, _)| (*id, *channel))
            .collect();
        let peers = peers
            .iter()
            .map(|(id, channel, address)| {
                (
                    (*id, *channel),
                    PeerLink::new(*address, &client_id, config.peer_link),
                )
            })
            .collect();
        let slots = (0..config.connections_max)
            .map(|_| Slot {
                generation: 0,
                connection: None,
                listener: 0,
            })
            .collect();
        Ok(EventLoop {
            poll,
            listeners,
            slots,
            peers,
            peer_tokens,
            node,
            signal,
            scratch: vec![0; config.read_chunk_bytes],
            prng: Prng::new(seed),
            start,
            config,
            connection_warnings: WarnLimit::new(
                CONNECTION_WARNINGS_PER_WINDOW,
                CONNECTION_WARNING_WINDOW_MS,
            ),
        })
    }

    /// The addresses actually bound (port 0 resolved).
    pub fn local_addresses(&self) -> Vec<SocketAddr> {
        self.listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect()
    }

    pub fn node(&self) -> &Node {
        &self.node
    }

    fn clock(&self) -> Clock {
        let wall_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        Clock {
            monotonic_ms: self.start.elapsed().as_millis() as u64,
            wall_ms,
        }
    }

    /// Runs until a shutdown signal (handled gracefully) or a fatal error.
    pub fn run(&mut self) -> LoopExit {
        let mut events = Events::with_capacity(1024);
        let mut shutdown_until: Option<u64> = None;
        loop {
            let clock = self.clock();
            match self.iteration(&mut events, clock, shutdown_until.is_some()) {
                Ok(signalled) => {
                    if signalled && shutdown_until.is_none() {
                        info!("shutdown requested");
                        if let Err(fatal) = self.node.resign(clock) {
                            return LoopExit::Fatal(fatal);
                        }
                        let grace_ms = self
                            .config
                            .shutdown_grace_ms
                            .max(self.node.shutdown_grace_ms());
                        shutdown_until = Some(clock.monotonic_ms + grace_ms);
                        if let Err(fatal) = self.dispatch(clock) {
                            return LoopExit::Fatal(fatal);
                        }
                    }
                }
                Err(exit) => return exit,
            }
            if let Some(until) = shutdown_until {
                // A voter waits for its last messages (EndQuorumEpoch) to be answered; a
                // broker-only node has nothing in flight worth waiting for once the
                // controller agreed to its shutdown (its fetch is parked at the leader).
                let quiet = self.node.may_exit()
                    && (!self.node.is_controller()
                        || self.peers.values().all(|link| link.in_flight() == 0));
                if quiet || self.clock().monotonic_ms >= until {
                    return match self.node.flush_for_shutdown() {
                        Ok(()) => {
                            info!("log flushed; exiting");
                            LoopExit::Shutdown
                        }
                        Err(fatal) => LoopExit::Fatal(fatal),
                    };
                }
            }
        }
    }

    /// One iteration. Returns whether a shutdown signal arrived.
    fn iteration(
        &mut self,
        events: &mut Events,
        clock: Clock,
        shutting_down: bool,
    ) -> Result<bool, LoopExit> {
        let timeout_ms = self.next_deadline_ms().saturating_sub(clock.monotonic_ms);
        let timeout_ms = if shutting_down {
            timeout_ms.min(10)
        } else {
            timeout_ms
        };
        // With preparation pending, an idle poll is the moment to do it: look, but do not wait.
        let timeout_ms = if self.node.needs_prepare() && !shutting_down {
            timeout_ms.min(1)
        } else {
            timeout_ms
        };
        match self
            .poll
            .poll(events, Some(std::time::Duration::from_millis(timeout_ms)))
        {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(LoopExit::Io(e)),
        }
        let clock = self.clock();
        let idle = events.is_empty();
        let mut signalled = false;
        let ready: Vec<(Token, bool, bool)> = events
            .iter()
            .map(|e| {
                (
                    e.token(),
                    e.is_readable() || e.is_read_closed() || e.is_error(),
                    e.is_writable(),
                )
            })
            .collect();
        for (token, readable, writable) in ready {
            match token.0 {
                0 => signalled |= self.signal.as_mut().is_some_and(ShutdownSignal::arrived),
                t if (LISTENER_TOKEN_BASE..PEER_TOKEN_BASE).contains(&t) => {
                    self.accept(t - LISTENER_TOKEN_BASE)
                }
                t if (PEER_TOKEN_BASE..CONNECTION_TOKEN_BASE).contains(&t) => {
                    let peer = self.peer_tokens[t - PEER_TOKEN_BASE];
                    let random = self.prng.next_u64();
                    let link = self.peers.get_mut(&peer).expect("token of a known peer");
                    let completions = link.on_ready(clock.monotonic_ms, &mut self.scratch, random);
                    self.complete(clock, completions).map_err(LoopExit::Fatal)?;
                }
                t => {
                    let slot = t - CONNECTION_TOKEN_BASE;
                    if readable && let Some(connection) = self.slots[slot].connection.as_mut() {
                        connection.mark_readable();
                    }
                    if writable {
                        self.write_connection(slot);
                    }
                }
            }
        }
        // Read every connection that may have input (ready now, or paused earlier with bytes
        // left in its socket), and hand over every whole frame.
        for slot in 0..self.slots.len() {
            if self.slots[slot]
                .connection
                .as_ref()
                .is_some_and(Inbound::wants_read)
            {
                self.read_connection(clock, slot).map_err(LoopExit::Fatal)?;
            }
        }
        self.maintain_peers(clock).map_err(LoopExit::Fatal)?;
        self.node.tick(clock).map_err(LoopExit::Fatal)?;
        self.dispatch(clock).map_err(LoopExit::Fatal)?;
        self.node.end_of_iteration(clock).map_err(LoopExit::Fatal)?;
        self.dispatch(clock).map_err(LoopExit::Fatal)?;
        for slot in 0..self.slots.len() {
            if self.slots[slot].connection.is_some() {
                self.write_connection(slot);
            }
        }
        if idle && !shutting_down && !self.node.wants_flush() && self.node.needs_prepare() {
            self.node.prepare_ahead().map_err(LoopExit::Fatal)?;
        }
        Ok(signalled)
    }

    fn next_deadline_ms(&self) -> u64 {
        let mut deadline = self.node.next_deadline_ms();
        for link in self.peers.values() {
            if let Some(at) = link.next_deadline_ms() {
                deadline = deadline.min(at);
            }
        }
        deadline
    }

    fn accept(&mut self, index: usize) {
        loop {
            let (mut stream, peer) = match self.listeners[index].accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    warn!("accept failed: {e}");
                    return;
                }
            };
            let Some(slot) = self.slots.iter().position(|s| s.connection.is_none()) else {
                let now_ms = self.clock().monotonic_ms;
                if let Some(note) = self.connection_warnings.allow(now_ms) {
                    warn!(
                        "refusing a connection from {peer}: all {} connection slots are in use{note}",
                        self.slots.len()
                    );
                }
                continue;
            };
            let _ = stream.set_nodelay(true);
            let token = Token(CONNECTION_TOKEN_BASE + slot);
            if let Err(e) = self.poll.registry().register(
                &mut stream,
                token,
                Interest::READABLE | Interest::WRITABLE,
            ) {
                warn!("cannot register a connection from {peer}: {e}");
                continue;
            }
            let entry = &mut self.slots[slot];
            entry.generation = entry.generation.wrapping_add(1);
            entry.listener = index;
            entry.connection = Some(Inbound::new(
                stream,
                peer,
                self.config.max_frame_bytes,
                self.config.requests_in_flight_per_connection,
            ));
            debug!("accepted a connection from {peer} into slot {slot}");
        }
    }

    fn read_connection(&mut self, clock: Clock, slot: usize) -> Result<(), Fatal> {
        let id = connection_id(slot, self.slots[slot].generation);
        let connection = self.slots[slot].connection.as_mut().expect("occupied slot");
        let outcome = match connection.read(&mut self.scratch) {
            Ok(outcome) => outcome,
            Err(e) => {
                debug!(
                    "closing the connection from {}: {e}",
                    connection.peer_addr()
                );
                self.close(slot);
                return Ok(());
            }
        };
        loop {
            let connection = self.slots[slot].connection.as_mut().expect("occupied slot");
            let (seq, frame) = match connection.next_request() {
                Ok(Some((seq, frame))) => (seq, frame.to_vec()),
                Ok(None) => break,
                Err(e) => {
                    let peer = connection.peer_addr();
                    if let Some(note) = self.connection_warnings.allow(clock.monotonic_ms) {
                        warn!("closing the connection from {peer}: {e}{note}");
                    }
                    self.close(slot);
                    return Ok(());
                }
            };
            let listener = self.slots[slot].listener;
            match self.node.handle_request(clock, id, listener, seq, &frame)? {
                RequestOutcome::Handled => {}
                RequestOutcome::Close { reason } => {
                    let peer = self.slots[slot]
                        .connection
                        .as_ref()
                        .expect("occupied")
                        .peer_addr();
                    if let Some(note) = self.connection_warnings.allow(clock.monotonic_ms) {
                        warn!("closing the connection from {peer}: {reason}{note}");
                    }
                    self.close(slot);
                    return Ok(());
                }
            }
            self.dispatch(clock)?;
            if self.slots[slot].connection.is_none() {
                return Ok(());
            }
        }
        if outcome == ReadOutcome::PeerClosed
            && self.slots[slot]
                .connection
                .as_ref()
                .is_some_and(Inbound::finished)
        {
            self.close(slot);
        }
        Ok(())
    }

    fn write_connection(&mut self, slot: usize) {
        let Some(connection) = self.slots[slot].connection.as_mut() else {
            return;
        };
        if let Err(e) = connection.write() {
            debug!(
                "closing the connection from {}: {e}",
                connection.peer_addr()
            );
            self.close(slot);
            return;
        }
        if connection.finished() {
            self.close(slot);
        }
    }

    fn close(&mut self, slot: usize) {
        let id = connection_id(slot, self.slots[slot].generation);
        if let Some(mut connection) = self.slots[slot].connection.take() {
            let _ = self.poll.registry().deregister(connection.stream_mut());
        }
        self.node.connection_closed(id);
    }

    /// Connects idle peer links (after their backoff) and times out their requests.
    fn maintain_peers(&mut self, clock: Clock) -> Result<(), Fatal> {
        let peer_ids: Vec<(NodeId, Channel)> = self.peers.keys().copied().collect();
        for peer in peer_ids {
            let random = self.prng.next_u64();
            let index = self
                .peer_tokens
                .iter()
                .position(|id| *id == peer)
                .expect("known peer");
            let link = self.peers.get_mut(&peer).expect("known peer");
            let completions = link.check_timeouts(clock.monotonic_ms, random);
            if link.maybe_connect(clock.monotonic_ms, random)
                && let Some(stream) = link.stream_mut()
            {
                let token = Token(PEER_TOKEN_BASE + index);
                if let Err(e) = self.poll.registry().register(
                    stream,
                    token,
                    Interest::READABLE | Interest::WRITABLE,
                ) {
                    warn!("cannot register the link to node {}: {e}", peer.0);
                }
            }
            self.complete(clock, completions)?;
        }
        Ok(())
    }

    fn complete(&mut self, clock: Clock, completions: Vec<Completion>) -> Result<(), Fatal> {
        for completion in completions {
            self.node
                .handle_response(clock, completion.token, completion.result)?;
        }
        self.dispatch(clock)
    }

    /// Delivers the node's outputs until it has none (a failed send feeds back into the node).
    fn dispatch(&mut self, clock: Clock) -> Result<(), Fatal> {
        loop {
            let outputs = self.node.take_outputs();
            if outputs.is_empty() {
                return Ok(());
            }
            for output in outputs {
                match output {
                    Output::Respond {
                        connection,
                        seq,
                        frame,
                    } => {
                        let slot = (connection & 0xffff_ffff) as usize;
                        let generation = (connection >> 32) as u32;
                        if let Some(entry) = self.slots.get_mut(slot)
                            && entry.generation == generation
                            && let Some(inbound) = entry.connection.as_mut()
                        {
                            inbound.respond(seq, frame);
                        }
                    }
                    Output::Close { connection, reason } => {
                        let slot = (connection & 0xffff_ffff) as usize;
                        let generation = (connection >> 32) as u32;
                        if self
                            .slots
                            .get(slot)
                            .is_some_and(|entry| entry.generation == generation)
                            && let Some(inbound) = self.slots[slot].connection.as_ref()
                        {
                            warn!(
                                "closing the connection from {}: {reason}",
                                inbound.peer_addr()
                            );
                            self.close(slot);
                        }
                    }
                    Output::Request {
                        to,
                        channel,
                        token,
                        body,
                        version,
                        timeout_ms,
                    } => {
                        let Some(link) = self.peers.get_mut(&(to, channel)) else {
                            error!(
                                "the node addressed node {to} ({channel:?}), which is not a controller this node knows"
                            );
                            self.node
                                .handle_response(clock, token, Err(LinkError::NotReady))?;
                            continue;
                        };
                        // Narrowed like every answer: what this node sends carries only
                        // what the version it sends at can.
                        let mut body = body;
                        body.narrow_to_version(version);
                        if let Err(error) =
                            link.send(clock.monotonic_ms, token, version, &body, timeout_ms)
                        {
                            self.node.handle_response(clock, token, Err(error))?;
                        } else if link.is_connected() {
                            // Push it out now rather than waiting for a writable event.
                            let random = self.prng.next_u64();
                            let completions =
                                link.on_ready(clock.monotonic_ms, &mut self.scratch, random);
                            for completion in completions {
                                self.node.handle_response(
                                    clock,
                                    completion.token,
                                    completion.result,
                                )?;
                            }
                        }
                    }
                }
            }
        }
    }
}
