//! A stand-in for the node around `metadata::Controller`, shared by the metadata tests
//! (`#[path]`-included): an in-memory log, immediate or deferred commit, a simulated clock,
//! deterministic topic ids. Every batch the controller hands out is checked against the batch
//! limits, and every reply's release point against what is committed.
//!
//! Compiled on its own too (every file in `tests/` is a test crate); it holds no tests.

#![allow(dead_code)]

use keel::constants::{BATCH_BYTES_MAX, BATCH_RECORDS_MAX};
use keel::metadata::controller::*;
use keel::metadata::image::{ConfigResource, Image, Listener, SupportedFeature};
use keel::metadata::record::MetadataRecord;
use keel::metadata::snapshot;
use keel::protocol::{ErrorCode, Uuid};

pub const CLUSTER: &str = "keel-test-cluster";

pub struct Node {
    pub controller: Controller,
    /// Every record proposed, by offset.
    pub log: Vec<Vec<u8>>,
    /// Sizes of the batches proposed, in order.
    pub batches: Vec<usize>,
    /// Offsets below this are committed (replayed into the controller).
    pub committed: u64,
    pub now: u64,
    /// Commit right after every proposal (a healthy single-node quorum).
    pub auto_commit: bool,
    next_id: u64,
}

pub fn incarnation(broker_id: i32) -> Uuid {
    let mut bytes = [0xAB; 16];
    bytes[..4].copy_from_slice(&broker_id.to_be_bytes());
    Uuid::from_bytes(bytes)
}

pub fn listener(broker_id: i32) -> Listener {
    Listener {
        name: "PLAINTEXT".into(),
        host: format!("broker-{broker_id}"),
        port: 9092,
        security_protocol: 0,
    }
}

pub fn registration(broker_id: i32, rack: Option<&str>) -> BrokerRegistrationRequest {
    BrokerRegistrationRequest {
        broker_id,
        cluster_id: CLUSTER.into(),
        incarnation_id: incarnation(broker_id),
        listeners: vec![listener(broker_id)],
        features: vec![SupportedFeature {
            name: "metadata.version".into(),
            min_supported: 1,
            max_supported: 30,
        }],
        rack: rack.map(str::to_owned),
        log_dirs: Vec::new(),
    }
}

pub fn heartbeat(broker_id: i32, broker_epoch: i64, offset: i64) -> BrokerHeartbeatRequest {
    BrokerHeartbeatRequest {
        broker_id,
        broker_epoch,
        current_metadata_offset: offset,
        want_fence: false,
        want_shutdown: false,
    }
}

pub fn topic(name: &str, partitions: i32, rf: i16) -> CreatableTopic {
    CreatableTopic {
        name: name.into(),
        num_partitions: partitions,
        replication_factor: rf,
        assignments: Vec::new(),
        configs: Vec::new(),
    }
}

pub fn batch_bytes(records: &[Vec<u8>]) -> u64 {
    keel::batch_size::batch_bytes(records.iter().map(Vec::len))
}

impl Default for Node {
    fn default() -> Self {
        Node::new()
    }
}

impl Node {
    /// An active controller over an empty log, at time 0.
    pub fn new() -> Node {
        Node::with_config(ControllerConfig::new(CLUSTER))
    }

    pub fn with_config(config: ControllerConfig) -> Node {
        let mut controller = Controller::new(config, Image::new());
        controller.activate(0);
        Node {
            controller,
            log: Vec::new(),
            batches: Vec::new(),
            committed: 0,
            now: 0,
            auto_commit: true,
            next_id: 1,
        }
    }

    pub fn next_offset(&self) -> u64 {
        self.log.len() as u64
    }

    pub fn latest(&self) -> &Image {
        self.controller.latest()
    }

    pub fn committed_image(&self) -> &Image {
        self.controller.committed()
    }

    /// Appends one batch (checked against the limits) to the log.
    pub fn propose(&mut self, records: Vec<Vec<u8>>) {
        if records.is_empty() {
            return;
        }
        assert!(
            records.len() <= BATCH_RECORDS_MAX as usize,
            "{} records",
            records.len()
        );
        assert!(batch_bytes(&records) <= u64::from(BATCH_BYTES_MAX));
        self.batches.push(records.len());
        self.log.extend(records);
        if self.auto_commit {
            self.commit();
        }
    }

    /// Replays every proposed record into the controller.
    pub fn commit(&mut self) {
        self.commit_to(self.next_offset());
    }

    pub fn commit_to(&mut self, end: u64) {
        while self.committed < end {
            let offset = self.committed;
            let record = MetadataRecord::decode_at(offset, &self.log[offset as usize])
                .unwrap_or_else(|e| panic!("{e}"));
            self.controller
                .replay(offset, &record)
                .unwrap_or_else(|e| panic!("{e}"));
            self.committed += 1;
        }
    }

    /// Runs one controller call: proposes its records, commits them (when `auto_commit`),
    /// checks that the reply is released only by committed offsets, returns the outcome.
    pub fn call<R>(
        &mut self,
        f: impl FnOnce(&mut Controller, u64, u64) -> Outcome<R>,
    ) -> Outcome<R> {
        let next = self.next_offset();
        let outcome = f(&mut self.controller, self.now, next);
        if let Some(release) = outcome.release_at {
            assert!(release < next + outcome.records.len() as u64);
        }
        if outcome.records.is_empty() {
            assert!(outcome.release_at.is_none_or(|r| r < next));
        } else {
            assert_eq!(
                outcome.release_at,
                Some(next + outcome.records.len() as u64 - 1)
            );
        }
        self.propose(outcome.records.clone());
        if self.auto_commit {
            assert!(outcome.release_at.is_none_or(|r| r < self.committed));
        }
        outcome
    }

    /// Runs `tick` until it has nothing more to do; returns the number of batches.
    pub fn tick(&mut self) -> usize {
        let mut batches = 0;
        loop {
            let next = self.next_offset();
            match self.controller.tick(self.now, next) {
                Some(records) => {
                    assert!(!records.is_empty());
                    self.propose(records);
                    batches += 1;
                    assert!(batches < 10_000, "tick never settles");
                }
                None => return batches,
            }
        }
    }

    /// Moves the clock on by `ms` and ticks.
    pub fn advance(&mut self, ms: u64) -> usize {
        self.now += ms;
        self.tick()
    }

    pub fn new_id(&mut self) -> Uuid {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(
            &self
                .next_id
                .wrapping_mul(0x9e37_79b9_7f4a_7c15)
                .to_be_bytes(),
        );
        bytes[8..].copy_from_slice(&self.next_id.to_be_bytes());
        self.next_id += 1;
        Uuid::from_bytes(bytes)
    }

    pub fn register(&mut self, request: &BrokerRegistrationRequest) -> BrokerRegistrationReply {
        self.call(|c, now, next| c.register_broker(now, next, request))
            .reply
    }

    pub fn heartbeat(&mut self, request: &BrokerHeartbeatRequest) -> BrokerHeartbeatReply {
        self.call(|c, now, next| c.broker_heartbeat(now, next, request))
            .reply
    }

    /// Registers a broker and heartbeats it unfenced; returns its epoch.
    pub fn bring_up(&mut self, broker_id: i32, rack: Option<&str>) -> i64 {
        let reply = self.register(&registration(broker_id, rack));
        assert!(reply.error.is_ok(), "{:?}", reply.error);
        let epoch = reply.broker_epoch;
        let reply = self.heartbeat(&heartbeat(broker_id, epoch, self.committed as i64));
        assert!(!reply.is_fenced, "{reply:?}");
        epoch
    }

    /// Heartbeats every registered, unfenced broker that still has its epoch.
    pub fn heartbeat_all(&mut self) {
        let brokers: Vec<(i32, i64)> = self
            .latest()
            .brokers()
            .filter(|b| !b.fenced)
            .map(|b| (b.id, b.epoch))
            .collect();
        for (id, epoch) in brokers {
            let reply = self.heartbeat(&heartbeat(id, epoch, self.committed as i64));
            assert!(reply.error.is_ok());
        }
    }

    pub fn create_topics(&mut self, request: &CreateTopicsRequest) -> CreateTopicsReply {
        let mut ids: Vec<Uuid> = (0..request.topics.len() * 2)
            .map(|_| self.new_id())
            .collect();
        ids.reverse();
        self.call(|c, _, next| {
            c.create_topics(next, request, &mut || ids.pop().expect("enough ids"))
        })
        .reply
    }

    /// Creates one topic and returns its id (panics on error).
    pub fn create_topic(&mut self, name: &str, partitions: i32, rf: i16) -> Uuid {
        let reply = self.create_topics(&CreateTopicsRequest {
            topics: vec![topic(name, partitions, rf)],
            validate_only: false,
        });
        let result = &reply.topics[0];
        assert!(result.error.is_ok(), "{:?}", result.error);
        result.topic_id
    }

    pub fn alter_partition(&mut self, request: &AlterPartitionRequest) -> AlterPartitionReply {
        self.call(|c, _, next| c.alter_partition(next, request))
            .reply
    }

    pub fn incremental_alter(
        &mut self,
        resource: ConfigResource,
        ops: Vec<ConfigOp>,
    ) -> AlterConfigsResult {
        let request = IncrementalAlterConfigsRequest {
            resources: vec![(resource, ops)],
            validate_only: false,
        };
        self.call(|c, _, next| c.incremental_alter_configs(next, &request))
            .reply
            .resources
            .remove(0)
    }

    /// Checks the commit-side invariants: the committed image equals a replay of the log,
    /// and a snapshot of it loads back equal.
    pub fn check_images(&self) {
        let mut replayed = Image::new();
        for (offset, bytes) in self.log[..self.committed as usize].iter().enumerate() {
            replayed
                .apply(offset as u64, &MetadataRecord::decode(bytes).unwrap())
                .unwrap();
        }
        assert_eq!(&replayed, self.committed_image());
        let records: Vec<Vec<u8>> = snapshot::encoded_records(&replayed).collect();
        let loaded =
            snapshot::load_image(records.iter().map(Vec::as_slice), self.committed).unwrap();
        assert_eq!(loaded, replayed);
    }
}

/// Asserts an error code, printing the message on mismatch.
pub fn assert_code(error: &ApiError, code: ErrorCode) {
    assert_eq!(error.code, code, "{error:?}");
}
