//! The broker half of a node (`process.roles` with `broker`): requests that come in on a
//! client listener, the broker's registration and heartbeats, and the writes it forwards to
//! the active controller.
//!
//! - Reads (ApiVersions, Metadata, DescribeCluster, DescribeConfigs) are answered from this
//!   node's own image, which it builds from the metadata log it fetches as a Raft observer.
//! - Writes are relayed unchanged to the active controller on the controller channel, and its
//!   answer is held until this node's image shows the change ([`super::forward`]) or a
//!   deadline passes, so a client that wrote through this broker reads its write here.
//!   DescribeQuorum is relayed the same way (only the leader can answer it).
//! - A write follows leadership: answered NOT_CONTROLLER (nothing done) it is sent again; in
//!   flight when its controller died or was replaced by a later epoch's leader, it moves to
//!   the new leader, at most [`BROKER_FORWARD_MOVES_MAX`] times (a request that crashes
//!   controllers must not reach them all).
//!
//! Invariants: every client request is answered exactly once (by a read, the relayed answer,
//! or an error when no controller answers in time); everything held is tied to a request of
//! a live connection, so it is bounded by the connection slots times the requests each may
//! have in flight; nothing is retried faster than `controller.quorum.retry.backoff.ms`.

use std::collections::{BTreeMap, BTreeSet};

use log::{debug, info, warn};

use crate::constants::{BROKER_FORWARD_MOVES_MAX, BROKER_FORWARD_TIMEOUT_MS};
use crate::protocol::messages::DescribeQuorumResponse;
use crate::protocol::{ErrorCode, RequestBody, ResponseBody};

use super::LinkError;
use super::broker::Lifecycle;
use super::broker_surface;
use super::controller_wire;
use super::forward::{is_forwarded, refused_as_not_controller, visible_in};
use super::not_served;
use super::{Channel, Fatal, Node, Output, RequestOutcome, Route};

/// The broker's state inside a node.
#[derive(Debug)]
pub(super) struct BrokerPart {
    pub(super) lifecycle: Lifecycle,
    /// Requests to the active controller in flight, by token.
    calls: BTreeMap<u64, Call>,
    /// Forwarded writes waiting to be sent: no active controller known yet, or its link
    /// failed and the retry backoff runs.
    unsent: Vec<Forward>,
    /// Controller answers waiting for this node's image to show them.
    held: Vec<(Forward, ResponseBody)>,
    /// Open client connections that asked for an API keel brokers do not serve and were
    /// logged for it (once each); bounded by the connection slots, as an entry goes with its
    /// connection.
    told_not_served: BTreeSet<super::ConnectionId>,
}

#[derive(Debug)]
enum Call {
    Lifecycle,
    Forward(Box<Forward>),
}

/// A client's write on its way through this broker.
#[derive(Debug)]
struct Forward {
    route: Route,
    request: RequestBody,
    /// Answer by then, whatever happens.
    deadline_ms: u64,
    /// Not sent before then (retry backoff).
    not_before_ms: u64,
    /// The epoch of the leader it was last sent to.
    sent_epoch: Option<u32>,
    /// Moves to another controller it may still make ([`BROKER_FORWARD_MOVES_MAX`]).
    moves_left: u32,
    /// Its last controller dropped it with the request in flight: it goes only to a leader of
    /// a later epoch, and is answered with the error if none is known by then.
    awaiting_new_leader: Option<AwaitingNewLeader>,
}

#[derive(Debug, Clone, Copy)]
struct AwaitingNewLeader {
    after_epoch: u32,
    until_ms: u64,
}

impl BrokerPart {
    pub(super) fn new(lifecycle: Lifecycle) -> BrokerPart {
        BrokerPart {
            lifecycle,
            calls: BTreeMap::new(),
            unsent: Vec::new(),
            held: Vec::new(),
            told_not_served: BTreeSet::new(),
        }
    }

    pub(super) fn owns(&self, token: u64) -> bool {
        self.calls.contains_key(&token)
    }

    pub(super) fn connection_closed(&mut self, connection: super::ConnectionId) {
        self.unsent.retain(|f| f.route.connection != connection);
        self.held.retain(|(f, _)| f.route.connection != connection);
        self.told_not_served.remove(&connection);
        // Calls in flight stay: their tokens must still resolve; the answer is then dropped
        // by the event loop, which knows the connection is gone.
    }
}

impl Node {
    /// A request that came in on a client listener.
    pub(super) fn handle_client_request(
        &mut self,
        route: Route,
        client_id: Option<&str>,
        request: RequestBody,
    ) -> Result<RequestOutcome, Fatal> {
        let api_key = route.api_key;
        if !broker_surface::BROKER_SERVED_APIS.contains(&api_key) {
            // Kafka closes the connection on a request for an API (or a version) its listener
            // does not serve; clients learn what is served from ApiVersions.
            return Ok(RequestOutcome::Close {
                reason: format!(
                    "{} (api key {}) is not served on a broker listener (correlation id {})",
                    api_key.name(),
                    api_key as i16,
                    route.correlation_id
                ),
            });
        }
        let served = broker_surface::broker_versions(api_key);
        if !served.contains(&route.version) {
            return Ok(RequestOutcome::Close {
                reason: format!(
                    "{} version {} is not served on a broker listener (it serves {}-{}; \
                     correlation id {})",
                    api_key.name(),
                    route.version,
                    served.start(),
                    served.end(),
                    route.correlation_id
                ),
            });
        }
        if is_forwarded(&request) {
            let now = self.clock.monotonic_ms;
            let forward = Forward {
                route,
                request,
                deadline_ms: now + BROKER_FORWARD_TIMEOUT_MS,
                not_before_ms: now,
                sent_epoch: None,
                moves_left: BROKER_FORWARD_MOVES_MAX,
                awaiting_new_leader: None,
            };
            self.send_forward(forward);
            return Ok(RequestOutcome::Handled);
        }
        if let Some(parsed) = controller_wire::request_from_wire(&request, route.version) {
            // DescribeConfigs: a read of this node's image, answered by the state machine.
            match parsed {
                Ok(call) => self.handle_controller_request(route, request, call)?,
                Err(response) => self.respond_to(&route, response),
            }
            return Ok(RequestOutcome::Handled);
        }
        let context = broker_surface::SurfaceContext {
            cluster_id: &self.wire.cluster_id,
            listener_name: self
                .listeners
                .get(route.listener)
                .map_or("", |l| l.name.as_str()),
            broker_id: self.wire.local_id as i32,
        };
        if not_served::NOT_SERVED_APIS.contains(&api_key) {
            let response = self.refuse_not_served(&route, client_id, &request);
            self.respond_to(&route, response);
            return Ok(RequestOutcome::Handled);
        }
        let image = self.machine.image();
        let response = match &request {
            RequestBody::ApiVersions(body) => {
                ResponseBody::ApiVersions(broker_surface::api_versions_response(
                    broker_surface::BROKER_SERVED_APIS,
                    broker_surface::broker_versions,
                    body,
                ))
            }
            RequestBody::Metadata(body) => ResponseBody::Metadata(
                broker_surface::metadata_response(image, &context, body, route.version),
            ),
            RequestBody::DescribeCluster(body) => ResponseBody::DescribeCluster(
                broker_surface::describe_cluster_response(image, &context, body, route.version),
            ),
            _ => unreachable!(
                "{} is listed as served on broker listeners but has no handler",
                api_key.name()
            ),
        };
        self.respond_to(&route, response);
        Ok(RequestOutcome::Handled)
    }

    /// The refusal of a request for an API keel brokers advertise but do not serve
    /// ([`not_served`]), logged once per connection: the first such request of a connection
    /// gets one line, the rest of that connection none.
    fn refuse_not_served(
        &mut self,
        route: &Route,
        client_id: Option<&str>,
        request: &RequestBody,
    ) -> ResponseBody {
        let version = route.version;
        let response = match request {
            RequestBody::Produce(body) => {
                ResponseBody::Produce(not_served::produce_response(body, version))
            }
            RequestBody::Fetch(body) => {
                ResponseBody::Fetch(not_served::fetch_response(body, version))
            }
            RequestBody::ListOffsets(body) => {
                ResponseBody::ListOffsets(not_served::list_offsets_response(body, version))
            }
            RequestBody::FindCoordinator(body) => {
                ResponseBody::FindCoordinator(not_served::find_coordinator_response(body, version))
            }
            _ => unreachable!("{} is not refused as not served", route.api_key.name()),
        };
        let broker = self.broker.as_mut().expect("a broker node");
        if broker.told_not_served.insert(route.connection) {
            info!(
                "client connection {} (client id {:?}) asked for {} v{}, which keel brokers do \
                 not serve (metadata only): {}; further such requests on this connection \
                 are answered without a log line",
                route.connection,
                client_id.unwrap_or(""),
                route.api_key.name(),
                version,
                not_served::answer_summary(request),
            );
        }
        response
    }

    /// Sends a forwarded write to the active controller, or keeps it until one is known (one
    /// of a later epoch than the controller that dropped it, if one did).
    fn send_forward(&mut self, mut forward: Forward) {
        let now = self.clock.monotonic_ms;
        let epoch = self.raft.epoch();
        let leader = self.raft.leader().filter(|_| {
            forward.not_before_ms <= now
                && forward
                    .awaiting_new_leader
                    .is_none_or(|awaiting| epoch > awaiting.after_epoch)
        });
        let broker = self.broker.as_mut().expect("a broker node");
        let Some(leader) = leader else {
            broker.unsent.push(forward);
            return;
        };
        forward.awaiting_new_leader = None;
        forward.sent_epoch = Some(epoch);
        let token = self.next_token;
        self.next_token += 1;
        self.outputs.push(Output::Request {
            to: leader,
            channel: Channel::Controller,
            token,
            body: forward.request.clone(),
            version: forward.route.version,
            timeout_ms: forward.deadline_ms.saturating_sub(now).max(1),
        });
        broker.calls.insert(token, Call::Forward(Box::new(forward)));
    }

    /// The answer to a request this broker sent to the active controller.
    pub(super) fn handle_broker_response(
        &mut self,
        token: u64,
        result: Result<ResponseBody, LinkError>,
    ) {
        let now = self.clock.monotonic_ms;
        let retry_backoff_ms = self.retry_backoff_ms;
        let broker = self.broker.as_mut().expect("a broker node");
        let Some(call) = broker.calls.remove(&token) else {
            return;
        };
        match (call, result) {
            (Call::Lifecycle, Ok(response)) => broker.lifecycle.answered(now, &response),
            (Call::Lifecycle, Err(error)) => {
                debug!("broker heartbeat or registration got no answer: {error:?}");
                broker.lifecycle.failed(now);
            }
            (Call::Forward(mut forward), Ok(response))
                if refused_as_not_controller(&response)
                    && now + retry_backoff_ms < forward.deadline_ms =>
            {
                // Nothing was done (the controller lost leadership, or is not active yet in
                // its new epoch): try again, to whoever leads then.
                forward.not_before_ms = now + retry_backoff_ms;
                broker.unsent.push(*forward);
            }
            (Call::Forward(forward), Ok(response)) => {
                broker.held.push((*forward, response));
                self.release_held();
            }
            (Call::Forward(mut forward), Err(LinkError::NotReady | LinkError::NotSent))
                if now + retry_backoff_ms < forward.deadline_ms =>
            {
                // The controller never saw it and may have moved: try again (to whoever leads
                // then).
                forward.not_before_ms = now + retry_backoff_ms;
                broker.unsent.push(*forward);
            }
            (Call::Forward(mut forward), Err(LinkError::Disconnected))
                if forward.moves_left > 0 && now < forward.deadline_ms =>
            {
                // The controller may have died with it (kill -9, a crash, a restart): it goes to
                // the next leader, if one is elected within the time an election takes.
                forward.moves_left -= 1;
                let election_ms = self.raft.config().fetch_timeout_ms
                    + 2 * self.raft.config().election_timeout_ms;
                forward.awaiting_new_leader = Some(AwaitingNewLeader {
                    after_epoch: forward.sent_epoch.unwrap_or(0),
                    until_ms: (now + election_ms).min(forward.deadline_ms),
                });
                info!(
                    "the active controller's connection closed with a forwarded {} in flight; \
                     it goes to the next leader elected",
                    forward.route.api_key.name()
                );
                broker.unsent.push(*forward);
            }
            (Call::Forward(forward), Err(error)) => {
                // A request the controller read and then dropped its connection on may be what
                // made it fail: after its last move it is answered, never forwarded again, so
                // that one client request cannot take down one controller after another.
                let (code, message) = match error {
                    LinkError::Malformed(_) => (
                        ErrorCode::UnknownServerError,
                        "the active controller's answer could not be read",
                    ),
                    LinkError::Disconnected => (
                        ErrorCode::RequestTimedOut,
                        "the active controller closed the connection while handling it; not forwarded again, its outcome is unknown",
                    ),
                    _ => (
                        ErrorCode::RequestTimedOut,
                        "no answer from the active controller in time",
                    ),
                };
                warn!(
                    "a forwarded {} got no answer from the active controller: {error:?}",
                    forward.route.api_key.name()
                );
                self.refuse_forward(&forward, code, Some(message));
            }
        }
    }

    fn refuse_forward(&mut self, forward: &Forward, code: ErrorCode, message: Option<&str>) {
        let response = match &forward.request {
            RequestBody::DescribeQuorum(_) => {
                ResponseBody::DescribeQuorum(DescribeQuorumResponse {
                    error_code: code.code(),
                    error_message: Some(message.unwrap_or(code.meaning()).to_owned()),
                    ..Default::default()
                })
            }
            request => {
                controller_wire::error_response(request, forward.route.version, code, message)
            }
        };
        self.respond_to(&forward.route, response);
    }

    /// Answers held by the controller whose change this node's image now shows (or whose
    /// deadline passed: the change is committed, this node is just slow to see it).
    pub(super) fn release_held(&mut self) {
        let now = self.clock.monotonic_ms;
        let Some(broker) = self.broker.as_mut() else {
            return;
        };
        if broker.held.is_empty() {
            return;
        }
        let image = self.machine.image();
        let (ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut broker.held)
            .into_iter()
            .partition(|(forward, response)| {
                forward.deadline_ms <= now || visible_in(image, &forward.request, response)
            });
        broker.held = waiting;
        for (forward, response) in ready {
            self.respond_to(&forward.route, response);
        }
    }

    /// The broker's timers: registration and heartbeats, forwards to (re)send, held answers.
    pub(super) fn broker_tick(&mut self) {
        let now = self.clock.monotonic_ms;
        let applied_offset = self.machine.applied_end() as i64 - 1;
        let leader = self.raft.leader();
        let Some(broker) = self.broker.as_mut() else {
            return;
        };
        if let Some(leader) = leader
            && let Some((body, version)) = broker.lifecycle.poll(now, applied_offset)
        {
            let token = self.next_token;
            self.next_token += 1;
            broker.calls.insert(token, Call::Lifecycle);
            self.outputs.push(Output::Request {
                to: leader,
                channel: Channel::Controller,
                token,
                body,
                version,
                timeout_ms: self.raft.config().request_timeout_ms,
            });
        }
        self.move_forwards_to_new_leader();
        self.send_due_forwards();
        self.release_held();
    }

    /// Forwards in flight to a controller that a later epoch's leader has replaced (it may be
    /// dead or cut off and never answer) go to the new one, each at most
    /// [`BROKER_FORWARD_MOVES_MAX`] times. The old call's answer, should it still come, is
    /// dropped: its token is no longer known.
    fn move_forwards_to_new_leader(&mut self) {
        if self.raft.leader().is_none() {
            return;
        }
        let epoch = self.raft.epoch();
        let broker = self.broker.as_mut().expect("a broker node");
        let stale: Vec<u64> = broker
            .calls
            .iter()
            .filter_map(|(token, call)| match call {
                Call::Forward(f) if f.moves_left > 0 && f.sent_epoch.is_some_and(|e| e < epoch) => {
                    Some(*token)
                }
                _ => None,
            })
            .collect();
        for token in stale {
            let Some(Call::Forward(mut forward)) = broker.calls.remove(&token) else {
                unreachable!("token {token} was just listed as a forward");
            };
            forward.moves_left -= 1;
            info!(
                "a forwarded {} sent in epoch {:?} goes to the leader of epoch {epoch}",
                forward.route.api_key.name(),
                forward.sent_epoch
            );
            broker.unsent.push(*forward);
        }
    }

    /// Forwards whose backoff ended, whose awaited leader is known, or whose time is up.
    fn send_due_forwards(&mut self) {
        let now = self.clock.monotonic_ms;
        let epoch = self.raft.epoch();
        let broker = self.broker.as_mut().expect("a broker node");
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut broker.unsent)
            .into_iter()
            .partition(|f| {
                let waited_out = match f.awaiting_new_leader {
                    Some(awaiting) => epoch > awaiting.after_epoch || awaiting.until_ms <= now,
                    None => true,
                };
                (f.not_before_ms <= now && waited_out) || f.deadline_ms <= now
            });
        broker.unsent = later;
        for forward in due {
            let new_leader_known = forward.awaiting_new_leader.is_none_or(|awaiting| {
                epoch > awaiting.after_epoch && self.raft.leader().is_some()
            });
            if forward.deadline_ms <= now {
                self.refuse_forward(&forward, ErrorCode::RequestTimedOut, None);
            } else if !new_leader_known
                && forward
                    .awaiting_new_leader
                    .is_some_and(|a| a.until_ms <= now)
            {
                self.refuse_forward(
                    &forward,
                    ErrorCode::RequestTimedOut,
                    Some(
                        "the active controller closed the connection while handling it and no \
                         new leader was elected; not forwarded again, its outcome is unknown",
                    ),
                );
            } else {
                self.send_forward(forward);
            }
        }
    }

    /// The earliest time the broker's timers need [`Node::tick`].
    pub(super) fn broker_deadline_ms(&self) -> u64 {
        let Some(broker) = &self.broker else {
            return u64::MAX;
        };
        let mut deadline = u64::MAX;
        if self.raft.leader().is_some() {
            deadline = deadline.min(broker.lifecycle.next_deadline_ms());
        }
        for forward in &broker.unsent {
            // A new leader becomes known by a message, which runs the loop anyway.
            let at = match forward.awaiting_new_leader {
                Some(awaiting) => awaiting.until_ms,
                None if self.raft.leader().is_some() => forward.not_before_ms,
                None => forward.deadline_ms,
            };
            deadline = deadline.min(at).min(forward.deadline_ms);
        }
        for (forward, _) in &broker.held {
            deadline = deadline.min(forward.deadline_ms);
        }
        deadline
    }
}
