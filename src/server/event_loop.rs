//! The single-threaded event loop of a node: one `mio::Poll` for listeners, client
//! connections, links to the other voters and the shutdown signal.
//!
//! One iteration: poll with a timeout set by the earliest deadline (the node's timers, request
//! timeouts, reconnects); read every ready socket and hand whole frames to the node; tick the
//! node; if a flush is due, first write what is already final (answers the node may send now:
//! replies to committed requests, a leader's Fetch answers, refusals), so that none of it
//! waits for a flush it does not need; then group commit (`Node::end_of_iteration`: one flush
//! for every append of the iteration, which releases what waited for it); then write what it
//! released. Nothing here blocks but the flush.
//!
//! Connections live in a fixed number of slots ([`Admission`]): `max.connections` ordinary
//! ones plus a reserve that only peers occupy. A connection on a controller listener whose
//! request is one of the quorum's or a broker's ([`PEER_API_KEYS`], read from the frame's
//! first two bytes, before the node sees it) is a peer's and moves into the reserve, so
//! clients holding every ordinary slot cannot keep a voter or a broker out. A new connection
//! that finds the ordinary slots full takes the place of the least recently active ordinary
//! connection owed no answer; if every one is owed an answer, or its address is at
//! `max.connections.per.ip`, it is closed at once. A connection that moved no byte for
//! `connections.max.idle.ms` and is owed no answer is closed.
//!
//! Partly read requests larger than `SERVER_UNBUDGETED_READ_BYTES` share one [`ReadBudget`]
//! (`queued.max.request.bytes`); a connection whose next frame does not fit is not read until
//! the budget frees (see `inbound`).
//!
//! Because mio is edge-triggered, nothing that could go on is left waiting for an event: a
//! listener not drained (at most `SERVER_ACCEPTS_PER_ITERATION` per iteration) or whose accept
//! failed for want of descriptors is accepted again at its retry time, and a connection that
//! can progress ([`Inbound::can_progress`]) makes the next poll return at once.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use log::{debug, error, info, warn};
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token};

use crate::node::{Channel, Clock, ConnectionId, Fatal, LinkError, Node, Output, RequestOutcome};
use crate::prng::Prng;
use crate::raft::NodeId;

use super::admission::{Admission, Refusal};
use super::inbound::{Inbound, ReadBudget};
use super::outbound::{Completion, LinkConfig, PeerLink};
use super::signals::ShutdownSignal;
use crate::constants::{
    CONNECTION_WARNING_WINDOW_MS, CONNECTION_WARNINGS_PER_WINDOW, SERVER_ACCEPT_RETRY_MS,
    SERVER_ACCEPTS_PER_ITERATION, SERVER_LISTEN_BACKLOG,
};
use crate::log_limit::WarnLimit;
use crate::protocol::ApiKey;

const SIGNAL_TOKEN: Token = Token(0);
const LISTENER_TOKEN_BASE: usize = 1;
const PEER_TOKEN_BASE: usize = 1 << 16;
const CONNECTION_TOKEN_BASE: usize = 1 << 20;

/// The requests that make a connection on a controller listener a peer's: the quorum's own
/// (voters, and observers' fetches) and a broker's lifecycle. A broker's forwarded writes
/// travel on the same connection as its heartbeats, so that connection becomes a peer's at
/// its first heartbeat even if a forwarded write came first.
pub const PEER_API_KEYS: &[ApiKey] = &[
    ApiKey::Vote,
    ApiKey::BeginQuorumEpoch,
    ApiKey::EndQuorumEpoch,
    ApiKey::Fetch,
    ApiKey::FetchSnapshot,
    ApiKey::BrokerRegistration,
    ApiKey::BrokerHeartbeat,
];

/// How the loop is sized.
#[derive(Debug, Clone)]
pub struct LoopConfig {
    /// Ordinary connection slots (`max.connections`).
    pub client_connections_max: usize,
    /// Slots beyond them that only peers occupy.
    pub peer_connections_reserved: usize,
    /// `max.connections.per.ip`.
    pub connections_per_ip_max: usize,
    /// `connections.max.idle.ms`.
    pub connections_idle_ms: u64,
    /// `queued.max.request.bytes`.
    pub queued_request_bytes_max: usize,
    /// What one connection may hold of partly read requests outside the budget.
    pub unbudgeted_read_bytes: usize,
    /// For each listener, in bind order: whether it serves the quorum (a controller
    /// listener), so that peers' requests on it classify their connections. On a broker
    /// listener a Fetch is a client's.
    pub quorum_listeners: Vec<bool>,
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
    /// For each listener: when to accept again without waiting for an event (its backlog may
    /// hold connections), if ever.
    accept_at_ms: Vec<Option<u64>>,
    slots: Vec<Slot>,
    admission: Admission,
    budget: ReadBudget,
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
            let listener = TcpListener::bind(*address).map_err(|e| {
                io::Error::new(e.kind(), format!("cannot listen on {address}: {e}"))
            })?;
            // listen(2) again on a listening socket only changes its backlog.
            // SAFETY: listen has no memory-safety preconditions; the descriptor is open.
            if unsafe { libc::listen(listener.as_raw_fd(), SERVER_LISTEN_BACKLOG) } != 0 {
                let e = io::Error::last_os_error();
                return Err(io::Error::new(
                    e.kind(),
                    format!("cannot listen on {address}: {e}"),
                ));
            }
            Ok(listener)
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
        assert!(
            config.quorum_listeners.len() == listeners.len(),
            "one quorum flag per listener"
        );
        let admission = Admission::new(
            config.client_connections_max,
            config.peer_connections_reserved,
            config.connections_per_ip_max,
            config.connections_idle_ms,
        );
        let slots = (0..admission.slots())
            .map(|_| Slot {
                generation: 0,
                connection: None,
                listener: 0,
            })
            .collect();
        Ok(EventLoop {
            poll,
            accept_at_ms: vec![None; listeners.len()],
            listeners,
            slots,
            admission,
            budget: ReadBudget::new(config.queued_request_bytes_max),
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
                    // Accepted below; a listener waiting out an accept failure waits on.
                    let at = &mut self.accept_at_ms[t - LISTENER_TOKEN_BASE];
                    if at.is_none() {
                        *at = Some(clock.monotonic_ms);
                    }
                }
                t if (PEER_TOKEN_BASE..CONNECTION_TOKEN_BASE).contains(&t) => {
                    let peer = self.peer_tokens[t - PEER_TOKEN_BASE];
                    let random = self.prng.next_u64();
                    let link = self.peers.get_mut(&peer).expect("token of a known peer");
                    let completions = link.on_ready(clock.monotonic_ms, &mut self.scratch, random);
                    let lost_by_peer = link.take_lost_by_peer();
                    self.complete(clock, completions).map_err(LoopExit::Fatal)?;
                    if lost_by_peer {
                        self.node
                            .peer_unreachable(clock, peer.0)
                            .map_err(LoopExit::Fatal)?;
                        self.dispatch(clock).map_err(LoopExit::Fatal)?;
                    }
                }
                t => {
                    let slot = t - CONNECTION_TOKEN_BASE;
                    if readable && let Some(connection) = self.slots[slot].connection.as_mut() {
                        connection.mark_readable();
                    }
                    if writable {
                        self.write_connection(slot, clock.monotonic_ms);
                    }
                }
            }
        }
        for index in 0..self.listeners.len() {
            if self.accept_at_ms[index].is_some_and(|at| at <= clock.monotonic_ms) {
                self.accept(index, clock.monotonic_ms);
            }
        }
        // Read every connection that can progress (ready now, paused earlier with bytes left
        // in its socket, or waiting for a budget that has freed), and hand over every whole
        // frame.
        for slot in 0..self.slots.len() {
            if self.slots[slot]
                .connection
                .as_ref()
                .is_some_and(|c| c.can_progress(&self.budget))
            {
                self.read_connection(clock, slot).map_err(LoopExit::Fatal)?;
            }
        }
        self.close_idle_connections(clock.monotonic_ms);
        self.maintain_peers(clock).map_err(LoopExit::Fatal)?;
        self.node.tick(clock).map_err(LoopExit::Fatal)?;
        self.dispatch(clock).map_err(LoopExit::Fatal)?;
        if self.node.may_flush() {
            // A reply to a request committed by a follower's acknowledgement read in this
            // iteration, or a Fetch answer that lets a follower acknowledge sooner, must not
            // wait for the leader's own flush: with one follower down that would cost every
            // commit a second flush.
            self.write_connections(clock.monotonic_ms);
        }
        self.node.end_of_iteration(clock).map_err(LoopExit::Fatal)?;
        self.dispatch(clock).map_err(LoopExit::Fatal)?;
        self.write_connections(clock.monotonic_ms);
        if idle && !shutting_down && !self.node.wants_flush() && self.node.needs_prepare() {
            self.node.prepare_ahead().map_err(LoopExit::Fatal)?;
        }
        Ok(signalled)
    }

    /// Writes what every connection has to send.
    fn write_connections(&mut self, now_ms: u64) {
        for slot in 0..self.slots.len() {
            if self.slots[slot].connection.is_some() {
                self.write_connection(slot, now_ms);
            }
        }
    }

    /// When the loop must look again: the node's and the links' timers, listeners to accept
    /// from again, the next idle connection; now if a connection can progress.
    fn next_deadline_ms(&self) -> u64 {
        let mut deadline = self.node.next_deadline_ms();
        for link in self.peers.values() {
            if let Some(at) = link.next_deadline_ms() {
                deadline = deadline.min(at);
            }
        }
        for at in self.accept_at_ms.iter().flatten() {
            deadline = deadline.min(*at);
        }
        deadline = deadline.min(self.admission.next_deadline_ms());
        if self.slots.iter().any(|s| {
            s.connection
                .as_ref()
                .is_some_and(|c| c.can_progress(&self.budget))
        }) {
            return 0;
        }
        deadline
    }

    /// Accepts up to `SERVER_ACCEPTS_PER_ITERATION` connections from listener `index`, and
    /// says when to accept again: next iteration if more may wait, after
    /// `SERVER_ACCEPT_RETRY_MS` if accept failed for want of resources, on the next event
    /// once drained.
    fn accept(&mut self, index: usize, now_ms: u64) {
        self.accept_at_ms[index] = None;
        for _ in 0..SERVER_ACCEPTS_PER_ITERATION {
            let (stream, peer) = match self.listeners[index].accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                // The connection died in the backlog: go on with the next one.
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::Interrupted
                            | io::ErrorKind::ConnectionAborted
                            | io::ErrorKind::ConnectionReset
                    ) =>
                {
                    continue;
                }
                Err(e) => {
                    // EMFILE, ENFILE, ENOBUFS, ENOMEM: the connection stays in the backlog.
                    // The listener is edge-triggered and would get no new event for it, so it
                    // must be retried, but not at once: that would spin until a descriptor
                    // frees.
                    if let Some(note) = self.connection_warnings.allow(now_ms) {
                        warn!(
                            "cannot accept a connection: {e}; trying again in {SERVER_ACCEPT_RETRY_MS} ms{note}"
                        );
                    }
                    self.accept_at_ms[index] = Some(now_ms + SERVER_ACCEPT_RETRY_MS);
                    return;
                }
            };
            self.admit(index, stream, peer, now_ms);
        }
        // Not drained: the rest waits for the next iteration, after this batch was read.
        self.accept_at_ms[index] = Some(now_ms);
    }

    /// Gives an accepted connection a slot (closing the least recently active ordinary
    /// connection if that is the only way), or closes it.
    fn admit(
        &mut self,
        index: usize,
        mut stream: mio::net::TcpStream,
        peer: SocketAddr,
        now_ms: u64,
    ) {
        let slots = &self.slots;
        let decision = self.admission.admission(peer.ip(), |slot| {
            slots[slot]
                .connection
                .as_ref()
                .is_some_and(|c| c.requests_owed() == 0)
        });
        match decision {
            Ok(None) => {}
            Ok(Some(victim)) => {
                if let Some(note) = self.connection_warnings.allow(now_ms) {
                    let victim_addr = self.slots[victim]
                        .connection
                        .as_ref()
                        .map(Inbound::peer_addr)
                        .expect("an occupied slot");
                    warn!(
                        "closing the connection from {victim_addr}, the least recently active, for one from {peer}: all {} slots of max.connections are in use{note}",
                        self.config.client_connections_max
                    );
                }
                self.close(victim);
            }
            Err(refusal) => {
                if let Some(note) = self.connection_warnings.allow(now_ms) {
                    match refusal {
                        Refusal::PerIpLimit => warn!(
                            "refusing a connection from {peer}: {} already has {} connections (max.connections.per.ip){note}",
                            peer.ip(),
                            self.config.connections_per_ip_max
                        ),
                        Refusal::Full => warn!(
                            "refusing a connection from {peer}: all {} slots of max.connections hold connections awaiting an answer{note}",
                            self.config.client_connections_max
                        ),
                    }
                }
                return;
            }
        }
        let _ = stream.set_nodelay(true);
        let slot = self.admission.admit(peer.ip(), now_ms);
        let token = Token(CONNECTION_TOKEN_BASE + slot);
        if let Err(e) = self.poll.registry().register(
            &mut stream,
            token,
            Interest::READABLE | Interest::WRITABLE,
        ) {
            warn!("cannot register a connection from {peer}: {e}");
            self.admission.release(slot);
            return;
        }
        let entry = &mut self.slots[slot];
        entry.generation = entry.generation.wrapping_add(1);
        entry.listener = index;
        entry.connection = Some(Inbound::new(
            stream,
            peer,
            self.config.max_frame_bytes,
            self.config.unbudgeted_read_bytes,
            self.config.requests_in_flight_per_connection,
        ));
        debug!("accepted a connection from {peer} into slot {slot}");
    }

    /// Closes the connections idle for `connections.max.idle.ms` that are owed no answer.
    fn close_idle_connections(&mut self, now_ms: u64) {
        for slot in self.admission.idle(now_ms) {
            let Some(connection) = self.slots[slot].connection.as_ref() else {
                continue;
            };
            if connection.requests_owed() > 0 {
                continue;
            }
            debug!(
                "closing the connection from {}: idle for {} ms (connections.max.idle.ms)",
                connection.peer_addr(),
                self.config.connections_idle_ms
            );
            self.close(slot);
        }
    }

    fn read_connection(&mut self, clock: Clock, slot: usize) -> Result<(), Fatal> {
        let id = connection_id(slot, self.slots[slot].generation);
        let listener = self.slots[slot].listener;
        let connection = self.slots[slot].connection.as_mut().expect("occupied slot");
        if connection.wants_read()
            && let Err(e) = connection.read(&mut self.scratch, &mut self.budget)
        {
            debug!(
                "closing the connection from {}: {e}",
                connection.peer_addr()
            );
            self.close(slot);
            return Ok(());
        }
        if connection.take_activity() {
            self.admission.touch(slot, clock.monotonic_ms);
        }
        loop {
            let connection = self.slots[slot].connection.as_mut().expect("occupied slot");
            let (seq, frame) = match connection.next_request(&mut self.budget) {
                Ok(Some(request)) => request,
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
            if self.config.quorum_listeners[listener]
                && !self.admission.is_peer(slot)
                && frame
                    .request_api_key()
                    .and_then(ApiKey::from_i16)
                    .is_some_and(|key| PEER_API_KEYS.contains(&key))
                && self.admission.mark_peer(slot)
            {
                debug!(
                    "the connection from {} carries a peer's requests: it moves to the reserved slots",
                    self.slots[slot]
                        .connection
                        .as_ref()
                        .expect("occupied")
                        .peer_addr()
                );
            }
            match self
                .node
                .handle_request(clock, id, listener, seq, frame.body())?
            {
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
        if self.slots[slot]
            .connection
            .as_ref()
            .is_some_and(Inbound::finished)
        {
            self.close(slot);
        }
        Ok(())
    }

    fn write_connection(&mut self, slot: usize, now_ms: u64) {
        let Some(connection) = self.slots[slot].connection.as_mut() else {
            return;
        };
        let written = connection.write();
        if connection.take_activity() {
            self.admission.touch(slot, now_ms);
        }
        if let Err(e) = written {
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

    /// Frees `slot`: its reservation returns to the budget, its place to the pool.
    fn close(&mut self, slot: usize) {
        let id = connection_id(slot, self.slots[slot].generation);
        if let Some(mut connection) = self.slots[slot].connection.take() {
            connection.release_budget(&mut self.budget);
            let _ = self.poll.registry().deregister(connection.stream_mut());
            self.admission.release(slot);
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
            let connected = link.maybe_connect(clock.monotonic_ms, random);
            let lost_by_peer = link.take_lost_by_peer();
            if connected && let Some(stream) = link.stream_mut() {
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
            if lost_by_peer {
                self.node.peer_unreachable(clock, peer.0)?;
                self.dispatch(clock)?;
            }
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
                            if link.take_lost_by_peer() {
                                self.node.peer_unreachable(clock, to)?;
                            }
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
