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

/// How the active controller goes away in [`create_in_flight_at_leader_kill`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaderFault {
    /// SIGKILL: the kernel resets its connections, the broker learns at once.
    Kill,
    /// It stays paused (no reset): only the election of a later epoch's leader tells. It is
    /// resumed (SIGCONT) once the client has its answer.
    Pause,
}

/// What became of a CreateTopics a broker had forwarded to the active controller when that
/// controller went away (see [`create_in_flight_at_leader_kill`]).
pub struct InFlightAtKill {
    /// The answer the client got from the broker.
    pub response: CreateTopicsResponse,
    /// From the kill (or pause) to the first poll in which a survivor answered as leader of a later epoch.
    pub elected_after_kill: Duration,
    /// From the kill (or pause) to the client's answer.
    pub answered_after_kill: Duration,
}

/// Makes a forwarded write be in flight at a leader's death, as a rolling restart or a crash
/// does: the active controller is paused (SIGSTOP, so it reads nothing more), a client sends a
/// CreateTopics of `name` (one partition, replication 1) to broker `broker`, which forwards
/// it to the paused controller; after `in_flight` the controller is killed or left paused
/// (`fault`). The survivors are polled for the new leader while the client waits for its
/// answer.
pub fn create_in_flight_at_leader_kill(
    cluster: &mut Cluster,
    broker: u32,
    name: &str,
    in_flight: Duration,
    fault: LeaderFault,
) -> InFlightAtKill {
    let (leader, epoch) = cluster.wait_for_leader(Duration::from_secs(20));
    let survivors: Vec<u32> = cluster
        .ids()
        .into_iter()
        .filter(|&id| id != leader)
        .collect();
    super::signal(cluster.pid(leader), libc::SIGSTOP);
    let address = cluster.address(broker);
    let request = create_topics_request(&[name.to_owned()], 1, 1);
    let (answered, answer) = std::sync::mpsc::channel();
    let client = std::thread::spawn(move || {
        let result = Client::connect(&address).and_then(|mut client| {
            client.call::<_, CreateTopicsResponse>(&request, CREATE_TOPICS_VERSION)
        });
        let _ = answered.send((result.map_err(|e| e.to_string()), Instant::now()));
    });
    let paused = Instant::now();
    std::thread::sleep(in_flight);
    let killed = match fault {
        LeaderFault::Kill => {
            let killed = Instant::now();
            cluster.kill(leader);
            killed
        }
        LeaderFault::Pause => paused,
    };
    let elected = super::wait_for(
        "a new leader among the survivors",
        Duration::from_secs(30),
        || {
            let elected = survivors.iter().any(|&id| {
                cluster
                    .view(id)
                    .is_ok_and(|view| view.is_leader && view.epoch > epoch)
            });
            if elected {
                Ok(Instant::now())
            } else {
                Err("none yet".to_owned())
            }
        },
    );
    let (result, at) = answer
        .recv_timeout(Duration::from_secs(60))
        .expect("the client's answer within 60 s");
    client.join().expect("the client thread");
    if fault == LeaderFault::Pause {
        super::signal(cluster.pid(leader), libc::SIGCONT);
    }
    InFlightAtKill {
        response: result.unwrap_or_else(|e| panic!("the create through broker {broker}: {e}")),
        elected_after_kill: elected - killed,
        answered_after_kill: at - killed,
    }
}
