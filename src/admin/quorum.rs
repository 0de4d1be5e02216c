//! `keel quorum describe`: the state of the metadata quorum, printed in the format of Kafka's
//! `kafka-metadata-quorum.sh describe`, asked one of two ways:
//!
//! - `--bootstrap-controller` (as Kafka's tool): DescribeCluster for the cluster id and the
//!   controllers, then DescribeQuorum for `__cluster_metadata` partition 0, followed to the
//!   leader if the controller asked is not it.
//! - `--bootstrap-server` (as Kafka's tool with that option): DescribeQuorum to a broker, which
//!   forwards it to the active controller (Kafka's brokers do, `KafkaApis`
//!   `forwardToController`); the cluster id comes from the broker's Metadata. A broker that does
//!   not offer DescribeQuorum in ApiVersions gets a clear error naming
//!   `--bootstrap-controller`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::{Duration, Instant};

use crate::exit::ExitStatus;
use crate::protocol::messages::{
    DescribeClusterRequest, DescribeClusterResponse, DescribeQuorumRequest, DescribeQuorumResponse,
    describe_quorum_request, describe_quorum_response,
};
use crate::protocol::{ErrorCode, Uuid};

use super::client::{Client, ClientError};
use super::error::AdminError;
use super::json::Json;
use super::session::{BOOTSTRAP, Session};

const METADATA_TOPIC: &str = "__cluster_metadata";
const ENDPOINT_TYPE_CONTROLLER: i8 = 2;
const DESCRIBE_CLUSTER_VERSION: i16 = 1;
const DESCRIBE_QUORUM_VERSION: i16 = 2;

/// One replica as the leader sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replica {
    pub id: i32,
    pub directory_id: Uuid,
    pub log_end_offset: i64,
    /// Epoch milliseconds, -1 if never.
    pub last_fetch_timestamp: i64,
    pub last_caught_up_timestamp: i64,
}

/// What `describe` learned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumDescription {
    pub cluster_id: String,
    pub leader_id: i32,
    pub leader_epoch: i32,
    pub high_watermark: i64,
    pub voters: Vec<Replica>,
    pub observers: Vec<Replica>,
    /// Listener endpoints by node id (`NAME://host:port`).
    pub endpoints: BTreeMap<i32, Vec<String>>,
}

#[derive(Debug)]
pub enum DescribeError {
    Client(ClientError),
    /// The node answered with an error.
    Refused {
        address: String,
        error: String,
    },
    /// No leader is elected right now.
    NoLeader {
        epoch: i32,
    },
    /// Through a broker: bootstrapping or asking failed.
    Admin(AdminError),
    /// `--bootstrap-controller` names a broker (it answered DescribeCluster for controllers
    /// with `MISMATCHED_ENDPOINT_TYPE`, as Kafka's brokers do): the reverse of pointing
    /// `--bootstrap-server` at a controller, and answered the same way (exit 6).
    Broker {
        address: String,
    },
}

impl DescribeError {
    /// The exit status (one of [`ExitStatus::ADMIN`]).
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            DescribeError::Client(ClientError::Encode(_)) => ExitStatus::Usage,
            DescribeError::Client(e) if e.is_network() => ExitStatus::Network,
            DescribeError::Client(_) => ExitStatus::Incompatible,
            DescribeError::Refused { .. } | DescribeError::NoLeader { .. } => ExitStatus::Failed,
            DescribeError::Admin(e) => e.exit_status(),
            DescribeError::Broker { .. } => ExitStatus::Incompatible,
        }
    }
}

impl super::output::Failure for DescribeError {
    fn exit_status(&self) -> ExitStatus {
        DescribeError::exit_status(self)
    }
}

impl std::fmt::Display for DescribeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DescribeError::Client(e) => write!(f, "{e}"),
            DescribeError::Refused { address, error } => write!(f, "{address} refused: {error}"),
            DescribeError::NoLeader { epoch } => write!(
                f,
                "the quorum has no leader right now (epoch {epoch}); try again"
            ),
            DescribeError::Admin(e) => write!(f, "{e}"),
            DescribeError::Broker { address } => write!(
                f,
                "{address} does not serve DescribeQuorum for controllers (it is a broker: ask \
                 it with --bootstrap-server)"
            ),
        }
    }
}

impl std::error::Error for DescribeError {}

impl From<ClientError> for DescribeError {
    fn from(e: ClientError) -> Self {
        DescribeError::Client(e)
    }
}

impl From<AdminError> for DescribeError {
    fn from(e: AdminError) -> Self {
        DescribeError::Admin(e)
    }
}

fn refused(address: &str, code: i16, message: Option<&str>) -> DescribeError {
    let name =
        ErrorCode::from_code(code).map_or_else(|| format!("error code {code}"), |e| e.to_string());
    DescribeError::Refused {
        address: address.to_owned(),
        error: match message {
            Some(message) if !message.is_empty() => format!("{name}: {message}"),
            _ => name,
        },
    }
}

/// The DescribeQuorum request for the metadata partition (`__cluster_metadata`, partition 0),
/// the only one a KRaft quorum answers for.
pub fn describe_quorum_request() -> DescribeQuorumRequest {
    DescribeQuorumRequest {
        topics: vec![describe_quorum_request::TopicData {
            topic_name: METADATA_TOPIC.into(),
            partitions: vec![describe_quorum_request::PartitionData {
                partition_index: 0,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// Describes the quorum through the controller at `bootstrap` (`host:port`), following the
/// answer to the leader if `bootstrap` is not the leader. Every connect, read and write waits
/// at most `ADMIN_REQUEST_TIMEOUT_MS`.
pub fn describe(bootstrap: &str) -> Result<QuorumDescription, DescribeError> {
    describe_with(bootstrap, &Client::connect)
}

/// [`describe`] within `timeout_ms` in all.
pub fn describe_within(
    bootstrap: &str,
    timeout_ms: u64,
) -> Result<QuorumDescription, DescribeError> {
    let deadline = Instant::now() + Duration::from_millis(timeout_ms);
    describe_with(bootstrap, &|address| {
        Client::connect_until(address, deadline)
    })
}

fn describe_with(
    bootstrap: &str,
    connect: &dyn Fn(&str) -> Result<Client, ClientError>,
) -> Result<QuorumDescription, DescribeError> {
    let mut client = connect(bootstrap)?;
    let cluster: DescribeClusterResponse = client.call(
        &DescribeClusterRequest {
            endpoint_type: ENDPOINT_TYPE_CONTROLLER,
            ..Default::default()
        },
        DESCRIBE_CLUSTER_VERSION,
    )?;
    if cluster.error_code == ErrorCode::MismatchedEndpointType.code() {
        return Err(DescribeError::Broker {
            address: bootstrap.to_owned(),
        });
    }
    if cluster.error_code != ErrorCode::None.code() {
        return Err(refused(
            bootstrap,
            cluster.error_code,
            cluster.error_message.as_deref(),
        ));
    }
    let mut response: DescribeQuorumResponse =
        client.call(&describe_quorum_request(), DESCRIBE_QUORUM_VERSION)?;
    let mut asked = bootstrap.to_owned();
    let partition_error = |r: &DescribeQuorumResponse| {
        r.topics
            .first()
            .and_then(|t| t.partitions.first())
            .map(|p| p.error_code)
    };
    if partition_error(&response) == Some(ErrorCode::NotLeaderOrFollower.code()) {
        let partition = &response.topics[0].partitions[0];
        if partition.leader_id < 0 {
            return Err(DescribeError::NoLeader {
                epoch: partition.leader_epoch,
            });
        }
        let leader = cluster
            .brokers
            .iter()
            .find(|b| b.broker_id == partition.leader_id)
            .map(|b| format!("{}:{}", b.host, b.port))
            .ok_or_else(|| DescribeError::Refused {
                address: bootstrap.to_owned(),
                error: format!(
                    "the leader is node {}, whose address it did not give",
                    partition.leader_id
                ),
            })?;
        let mut leader_client = connect(&leader)?;
        response = leader_client.call(&describe_quorum_request(), DESCRIBE_QUORUM_VERSION)?;
        asked = leader;
    }
    description_from(cluster.cluster_id, &response, &asked)
}

/// Describes the quorum through a broker of `bootstrap_servers`, which forwards DescribeQuorum
/// to the active controller; `timeout_ms` bounds it all.
pub fn describe_via_broker(
    bootstrap_servers: &str,
    timeout_ms: u64,
) -> Result<QuorumDescription, DescribeError> {
    let mut session = Session::open(bootstrap_servers, timeout_ms).map_err(|e| match e {
        AdminError::Unsupported {
            address,
            api,
            theirs: None,
            ours,
            hint: Some(_),
        } => AdminError::Unsupported {
            address,
            api,
            theirs: None,
            ours,
            hint: Some("it is a controller: ask it with --bootstrap-controller".into()),
        },
        e => e,
    })?;
    let (_, response): (i16, DescribeQuorumResponse) = session
        .call(BOOTSTRAP, 0, |_| Ok(describe_quorum_request()))
        .map_err(|e| match e {
            AdminError::Unsupported {
                address,
                api,
                theirs: None,
                ours,
                hint: None,
            } => AdminError::Unsupported {
                address,
                api,
                theirs: None,
                ours,
                hint: Some(
                    "the broker does not forward it to the controllers; ask a controller with \
                     --bootstrap-controller"
                        .into(),
                ),
            },
            e => e,
        })?;
    let cluster_id = session.view().cluster_id.clone().unwrap_or_default();
    description_from(cluster_id, &response, session.address(BOOTSTRAP))
}

/// The description in a DescribeQuorum answer from `asked`.
fn description_from(
    cluster_id: String,
    response: &DescribeQuorumResponse,
    asked: &str,
) -> Result<QuorumDescription, DescribeError> {
    if response.error_code != ErrorCode::None.code() {
        return Err(refused(
            asked,
            response.error_code,
            response.error_message.as_deref(),
        ));
    }
    let partition = response
        .topics
        .iter()
        .find(|t| t.topic_name == METADATA_TOPIC)
        .and_then(|t| t.partitions.first())
        .ok_or_else(|| DescribeError::Refused {
            address: asked.to_owned(),
            error: "the answer has no __cluster_metadata partition".into(),
        })?;
    if partition.error_code != ErrorCode::None.code() {
        if partition.error_code == ErrorCode::NotLeaderOrFollower.code() && partition.leader_id < 0
        {
            return Err(DescribeError::NoLeader {
                epoch: partition.leader_epoch,
            });
        }
        return Err(refused(
            asked,
            partition.error_code,
            partition.error_message.as_deref(),
        ));
    }
    let replica = |r: &describe_quorum_response::ReplicaState| Replica {
        id: r.replica_id,
        directory_id: r.replica_directory_id,
        log_end_offset: r.log_end_offset,
        last_fetch_timestamp: r.last_fetch_timestamp,
        last_caught_up_timestamp: r.last_caught_up_timestamp,
    };
    let endpoints = response
        .nodes
        .iter()
        .map(|n| {
            (
                n.node_id,
                n.listeners
                    .iter()
                    .map(|l| format!("{}://{}:{}", l.name, l.host, l.port))
                    .collect(),
            )
        })
        .collect();
    Ok(QuorumDescription {
        cluster_id,
        leader_id: partition.leader_id,
        leader_epoch: partition.leader_epoch,
        high_watermark: partition.high_watermark,
        voters: partition.current_voters.iter().map(replica).collect(),
        observers: partition.observers.iter().map(replica).collect(),
        endpoints,
    })
}

impl QuorumDescription {
    fn leader_log_end_offset(&self) -> i64 {
        self.voters
            .iter()
            .find(|v| v.id == self.leader_id)
            .map_or(self.high_watermark, |v| v.log_end_offset)
    }

    /// How far each replica is behind the leader's log end, in records.
    fn lag(&self, replica: &Replica) -> i64 {
        if replica.log_end_offset < 0 {
            return -1;
        }
        (self.leader_log_end_offset() - replica.log_end_offset).max(0)
    }

    /// The largest lag of a voter behind the leader, in records.
    fn max_follower_lag(&self) -> i64 {
        self.voters
            .iter()
            .filter(|v| v.id != self.leader_id)
            .map(|v| self.lag(v))
            .max()
            .unwrap_or(0)
    }

    /// How long ago the voter furthest behind last caught up, at `now_ms`.
    fn max_follower_lag_time_ms(&self, now_ms: i64) -> i64 {
        self.voters
            .iter()
            .filter(|v| v.id != self.leader_id && v.last_caught_up_timestamp >= 0)
            .map(|v| (now_ms - v.last_caught_up_timestamp).max(0))
            .max()
            .unwrap_or(0)
    }

    /// The `--json` document: the `--status` fields and every replica with its
    /// `--replication` columns:
    /// `{"cluster_id", "leader_id", "leader_epoch", "high_watermark", "max_follower_lag",
    /// "max_follower_lag_time_ms", "voters": [REPLICA], "observers": [REPLICA]}`, a REPLICA being
    /// `{"id", "directory_id", "log_end_offset", "lag", "last_fetch_timestamp_ms",
    /// "last_caught_up_timestamp_ms", "status", "endpoints": ["NAME://host:port"]}`.
    pub fn json(&self, now_ms: i64) -> Json {
        let replicas = |replicas: &[Replica], voter: bool| {
            Json::array(replicas.iter().map(|r| {
                Json::object([
                    ("id", Json::from(r.id)),
                    ("directory_id", Json::from(r.directory_id.to_string())),
                    ("log_end_offset", Json::from(r.log_end_offset)),
                    ("lag", Json::from(self.lag(r))),
                    (
                        "last_fetch_timestamp_ms",
                        Json::from(r.last_fetch_timestamp),
                    ),
                    (
                        "last_caught_up_timestamp_ms",
                        Json::from(r.last_caught_up_timestamp),
                    ),
                    ("status", Json::from(self.status(r, voter))),
                    (
                        "endpoints",
                        Json::array(self.endpoints.get(&r.id).into_iter().flatten()),
                    ),
                ])
            }))
        };
        Json::object([
            ("cluster_id", Json::from(&self.cluster_id)),
            ("leader_id", Json::from(self.leader_id)),
            ("leader_epoch", Json::from(self.leader_epoch)),
            ("high_watermark", Json::from(self.high_watermark)),
            ("max_follower_lag", Json::from(self.max_follower_lag())),
            (
                "max_follower_lag_time_ms",
                Json::from(self.max_follower_lag_time_ms(now_ms)),
            ),
            ("voters", replicas(&self.voters, true)),
            ("observers", replicas(&self.observers, false)),
        ])
    }

    fn status(&self, replica: &Replica, voter: bool) -> &'static str {
        match (replica.id == self.leader_id, voter) {
            (true, _) => "Leader",
            (false, true) => "Follower",
            (false, false) => "Observer",
        }
    }

    /// Kafka's `describe --status` output.
    pub fn status_text(&self, now_ms: i64) -> String {
        let max_lag = self.max_follower_lag();
        let max_lag_time_ms = self.max_follower_lag_time_ms(now_ms);
        let list = |replicas: &[Replica]| {
            let items: Vec<String> = replicas
                .iter()
                .map(|r| {
                    let endpoints: Vec<String> = self
                        .endpoints
                        .get(&r.id)
                        .into_iter()
                        .flatten()
                        .map(|e| format!("\"{e}\""))
                        .collect();
                    format!(
                        "{{\"id\": {}, \"directoryId\": \"{}\", \"endpoints\": [{}]}}",
                        r.id,
                        r.directory_id,
                        endpoints.join(", ")
                    )
                })
                .collect();
            format!("[{}]", items.join(", "))
        };
        let mut out = String::new();
        writeln!(out, "ClusterId:              {}", self.cluster_id).unwrap();
        writeln!(out, "LeaderId:               {}", self.leader_id).unwrap();
        writeln!(out, "LeaderEpoch:            {}", self.leader_epoch).unwrap();
        writeln!(out, "HighWatermark:          {}", self.high_watermark).unwrap();
        writeln!(out, "MaxFollowerLag:         {max_lag}").unwrap();
        writeln!(out, "MaxFollowerLagTimeMs:   {max_lag_time_ms}").unwrap();
        writeln!(out, "CurrentVoters:          {}", list(&self.voters)).unwrap();
        writeln!(out, "CurrentObservers:       {}", list(&self.observers)).unwrap();
        out
    }

    /// Kafka's `describe --replication` table: one row per voter, then per observer.
    pub fn replication_text(&self) -> String {
        let mut rows = vec![[
            "NodeId".to_string(),
            "DirectoryId".into(),
            "LogEndOffset".into(),
            "Lag".into(),
            "LastFetchTimestamp".into(),
            "LastCaughtUpTimestamp".into(),
            "Status".into(),
        ]];
        for (replica, voter) in self
            .voters
            .iter()
            .map(|r| (r, true))
            .chain(self.observers.iter().map(|r| (r, false)))
        {
            let status = self.status(replica, voter);
            rows.push([
                replica.id.to_string(),
                replica.directory_id.to_string(),
                replica.log_end_offset.to_string(),
                self.lag(replica).to_string(),
                replica.last_fetch_timestamp.to_string(),
                replica.last_caught_up_timestamp.to_string(),
                status.to_string(),
            ]);
        }
        let widths: Vec<usize> = (0..7)
            .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
            .collect();
        let mut out = String::new();
        for row in rows {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(cell, w)| format!("{cell:<w$}"))
                .collect();
            writeln!(out, "{}", cells.join("  ").trim_end()).unwrap();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ApiKey;

    fn description() -> QuorumDescription {
        let replica = |id, leo, caught_up| Replica {
            id,
            directory_id: Uuid::from_bytes([id as u8; 16]),
            log_end_offset: leo,
            last_fetch_timestamp: 1_000,
            last_caught_up_timestamp: caught_up,
        };
        QuorumDescription {
            cluster_id: "MkU3OEVBNTcwNTJENDM2Qg".into(),
            leader_id: 1,
            leader_epoch: 4,
            high_watermark: 95,
            voters: vec![
                replica(1, 100, 1_000),
                replica(2, 100, 1_000),
                replica(3, 90, 400),
            ],
            observers: vec![replica(101, 80, -1)],
            endpoints: BTreeMap::from([(1, vec!["CONTROLLER://127.0.0.1:9093".to_string()])]),
        }
    }

    #[test]
    fn status_reports_the_worst_follower() {
        let text = description().status_text(1_000);
        assert!(text.contains("LeaderId:               1\n"), "{text}");
        assert!(text.contains("MaxFollowerLag:         10\n"), "{text}");
        assert!(text.contains("MaxFollowerLagTimeMs:   600\n"), "{text}");
        assert!(
            text.contains("\"endpoints\": [\"CONTROLLER://127.0.0.1:9093\"]"),
            "{text}"
        );
    }

    #[test]
    fn json_has_the_status_fields_and_every_replica() {
        let json = description().json(1_000).render();
        assert!(
            json.starts_with(
                r#"{"cluster_id":"MkU3OEVBNTcwNTJENDM2Qg","leader_id":1,"leader_epoch":4,"high_watermark":95,"max_follower_lag":10,"max_follower_lag_time_ms":600,"voters":[{"id":1,"#
            ),
            "{json}"
        );
        assert!(
            json.contains(r#""status":"Leader","endpoints":["CONTROLLER://127.0.0.1:9093"]}"#),
            "{json}"
        );
        assert!(
            json.contains(
                r#""observers":[{"id":101,"directory_id":"ZWVlZWVlZWVlZWVlZWVlZQ","log_end_offset":80,"lag":20,"last_fetch_timestamp_ms":1000,"last_caught_up_timestamp_ms":-1,"status":"Observer","endpoints":[]}]}"#
            ),
            "{json}"
        );
    }

    #[test]
    fn errors_have_the_admin_exit_statuses() {
        let refused = refused("h:1", 41, Some(""));
        assert_eq!(refused.to_string(), "h:1 refused: NOT_CONTROLLER (41)");
        assert_eq!(refused.exit_status(), ExitStatus::Failed);
        assert_eq!(
            DescribeError::NoLeader { epoch: 3 }.exit_status(),
            ExitStatus::Failed
        );
        let connect = DescribeError::Client(ClientError::Connect {
            address: "h:1".into(),
            source: std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
        });
        assert_eq!(connect.exit_status(), ExitStatus::Network);
        let unsupported = DescribeError::Admin(AdminError::Unsupported {
            address: "h:1".into(),
            api: ApiKey::DescribeQuorum,
            theirs: None,
            ours: 0..=2,
            hint: None,
        });
        assert_eq!(unsupported.exit_status(), ExitStatus::Incompatible);
    }

    #[test]
    fn an_answer_without_a_leader_or_the_partition_is_an_error() {
        let mut response = DescribeQuorumResponse::default();
        let error = description_from("c".into(), &response, "h:1").unwrap_err();
        assert!(
            error
                .to_string()
                .contains("no __cluster_metadata partition"),
            "{error}"
        );
        response.topics.push(describe_quorum_response::TopicData {
            topic_name: METADATA_TOPIC.into(),
            partitions: vec![describe_quorum_response::PartitionData {
                error_code: ErrorCode::NotLeaderOrFollower.code(),
                leader_id: -1,
                leader_epoch: 7,
                ..Default::default()
            }],
            ..Default::default()
        });
        let error = description_from("c".into(), &response, "h:1").unwrap_err();
        assert_eq!(
            error.to_string(),
            "the quorum has no leader right now (epoch 7); try again"
        );
        response.error_code = ErrorCode::ClusterAuthorizationFailed.code();
        let error = description_from("c".into(), &response, "h:1").unwrap_err();
        assert_eq!(
            error.to_string(),
            "h:1 refused: CLUSTER_AUTHORIZATION_FAILED (31)"
        );
    }

    #[test]
    fn replication_lists_every_replica_with_its_role_and_lag() {
        let text = description().replication_text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{text}");
        assert!(lines[0].starts_with("NodeId"));
        assert!(
            lines[1].ends_with("Leader") && lines[1].contains(" 0 "),
            "{text}"
        );
        assert!(
            lines[3].contains(" 10 ") && lines[3].ends_with("Follower"),
            "{text}"
        );
        assert!(
            lines[4].starts_with("101") && lines[4].ends_with("Observer"),
            "{text}"
        );
    }
}
