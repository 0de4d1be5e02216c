//! Scenarios: a cluster built by applying the metadata records a controller writes, then the
//! answers its brokers give clients, version by version, checked field by field and through the
//! wire codec; the captured requests of real clients answered; the cost of a big answer.

use std::path::Path;
use std::time::Instant;

use proptest::prelude::*;

use super::*;
use crate::metadata::MetadataRecord;
use crate::metadata::image::LEADER_RECOVERED;
use crate::protocol::envelope::{decode_response, encode_response};
use crate::protocol::messages::register_broker_record::BrokerEndpoint;
use crate::protocol::messages::{
    BrokerRegistrationChangeRecord, PartitionChangeRecord, PartitionRecord, RegisterBrokerRecord,
    TopicRecord,
};
use crate::protocol::{Message, RequestBody, decode_request};

const CLUSTER_ID: &str = "MkU3OEVBNTcwNTJENDM2Qg";
const CLIENTS: &str = "PLAINTEXT";
const REPLICATION: &str = "INTERNAL";

const ORDERS: Uuid = Uuid::from_bytes([0xA1; 16]);
const PAYMENTS: Uuid = Uuid::from_bytes([0xB2; 16]);
const AUDIT: Uuid = Uuid::from_bytes([0xC3; 16]);
const NEVER_CREATED: Uuid = Uuid::from_bytes([0xEE; 16]);

/// An image fed the records a controller would write, one offset each.
struct Cluster {
    image: Image,
    next_offset: u64,
}

impl Cluster {
    fn new() -> Cluster {
        Cluster {
            image: Image::new(),
            next_offset: 0,
        }
    }

    fn apply(&mut self, record: MetadataRecord) -> &mut Cluster {
        self.image
            .apply(self.next_offset, &record)
            .unwrap_or_else(|e| panic!("{record:?} does not apply: {e}"));
        self.next_offset += 1;
        self
    }

    /// RegisterBrokerRecord: a new registration starts fenced. `listeners` are (name, host, port).
    fn register(&mut self, id: i32, listeners: &[(&str, &str, u16)], rack: Option<&str>) -> i64 {
        let epoch = self.next_offset as i64;
        self.apply(MetadataRecord::RegisterBroker(RegisterBrokerRecord {
            broker_id: id,
            incarnation_id: Uuid::from_bytes([id as u8; 16]),
            broker_epoch: epoch,
            end_points: listeners
                .iter()
                .map(|&(name, host, port)| BrokerEndpoint {
                    name: name.into(),
                    host: host.into(),
                    port,
                    security_protocol: 0,
                    ..Default::default()
                })
                .collect(),
            rack: rack.map(str::to_owned),
            fenced: true,
            ..Default::default()
        }));
        epoch
    }

    fn change_broker(&mut self, id: i32, fenced: i8, in_controlled_shutdown: i8) -> &mut Cluster {
        let epoch = self.image.broker(id).expect("registered").epoch;
        self.apply(MetadataRecord::BrokerRegistrationChange(
            BrokerRegistrationChangeRecord {
                broker_id: id,
                broker_epoch: epoch,
                fenced,
                in_controlled_shutdown,
                ..Default::default()
            },
        ))
    }

    fn unfence(&mut self, id: i32) -> &mut Cluster {
        self.change_broker(id, -1, 0)
    }

    fn fence(&mut self, id: i32) -> &mut Cluster {
        self.change_broker(id, 1, 0)
    }

    fn start_controlled_shutdown(&mut self, id: i32) -> &mut Cluster {
        self.change_broker(id, 0, 1)
    }

    fn topic(&mut self, name: &str, id: Uuid) -> &mut Cluster {
        self.apply(MetadataRecord::Topic(TopicRecord {
            name: name.into(),
            topic_id: id,
            ..Default::default()
        }))
    }

    fn partition(
        &mut self,
        topic: Uuid,
        index: i32,
        replicas: &[i32],
        isr: &[i32],
        leader: i32,
    ) -> &mut Cluster {
        self.apply(MetadataRecord::Partition(PartitionRecord {
            partition_id: index,
            topic_id: topic,
            replicas: replicas.to_vec(),
            isr: isr.to_vec(),
            leader,
            leader_recovery_state: LEADER_RECOVERED,
            leader_epoch: 0,
            partition_epoch: 0,
            ..Default::default()
        }))
    }

    /// PartitionChangeRecord electing `leader` (or none) with a new ISR.
    fn elect(&mut self, topic: Uuid, index: i32, leader: i32, isr: &[i32]) -> &mut Cluster {
        self.apply(MetadataRecord::PartitionChange(PartitionChangeRecord {
            partition_id: index,
            topic_id: topic,
            leader,
            isr: Some(isr.to_vec()),
            ..Default::default()
        }))
    }
}

/// The cluster of most scenarios:
///
/// | broker | listeners | rack | state |
/// |---|---|---|---|
/// | 1 | PLAINTEXT 10.0.0.1:9092, INTERNAL 10.1.0.1:9093 | rack-a | unfenced |
/// | 2 | PLAINTEXT 10.0.0.2:9092, INTERNAL 10.1.0.2:9093 | rack-b | unfenced |
/// | 3 | PLAINTEXT 10.0.0.3:9092, INTERNAL 10.1.0.3:9093 | none | unfenced, in controlled shutdown |
/// | 4 | INTERNAL 10.1.0.4:9093 only | none | unfenced |
/// | 5 | PLAINTEXT 10.0.0.5:9092, INTERNAL 10.1.0.5:9093 | none | fenced (never unfenced) |
/// | 6 | PLAINTEXT 10.0.0.6:9092, INTERNAL 10.1.0.6:9093 | none | unfenced, then fenced |
///
/// Topics: `orders` (3 partitions on 1, 2, 3, led by 1, 2, 3), `payments` (1 partition on
/// [4, 1] led by 4, which clients cannot reach on PLAINTEXT), `audit-log` (partition 0 on [6, 2]
/// led by 6, fenced after it was elected; partition 1 on [2, 1] whose leader 2 was replaced by
/// no leader; partition 2 on [1, 9] with broker 9 never registered).
fn cluster() -> Cluster {
    let mut c = Cluster::new();
    for (id, rack) in [(1, Some("rack-a")), (2, Some("rack-b")), (3, None)] {
        register_on_both(&mut c, id, rack);
    }
    c.register(4, &[(REPLICATION, "10.1.0.4", 9093)], None);
    register_on_both(&mut c, 5, None);
    register_on_both(&mut c, 6, None);
    for id in [1, 2, 3, 4, 6] {
        c.unfence(id);
    }
    c.topic("orders", ORDERS)
        .partition(ORDERS, 0, &[1, 2, 3], &[1, 2, 3], 1)
        .partition(ORDERS, 1, &[2, 3, 1], &[2, 3, 1], 2)
        .partition(ORDERS, 2, &[3, 1, 2], &[3, 1, 2], 3);
    c.topic("payments", PAYMENTS)
        .partition(PAYMENTS, 0, &[4, 1], &[4, 1], 4);
    c.topic("audit-log", AUDIT)
        .partition(AUDIT, 0, &[6, 2], &[6, 2], 6)
        .partition(AUDIT, 1, &[2, 1], &[2, 1], 2)
        .partition(AUDIT, 2, &[1, 9], &[1], 1)
        .elect(AUDIT, 1, NO_LEADER, &[2]);
    c.start_controlled_shutdown(3).fence(6);
    c
}

/// Registers broker `id` with a PLAINTEXT endpoint at 10.0.0.`id`:9092 and an INTERNAL one at
/// 10.1.0.`id`:9093.
fn register_on_both(c: &mut Cluster, id: i32, rack: Option<&str>) {
    let clients = format!("10.0.0.{id}");
    let internal = format!("10.1.0.{id}");
    c.register(
        id,
        &[(CLIENTS, &clients, 9092), (REPLICATION, &internal, 9093)],
        rack,
    );
}

fn on(listener_name: &str, broker_id: i32) -> SurfaceContext<'_> {
    SurfaceContext {
        cluster_id: CLUSTER_ID,
        listener_name,
        broker_id,
    }
}

fn all_topics(version: i16) -> MetadataRequest {
    MetadataRequest {
        topics: if version == 0 { Some(Vec::new()) } else { None },
        ..Default::default()
    }
}

fn no_topics() -> MetadataRequest {
    MetadataRequest {
        topics: Some(Vec::new()),
        ..Default::default()
    }
}

fn by_name(names: &[&str]) -> MetadataRequest {
    MetadataRequest {
        topics: Some(
            names
                .iter()
                .map(|name| MetadataRequestTopic {
                    name: Some((*name).into()),
                    ..Default::default()
                })
                .collect(),
        ),
        ..Default::default()
    }
}

fn by_id(ids: &[Uuid]) -> MetadataRequest {
    MetadataRequest {
        topics: Some(
            ids.iter()
                .map(|id| MetadataRequestTopic {
                    topic_id: *id,
                    name: None,
                    ..Default::default()
                })
                .collect(),
        ),
        ..Default::default()
    }
}

fn broker_ids(response: &MetadataResponse) -> Vec<i32> {
    response.brokers.iter().map(|b| b.node_id).collect()
}

fn topic<'r>(response: &'r MetadataResponse, name: &str) -> &'r MetadataResponseTopic {
    response
        .topics
        .iter()
        .find(|t| t.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no topic {name} in {response:#?}"))
}

fn summary(response: &MetadataResponse) -> Vec<(Option<&str>, i16)> {
    response
        .topics
        .iter()
        .map(|t| (t.name.as_deref(), t.error_code))
        .collect()
}

/// Encodes `response` at `version`, decodes it again and checks nothing was lost; returns the
/// encoded size.
fn round_trip<M: Message>(response: &M, version: i16) -> usize {
    let bytes = response
        .to_bytes(version)
        .unwrap_or_else(|e| panic!("v{version} does not encode: {e}"));
    let decoded = M::from_bytes(&bytes, version)
        .unwrap_or_else(|e| panic!("v{version} does not decode: {e}"));
    assert_eq!(&decoded, response, "v{version} lost something on the wire");
    bytes.len()
}

const NONE: i16 = 0;
const UNKNOWN_TOPIC: i16 = ErrorCode::UnknownTopicOrPartition as i16;
const INVALID_TOPIC: i16 = ErrorCode::InvalidTopicException as i16;
const LEADER_NOT_AVAILABLE: i16 = ErrorCode::LeaderNotAvailable as i16;
const LISTENER_NOT_FOUND: i16 = ErrorCode::ListenerNotFound as i16;
const REPLICA_NOT_AVAILABLE: i16 = ErrorCode::ReplicaNotAvailable as i16;
const UNKNOWN_TOPIC_ID: i16 = ErrorCode::UnknownTopicId as i16;

// ---- Brokers ----

#[test]
fn clients_see_the_unfenced_brokers_of_their_listener_shutting_down_ones_included() {
    let c = cluster();
    let clients = metadata_response(&c.image, &on(CLIENTS, 1), &no_topics(), 4);
    // 4 has no PLAINTEXT endpoint, 5 and 6 are fenced; 3 is shutting down but still listed.
    assert_eq!(broker_ids(&clients), [1, 2, 3]);
    let first = &clients.brokers[0];
    assert_eq!(
        (first.host.as_str(), first.port, first.rack.as_deref()),
        ("10.0.0.1", 9092, Some("rack-a"))
    );
    assert_eq!(clients.brokers[2].rack, None);

    let replication = metadata_response(&c.image, &on(REPLICATION, 1), &no_topics(), 4);
    assert_eq!(broker_ids(&replication), [1, 2, 3, 4]);
    assert_eq!(replication.brokers[3].host, "10.1.0.4");
    assert_eq!(replication.brokers[3].port, 9093);

    // Listener names compare as Kafka normalises them (upper case).
    let lower = metadata_response(&c.image, &on("plaintext", 1), &no_topics(), 4);
    assert_eq!(lower.brokers, clients.brokers);
    // A listener nobody has: no brokers at all (the client will retry its bootstrap).
    let nowhere = metadata_response(&c.image, &on("SSL", 1), &no_topics(), 4);
    assert!(nowhere.brokers.is_empty());
    assert_eq!(nowhere.controller_id, -1);
}

#[test]
fn a_fenced_broker_disappears_and_comes_back_when_unfenced() {
    let mut c = cluster();
    c.fence(2);
    let fenced = metadata_response(&c.image, &on(CLIENTS, 1), &no_topics(), 12);
    assert_eq!(broker_ids(&fenced), [1, 3]);
    c.unfence(2);
    let back = metadata_response(&c.image, &on(CLIENTS, 1), &no_topics(), 12);
    assert_eq!(broker_ids(&back), [1, 2, 3]);
    // A broker that re-registers starts fenced until the controller unfences it.
    c.register(2, &[(CLIENTS, "10.0.0.22", 9092)], None);
    let re_registered = metadata_response(&c.image, &on(CLIENTS, 1), &no_topics(), 12);
    assert_eq!(broker_ids(&re_registered), [1, 3]);
    c.unfence(2);
    let moved = metadata_response(&c.image, &on(CLIENTS, 1), &no_topics(), 12);
    assert_eq!(moved.brokers[1].host, "10.0.0.22");
}

#[test]
fn the_controller_id_is_the_answering_broker_or_the_smallest_listed_one() {
    let mut c = cluster();
    let controller = |c: &Cluster, listener: &str, answering: i32| {
        metadata_response(&c.image, &on(listener, answering), &no_topics(), 4).controller_id
    };
    // Listed and not shutting down: itself.
    assert_eq!(controller(&c, CLIENTS, 2), 2);
    assert_eq!(controller(&c, CLIENTS, 1), 1);
    // Not listed on this listener (4 has no PLAINTEXT endpoint; 5 is fenced): the smallest.
    assert_eq!(controller(&c, CLIENTS, 4), 1);
    assert_eq!(controller(&c, REPLICATION, 4), 4);
    assert_eq!(controller(&c, CLIENTS, 5), 1);
    // In controlled shutdown: a broker that is staying, the smallest.
    assert_eq!(controller(&c, CLIENTS, 3), 1);
    // The smallest is shutting down too: the next one.
    c.start_controlled_shutdown(1);
    assert_eq!(controller(&c, CLIENTS, 3), 2);
    // Everyone listed is shutting down: still a listed broker, preferring itself.
    c.start_controlled_shutdown(2);
    assert_eq!(controller(&c, CLIENTS, 3), 3);
    assert_eq!(controller(&c, CLIENTS, 5), 1);
    // Nobody listed: -1 (clients wait and refresh).
    for id in [1, 2, 3] {
        c.fence(id);
    }
    assert_eq!(controller(&c, CLIENTS, 1), -1);
    // v0 has no ControllerId: it stays at its default.
    assert_eq!(
        metadata_response(&cluster().image, &on(CLIENTS, 2), &all_topics(0), 0).controller_id,
        -1
    );
}

// ---- Which topics ----

#[test]
fn an_empty_list_means_every_topic_in_v0_and_none_from_v1() {
    let c = cluster();
    let v0 = metadata_response(&c.image, &on(CLIENTS, 1), &no_topics(), 0);
    assert_eq!(
        summary(&v0),
        [
            (Some("audit-log"), NONE),
            (Some("orders"), NONE),
            (Some("payments"), NONE)
        ]
    );
    for version in 1..=13 {
        let none = metadata_response(&c.image, &on(CLIENTS, 1), &no_topics(), version);
        assert!(none.topics.is_empty(), "v{version}");
        assert_eq!(broker_ids(&none), [1, 2, 3], "v{version}");
        let all = metadata_response(&c.image, &on(CLIENTS, 1), &all_topics(version), version);
        assert_eq!(all.topics.len(), 3, "v{version}");
    }
}

#[test]
fn named_topics_are_answered_once_each_in_request_order() {
    let c = cluster();
    let request = by_name(&[
        "payments",
        "nope",
        "orders",
        "payments",
        "bad name!",
        "",
        "..",
    ]);
    for version in [1, 4, 9, 12] {
        let response = metadata_response(&c.image, &on(CLIENTS, 1), &request, version);
        assert_eq!(
            summary(&response),
            [
                (Some("payments"), NONE),
                (Some("nope"), UNKNOWN_TOPIC),
                (Some("orders"), NONE),
                (Some("bad name!"), INVALID_TOPIC),
                (Some(""), INVALID_TOPIC),
                (Some(".."), INVALID_TOPIC),
            ],
            "v{version}"
        );
        let unknown = topic(&response, "nope");
        assert!(unknown.partitions.is_empty());
        assert_eq!(unknown.topic_id, Uuid::ZERO);
    }
}

#[test]
fn topics_are_never_created_whatever_the_request_allows() {
    let c = cluster();
    let mut request = by_name(&["new-topic"]);
    request.allow_auto_topic_creation = true;
    let response = metadata_response(&c.image, &on(CLIENTS, 1), &request, 4);
    assert_eq!(summary(&response), [(Some("new-topic"), UNKNOWN_TOPIC)]);
}

#[test]
fn v12_looks_topics_up_by_id() {
    let c = cluster();
    let mut request = by_id(&[AUDIT, NEVER_CREATED, ORDERS, AUDIT]);
    // A name-only entry beside ids: answered too (Kafka would drop it).
    request.topics.as_mut().unwrap().push(MetadataRequestTopic {
        name: Some("payments".into()),
        ..Default::default()
    });
    for version in [12, 13] {
        let response = metadata_response(&c.image, &on(CLIENTS, 1), &request, version);
        assert_eq!(
            summary(&response),
            [
                (Some("audit-log"), NONE),
                (None, UNKNOWN_TOPIC_ID),
                (Some("orders"), NONE),
                (Some("payments"), NONE),
            ],
            "v{version}"
        );
        assert_eq!(response.topics[0].topic_id, AUDIT);
        assert_eq!(response.topics[1].topic_id, NEVER_CREATED);
        assert!(response.topics[1].partitions.is_empty());
        assert_eq!(response.topics[3].topic_id, PAYMENTS);
        round_trip(&response, version);
    }
    // The same topic by id and by name: one entry, where it was first asked for.
    let mut twice = by_id(&[ORDERS]);
    twice.topics.as_mut().unwrap().push(MetadataRequestTopic {
        name: Some("orders".into()),
        ..Default::default()
    });
    let once = metadata_response(&c.image, &on(CLIENTS, 1), &twice, 12);
    assert_eq!(summary(&once), [(Some("orders"), NONE)]);
    // An entry with neither: the zero id, which no topic has.
    let neither = metadata_response(&c.image, &on(CLIENTS, 1), &by_id(&[Uuid::ZERO]), 12);
    assert_eq!(summary(&neither), [(None, UNKNOWN_TOPIC_ID)]);
}

#[test]
fn v10_and_v11_cannot_ask_by_id_and_get_kafkas_error_answer() {
    let c = cluster();
    for version in [10, 11] {
        let mut request = by_name(&["orders"]);
        request.topics.as_mut().unwrap().push(MetadataRequestTopic {
            topic_id: PAYMENTS,
            name: None,
            ..Default::default()
        });
        let response = metadata_response(&c.image, &on(CLIENTS, 1), &request, version);
        let invalid = ErrorCode::InvalidRequest.code();
        assert_eq!(
            summary(&response),
            [(Some("orders"), invalid), (Some(""), invalid)]
        );
        assert_eq!(response.topics[1].topic_id, PAYMENTS);
        assert!(response.brokers.is_empty());
        round_trip(&response, version);
    }
    // From v12 the same request is fine.
    let mut request = by_name(&["orders"]);
    request.topics.as_mut().unwrap().push(MetadataRequestTopic {
        topic_id: PAYMENTS,
        name: None,
        ..Default::default()
    });
    let response = metadata_response(&c.image, &on(CLIENTS, 1), &request, 12);
    assert_eq!(
        summary(&response),
        [(Some("orders"), NONE), (Some("payments"), NONE)]
    );
}

#[test]
fn a_topic_whose_partitions_are_not_applied_yet_is_left_out_or_unknown() {
    let mut c = cluster();
    let creating = Uuid::from_bytes([0xD4; 16]);
    c.topic("creating", creating);
    let all = metadata_response(&c.image, &on(CLIENTS, 1), &all_topics(12), 12);
    assert!(
        all.topics
            .iter()
            .all(|t| t.name.as_deref() != Some("creating"))
    );
    let named = metadata_response(&c.image, &on(CLIENTS, 1), &by_name(&["creating"]), 12);
    assert_eq!(summary(&named), [(Some("creating"), UNKNOWN_TOPIC)]);
    assert_eq!(named.topics[0].topic_id, creating);
    c.partition(creating, 0, &[1], &[1], 1);
    let created = metadata_response(&c.image, &on(CLIENTS, 1), &by_name(&["creating"]), 12);
    assert_eq!(summary(&created), [(Some("creating"), NONE)]);
}

#[test]
fn internal_topics_are_marked_internal_as_kafka_marks_them() {
    let mut c = cluster();
    let offsets = Uuid::from_bytes([0x0f; 16]);
    c.topic("__consumer_offsets", offsets)
        .partition(offsets, 0, &[1], &[1], 1);
    let response = metadata_response(&c.image, &on(CLIENTS, 1), &all_topics(12), 12);
    assert!(topic(&response, "__consumer_offsets").is_internal);
    assert!(!topic(&response, "orders").is_internal);
}

// ---- Partitions ----

#[test]
fn partitions_carry_leader_replicas_and_isr() {
    let c = cluster();
    let response = metadata_response(&c.image, &on(CLIENTS, 1), &by_name(&["orders"]), 4);
    let orders = topic(&response, "orders");
    assert_eq!(orders.error_code, NONE);
    assert!(!orders.is_internal);
    let shape: Vec<_> = orders
        .partitions
        .iter()
        .map(|p| {
            (
                p.partition_index,
                p.error_code,
                p.leader_id,
                p.replica_nodes.clone(),
                p.isr_nodes.clone(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        [
            (0, NONE, 1, vec![1, 2, 3], vec![1, 2, 3]),
            (1, NONE, 2, vec![2, 3, 1], vec![2, 3, 1]),
            // Broker 3 is shutting down but still leads: it is listed, so it is the leader.
            (2, NONE, 3, vec![3, 1, 2], vec![3, 1, 2]),
        ]
    );
}

#[test]
fn a_leader_clients_cannot_reach_on_their_listener_is_leader_not_available_then_listener_not_found()
{
    let c = cluster();
    let request = by_name(&["payments"]);
    for version in 0..=13 {
        let response = metadata_response(&c.image, &on(CLIENTS, 1), &request, version);
        let p = &topic(&response, "payments").partitions[0];
        let expected = if version >= 6 {
            LISTENER_NOT_FOUND
        } else {
            LEADER_NOT_AVAILABLE
        };
        assert_eq!((p.error_code, p.leader_id), (expected, -1), "v{version}");
        round_trip(&response, version);
    }
    // On the listener broker 4 has, it is the leader.
    let internal = metadata_response(&c.image, &on(REPLICATION, 1), &request, 12);
    let p = &topic(&internal, "payments").partitions[0];
    assert_eq!((p.error_code, p.leader_id), (NONE, 4));
}

#[test]
fn a_fenced_leader_or_no_leader_is_leader_not_available_with_the_epoch_kept() {
    let c = cluster();
    let response = metadata_response(&c.image, &on(CLIENTS, 1), &by_name(&["audit-log"]), 12);
    let audit = topic(&response, "audit-log");
    assert_eq!(audit.error_code, NONE);
    let fenced_leader = &audit.partitions[0];
    assert_eq!(
        (fenced_leader.error_code, fenced_leader.leader_id),
        (LEADER_NOT_AVAILABLE, -1)
    );
    assert_eq!(fenced_leader.replica_nodes, [6, 2]);
    assert_eq!(fenced_leader.offline_replicas, [6]);
    let leaderless = &audit.partitions[1];
    assert_eq!(
        (leaderless.error_code, leaderless.leader_id),
        (LEADER_NOT_AVAILABLE, -1)
    );
    // The election that removed the leader raised the leader epoch; it is reported anyway.
    assert_eq!(leaderless.leader_epoch, 1);
    assert_eq!(leaderless.isr_nodes, [2]);
    assert!(leaderless.offline_replicas.is_empty());
}

#[test]
fn offline_replicas_are_those_on_brokers_clients_cannot_reach_from_v5() {
    let c = cluster();
    let request = by_name(&["audit-log", "payments", "orders"]);
    let offline = |listener: &str, version: i16| -> Vec<Vec<i32>> {
        metadata_response(&c.image, &on(listener, 1), &request, version)
            .topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| p.offline_replicas.clone()))
            .collect()
    };
    // audit-log: 6 fenced; none; 9 never registered. payments: 4 has no PLAINTEXT endpoint.
    // orders: 3 is shutting down, which is not offline.
    let expected: Vec<Vec<i32>> = vec![vec![6], vec![], vec![9], vec![4], vec![], vec![], vec![]];
    assert_eq!(offline(CLIENTS, 5), expected);
    assert_eq!(offline(CLIENTS, 13), expected);
    assert!(offline(CLIENTS, 4).iter().all(Vec::is_empty));
    let on_internal: Vec<Vec<i32>> = vec![vec![6], vec![], vec![9], vec![], vec![], vec![], vec![]];
    assert_eq!(offline(REPLICATION, 12), on_internal);
}

#[test]
fn v0_lists_only_reachable_replicas_and_flags_the_partition() {
    let c = cluster();
    let response = metadata_response(&c.image, &on(CLIENTS, 1), &all_topics(0), 0);
    let audit = topic(&response, "audit-log");
    // Partition 2: leader 1 is fine, replica 9 is unknown: listed without it, flagged.
    let p = &audit.partitions[2];
    assert_eq!(
        (
            p.error_code,
            p.leader_id,
            p.replica_nodes.clone(),
            p.isr_nodes.clone()
        ),
        (REPLICA_NOT_AVAILABLE, 1, vec![1], vec![1])
    );
    // Partition 0: the leader is missing, which is the error that counts.
    let p = &audit.partitions[0];
    assert_eq!(
        (p.error_code, p.leader_id, p.replica_nodes.clone()),
        (LEADER_NOT_AVAILABLE, -1, vec![2])
    );
    // From v1 the lists are whole and only the leader decides the error.
    let v1 = metadata_response(&c.image, &on(CLIENTS, 1), &all_topics(1), 1);
    let p = &topic(&v1, "audit-log").partitions[2];
    assert_eq!((p.error_code, p.replica_nodes.clone()), (NONE, vec![1, 9]));
}

#[test]
fn offline_log_directories_make_a_replica_offline_as_in_kafka() {
    let mut c = cluster();
    let online = Uuid::from_bytes([0x0D; 16]);
    let gone = Uuid::from_bytes([0x0E; 16]);
    let lost = Uuid::from_bytes([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    let epoch = c.image.broker(1).unwrap().epoch;
    c.apply(MetadataRecord::BrokerRegistrationChange(
        BrokerRegistrationChangeRecord {
            broker_id: 1,
            broker_epoch: epoch,
            log_dirs: vec![online],
            ..Default::default()
        },
    ));
    let dirs = Uuid::from_bytes([0xF5; 16]);
    c.topic("dirs", dirs);
    for (index, directory) in [online, gone, lost, Uuid::ZERO].into_iter().enumerate() {
        c.apply(MetadataRecord::Partition(PartitionRecord {
            partition_id: index as i32,
            topic_id: dirs,
            replicas: vec![1, 2],
            isr: vec![1, 2],
            leader: 1,
            directories: vec![directory, Uuid::ZERO],
            ..Default::default()
        }));
    }
    let response = metadata_response(&c.image, &on(CLIENTS, 1), &by_name(&["dirs"]), 12);
    let offline: Vec<Vec<i32>> = topic(&response, "dirs")
        .partitions
        .iter()
        .map(|p| p.offline_replicas.clone())
        .collect();
    assert_eq!(offline, [vec![], vec![1], vec![1], vec![]]);
}

// ---- Fields by version ----

#[test]
fn each_version_carries_its_fields_and_no_others() {
    let c = cluster();
    let mut request = by_name(&["orders", "nope"]);
    request.include_topic_authorized_operations = true;
    request.include_cluster_authorized_operations = true;
    for version in 0..=13 {
        // What the codec would have decoded at this version.
        let mut asked = request.clone();
        asked.include_topic_authorized_operations &= version >= 8;
        asked.include_cluster_authorized_operations &= (8..=10).contains(&version);
        let response = metadata_response(&c.image, &on(CLIENTS, 2), &asked, version);
        let orders = topic(&response, "orders");
        let nope = topic(&response, "nope");
        assert_eq!(
            response.cluster_id.as_deref(),
            (version >= 2).then_some(CLUSTER_ID),
            "v{version}"
        );
        assert_eq!(
            response.controller_id,
            if version >= 1 { 2 } else { -1 },
            "v{version}"
        );
        assert_eq!(
            response.brokers[0].rack.as_deref(),
            (version >= 1).then_some("rack-a"),
            "v{version}"
        );
        assert_eq!(
            orders.topic_id,
            if version >= 10 { ORDERS } else { Uuid::ZERO },
            "v{version}"
        );
        assert_eq!(
            orders.partitions[0].leader_epoch,
            if version >= 7 { 0 } else { -1 },
            "v{version}"
        );
        let topic_operations = if version >= 8 {
            TOPIC_AUTHORIZED_OPERATIONS_ALL
        } else {
            i32::MIN
        };
        assert_eq!(orders.topic_authorized_operations, topic_operations);
        assert_eq!(nope.topic_authorized_operations, topic_operations);
        assert_eq!(
            response.cluster_authorized_operations,
            if (8..=10).contains(&version) {
                CLUSTER_AUTHORIZED_OPERATIONS_ALL
            } else {
                i32::MIN
            },
            "v{version}"
        );
        assert_eq!(response.error_code, 0);
        assert_eq!(response.throttle_time_ms, 0);
        round_trip(&response, version);
    }
}

#[test]
fn authorized_operations_are_kafkas_values_with_no_authorizer() {
    // Kafka with no authorizer: 3576 for a topic, 8096 for the cluster (the values its own
    // tests and kafka-python's describe_topics show against an open broker).
    assert_eq!(TOPIC_AUTHORIZED_OPERATIONS_ALL, 3576);
    assert_eq!(CLUSTER_AUTHORIZED_OPERATIONS_ALL, 8096);
    let c = cluster();
    let mut request = by_name(&["orders"]);
    let not_asked = metadata_response(&c.image, &on(CLIENTS, 1), &request, 12);
    assert_eq!(not_asked.topics[0].topic_authorized_operations, i32::MIN);
    request.include_topic_authorized_operations = true;
    let asked = metadata_response(&c.image, &on(CLIENTS, 1), &request, 12);
    assert_eq!(asked.topics[0].topic_authorized_operations, 3576);
    // An unknown id gets none, as in Kafka.
    let mut request = by_id(&[NEVER_CREATED]);
    request.include_topic_authorized_operations = true;
    let unknown = metadata_response(&c.image, &on(CLIENTS, 1), &request, 12);
    assert_eq!(unknown.topics[0].topic_authorized_operations, i32::MIN);
}

#[test]
fn every_version_round_trips_for_every_kind_of_request() {
    let c = cluster();
    for version in 0..=13 {
        let mut requests = vec![all_topics(version), no_topics()];
        let mut named = by_name(&["orders", "audit-log", "payments", "nope", "bad name!"]);
        named.include_topic_authorized_operations = version >= 8;
        named.include_cluster_authorized_operations = (8..=10).contains(&version);
        requests.push(named);
        if version >= 12 {
            requests.push(by_id(&[ORDERS, NEVER_CREATED]));
        }
        for request in &requests {
            for listener in [CLIENTS, REPLICATION, "SSL"] {
                let response = metadata_response(&c.image, &on(listener, 3), request, version);
                round_trip(&response, version);
            }
        }
    }
}

proptest! {
    /// Any request the codec decodes, at any version, gets an answer that encodes at that
    /// version (and on a listener nobody has).
    #[test]
    fn any_decoded_request_gets_an_encodable_answer(
        (version, request) in (0i16..=13).prop_flat_map(|v| (Just(v), MetadataRequest::arbitrary(v))),
        listener in prop_oneof![Just(CLIENTS), Just(REPLICATION), Just("SSL")],
        answering in 0i32..8,
    ) {
        let bytes = request.to_bytes(version).unwrap();
        let decoded = MetadataRequest::from_bytes(&bytes, version).unwrap();
        let c = cluster();
        let response = metadata_response(&c.image, &on(listener, answering), &decoded, version);
        round_trip(&response, version);
    }
}

proptest! {
    /// The same for DescribeCluster, whatever the endpoint type.
    #[test]
    fn any_decoded_describe_cluster_request_gets_an_encodable_answer(
        (version, request) in (1i16..=2).prop_flat_map(|v| (Just(v), DescribeClusterRequest::arbitrary(v))),
        listener in prop_oneof![Just(CLIENTS), Just(REPLICATION), Just("SSL")],
        answering in 0i32..8,
    ) {
        let bytes = request.to_bytes(version).unwrap();
        let decoded = DescribeClusterRequest::from_bytes(&bytes, version).unwrap();
        let c = cluster();
        let response = describe_cluster_response(&c.image, &on(listener, answering), &decoded, version);
        round_trip(&response, version);
    }
}

// ---- Real clients ----

struct Vector {
    version: i16,
    /// The whole frame, size prefix included.
    stream: Vec<u8>,
}

impl Vector {
    /// The frame after its size prefix.
    fn frame(&self) -> &[u8] {
        &self.stream[4..]
    }
}

/// Reads a vector of `protocol-spec/vectors` (format in its README).
fn vector(name: &str) -> Vector {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("protocol-spec/vectors")
        .join(format!("{name}.hex"));
    let text = std::fs::read_to_string(&path).unwrap();
    let mut version = None;
    let mut stream = Vec::new();
    for line in text.lines() {
        if let Some(comment) = line.strip_prefix('#') {
            if let Some(v) = comment.trim().strip_prefix("version: ") {
                version = Some(v.trim().parse().unwrap());
            }
            continue;
        }
        for token in line.split_whitespace() {
            if !token.bytes().all(|b| b.is_ascii_hexdigit()) {
                break;
            }
            for pair in token.as_bytes().chunks(2) {
                stream.push(u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap());
            }
        }
    }
    Vector {
        version: version.unwrap(),
        stream,
    }
}

fn decode_metadata(frame: &[u8]) -> (i32, i16, MetadataRequest) {
    let decoded = decode_request(frame).unwrap();
    let RequestBody::Metadata(request) = decoded.body else {
        panic!("not a Metadata request: {:?}", decoded.body);
    };
    (
        decoded.header.correlation_id,
        decoded.header.request_api_version,
        request,
    )
}

/// Answers one captured request and returns the framed response, checking it decodes.
fn answer_frame(image: &Image, name: &str) -> (MetadataResponse, Vec<u8>) {
    let vector = vector(name);
    let (correlation_id, version, request) = decode_metadata(vector.frame());
    assert_eq!(version, vector.version);
    let response = metadata_response(image, &on(CLIENTS, 1), &request, version);
    let mut out = Vec::new();
    encode_response(&mut out, correlation_id, version, &response).unwrap();
    let (echoed, decoded) = decode_response::<MetadataResponse>(&out[4..], version).unwrap();
    assert_eq!((echoed, &decoded), (correlation_id, &response), "{name}");
    (response, out)
}

#[test]
fn kcat_listing_gets_the_answer_kcat_printed_byte_for_byte() {
    // The cluster behind the captured answer: broker 1 at 127.0.0.1:19093 and topic ck_def with
    // one partition on broker 1.
    let mut c = Cluster::new();
    c.register(1, &[(CLIENTS, "127.0.0.1", 19093)], None);
    c.unfence(1);
    let ck_def = Uuid::from_bytes([0x42; 16]);
    c.topic("ck_def", ck_def)
        .partition(ck_def, 0, &[1], &[1], 1);
    let (_, frame) = answer_frame(&c.image, "metadata-v4-request-kcat");
    assert_eq!(frame, vector("metadata-v4-response-kcat").stream);
}

#[test]
fn captured_client_requests_get_their_answers() {
    let c = cluster();
    // librdkafka on connect: brokers only.
    let (response, _) = answer_frame(&c.image, "metadata-v4-request-librdkafka-brokers-only");
    assert!(response.topics.is_empty());
    assert_eq!(broker_ids(&response), [1, 2, 3]);
    assert_eq!(response.controller_id, 1);
    assert_eq!(response.cluster_id.as_deref(), Some(CLUSTER_ID));
    // kcat -L: every topic, although it allows auto-creation.
    let (response, _) = answer_frame(&c.image, "metadata-v4-request-kcat");
    assert_eq!(response.topics.len(), 3);
    // confluent-kafka 2.16 list_topics(): v12, every topic, with 3 bytes after the body.
    let trailing = vector("metadata-v12-request-confluent-kafka-trailing-bytes");
    assert_eq!(decode_request(trailing.frame()).unwrap().trailing_bytes, 3);
    let (response, _) = answer_frame(
        &c.image,
        "metadata-v12-request-confluent-kafka-trailing-bytes",
    );
    assert_eq!(response.topics.len(), 3);
    assert!(response.topics.iter().all(|t| t.topic_id != Uuid::ZERO));
    // kafka-python's encoder: two names at v4.
    let (response, _) = answer_frame(&c.image, "metadata-v4-request");
    assert_eq!(
        summary(&response),
        [(Some("payments"), NONE), (Some("audit-log"), NONE)]
    );
    // kafka-python's encoder at v12: an id nobody has, a name, another unknown id, with the
    // topics' authorized operations asked for.
    let (response, _) = answer_frame(&c.image, "metadata-v12-request");
    let (_, _, request) = decode_metadata(vector("metadata-v12-request").frame());
    let asked = request.topics.unwrap();
    assert_eq!(
        summary(&response),
        [
            (None, UNKNOWN_TOPIC_ID),
            (Some("audit-log"), NONE),
            (None, UNKNOWN_TOPIC_ID)
        ]
    );
    assert_eq!(response.topics[0].topic_id, asked[0].topic_id);
    assert_eq!(response.topics[2].topic_id, asked[2].topic_id);
    assert_eq!(
        response.topics[1].topic_authorized_operations,
        TOPIC_AUTHORIZED_OPERATIONS_ALL
    );
    assert_eq!(response.topics[0].topic_authorized_operations, i32::MIN);
}

// ---- DescribeCluster ----

fn describe(endpoint_type: i8) -> DescribeClusterRequest {
    DescribeClusterRequest {
        endpoint_type,
        ..Default::default()
    }
}

#[test]
fn describe_cluster_lists_the_same_brokers_and_controller_as_metadata() {
    let c = cluster();
    for (listener, answering) in [(CLIENTS, 2), (CLIENTS, 4), (REPLICATION, 4)] {
        let context = on(listener, answering);
        let metadata = metadata_response(&c.image, &context, &no_topics(), 12);
        for version in [1, 2] {
            let response = describe_cluster_response(&c.image, &context, &describe(1), version);
            assert_eq!(response.error_code, 0);
            assert_eq!(response.endpoint_type, ENDPOINT_TYPE_BROKER);
            assert_eq!(response.cluster_id, CLUSTER_ID);
            assert_eq!(response.controller_id, metadata.controller_id);
            let listed: Vec<_> = response
                .brokers
                .iter()
                .map(|b| (b.broker_id, b.host.as_str(), b.port, b.rack.as_deref()))
                .collect();
            let expected: Vec<_> = metadata
                .brokers
                .iter()
                .map(|b| (b.node_id, b.host.as_str(), b.port, b.rack.as_deref()))
                .collect();
            assert_eq!(listed, expected);
            assert_eq!(response.cluster_authorized_operations, i32::MIN);
            round_trip(&response, version);
        }
    }
}

#[test]
fn describe_cluster_v2_can_include_fenced_brokers() {
    let c = cluster();
    let mut request = describe(1);
    request.include_fenced_brokers = true;
    let response = describe_cluster_response(&c.image, &on(CLIENTS, 1), &request, 2);
    let listed: Vec<_> = response
        .brokers
        .iter()
        .map(|b| (b.broker_id, b.is_fenced))
        .collect();
    assert_eq!(
        listed,
        [(1, false), (2, false), (3, false), (5, true), (6, true)]
    );
    // The controller is never a fenced broker.
    let fenced_asks = describe_cluster_response(&c.image, &on(CLIENTS, 5), &request, 2);
    assert_eq!(fenced_asks.controller_id, 1);
    round_trip(&response, 2);
}

#[test]
fn describe_cluster_for_controllers_or_an_unknown_type_is_refused_as_kafka_does() {
    let c = cluster();
    let controllers = describe_cluster_response(&c.image, &on(CLIENTS, 1), &describe(2), 1);
    assert_eq!(
        controllers.error_code,
        ErrorCode::MismatchedEndpointType.code()
    );
    assert!(controllers.brokers.is_empty());
    assert_eq!(controllers.cluster_id, CLUSTER_ID);
    assert_eq!(controllers.endpoint_type, 2);
    round_trip(&controllers, 1);
    for unknown in [0, 3, -1, i8::MAX] {
        let response = describe_cluster_response(&c.image, &on(CLIENTS, 1), &describe(unknown), 2);
        assert_eq!(
            response.error_code,
            ErrorCode::UnsupportedEndpointType.code(),
            "type {unknown}"
        );
        round_trip(&response, 2);
    }
    // The shared rule, from a controller's side.
    assert!(describe_cluster_refusal(&describe(2), ENDPOINT_TYPE_CONTROLLER, CLUSTER_ID).is_none());
    assert_eq!(
        describe_cluster_refusal(&describe(1), ENDPOINT_TYPE_CONTROLLER, CLUSTER_ID)
            .unwrap()
            .error_code,
        ErrorCode::MismatchedEndpointType.code()
    );
}

#[test]
fn kafka_python_describe_cluster_gets_brokers_and_cluster_operations() {
    // kafka-python 3.0.12's describe_cluster() at v1, captured (kafka-clients.md section 7.2):
    // IncludeClusterAuthorizedOperations true, EndpointType 1.
    let mut frame = vec![0x00, 0x3c, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x13];
    frame.extend_from_slice(b"kafka-python-3.0.12");
    frame.extend_from_slice(&[0x00, 0x01, 0x01, 0x00]);
    let decoded = decode_request(&frame).unwrap();
    let RequestBody::DescribeCluster(request) = decoded.body else {
        panic!("not DescribeCluster");
    };
    let c = cluster();
    let response = describe_cluster_response(&c.image, &on(CLIENTS, 2), &request, 1);
    assert_eq!(response.error_code, 0);
    assert_eq!(response.controller_id, 2);
    assert_eq!(
        response.cluster_authorized_operations,
        CLUSTER_AUTHORIZED_OPERATIONS_ALL
    );
    let ids: Vec<i32> = response.brokers.iter().map(|b| b.broker_id).collect();
    assert_eq!(ids, [1, 2, 3]);
    round_trip(&response, 1);
}

// ---- ApiVersions ----

#[test]
fn the_broker_advertises_its_client_apis_in_key_order_at_the_codecs_versions() {
    let keys: Vec<i16> = BROKER_SERVED_APIS.iter().map(|api| *api as i16).collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]), "{keys:?}");
    let response = api_versions_response(
        BROKER_SERVED_APIS,
        broker_versions,
        &ApiVersionsRequest::default(),
    );
    assert_eq!(response.error_code, 0);
    let advertised: Vec<(i16, i16, i16)> = response
        .api_keys
        .iter()
        .map(|a| (a.api_key, a.min_version, a.max_version))
        .collect();
    assert_eq!(
        advertised,
        [
            (0, 3, 12), // Produce: refused (not_served), Kafka 4.0's versions
            (1, 4, 17), // Fetch: refused to consumers, Kafka 4.0's versions (controllers: 12-17)
            (2, 1, 10), // ListOffsets: refused
            (3, 0, 13), // Metadata
            (10, 0, 6), // FindCoordinator: refused
            (18, 0, 4), // ApiVersions
            (19, 2, 7), // CreateTopics
            (20, 1, 6), // DeleteTopics
            (32, 1, 4), // DescribeConfigs
            (33, 0, 2), // AlterConfigs
            (37, 0, 3), // CreatePartitions
            (44, 0, 1), // IncrementalAlterConfigs
            (55, 0, 2), // DescribeQuorum: forwarded to the active controller
            (60, 1, 2), // DescribeCluster: never v0 (kafka-python 3.0.12 fails on it)
        ]
    );
    // What controllers and the quorum serve stays off a broker's list.
    for api in [
        ApiKey::Vote,
        ApiKey::BeginQuorumEpoch,
        ApiKey::EndQuorumEpoch,
        ApiKey::AlterPartition,
        ApiKey::FetchSnapshot,
        ApiKey::BrokerRegistration,
        ApiKey::BrokerHeartbeat,
        ApiKey::UnregisterBroker,
    ] {
        assert!(!BROKER_SERVED_APIS.contains(&api), "{api:?}");
    }
    for version in 0..=4 {
        round_trip(&response, version);
    }
}

#[test]
fn every_version_kcat_uses_is_in_the_brokers_ranges() {
    // kcat 1.7.1 (librdkafka 2.0.2) sends min(its max, the broker's max) and needs it to be at
    // least the broker's min (kafka-clients.md section 3).
    let kcat_max = [
        (ApiKey::Metadata, 4),
        (ApiKey::CreateTopics, 4),
        (ApiKey::DeleteTopics, 1),
        (ApiKey::CreatePartitions, 0),
        (ApiKey::DescribeConfigs, 1),
        (ApiKey::ApiVersions, 3),
    ];
    for (api, max) in kcat_max {
        assert!(BROKER_SERVED_APIS.contains(&api));
        assert!(api.versions().contains(&max), "{api:?} v{max}");
    }
}

#[test]
fn api_versions_refuses_client_software_names_kafka_refuses() {
    for (name, version, ok) in [
        ("librdkafka", "2.0.2", true),
        ("kafka-python", "3.0.12", true),
        ("", "", true),
        ("-bad", "1", false),
        ("bad name", "1", false),
        ("ok", "1.", false),
    ] {
        let request = ApiVersionsRequest {
            client_software_name: name.into(),
            client_software_version: version.into(),
            ..Default::default()
        };
        let response = api_versions_response(BROKER_SERVED_APIS, broker_versions, &request);
        let expected = if ok {
            0
        } else {
            ErrorCode::InvalidRequest.code()
        };
        assert_eq!(response.error_code, expected, "{name:?} {version:?}");
    }
}

// ---- Cost ----

/// An image of `topics` topics of `partitions_per_topic` partitions on `brokers` brokers,
/// replication factor 3.
fn big_cluster(brokers: i32, topics: u32, partitions_per_topic: i32) -> Cluster {
    let mut c = Cluster::new();
    for id in 1..=brokers {
        let host = format!("broker-{id}.example.com");
        c.register(id, &[(CLIENTS, host.as_str(), 9092)], Some("rack"));
        c.unfence(id);
    }
    for t in 0..topics {
        let mut id = [0u8; 16];
        id[..4].copy_from_slice(&(t + 1).to_be_bytes());
        id[15] = 0xFF;
        let topic_id = Uuid::from_bytes(id);
        c.topic(&format!("topic-{t:06}"), topic_id);
        for p in 0..partitions_per_topic {
            let first = (t as i32 + p) % brokers;
            let replicas: Vec<i32> = (0..3).map(|r| (first + r) % brokers + 1).collect();
            c.partition(topic_id, p, &replicas, &replicas, replicas[0]);
        }
    }
    c
}

/// Builds and encodes the every-topic answer three times (the first run also pays for fresh
/// memory), printing the first and the fastest times and the size.
fn measure_all_topics(c: &Cluster, version: i16) -> (MetadataResponse, usize) {
    let request = all_topics(version);
    let mut built_ms = Vec::new();
    let mut encoded_ms = Vec::new();
    let mut last = None;
    for _ in 0..3 {
        drop(last.take());
        let started = Instant::now();
        let response = metadata_response(&c.image, &on(CLIENTS, 1), &request, version);
        built_ms.push(started.elapsed().as_secs_f64() * 1e3);
        let started = Instant::now();
        let mut out = Vec::new();
        encode_response(&mut out, 1, version, &response).unwrap();
        encoded_ms.push(started.elapsed().as_secs_f64() * 1e3);
        last = Some((response, out.len()));
    }
    let (response, bytes) = last.unwrap();
    let best = |times: &[f64]| times.iter().copied().fold(f64::INFINITY, f64::min);
    let partitions = c.image.partition_count();
    println!(
        "metadata every topic, {partitions} partitions, v{version}: built in {:.1} ms \
         (first of 3: {:.1} ms), encoded in {:.1} ms (first: {:.1} ms), {bytes} bytes \
         ({:.1} bytes per partition); response struct {} bytes per partition plus its lists",
        best(&built_ms),
        built_ms[0],
        best(&encoded_ms),
        encoded_ms[0],
        bytes as f64 / partitions as f64,
        std::mem::size_of::<MetadataResponsePartition>()
    );
    (response, bytes)
}

/// `cargo test --release --lib broker_surface -- --nocapture` prints the figures quoted in
/// `protocol-spec/apis/Metadata.md`.
#[test]
fn every_topic_of_a_hundred_thousand_partitions() {
    let c = big_cluster(6, 1_000, 100);
    assert_eq!(c.image.partition_count(), 100_000);
    for version in [4, 12] {
        let (response, bytes) = measure_all_topics(&c, version);
        assert_eq!(response.topics.len(), 1_000);
        assert!(response.topics.iter().all(|t| t.partitions.len() == 100));
        // Each partition costs its fixed fields and three replicas in two lists.
        assert!(bytes > 100_000 * 30, "{bytes}");
    }
}

/// The same at a million partitions (slow in debug builds): run with
/// `cargo test --release --lib broker_surface -- --ignored --nocapture`.
#[test]
#[ignore]
fn every_topic_of_a_million_partitions() {
    let c = big_cluster(12, 10_000, 100);
    assert_eq!(c.image.partition_count(), 1_000_000);
    for version in [4, 12] {
        measure_all_topics(&c, version);
    }
}
