//! A broker's membership in the cluster (Kafka's `BrokerLifecycleManager`): register with the
//! active controller, then heartbeat every interval with the offset of the metadata it has
//! applied; the controller unfences it once that offset reaches its registration and fences
//! it when heartbeats stop.
//!
//! Pure: the node hands in the time and the answers and sends what [`Lifecycle::poll`]
//! returns to the active controller. Invariants: at most one request in flight; a failed or
//! refused request is retried after a backoff, never at once; the incarnation id is fixed for
//! the life of the process, so a restart is a new incarnation (KIP-631) and a re-sent
//! registration of this one is idempotent. Refusals that repeat while the condition lasts
//! (no controller elected yet, the previous incarnation's session still alive) are logged once
//! per cause per interval, with their count ([`CauseLimit`]).

use log::{info, warn};

use crate::protocol::messages::{
    BrokerHeartbeatRequest, BrokerRegistrationRequest, broker_registration_request,
};
use crate::protocol::{ApiKey, ErrorCode, RequestBody, ResponseBody, Uuid};

use crate::constants::WARNING_REPEAT_INTERVAL_MS;
use crate::log_limit::CauseLimit;

/// The `metadata.version` levels this broker supports (the levels keel's records are written
/// at). The controller refuses a broker that does not support the cluster's finalized level.
pub const METADATA_VERSION_SUPPORTED: (i16, i16) = (1, 21);

/// Kafka's `SecurityProtocol.PLAINTEXT`: keel listeners speak plain TCP.
const SECURITY_PROTOCOL_PLAINTEXT: i16 = 0;

/// What the broker is told to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Not registered (yet, or again after the controller forgot this incarnation).
    Unregistered,
    /// Registered with `broker_epoch`; fenced until caught up.
    Registered { broker_epoch: i64, fenced: bool },
}

/// One advertised endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub listener_name: String,
    pub host: String,
    pub port: u16,
}

#[derive(Debug, Clone)]
pub struct LifecycleSettings {
    pub broker_id: i32,
    pub cluster_id: String,
    pub incarnation_id: Uuid,
    pub endpoints: Vec<Endpoint>,
    pub rack: Option<String>,
    pub directory_id: Uuid,
    pub heartbeat_interval_ms: u64,
    pub retry_backoff_ms: u64,
}

#[derive(Debug)]
pub struct Lifecycle {
    settings: LifecycleSettings,
    standing: Standing,
    in_flight: Option<ApiKey>,
    /// Nothing is sent before this time.
    next_send_ms: u64,
    /// The broker asks to shut down (controlled shutdown) from now on.
    shutting_down: bool,
    /// The controller said this broker may stop: it leads nothing any more.
    may_stop: bool,
    /// Refusals of the registration, by cause, since the last success.
    refusals: CauseLimit,
}

impl Lifecycle {
    pub fn new(settings: LifecycleSettings, now_ms: u64) -> Lifecycle {
        Lifecycle {
            settings,
            standing: Standing::Unregistered,
            in_flight: None,
            next_send_ms: now_ms,
            shutting_down: false,
            may_stop: false,
            refusals: CauseLimit::new(WARNING_REPEAT_INTERVAL_MS),
        }
    }

    pub fn standing(&self) -> Standing {
        self.standing
    }

    pub fn incarnation_id(&self) -> Uuid {
        self.settings.incarnation_id
    }

    /// The earliest time [`Lifecycle::poll`] may have something to send.
    pub fn next_deadline_ms(&self) -> u64 {
        if self.in_flight.is_some() {
            u64::MAX
        } else {
            self.next_send_ms
        }
    }

    /// The next request for the active controller, if one is due; `applied_offset` is the
    /// offset of the last metadata record this broker has applied (-1 if none).
    pub fn poll(&mut self, now_ms: u64, applied_offset: i64) -> Option<(RequestBody, i16)> {
        if self.in_flight.is_some() || now_ms < self.next_send_ms {
            return None;
        }
        let s = &self.settings;
        let (body, api) = match self.standing {
            Standing::Unregistered => (
                RequestBody::BrokerRegistration(BrokerRegistrationRequest {
                    broker_id: s.broker_id,
                    cluster_id: s.cluster_id.clone(),
                    incarnation_id: s.incarnation_id,
                    listeners: s
                        .endpoints
                        .iter()
                        .map(|e| broker_registration_request::Listener {
                            name: e.listener_name.clone(),
                            host: e.host.clone(),
                            port: e.port,
                            security_protocol: SECURITY_PROTOCOL_PLAINTEXT,
                            ..Default::default()
                        })
                        .collect(),
                    features: vec![broker_registration_request::Feature {
                        name: "metadata.version".into(),
                        min_supported_version: METADATA_VERSION_SUPPORTED.0,
                        max_supported_version: METADATA_VERSION_SUPPORTED.1,
                        ..Default::default()
                    }],
                    rack: s.rack.clone(),
                    is_migrating_zk_broker: false,
                    log_dirs: vec![s.directory_id],
                    previous_broker_epoch: -1,
                    ..Default::default()
                }),
                ApiKey::BrokerRegistration,
            ),
            Standing::Registered { broker_epoch, .. } => (
                RequestBody::BrokerHeartbeat(BrokerHeartbeatRequest {
                    broker_id: s.broker_id,
                    broker_epoch,
                    current_metadata_offset: applied_offset,
                    want_fence: false,
                    want_shut_down: self.shutting_down,
                    ..Default::default()
                }),
                ApiKey::BrokerHeartbeat,
            ),
        };
        self.in_flight = Some(api);
        Some((body, *api.versions().end()))
    }

    /// From now on heartbeats ask for a controlled shutdown.
    pub fn begin_shutdown(&mut self, now_ms: u64) {
        self.shutting_down = true;
        self.next_send_ms = self.next_send_ms.min(now_ms);
    }

    /// True once the controller has agreed that this broker may stop.
    pub fn may_stop(&self) -> bool {
        self.may_stop
    }

    /// The request in flight got no answer (link failure, timeout, no controller known).
    pub fn failed(&mut self, now_ms: u64) {
        if self.in_flight.take().is_some() {
            self.next_send_ms = now_ms + self.settings.retry_backoff_ms;
        }
    }

    /// The answer to the request in flight.
    pub fn answered(&mut self, now_ms: u64, response: &ResponseBody) {
        let Some(api) = self.in_flight.take() else {
            return;
        };
        let backoff = now_ms + self.settings.retry_backoff_ms;
        let heartbeat = now_ms + self.settings.heartbeat_interval_ms;
        match (api, response) {
            (ApiKey::BrokerRegistration, ResponseBody::BrokerRegistration(r)) => {
                match ErrorCode::from_code(r.error_code) {
                    Some(ErrorCode::None) => {
                        let unlogged = self.refusals.reset();
                        info!(
                            "broker {} registered: broker epoch {}, incarnation {}{}",
                            self.settings.broker_id,
                            r.broker_epoch,
                            self.settings.incarnation_id,
                            if unlogged == 0 {
                                String::new()
                            } else {
                                format!(" (after {unlogged} refusals that were not logged)")
                            }
                        );
                        self.standing = Standing::Registered {
                            broker_epoch: r.broker_epoch,
                            fenced: true,
                        };
                        // Heartbeat at once: it reports the offset that unfences us.
                        self.next_send_ms = now_ms;
                    }
                    code => {
                        // DUPLICATE_BROKER_REGISTRATION (the previous incarnation's session
                        // has not expired yet), NOT_CONTROLLER, a timeout: try again later.
                        // A wrong cluster id is also retried (the operator may be fixing
                        // the controllers), but said loudly.
                        let cause = code.map_or("unknown error code", ErrorCode::name);
                        if let Some(note) = self.refusals.allow(cause, now_ms) {
                            warn!(
                                "broker {} registration refused: {cause} ({}){note}",
                                self.settings.broker_id, r.error_code,
                            );
                        }
                        self.next_send_ms = backoff;
                    }
                }
            }
            (ApiKey::BrokerHeartbeat, ResponseBody::BrokerHeartbeat(r)) => {
                let Standing::Registered {
                    broker_epoch,
                    fenced,
                } = self.standing
                else {
                    return;
                };
                match ErrorCode::from_code(r.error_code) {
                    Some(ErrorCode::None) => {
                        if fenced != r.is_fenced {
                            info!(
                                "broker {} {} by the controller (caught up: {})",
                                self.settings.broker_id,
                                if r.is_fenced { "fenced" } else { "unfenced" },
                                r.is_caught_up
                            );
                        }
                        self.standing = Standing::Registered {
                            broker_epoch,
                            fenced: r.is_fenced,
                        };
                        if r.should_shut_down && self.shutting_down && !self.may_stop {
                            info!(
                                "broker {}: the controller agreed to the shutdown (its leaderships have moved)",
                                self.settings.broker_id
                            );
                            self.may_stop = true;
                        }
                        // While fenced and catching up, or waiting for a controlled shutdown,
                        // ask again soon: both end as soon as the controller says so.
                        self.next_send_ms = if r.is_fenced != self.shutting_down {
                            now_ms + self.settings.retry_backoff_ms.max(1)
                        } else {
                            heartbeat
                        };
                    }
                    Some(ErrorCode::StaleBrokerEpoch | ErrorCode::BrokerIdNotRegistered) => {
                        // The controller no longer knows this registration (fenced and
                        // unregistered, or a new controller without it): register again.
                        warn!(
                            "broker {}: the controller does not know broker epoch {broker_epoch} ({}); registering again",
                            self.settings.broker_id,
                            ErrorCode::from_code(r.error_code).map_or("?", ErrorCode::name)
                        );
                        self.standing = Standing::Unregistered;
                        self.next_send_ms = backoff;
                    }
                    _ => self.next_send_ms = backoff,
                }
            }
            _ => self.next_send_ms = backoff,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::messages::{BrokerHeartbeatResponse, BrokerRegistrationResponse};

    fn lifecycle() -> Lifecycle {
        Lifecycle::new(
            LifecycleSettings {
                broker_id: 4,
                cluster_id: "cluster".into(),
                incarnation_id: Uuid::from_bytes([9; 16]),
                endpoints: vec![Endpoint {
                    listener_name: "PLAINTEXT".into(),
                    host: "127.0.0.1".into(),
                    port: 9092,
                }],
                rack: Some("r1".into()),
                directory_id: Uuid::from_bytes([3; 16]),
                heartbeat_interval_ms: 2_000,
                retry_backoff_ms: 100,
            },
            0,
        )
    }

    fn registered(epoch: i64) -> ResponseBody {
        ResponseBody::BrokerRegistration(BrokerRegistrationResponse {
            broker_epoch: epoch,
            ..Default::default()
        })
    }

    fn heartbeat_answer(code: ErrorCode, fenced: bool) -> ResponseBody {
        ResponseBody::BrokerHeartbeat(BrokerHeartbeatResponse {
            error_code: code.code(),
            is_fenced: fenced,
            is_caught_up: !fenced,
            ..Default::default()
        })
    }

    #[test]
    fn registers_then_heartbeats_its_applied_offset_every_interval_once_unfenced() {
        let mut broker = lifecycle();
        let (request, _) = broker.poll(0, -1).expect("registration due");
        let RequestBody::BrokerRegistration(registration) = request else {
            panic!("registers first")
        };
        assert_eq!(registration.broker_id, 4);
        assert_eq!(registration.listeners[0].port, 9092);
        assert_eq!(registration.rack.as_deref(), Some("r1"));
        assert!(broker.poll(0, -1).is_none(), "one request at a time");
        broker.answered(5, &registered(42));
        assert_eq!(
            broker.standing(),
            Standing::Registered {
                broker_epoch: 42,
                fenced: true
            }
        );
        let (request, _) = broker.poll(5, 41).expect("heartbeat at once");
        let RequestBody::BrokerHeartbeat(heartbeat) = request else {
            panic!("heartbeats once registered")
        };
        assert_eq!(
            (heartbeat.broker_epoch, heartbeat.current_metadata_offset),
            (42, 41)
        );
        broker.answered(10, &heartbeat_answer(ErrorCode::None, true));
        assert!(broker.poll(50, 41).is_none());
        assert!(
            broker.poll(110, 42).is_some(),
            "fenced: reports progress soon"
        );
        broker.answered(120, &heartbeat_answer(ErrorCode::None, false));
        assert!(broker.poll(2_000, 42).is_none());
        assert!(broker.poll(2_120, 42).is_some(), "unfenced: every interval");
    }

    #[test]
    fn a_refused_registration_is_retried_after_the_backoff() {
        let mut broker = lifecycle();
        broker.poll(0, -1).expect("registration due");
        broker.answered(
            1,
            &ResponseBody::BrokerRegistration(BrokerRegistrationResponse {
                error_code: ErrorCode::DuplicateBrokerRegistration.code(),
                ..Default::default()
            }),
        );
        assert_eq!(broker.standing(), Standing::Unregistered);
        assert!(broker.poll(50, -1).is_none());
        assert!(matches!(
            broker.poll(101, -1),
            Some((RequestBody::BrokerRegistration(_), _))
        ));
        broker.failed(200);
        assert!(
            broker.poll(250, -1).is_none(),
            "a lost request backs off too"
        );
        assert!(broker.poll(300, -1).is_some());
    }

    #[test]
    fn a_forgotten_registration_registers_again_with_the_same_incarnation() {
        let mut broker = lifecycle();
        broker.poll(0, -1);
        broker.answered(1, &registered(7));
        broker.poll(1, 7);
        broker.answered(2, &heartbeat_answer(ErrorCode::StaleBrokerEpoch, false));
        assert_eq!(broker.standing(), Standing::Unregistered);
        let Some((RequestBody::BrokerRegistration(again), _)) = broker.poll(200, 7) else {
            panic!("registers again")
        };
        assert_eq!(again.incarnation_id, Uuid::from_bytes([9; 16]));
    }

    #[test]
    fn controlled_shutdown_asks_until_the_controller_agrees() {
        let mut broker = lifecycle();
        broker.poll(0, -1);
        broker.answered(1, &registered(7));
        broker.poll(1, 7);
        broker.answered(2, &heartbeat_answer(ErrorCode::None, false));
        broker.begin_shutdown(3);
        let Some((RequestBody::BrokerHeartbeat(heartbeat), _)) = broker.poll(3, 7) else {
            panic!("asks at once")
        };
        assert!(heartbeat.want_shut_down);
        assert!(!broker.may_stop());
        broker.answered(
            4,
            &ResponseBody::BrokerHeartbeat(BrokerHeartbeatResponse {
                should_shut_down: true,
                is_fenced: true,
                ..Default::default()
            }),
        );
        assert!(broker.may_stop());
    }
}
