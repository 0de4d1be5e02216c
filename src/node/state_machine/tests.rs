//! The state machine as a node drives it: records applied as they commit, the controller
//! active only in its own epoch, replies released by their commit or handed back when
//! leadership goes, snapshots written in steps and loaded again, a leader's snapshot installed.

use std::path::PathBuf;

use super::*;
use crate::metadata::controller::{CreatableTopic, CreateTopicsRequest};
use crate::metadata::record::{LEADER_CHANGE_VERSION, encode_leader_change};
use crate::protocol::messages::register_broker_record::{BrokerEndpoint, BrokerFeature};
use crate::protocol::messages::{LeaderChangeMessage, RegisterBrokerRecord};
use crate::storage::LogConfig;

const EPOCH: u32 = 3;

fn temp_dir(name: &str) -> PathBuf {
    let base = if Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let dir = base.join(format!("keel-state-machine-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A node's log and state machine in one directory (removed on drop unless closed); waiters
/// are names.
struct Replica {
    dir: PathBuf,
    log: Log,
    machine: StateMachine<String>,
    next_id: u8,
    remove_on_drop: bool,
}

impl Replica {
    fn open(name: &str, policy: SnapshotPolicy) -> Replica {
        let dir = temp_dir(name);
        Replica::reopen(dir, policy)
    }

    fn reopen(dir: PathBuf, policy: SnapshotPolicy) -> Replica {
        let log = Log::open(&dir, LogConfig::with_segment_bytes(1 << 20)).unwrap();
        let machine =
            StateMachine::open(&dir, ControllerConfig::new("cluster"), policy, 0).unwrap();
        Replica {
            dir,
            log,
            machine,
            next_id: 1,
            remove_on_drop: true,
        }
    }

    /// Stops this replica, keeping its directory for a restart.
    fn close(mut self) -> PathBuf {
        self.remove_on_drop = false;
        self.dir.clone()
    }

    /// Appends one batch in EPOCH and flushes it; its (first, last) offsets.
    fn append(&mut self, control: bool, records: &[Vec<u8>]) -> (u64, u64) {
        let refs: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
        let offsets = self.log.append(EPOCH, 0, control, &refs).unwrap();
        self.log.flush().unwrap();
        offsets
    }

    fn commit_to(&mut self, high_watermark: u64) -> Vec<String> {
        self.machine
            .apply_committed(&self.log, high_watermark)
            .unwrap()
            .into_iter()
            .map(|(waiter, _)| waiter)
            .collect()
    }

    fn commit_all(&mut self) -> Vec<String> {
        let end = self.log.log_end_offset();
        self.commit_to(end)
    }

    /// Runs a CreateTopics on the controller, appends what it proposes and holds the reply
    /// for `waiter`; the offset the reply waits for.
    fn create_topic(&mut self, name: &str) -> u64 {
        let request = ControllerRequest::CreateTopics(CreateTopicsRequest {
            topics: vec![CreatableTopic {
                name: name.into(),
                num_partitions: 2,
                replication_factor: 1,
                assignments: Vec::new(),
                configs: Vec::new(),
            }],
            validate_only: false,
        });
        let next_offset = self.log.log_end_offset();
        let next_id = &mut self.next_id;
        let mut new_id = || {
            *next_id += 1;
            Uuid::from_bytes([*next_id; 16])
        };
        match self.machine.handle(request, 0, next_offset, &mut new_id) {
            Handled::Propose {
                records,
                reply,
                release_at: Some(release_at),
            } => {
                let (first, _) = self.append(false, &records);
                assert_eq!(first, next_offset, "proposed where the controller decided");
                self.machine.wait(release_at, name.to_owned(), reply);
                release_at
            }
            _ => panic!("a create on the active controller proposes records and waits"),
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        if self.remove_on_drop {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn never() -> SnapshotPolicy {
    SnapshotPolicy {
        max_record_bytes: u64::MAX,
        max_interval_ms: 0,
    }
}

fn broker_record(id: i32) -> Vec<u8> {
    MetadataRecord::RegisterBroker(RegisterBrokerRecord {
        broker_id: id,
        incarnation_id: Uuid::from_bytes([id as u8; 16]),
        broker_epoch: 0,
        end_points: vec![BrokerEndpoint {
            name: "PLAINTEXT".into(),
            host: format!("broker-{id}"),
            port: 9092,
            security_protocol: 0,
            ..Default::default()
        }],
        features: vec![BrokerFeature {
            name: "metadata.version".into(),
            min_supported_version: 1,
            max_supported_version: 21,
            ..Default::default()
        }],
        fenced: false,
        ..Default::default()
    })
    .encode()
}

fn leader_change() -> Vec<u8> {
    encode_leader_change(&LeaderChangeMessage {
        version: LEADER_CHANGE_VERSION,
        leader_id: 1,
        ..Default::default()
    })
}

#[test]
fn committed_records_are_applied_in_order_and_never_past_the_high_watermark() {
    let mut replica = Replica::open("apply", never());
    replica.append(false, &[broker_record(1)]);
    replica.append(false, &[broker_record(2)]);
    assert!(replica.commit_to(1).is_empty());
    assert_eq!(replica.machine.applied_end(), 1);
    assert_eq!(
        replica.machine.image().broker_count(),
        1,
        "only the committed one"
    );
    replica.commit_to(2);
    assert_eq!(replica.machine.applied_end(), 2);
    assert_eq!(replica.machine.image().broker_count(), 2);
    // Committing again applies nothing twice.
    replica.commit_to(2);
    assert_eq!(replica.machine.image().broker_count(), 2);
}

#[test]
fn the_controller_is_active_only_once_its_epochs_leader_change_is_applied() {
    let mut replica = Replica::open("activate", never());
    replica.append(false, &[broker_record(1)]);
    let (start, _) = replica.append(true, &[leader_change()]);
    replica.commit_to(start);
    assert!(
        replica
            .machine
            .sync_leadership(Some((EPOCH, start)), 0)
            .is_empty()
    );
    assert!(
        !replica.machine.is_active(),
        "the image may still miss records of earlier epochs"
    );
    assert!(matches!(
        replica.machine.handle(
            ControllerRequest::UnregisterBroker { broker_id: 1 },
            0,
            replica.log.log_end_offset(),
            &mut || Uuid::ZERO
        ),
        Handled::NotController
    ));
    replica.commit_all();
    replica.machine.sync_leadership(Some((EPOCH, start)), 0);
    assert!(replica.machine.is_active());
}

#[test]
fn a_reply_waits_for_its_records_and_is_handed_back_when_leadership_goes() {
    let mut replica = Replica::open("replies", never());
    replica.append(false, &[broker_record(1)]);
    let (start, _) = replica.append(true, &[leader_change()]);
    replica.commit_all();
    replica.machine.sync_leadership(Some((EPOCH, start)), 0);

    let orders_at = replica.create_topic("orders");
    let payments_at = replica.create_topic("payments");
    assert!(
        replica.commit_to(orders_at).is_empty(),
        "not released before its own record is applied"
    );
    assert_eq!(replica.commit_to(orders_at + 1), ["orders"]);
    assert_eq!(replica.machine.image().topic_count(), 1);
    assert!(payments_at > orders_at);

    // Leadership goes before payments commits: its reply is handed back, to be answered
    // NOT_CONTROLLER, and nothing is released later.
    assert_eq!(replica.machine.sync_leadership(None, 0), ["payments"]);
    assert!(!replica.machine.is_active());
    assert!(replica.commit_all().is_empty());
    assert_eq!(
        replica.machine.image().topic_count(),
        2,
        "the record still commits"
    );
}

#[test]
fn a_snapshot_is_written_in_steps_of_the_committed_image_and_loaded_at_restart() {
    let every_byte = SnapshotPolicy {
        max_record_bytes: 1,
        max_interval_ms: 0,
    };
    let mut replica = Replica::open("snapshot", every_byte);
    replica.append(false, &[broker_record(1), broker_record(2)]);
    let (start, _) = replica.append(true, &[leader_change()]);
    replica.commit_all();
    replica.machine.sync_leadership(Some((EPOCH, start)), 0);
    for t in 0..20 {
        replica.create_topic(&format!("topic-{t:02}"));
    }
    replica.commit_all();
    let end = replica.machine.applied_end();

    replica.machine.maybe_start_snapshot(0, 0).unwrap();
    assert!(replica.machine.snapshot_in_progress());
    // Records committed while it is written do not leak into it.
    replica.machine.sync_leadership(None, 0);
    replica.append(false, &[broker_record(3)]);
    replica.commit_all();
    let mut steps = 0;
    let id = loop {
        steps += 1;
        if let Some(id) = replica.machine.snapshot_step().unwrap() {
            break id;
        }
        assert!(steps < 1_000, "a snapshot finishes");
    };
    assert_eq!(id.end_offset, end);
    let loaded = load_snapshot(&replica.dir, id).unwrap();
    assert_eq!(
        (
            loaded.broker_count(),
            loaded.topic_count(),
            loaded.partition_count()
        ),
        (2, 20, 40),
        "the image as it was committed when the snapshot started"
    );

    // A restart starts from the snapshot and applies the log after it.
    let log_end = replica.log.log_end_offset();
    let mut restarted = Replica::reopen(replica.close(), never());
    assert_eq!(restarted.machine.applied_end(), end);
    assert_eq!(restarted.machine.image().topic_count(), 20);
    restarted.commit_to(log_end);
    assert_eq!(restarted.machine.image().broker_count(), 3);
}

#[test]
fn a_snapshot_from_the_leader_replaces_the_image() {
    let every_byte = SnapshotPolicy {
        max_record_bytes: 1,
        max_interval_ms: 0,
    };
    let mut leader = Replica::open("install-leader", every_byte);
    leader.append(
        false,
        &[broker_record(1), broker_record(2), broker_record(4)],
    );
    leader.commit_all();
    leader.machine.maybe_start_snapshot(0, 0).unwrap();
    let id = loop {
        if let Some(id) = leader.machine.snapshot_step().unwrap() {
            break id;
        }
    };

    let mut follower = Replica::open("install-follower", never());
    follower.append(false, &[broker_record(9)]);
    follower.commit_all();
    std::fs::copy(
        leader.dir.join(id.file_name()),
        follower.dir.join(id.file_name()),
    )
    .unwrap();
    follower.machine.install_snapshot(id).unwrap();
    assert_eq!(follower.machine.applied_end(), id.end_offset);
    let ids: Vec<i32> = follower.machine.image().brokers().map(|b| b.id).collect();
    assert_eq!(ids, [1, 2, 4], "the leader's image, not the follower's own");
}

#[test]
fn a_shutdown_snapshots_the_image_only_when_the_log_after_the_last_snapshot_is_long() {
    let mut replica = Replica::open("shutdown-snapshot", never());
    replica.append(false, &[broker_record(1)]);
    replica.commit_all();
    assert!(
        !replica.machine.start_shutdown_snapshot(0, 0).unwrap(),
        "a short log is replayed faster than the image is written"
    );

    // Registrations until the log after the (absent) snapshot passes the threshold.
    let mut id = 2;
    let record_bytes = broker_record(id).len() as u64;
    let needed = SNAPSHOT_AT_SHUTDOWN_BYTES_MIN.div_ceil(record_bytes);
    while (id as u64) <= needed + 1 {
        let batch: Vec<Vec<u8>> = (id..id + 100).map(broker_record).collect();
        replica.append(false, &batch);
        id += 100;
    }
    replica.commit_all();
    let end = replica.machine.applied_end();
    assert!(replica.machine.start_shutdown_snapshot(0, 0).unwrap());
    let mut steps = 0;
    let snapshot = loop {
        steps += 1;
        if let Some(snapshot) = replica.machine.snapshot_step().unwrap() {
            break snapshot;
        }
        assert!(steps < 1_000, "a snapshot finishes");
    };
    assert_eq!(snapshot.end_offset, end, "everything applied is in it");
    assert!(
        !replica.machine.start_shutdown_snapshot(0, 0).unwrap(),
        "nothing new since"
    );

    // The next start loads it and has nothing to replay.
    let restarted = Replica::reopen(replica.close(), never());
    assert_eq!(restarted.machine.applied_end(), end);
    assert_eq!(restarted.machine.image().broker_count(), id as usize - 1);
}
