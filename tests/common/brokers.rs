//! Talking to the quorum controller as brokers and admin clients do, for tests and benches:
//! a connection that follows the active controller, simulated brokers that register and
//! heartbeat, topic creation, and the committed image of a stopped node read from its files.

use std::time::{Duration, Instant};

use keel::admin::client::Client;
use keel::metadata::{Image, MetadataRecord};
use keel::node::state_machine::load_snapshot;
use keel::protocol::messages::{
    BrokerHeartbeatRequest, BrokerHeartbeatResponse, BrokerRegistrationRequest,
    BrokerRegistrationResponse, CreateTopicsRequest, CreateTopicsResponse,
    broker_registration_request, create_topics_request,
};
use keel::protocol::{ApiMessage, ErrorCode, Uuid};
use keel::storage::batch::{ScanItem, Scanner};
use keel::storage::snapshot::latest_snapshot;
use keel::storage::{Log, LogConfig, METADATA_PARTITION_DIR};

use super::Cluster;

pub const BROKER_REGISTRATION_VERSION: i16 = 4;
pub const BROKER_HEARTBEAT_VERSION: i16 = 1;
pub const CREATE_TOPICS_VERSION: i16 = 7;

/// A connection to whichever node is the active controller: on `NOT_CONTROLLER` or a broken
/// connection it asks the nodes for the leader again and retries, until `deadline`.
pub struct ControllerConnection {
    addresses: Vec<(u32, String)>,
    current: Option<(u32, Client)>,
}

impl ControllerConnection {
    pub fn new(cluster: &Cluster) -> ControllerConnection {
        ControllerConnection {
            addresses: cluster
                .ids()
                .into_iter()
                .map(|id| (id, cluster.address(id)))
                .collect(),
            current: None,
        }
    }

    /// The node the last request went to.
    pub fn node(&self) -> Option<u32> {
        self.current.as_ref().map(|(id, _)| *id)
    }

    /// Connects to the node that some running node names as leader.
    fn connect(&mut self) -> Result<(), String> {
        for (_, address) in &self.addresses {
            let Ok(description) = keel::admin::quorum::describe(address) else {
                continue;
            };
            let leader = description.leader_id as u32;
            let Some((_, leader_address)) = self.addresses.iter().find(|(id, _)| *id == leader)
            else {
                continue;
            };
            if let Ok(client) = Client::connect(leader_address) {
                self.current = Some((leader, client));
                return Ok(());
            }
        }
        Err("no node names a reachable leader".into())
    }

    /// Sends `request` once to the current controller. `Err` on a transport failure (the
    /// outcome of the request is then unknown).
    pub fn try_call<Q: ApiMessage, R: ApiMessage>(
        &mut self,
        request: &Q,
        version: i16,
    ) -> Result<R, String> {
        if self.current.is_none() {
            self.connect()?;
        }
        let (_, client) = self.current.as_mut().expect("connected");
        client.call(request, version).map_err(|e| {
            self.current = None;
            e.to_string()
        })
    }

    /// Sends `request` until it gets an answer for which `not_controller` is false (retrying
    /// on NOT_CONTROLLER and transport failures) or `timeout` passes.
    pub fn call<Q: ApiMessage, R: ApiMessage>(
        &mut self,
        request: &Q,
        version: i16,
        not_controller: impl Fn(&R) -> bool,
        timeout: Duration,
    ) -> R {
        let start = Instant::now();
        loop {
            match self.try_call::<Q, R>(request, version) {
                Ok(response) if !not_controller(&response) => return response,
                Ok(_) => self.current = None,
                Err(_) => {}
            }
            assert!(
                start.elapsed() < timeout,
                "no active controller answered within {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A broker as the controller sees it: registered and heartbeating, with no log of its own.
pub struct SimBroker {
    pub id: i32,
    pub epoch: i64,
    pub incarnation: Uuid,
}

impl SimBroker {
    /// Registers broker `id` (rack `rack`) and heartbeats until it is unfenced.
    pub fn bring_up(
        connection: &mut ControllerConnection,
        cluster_id: &str,
        id: i32,
        rack: Option<&str>,
    ) -> SimBroker {
        let incarnation = Uuid::from_bytes([id as u8 ^ 0x5a; 16]);
        let request = BrokerRegistrationRequest {
            broker_id: id,
            cluster_id: cluster_id.to_owned(),
            incarnation_id: incarnation,
            listeners: vec![broker_registration_request::Listener {
                name: "PLAINTEXT".into(),
                host: "127.0.0.1".into(),
                port: 19092 + id as u16,
                security_protocol: 0,
                ..Default::default()
            }],
            rack: rack.map(str::to_owned),
            ..Default::default()
        };
        let response: BrokerRegistrationResponse = connection.call(
            &request,
            BROKER_REGISTRATION_VERSION,
            |r: &BrokerRegistrationResponse| r.error_code == ErrorCode::NotController.code(),
            Duration::from_secs(20),
        );
        assert_eq!(
            response.error_code,
            ErrorCode::None.code(),
            "registration of broker {id}: {response:?}"
        );
        let broker = SimBroker {
            id,
            epoch: response.broker_epoch,
            incarnation,
        };
        let start = Instant::now();
        loop {
            let response = broker.heartbeat(connection);
            if !response.is_fenced {
                return broker;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "broker {id} stays fenced: {response:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// One heartbeat, reporting its registration as the metadata it has caught up to.
    pub fn heartbeat(&self, connection: &mut ControllerConnection) -> BrokerHeartbeatResponse {
        let response: BrokerHeartbeatResponse = connection.call(
            &BrokerHeartbeatRequest {
                broker_id: self.id,
                broker_epoch: self.epoch,
                current_metadata_offset: self.epoch,
                want_fence: false,
                want_shut_down: false,
                ..Default::default()
            },
            BROKER_HEARTBEAT_VERSION,
            |r: &BrokerHeartbeatResponse| r.error_code == ErrorCode::NotController.code(),
            Duration::from_secs(20),
        );
        assert_eq!(
            response.error_code,
            ErrorCode::None.code(),
            "heartbeat of broker {}: {response:?}",
            self.id
        );
        response
    }
}

/// A CreateTopics request for `names`, each with `partitions` partitions and replication
/// factor `replication`.
pub fn create_topics_request(
    names: &[String],
    partitions: i32,
    replication: i16,
) -> CreateTopicsRequest {
    CreateTopicsRequest {
        topics: names
            .iter()
            .map(|name| create_topics_request::CreatableTopic {
                name: name.clone(),
                num_partitions: partitions,
                replication_factor: replication,
                ..Default::default()
            })
            .collect(),
        timeout_ms: 30_000,
        validate_only: false,
        ..Default::default()
    }
}

/// True when every topic of the answer is `NOT_CONTROLLER`.
pub fn create_not_controller(response: &CreateTopicsResponse) -> bool {
    !response.topics.is_empty()
        && response
            .topics
            .iter()
            .all(|t| t.error_code == ErrorCode::NotController.code())
}

/// The committed image of stopped node `id`: its newest snapshot plus its log below
/// `high_watermark`, applied with keel's own code.
pub fn committed_image(cluster: &Cluster, id: u32, high_watermark: u64) -> Image {
    assert!(!cluster.is_running(id), "read the files of a stopped node");
    let dir = cluster.node(id).data_dir.join(METADATA_PARTITION_DIR);
    let snapshot = latest_snapshot(&dir).expect("list snapshots");
    let mut image = match snapshot {
        Some(snapshot) => load_snapshot(&dir, snapshot)
            .unwrap_or_else(|e| panic!("node {id}'s snapshot does not load: {e}")),
        None => Image::new(),
    };
    let mut next = snapshot.map_or(0, |s| s.end_offset);
    // Open a copy: Log::open may repair a torn tail, and the files are evidence.
    let copy = cluster.root.join(format!("image-copy-{id}"));
    let _ = std::fs::remove_dir_all(&copy);
    super::copy_dir(&dir, &copy);
    let log = Log::open(
        &copy,
        LogConfig::with_segment_bytes(cluster.settings.segment_bytes),
    )
    .unwrap_or_else(|e| panic!("node {id}'s log does not open: {e}"));
    while next < high_watermark {
        let bytes = log.read(next, 1 << 20).expect("read the log");
        assert!(!bytes.is_empty(), "node {id}'s log ends at {next}");
        for item in Scanner::new(bytes, log.config().batch_bytes_max) {
            let ScanItem::Batch { batch, .. } = item else {
                break;
            };
            let header = batch.header;
            for (offset, record) in (header.base_offset..).zip(batch.records()) {
                if offset < next || offset >= high_watermark {
                    continue;
                }
                if header.is_control() {
                    image.advance_to(offset);
                } else {
                    let record = MetadataRecord::decode_at(offset, record)
                        .unwrap_or_else(|e| panic!("node {id}: {e}"));
                    image
                        .apply(offset, &record)
                        .unwrap_or_else(|e| panic!("node {id}: {e}"));
                }
                next = offset + 1;
            }
            if next >= high_watermark {
                break;
            }
        }
    }
    drop(log);
    let _ = std::fs::remove_dir_all(&copy);
    image
}
