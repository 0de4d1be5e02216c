//! The quorum controller against its contract: every validation rule and error code of each
//! operation, broker sessions on a simulated clock (fencing, unfencing, leader election on
//! fence, controlled shutdown), idempotent re-registration, rack-aware placement, pending
//! (uncommitted) state, and one bounded batch per operation. Driven through
//! `metadata_harness::Node`, which plays the node: an in-memory log, commit, a clock.

#[path = "metadata_harness.rs"]
mod harness;

use harness::*;
use keel::constants::{BATCH_RECORDS_MAX, BROKER_SESSION_TIMEOUT_MS_DEFAULT};
use keel::metadata::controller::*;
use keel::metadata::image::{ConfigResource, Listener, NO_LEADER, RESOURCE_BROKER};
use keel::metadata::record::MetadataRecord;
use keel::protocol::{ErrorCode, Uuid};

const TIMEOUT: u64 = BROKER_SESSION_TIMEOUT_MS_DEFAULT;

/// Three unfenced brokers (ids 1-3, no racks) and their epochs.
fn three_brokers() -> (Node, Vec<i64>) {
    let mut node = Node::new();
    let epochs = (1..=3).map(|id| node.bring_up(id, None)).collect();
    (node, epochs)
}

fn records_at(node: &Node, from: u64) -> Vec<MetadataRecord> {
    node.log[from as usize..]
        .iter()
        .map(|b| MetadataRecord::decode(b).unwrap())
        .collect()
}

fn isr_item(node: &Node, topic_id: Uuid, partition: i32, new_isr: &[i32]) -> AlterPartitionItem {
    let p = node.latest().partition(&topic_id, partition).unwrap();
    AlterPartitionItem {
        partition_index: partition,
        leader_epoch: p.leader_epoch(),
        new_isr: new_isr
            .iter()
            .map(|&id| IsrMember {
                broker_id: id,
                broker_epoch: node.latest().broker(id).map_or(-1, |b| b.epoch),
            })
            .collect(),
        leader_recovery_state: 0,
        partition_epoch: p.partition_epoch(),
    }
}

fn alter_one(
    node: &mut Node,
    broker_id: i32,
    topic_id: Uuid,
    item: AlterPartitionItem,
) -> AlterPartitionResult {
    let epoch = node.latest().broker(broker_id).map_or(-1, |b| b.epoch);
    let reply = node.alter_partition(&AlterPartitionRequest {
        broker_id,
        broker_epoch: epoch,
        topics: vec![AlterPartitionTopic {
            topic: TopicRef::Id(topic_id),
            partitions: vec![item],
        }],
    });
    assert!(reply.error.is_ok(), "{:?}", reply.error);
    reply.topics[0].partitions[0].clone()
}

// ---- Registration ----

#[test]
fn the_broker_epoch_is_the_offset_of_the_registration_and_it_starts_fenced() {
    let mut node = Node::new();
    node.propose(vec![MetadataRecord::NoOp(Default::default()).encode()]);
    let at = node.next_offset();
    let reply = node.register(&registration(7, Some("r1")));
    assert!(reply.error.is_ok());
    assert_eq!(reply.broker_epoch, at as i64);
    assert!(matches!(
        &records_at(&node, at)[..],
        [MetadataRecord::RegisterBroker(r)] if r.broker_epoch == at as i64 && r.fenced && r.broker_id == 7
    ));
    let broker = node.committed_image().broker(7).unwrap();
    assert!(broker.fenced && broker.rack.as_deref() == Some("r1"));
    node.check_images();
}

#[test]
fn the_same_incarnation_registering_again_is_idempotent() {
    let mut node = Node::new();
    node.auto_commit = false;
    let first = node.call(|c, now, next| c.register_broker(now, next, &registration(1, None)));
    // Retried before the first is committed: same epoch, no record, released with the first.
    let again = node.call(|c, now, next| c.register_broker(now, next, &registration(1, None)));
    assert!(again.records.is_empty());
    assert_eq!(again.reply.broker_epoch, first.reply.broker_epoch);
    assert_eq!(again.release_at, first.release_at);
    node.commit();
    let after = node.register(&registration(1, None));
    assert_eq!(after.broker_epoch, first.reply.broker_epoch);
    assert_eq!(node.log.len(), 1);
    // Changed listeners: a new registration, a new epoch.
    let mut moved = registration(1, None);
    moved.listeners[0].port = 9093;
    let amended = node.register(&moved);
    assert!(amended.error.is_ok());
    assert_eq!(amended.broker_epoch, 1);
}

#[test]
fn another_incarnation_of_a_live_broker_is_refused_until_it_is_fenced() {
    let mut node = Node::new();
    node.bring_up(1, None);
    let mut other = registration(1, None);
    other.incarnation_id = Uuid::from_bytes([9; 16]);
    let reply = node.register(&other);
    assert_code(&reply.error, ErrorCode::DuplicateBrokerRegistration);
    assert_eq!(reply.broker_epoch, -1);
    // Still refused just inside the session timeout, accepted once the session expired and
    // the broker was fenced.
    node.advance(TIMEOUT);
    assert_code(
        &node.register(&other).error,
        ErrorCode::DuplicateBrokerRegistration,
    );
    node.advance(1);
    assert!(node.latest().broker(1).unwrap().fenced);
    let reply = node.register(&other);
    assert!(reply.error.is_ok());
    assert_eq!(
        node.latest().broker(1).unwrap().incarnation_id,
        other.incarnation_id
    );
}

#[test]
fn a_fenced_registration_may_be_replaced_by_a_new_incarnation_at_once() {
    let mut node = Node::new();
    node.register(&registration(1, None));
    let mut other = registration(1, None);
    other.incarnation_id = Uuid::from_bytes([9; 16]);
    let reply = node.register(&other);
    assert!(reply.error.is_ok());
    // The old incarnation's heartbeats are now stale.
    let stale = node.heartbeat(&heartbeat(1, 0, 10));
    assert_code(&stale.error, ErrorCode::StaleBrokerEpoch);
}

#[test]
fn registration_checks_cluster_id_broker_id_and_features() {
    let mut node = Node::new();
    let mut wrong = registration(1, None);
    wrong.cluster_id = "other".into();
    assert_code(
        &node.register(&wrong).error,
        ErrorCode::InconsistentClusterId,
    );
    assert_code(
        &node.register(&registration(-1, None)).error,
        ErrorCode::InvalidRequest,
    );
    // A finalized metadata.version, as the bootstrap records of `keel format` would set it
    // (written before any controller is active).
    node.controller.deactivate();
    node.propose(vec![
        MetadataRecord::FeatureLevel(keel::protocol::messages::FeatureLevelRecord {
            name: "metadata.version".into(),
            feature_level: 40,
            ..Default::default()
        })
        .encode(),
    ]);
    node.controller.activate(node.now);
    assert_code(
        &node.register(&registration(1, None)).error,
        ErrorCode::UnsupportedVersion,
    );
    let mut newer = registration(1, None);
    newer.features[0].max_supported = 40;
    assert!(node.register(&newer).error.is_ok());
    assert!(node.log.len() == 2);
}

// ---- Heartbeats, fencing, unfencing ----

#[test]
fn heartbeats_from_unknown_or_stale_brokers_are_refused() {
    let mut node = Node::new();
    assert_code(
        &node.heartbeat(&heartbeat(4, 0, 0)).error,
        ErrorCode::StaleBrokerEpoch,
    );
    let epoch = node.register(&registration(4, None)).broker_epoch;
    assert_code(
        &node.heartbeat(&heartbeat(4, epoch + 1, 0)).error,
        ErrorCode::StaleBrokerEpoch,
    );
    assert!(node.heartbeat(&heartbeat(4, epoch, 0)).error.is_ok());
}

#[test]
fn a_broker_is_unfenced_once_its_metadata_reaches_its_registration() {
    let mut node = Node::new();
    node.propose(vec![MetadataRecord::NoOp(Default::default()).encode(); 5]);
    let epoch = node.register(&registration(1, None)).broker_epoch;
    assert_eq!(epoch, 5);
    let behind = node.heartbeat(&heartbeat(1, epoch, 4));
    assert!(behind.is_fenced && !behind.is_caught_up);
    assert!(node.latest().broker(1).unwrap().fenced);
    let at = node.next_offset();
    let caught_up = node.heartbeat(&heartbeat(1, epoch, 5));
    assert!(!caught_up.is_fenced && caught_up.is_caught_up && caught_up.error.is_ok());
    assert!(matches!(
        &records_at(&node, at)[..],
        [MetadataRecord::BrokerRegistrationChange(r)] if r.fenced == -1 && r.broker_epoch == epoch
    ));
    assert!(node.committed_image().broker(1).unwrap().is_active());
    // Asking to stay fenced keeps it fenced.
    let mut node = Node::new();
    let epoch = node.register(&registration(1, None)).broker_epoch;
    let mut request = heartbeat(1, epoch, 100);
    request.want_fence = true;
    assert!(node.heartbeat(&request).is_fenced);
    node.check_images();
}

#[test]
fn a_broker_without_heartbeats_is_fenced_after_the_session_timeout() {
    let (mut node, epochs) = three_brokers();
    node.now = 1_000;
    node.heartbeat_all();
    // Brokers 1 and 2 keep heartbeating every 2 s; broker 3 goes silent at t=1000.
    for _ in 0..4 {
        node.now += 2_000;
        for id in 1..=2 {
            node.heartbeat(&heartbeat(
                id,
                epochs[id as usize - 1],
                node.committed as i64,
            ));
        }
        assert_eq!(node.tick(), 0);
    }
    // t = 9000: 8 s since broker 3's last heartbeat.
    node.now = 1_000 + TIMEOUT;
    assert_eq!(node.tick(), 0, "exactly the timeout is not yet expired");
    assert!(!node.latest().broker(3).unwrap().fenced);
    node.now += 1;
    assert_eq!(node.tick(), 1);
    assert!(node.committed_image().broker(3).unwrap().fenced);
    assert!(!node.committed_image().broker(1).unwrap().fenced);
    // Its heartbeat brings it back once caught up.
    let reply = node.heartbeat(&heartbeat(3, epochs[2], node.committed as i64));
    assert!(!reply.is_fenced);
    node.check_images();
}

#[test]
fn fencing_a_leader_elects_the_next_isr_member_and_shrinks_the_isr() {
    let (mut node, _) = three_brokers();
    let topic = node.create_topic("orders", 6, 3);
    let led_by_2: Vec<i32> = node
        .latest()
        .topic(&topic)
        .unwrap()
        .partitions()
        .filter(|p| p.leader() == 2)
        .map(|p| p.partition_id())
        .collect();
    assert_eq!(led_by_2.len(), 2, "leaders are spread round robin");
    let before: Vec<_> = led_by_2
        .iter()
        .map(|&p| node.latest().partition(&topic, p).unwrap().leader_epoch())
        .collect();
    node.now += 3_000;
    node.heartbeat(&heartbeat(
        1,
        node.latest().broker(1).unwrap().epoch,
        node.committed as i64,
    ));
    node.heartbeat(&heartbeat(
        3,
        node.latest().broker(3).unwrap().epoch,
        node.committed as i64,
    ));
    node.now += TIMEOUT - 2_000;
    let at = node.next_offset();
    assert_eq!(node.tick(), 1);
    // Leader moves first, then the fence record, in one batch.
    let records = records_at(&node, at);
    assert!(
        matches!(records.last(), Some(MetadataRecord::BrokerRegistrationChange(r)) if r.broker_id == 2 && r.fenced == 1)
    );
    let image = node.committed_image();
    for (i, &p) in led_by_2.iter().enumerate() {
        let partition = image.partition(&topic, p).unwrap();
        let expected = partition
            .replicas()
            .iter()
            .copied()
            .find(|&id| id != 2)
            .unwrap();
        assert_eq!(
            partition.leader(),
            expected,
            "first other replica in replica order"
        );
        assert_eq!(partition.leader_epoch(), before[i] + 1);
    }
    for partition in image.topic(&topic).unwrap().partitions() {
        assert!(
            !partition.isr().contains(&2),
            "fenced broker left every ISR"
        );
        assert_eq!(partition.isr().len(), 2);
        assert_ne!(partition.leader(), 2);
    }
    assert_eq!(image.broker_load(2).leaders, 0);
    node.check_images();
}

#[test]
fn with_no_eligible_isr_member_the_partition_has_no_leader_and_keeps_its_isr() {
    let (mut node, epochs) = three_brokers();
    let reply = node.create_topics(&CreateTopicsRequest {
        topics: vec![CreatableTopic {
            assignments: vec![(0, vec![2, 1])],
            ..topic("solo", -1, -1)
        }],
        validate_only: false,
    });
    let topic = reply.topics[0].topic_id;
    // ISR shrinks to [2] (the leader drops 1).
    let item = isr_item(&node, topic, 0, &[2]);
    let result = alter_one(&mut node, 2, topic, item);
    assert!(result.error.is_ok());
    // Broker 2 asks to be fenced: no other ISR member, so no leader, ISR kept.
    let mut request = heartbeat(2, epochs[1], node.committed as i64);
    request.want_fence = true;
    assert!(node.heartbeat(&request).is_fenced);
    let p = node.committed_image().partition(&topic, 0).unwrap();
    assert_eq!(p.leader(), NO_LEADER);
    assert_eq!(p.isr(), &[2]);
    // Broker 1 is a replica but was not in the ISR: never elected (no unclean election).
    node.advance(1);
    assert_eq!(
        node.committed_image()
            .partition(&topic, 0)
            .unwrap()
            .leader(),
        NO_LEADER
    );
    // Broker 2 comes back: it leads again.
    let reply = node.heartbeat(&heartbeat(2, epochs[1], node.committed as i64));
    assert!(!reply.is_fenced);
    node.tick();
    let p = node.committed_image().partition(&topic, 0).unwrap();
    assert_eq!((p.leader(), p.isr()), (2, &[2][..]));
    node.check_images();
}

#[test]
fn controlled_shutdown_moves_leadership_first_then_lets_the_broker_stop() {
    let (mut node, epochs) = three_brokers();
    let topic = node.create_topic("events", 9, 2);
    let led = node.latest().broker_load(1).leaders;
    assert!(led > 0);
    let mut request = heartbeat(1, epochs[0], node.committed as i64);
    request.want_shutdown = true;
    let at = node.next_offset();
    let reply = node.heartbeat(&request);
    assert!(reply.in_controlled_shutdown && !reply.should_shut_down && !reply.is_fenced);
    let records = records_at(&node, at);
    assert!(
        records[..records.len() - 1]
            .iter()
            .all(|r| matches!(r, MetadataRecord::PartitionChange(_)))
    );
    assert!(
        matches!(records.last(), Some(MetadataRecord::BrokerRegistrationChange(r)) if r.in_controlled_shutdown == 1)
    );
    let image = node.committed_image();
    assert!(image.broker(1).unwrap().in_controlled_shutdown);
    assert_eq!(image.broker_load(1).leaders, 0);
    for p in image.topic(&topic).unwrap().partitions() {
        assert_ne!(p.leader(), 1);
        assert!(!p.isr().contains(&1));
    }
    // A broker in controlled shutdown may not join an ISR.
    let some = image
        .topic(&topic)
        .unwrap()
        .partitions()
        .find(|p| p.replicas().contains(&1))
        .unwrap();
    let (pid, leader) = (some.partition_id(), some.leader());
    let mut isr = some.isr().to_vec();
    isr.push(1);
    let item = isr_item(&node, topic, pid, &isr);
    let result = alter_one(&mut node, leader, topic, item);
    assert_code(&result.error, ErrorCode::IneligibleReplica);
    // It leads nothing now, but brokers 2 and 3 have not yet reported metadata that shows the
    // new leaders: not yet.
    let reply = node.heartbeat(&request);
    assert!(reply.in_controlled_shutdown && !reply.should_shut_down && !reply.is_fenced);
    node.heartbeat(&heartbeat(2, epochs[1], node.committed as i64));
    assert!(!node.heartbeat(&request).should_shut_down);
    node.heartbeat(&heartbeat(3, epochs[2], node.committed as i64));
    // Now every active broker has seen the moves: it may stop (and is fenced).
    let reply = node.heartbeat(&request);
    assert!(reply.should_shut_down && reply.is_fenced && !reply.in_controlled_shutdown);
    assert!(node.committed_image().broker(1).unwrap().fenced);
    node.check_images();
}

#[test]
fn controlled_shutdown_of_a_broker_with_more_partitions_than_a_batch_finishes_in_ticks() {
    let mut node = Node::new();
    let e1 = node.bring_up(1, None);
    let e2 = node.bring_up(2, None);
    // 2 x 6000 partitions, all led by 1 (explicit assignments, one topic per request).
    for t in 0..2 {
        let assignments = (0..6000).map(|p| (p, vec![1, 2])).collect();
        let reply = node.create_topics(&CreateTopicsRequest {
            topics: vec![CreatableTopic {
                assignments,
                ..topic(&format!("big{t}"), -1, -1)
            }],
            validate_only: false,
        });
        assert!(reply.topics[0].error.is_ok());
    }
    assert_eq!(node.latest().broker_load(1).leaders, 12_000);
    let mut request = heartbeat(1, e1, node.committed as i64);
    request.want_shutdown = true;
    let reply = node.heartbeat(&request);
    assert!(reply.in_controlled_shutdown && !reply.should_shut_down);
    assert_eq!(*node.batches.last().unwrap(), BATCH_RECORDS_MAX as usize);
    assert!(node.latest().broker_load(1).leaders > 0);
    assert!(!node.heartbeat(&request).should_shut_down);
    assert!(node.tick() >= 1);
    assert_eq!(node.latest().broker_load(1).leaders, 0);
    node.heartbeat(&heartbeat(2, e2, node.committed as i64));
    assert!(node.heartbeat(&request).should_shut_down);
    assert!(
        node.batches
            .iter()
            .all(|&n| n <= BATCH_RECORDS_MAX as usize)
    );
    node.check_images();
}

#[test]
fn an_unfenced_broker_that_leads_nothing_may_stop_at_once() {
    let (mut node, epochs) = three_brokers();
    let mut request = heartbeat(2, epochs[1], node.committed as i64);
    request.want_shutdown = true;
    let reply = node.heartbeat(&request);
    assert!(reply.should_shut_down && reply.is_fenced && !reply.in_controlled_shutdown);
    assert!(node.committed_image().broker(2).unwrap().fenced);
}

#[test]
fn a_fenced_broker_asking_to_shut_down_may_stop_at_once() {
    let mut node = Node::new();
    let epoch = node.register(&registration(1, None)).broker_epoch;
    let mut request = heartbeat(1, epoch, 0);
    request.want_shutdown = true;
    let reply = node.heartbeat(&request);
    assert!(reply.should_shut_down && reply.is_fenced);
}

#[test]
fn unregistering_moves_leadership_away_and_removes_the_broker() {
    let (mut node, _) = three_brokers();
    assert_code(
        &node
            .call(|c, _, next| c.unregister_broker(next, 9))
            .reply
            .error,
        ErrorCode::BrokerIdNotRegistered,
    );
    let topic = node.create_topic("t", 3, 3);
    let reply = node.call(|c, _, next| c.unregister_broker(next, 3)).reply;
    assert!(reply.error.is_ok());
    let image = node.committed_image();
    assert!(image.broker(3).is_none());
    for p in image.topic(&topic).unwrap().partitions() {
        assert_ne!(p.leader(), 3);
        assert!(!p.isr().contains(&3));
        assert!(p.replicas().contains(&3), "replicas keep the id");
    }
    node.check_images();
}

// ---- AlterPartition ----

#[test]
fn alter_partition_checks_the_broker_epoch_first() {
    let (mut node, epochs) = three_brokers();
    let topic = node.create_topic("t", 1, 3);
    let item = isr_item(&node, topic, 0, &[1, 2]);
    for (broker_id, broker_epoch) in [(1, epochs[0] + 1), (8, 0)] {
        let reply = node.alter_partition(&AlterPartitionRequest {
            broker_id,
            broker_epoch,
            topics: vec![AlterPartitionTopic {
                topic: TopicRef::Id(topic),
                partitions: vec![item.clone()],
            }],
        });
        assert_code(&reply.error, ErrorCode::StaleBrokerEpoch);
        assert!(reply.topics.is_empty());
    }
}

#[test]
fn alter_partition_answers_each_partition_with_kafkas_codes() {
    let (mut node, epochs) = three_brokers();
    let topic = node.create_topic("t", 4, 3);
    let leader_of = |node: &Node, p: i32| node.latest().partition(&topic, p).unwrap().leader();
    // Make partition 0..4 all led by broker 1 for a single request.
    let leader = leader_of(&node, 0);
    let leader_epoch_of = |id: i32| epochs[id as usize - 1];
    let others: Vec<i32> = (1..=3).filter(|&id| id != leader).collect();
    let good = isr_item(&node, topic, 0, &[leader, others[0]]);
    let mut fenced_epoch = good.clone();
    fenced_epoch.leader_epoch -= 1;
    let mut ahead = good.clone();
    ahead.leader_epoch += 1;
    let mut old_version = good.clone();
    old_version.partition_epoch -= 1;
    let mut ahead_version = good.clone();
    ahead_version.partition_epoch += 1;
    let mut outsider = good.clone();
    outsider.new_isr.push(IsrMember {
        broker_id: 9,
        broker_epoch: -1,
    });
    let mut duplicate = good.clone();
    duplicate.new_isr.push(duplicate.new_isr[0]);
    let without_leader = isr_item(&node, topic, 0, &[others[0], others[1]]);
    let empty = isr_item(&node, topic, 0, &[]);
    let mut wrong_member_epoch = good.clone();
    wrong_member_epoch.new_isr[1].broker_epoch += 100;
    let mut recovering = good.clone();
    recovering.leader_recovery_state = 1;
    let mut unknown = good.clone();
    unknown.partition_index = 17;
    let cases = [
        (fenced_epoch, ErrorCode::FencedLeaderEpoch),
        (ahead, ErrorCode::NotController),
        (old_version, ErrorCode::InvalidUpdateVersion),
        (ahead_version, ErrorCode::NotController),
        (outsider, ErrorCode::InvalidRequest),
        (duplicate, ErrorCode::InvalidRequest),
        (without_leader, ErrorCode::InvalidRequest),
        (empty, ErrorCode::InvalidRequest),
        (wrong_member_epoch, ErrorCode::IneligibleReplica),
        (recovering, ErrorCode::InvalidRequest),
        (unknown, ErrorCode::UnknownTopicOrPartition),
    ];
    for (item, code) in cases {
        let at = node.next_offset();
        let result = alter_one(&mut node, leader, topic, item.clone());
        assert_code(&result.error, code);
        assert_eq!(node.next_offset(), at, "{code:?} wrote nothing");
    }
    // The same request from a follower (Kafka: INVALID_REQUEST, the sender is not the leader).
    let result = alter_one(&mut node, others[0], topic, good.clone());
    assert_code(&result.error, ErrorCode::InvalidRequest);
    // And then it succeeds: the answer is the new state.
    let before = node
        .latest()
        .partition(&topic, 0)
        .unwrap()
        .partition_epoch();
    let result = alter_one(&mut node, leader, topic, good);
    assert!(result.error.is_ok());
    assert_eq!(result.isr, vec![leader, others[0]]);
    assert_eq!(result.partition_epoch, before + 1);
    assert_eq!(result.leader_id, leader);
    let p = node.committed_image().partition(&topic, 0).unwrap();
    assert_eq!(
        (p.isr(), p.partition_epoch()),
        (&result.isr[..], before + 1)
    );
    // Unknown topics, by id and by name; a fenced member.
    let reply = node.alter_partition(&AlterPartitionRequest {
        broker_id: leader,
        broker_epoch: leader_epoch_of(leader),
        topics: vec![
            AlterPartitionTopic {
                topic: TopicRef::Id(Uuid::from_bytes([5; 16])),
                partitions: vec![isr_item(&node, topic, 1, &[leader])],
            },
            AlterPartitionTopic {
                topic: TopicRef::Name("nope".into()),
                partitions: vec![isr_item(&node, topic, 1, &[leader])],
            },
        ],
    });
    assert_code(
        &reply.topics[0].partitions[0].error,
        ErrorCode::UnknownTopicId,
    );
    assert_code(
        &reply.topics[1].partitions[0].error,
        ErrorCode::UnknownTopicOrPartition,
    );
    node.check_images();
}

#[test]
fn alter_partition_batches_many_partitions_each_answered_alone() {
    let mut node = Node::new();
    let e1 = node.bring_up(1, None);
    node.bring_up(2, None);
    let e3 = node.bring_up(3, None);
    let assignments = (0..50).map(|p| (p, vec![1, 2, 3])).collect();
    let reply = node.create_topics(&CreateTopicsRequest {
        topics: vec![CreatableTopic {
            assignments,
            ..topic("many", -1, -1)
        }],
        validate_only: false,
    });
    let topic = reply.topics[0].topic_id;
    // Fence broker 3 by request; its ISR membership is removed.
    let mut fence = heartbeat(3, e3, node.committed as i64);
    fence.want_fence = true;
    node.heartbeat(&fence);
    let mut partitions: Vec<AlterPartitionItem> =
        (0..50).map(|p| isr_item(&node, topic, p, &[1])).collect();
    partitions[10] = isr_item(&node, topic, 10, &[1, 3]); // 3 is fenced
    partitions[20].partition_epoch -= 1;
    partitions.push(partitions[0].clone()); // the same partition twice
    let at = node.next_offset();
    let reply = node.alter_partition(&AlterPartitionRequest {
        broker_id: 1,
        broker_epoch: e1,
        topics: vec![AlterPartitionTopic {
            topic: TopicRef::Name("many".into()),
            partitions,
        }],
    });
    let results = &reply.topics[0].partitions;
    assert_eq!(results.len(), 51);
    assert_code(&results[10].error, ErrorCode::IneligibleReplica);
    assert_code(&results[20].error, ErrorCode::InvalidUpdateVersion);
    assert_code(&results[50].error, ErrorCode::InvalidRequest);
    assert_eq!(results.iter().filter(|r| r.error.is_ok()).count(), 48);
    assert_eq!(node.batches.last(), Some(&48));
    assert_eq!(
        node.next_offset() - at,
        48,
        "one batch, one record per changed partition"
    );
    // Too many partitions for one batch: refused whole.
    let item = isr_item(&node, topic, 0, &[1]);
    let reply = node.alter_partition(&AlterPartitionRequest {
        broker_id: 1,
        broker_epoch: e1,
        topics: vec![AlterPartitionTopic {
            topic: TopicRef::Id(topic),
            partitions: vec![item; BATCH_RECORDS_MAX as usize + 1],
        }],
    });
    assert_code(&reply.error, ErrorCode::InvalidRequest);
    node.check_images();
}

// ---- CreateTopics ----

fn create_one(node: &mut Node, t: CreatableTopic) -> CreateTopicResult {
    node.create_topics(&CreateTopicsRequest {
        topics: vec![t],
        validate_only: false,
    })
    .topics
    .remove(0)
}

#[test]
fn topic_names_follow_kafkas_rules() {
    let (mut node, _) = three_brokers();
    let long = "x".repeat(250);
    for bad in ["", ".", "..", "a b", "ä", "a/b", long.as_str()] {
        let result = create_one(&mut node, topic(bad, 1, 1));
        assert_code(&result.error, ErrorCode::InvalidTopicException);
    }
    assert!(
        create_one(&mut node, topic(&"x".repeat(249), 1, 1))
            .error
            .is_ok()
    );
    assert!(create_one(&mut node, topic("a.b", 1, 1)).error.is_ok());
    let collides = create_one(&mut node, topic("a_b", 1, 1));
    assert_code(&collides.error, ErrorCode::InvalidTopicException);
    assert!(
        collides
            .error
            .message
            .unwrap()
            .contains("collides with existing topic: a.b")
    );
    assert_topic_code(
        &create_one(&mut node, topic("a.b", 1, 1)),
        ErrorCode::TopicAlreadyExists,
    );
    // Internal topics are not for users to create.
    for internal in [
        "__cluster_metadata",
        "__consumer_offsets",
        "__transaction_state",
        "__keel_changes",
    ] {
        let refused = create_one(&mut node, topic(internal, 1, 1));
        assert_code(&refused.error, ErrorCode::InvalidRequest);
        assert_eq!(
            refused.error.message.as_deref(),
            Some(format!("Creation of internal topic {internal} is prohibited.").as_str())
        );
    }
}

#[test]
fn partition_counts_and_replication_factors_are_checked() {
    let (mut node, _) = three_brokers();
    assert_topic_code(
        &create_one(&mut node, topic("p0", 0, 1)),
        ErrorCode::InvalidPartitions,
    );
    assert_topic_code(
        &create_one(&mut node, topic("p2", -2, 1)),
        ErrorCode::InvalidPartitions,
    );
    assert_topic_code(
        &create_one(&mut node, topic("r0", 1, 0)),
        ErrorCode::InvalidReplicationFactor,
    );
    assert_topic_code(
        &create_one(&mut node, topic("r2", 1, -2)),
        ErrorCode::InvalidReplicationFactor,
    );
    assert_topic_code(
        &create_one(&mut node, topic("r4", 1, 4)),
        ErrorCode::InvalidReplicationFactor,
    );
    let defaults = create_one(&mut node, topic("defaults", -1, -1));
    assert!(defaults.error.is_ok());
    assert_eq!(
        (defaults.num_partitions, defaults.replication_factor),
        (1, 1)
    );
    // Fenced brokers do not count: fence one of three.
    let e3 = node.latest().broker(3).unwrap().epoch;
    let mut fence = heartbeat(3, e3, 0);
    fence.want_fence = true;
    node.heartbeat(&fence);
    let result = create_one(&mut node, topic("r3", 1, 3));
    assert_code(&result.error, ErrorCode::InvalidReplicationFactor);
    assert!(result.error.message.unwrap().contains("only 2 broker(s)"));
    let ok = create_one(&mut node, topic("r2ok", 4, 2));
    assert!(ok.error.is_ok());
    for p in node.latest().topic(&ok.topic_id).unwrap().partitions() {
        assert!(!p.replicas().contains(&3));
    }
}

#[test]
fn explicit_assignments_are_validated() {
    let (mut node, _) = three_brokers();
    let with = |assignments: Vec<(i32, Vec<i32>)>| CreatableTopic {
        assignments,
        ..topic("manual", -1, -1)
    };
    let cases: Vec<(CreatableTopic, ErrorCode)> = vec![
        (
            CreatableTopic {
                replication_factor: 2,
                ..with(vec![(0, vec![1])])
            },
            ErrorCode::InvalidRequest,
        ),
        (
            CreatableTopic {
                num_partitions: 1,
                ..with(vec![(0, vec![1])])
            },
            ErrorCode::InvalidRequest,
        ),
        (
            with(vec![(0, vec![1]), (0, vec![2])]),
            ErrorCode::InvalidReplicaAssignment,
        ),
        (with(vec![(0, vec![])]), ErrorCode::InvalidReplicaAssignment),
        (
            with(vec![(0, vec![1, 1])]),
            ErrorCode::InvalidReplicaAssignment,
        ),
        (
            with(vec![(0, vec![1, 7])]),
            ErrorCode::InvalidReplicaAssignment,
        ),
        (
            with(vec![(0, vec![1, 2]), (1, vec![3])]),
            ErrorCode::InvalidReplicaAssignment,
        ),
        (
            with(vec![(0, vec![1]), (2, vec![2])]),
            ErrorCode::InvalidReplicaAssignment,
        ),
    ];
    for (t, code) in cases {
        let at = node.next_offset();
        assert_topic_code(&create_one(&mut node, t), code);
        assert_eq!(node.next_offset(), at);
    }
    let ok = create_one(&mut node, with(vec![(1, vec![3, 1]), (0, vec![2, 3])]));
    assert!(ok.error.is_ok());
    let t = node.latest().topic(&ok.topic_id).unwrap();
    assert_eq!(t.partition(0).unwrap().replicas(), &[2, 3]);
    assert_eq!(t.partition(1).unwrap().leader(), 3);
    // All replicas of a partition fenced.
    let e2 = node.latest().broker(2).unwrap().epoch;
    let mut fence = heartbeat(2, e2, 0);
    fence.want_fence = true;
    node.heartbeat(&fence);
    let result = create_one(
        &mut node,
        CreatableTopic {
            name: "fenced".into(),
            ..with(vec![(0, vec![2])])
        },
    );
    assert_code(&result.error, ErrorCode::InvalidReplicaAssignment);
    // A fenced replica among active ones is assigned but not in the ISR.
    let result = create_one(
        &mut node,
        CreatableTopic {
            name: "partly".into(),
            ..with(vec![(0, vec![2, 1])])
        },
    );
    assert!(result.error.is_ok());
    let p = node.latest().partition(&result.topic_id, 0).unwrap();
    assert_eq!(
        (p.replicas(), p.isr(), p.leader()),
        (&[2, 1][..], &[1][..], 1)
    );
}

fn assert_topic_code(result: &CreateTopicResult, code: ErrorCode) {
    harness::assert_code(&result.error, code);
}

#[test]
fn duplicate_names_validate_only_and_one_batch_per_request() {
    let (mut node, _) = three_brokers();
    let at = node.next_offset();
    let reply = node.create_topics(&CreateTopicsRequest {
        topics: vec![topic("a", 2, 2), topic("b", 3, 3), topic("a", 1, 1)],
        validate_only: false,
    });
    harness::assert_code(&reply.topics[0].error, ErrorCode::InvalidRequest);
    harness::assert_code(&reply.topics[2].error, ErrorCode::InvalidRequest);
    assert!(reply.topics[1].error.is_ok());
    assert_eq!(
        node.batches.last(),
        Some(&4),
        "TopicRecord + 3 PartitionRecords"
    );
    assert_eq!(node.next_offset() - at, 4);
    // Validate-only: the answers, no records, no id.
    let at = node.next_offset();
    let reply = node.create_topics(&CreateTopicsRequest {
        topics: vec![topic("c", 2, 2), topic("b", 1, 1)],
        validate_only: true,
    });
    assert!(reply.topics[0].error.is_ok());
    assert_eq!(reply.topics[0].topic_id, Uuid::ZERO);
    assert_eq!(reply.topics[0].num_partitions, 2);
    harness::assert_code(&reply.topics[1].error, ErrorCode::TopicAlreadyExists);
    assert_eq!(node.next_offset(), at);
    assert!(node.latest().topic_by_name("c").is_none());
    // More partitions than one batch: refused whole (Kafka's POLICY_VIOLATION).
    let reply = node.create_topics(&CreateTopicsRequest {
        topics: vec![
            topic("huge", BATCH_RECORDS_MAX as i32 - 5, 1),
            topic("small", 10, 1),
        ],
        validate_only: false,
    });
    for result in &reply.topics {
        harness::assert_code(&result.error, ErrorCode::PolicyViolation);
    }
    // Exactly at the limit of records (topic record + partitions) fits one batch.
    let reply = node.create_topics(&CreateTopicsRequest {
        topics: vec![topic("full", BATCH_RECORDS_MAX as i32 - 1, 1)],
        validate_only: false,
    });
    assert!(reply.topics[0].error.is_ok());
    assert_eq!(node.batches.last(), Some(&(BATCH_RECORDS_MAX as usize)));
    node.check_images();
}

#[test]
fn topic_configs_are_validated_and_written_with_the_topic() {
    let (mut node, _) = three_brokers();
    let with = |configs: Vec<(&str, Option<&str>)>| CreatableTopic {
        configs: configs
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.map(str::to_owned)))
            .collect(),
        ..topic("configured", 1, 1)
    };
    assert_topic_code(
        &create_one(&mut node, with(vec![("retention.forever", Some("1"))])),
        ErrorCode::InvalidConfig,
    );
    assert_topic_code(
        &create_one(&mut node, with(vec![("retention.ms", Some("soon"))])),
        ErrorCode::InvalidConfig,
    );
    assert_topic_code(
        &create_one(&mut node, with(vec![("retention.ms", None)])),
        ErrorCode::InvalidConfig,
    );
    assert_topic_code(
        &create_one(
            &mut node,
            with(vec![
                ("retention.ms", Some("1")),
                ("retention.ms", Some("2")),
            ]),
        ),
        ErrorCode::InvalidRequest,
    );
    let at = node.next_offset();
    let ok = create_one(
        &mut node,
        with(vec![
            ("cleanup.policy", Some("compact")),
            ("retention.ms", Some("1000")),
        ]),
    );
    assert!(ok.error.is_ok());
    let records = records_at(&node, at);
    assert!(matches!(&records[0], MetadataRecord::Topic(_)));
    assert!(matches!(&records[1], MetadataRecord::Config(c) if c.name == "cleanup.policy"));
    assert!(matches!(&records[2], MetadataRecord::Config(c) if c.name == "retention.ms"));
    assert!(matches!(&records[3], MetadataRecord::Partition(_)));
    let shown = ok
        .configs
        .iter()
        .find(|c| c.name == "retention.ms")
        .unwrap();
    assert_eq!(
        (shown.value.as_deref(), shown.source),
        (Some("1000"), ConfigSource::DynamicTopicConfig)
    );
    let default = ok.configs.iter().find(|c| c.name == "segment.ms").unwrap();
    assert_eq!(default.source, ConfigSource::DefaultConfig);
    assert_eq!(
        node.committed_image()
            .config(&ConfigResource::topic("configured"), "cleanup.policy"),
        Some("compact")
    );
}

#[test]
fn placement_spreads_leaders_round_robin_and_replicas_over_racks() {
    let mut node = Node::new();
    let racks = ["a", "a", "b", "b", "c", "c"];
    for (i, rack) in racks.iter().enumerate() {
        node.bring_up(i as i32 + 1, Some(rack));
    }
    let topic = node.create_topic("spread", 60, 3);
    let image = node.latest();
    let mut leaders = std::collections::BTreeMap::new();
    for p in image.topic(&topic).unwrap().partitions() {
        let replica_racks: std::collections::BTreeSet<&str> = p
            .replicas()
            .iter()
            .map(|&id| racks[id as usize - 1])
            .collect();
        assert_eq!(
            replica_racks.len(),
            3,
            "one replica per rack: {:?}",
            p.replicas()
        );
        assert_eq!(p.isr(), p.replicas());
        assert_eq!(p.leader(), p.replicas()[0]);
        *leaders.entry(p.leader()).or_insert(0) += 1;
    }
    assert_eq!(leaders.len(), 6);
    assert!(leaders.values().all(|&n| n == 10), "{leaders:?}");
    // Different topics start their rotation at different brokers.
    let other = node.create_topic("other", 1, 1);
    let second = node.create_topic("second", 1, 1);
    let first_leaders: Vec<i32> = [topic, other, second]
        .iter()
        .map(|t| node.latest().partition(t, 0).unwrap().leader())
        .collect();
    assert!(
        first_leaders.windows(2).any(|w| w[0] != w[1]),
        "{first_leaders:?}"
    );
}

// ---- DeleteTopics ----

#[test]
fn topics_are_deleted_by_name_or_id_with_kafkas_errors() {
    let (mut node, _) = three_brokers();
    let a = node.create_topic("a", 2, 2);
    node.create_topic("b", 1, 1);
    node.incremental_alter(
        ConfigResource::topic("a"),
        vec![ConfigOp {
            name: "retention.ms".into(),
            op: AlterConfigOp::Set,
            value: Some("5".into()),
        }],
    );
    let reply = node
        .call(|c, _, next| {
            c.delete_topics(
                next,
                &DeleteTopicsRequest {
                    topics: vec![
                        TopicRef::Id(a),
                        TopicRef::Name("b".into()),
                        TopicRef::Name("nope".into()),
                        TopicRef::Id(Uuid::from_bytes([3; 16])),
                        TopicRef::Id(Uuid::ZERO),
                    ],
                },
            )
        })
        .reply;
    let codes: Vec<ErrorCode> = reply.topics.iter().map(|t| t.error.code).collect();
    assert_eq!(
        codes,
        [
            ErrorCode::None,
            ErrorCode::None,
            ErrorCode::UnknownTopicOrPartition,
            ErrorCode::UnknownTopicId,
            ErrorCode::InvalidRequest
        ]
    );
    assert_eq!(reply.topics[0].name.as_deref(), Some("a"));
    assert_eq!(node.batches.last(), Some(&2));
    let image = node.committed_image();
    assert_eq!(image.topic_count(), 0);
    assert!(image.configs(&ConfigResource::topic("a")).is_none());
    let reply = node
        .call(|c, _, next| {
            c.delete_topics(
                next,
                &DeleteTopicsRequest {
                    topics: vec![TopicRef::Name("x".into()); 2],
                },
            )
        })
        .reply;
    assert!(
        reply
            .topics
            .iter()
            .all(|t| t.error.code == ErrorCode::InvalidRequest)
    );
    node.check_images();
}

// ---- CreatePartitions ----

#[test]
fn partitions_are_added_with_kafkas_checks() {
    let (mut node, _) = three_brokers();
    let t = node.create_topic("grow", 2, 2);
    let request = |count: i32, assignments: Option<Vec<Vec<i32>>>| CreatePartitionsRequest {
        topics: vec![CreatePartitionsTopic {
            name: "grow".into(),
            count,
            assignments,
        }],
        validate_only: false,
    };
    let run = |node: &mut Node, r: CreatePartitionsRequest| {
        node.call(|c, _, next| c.create_partitions(next, &r))
            .reply
            .topics
            .remove(0)
            .error
    };
    harness::assert_code(
        &run(&mut node, request(1, None)),
        ErrorCode::InvalidPartitions,
    );
    harness::assert_code(
        &run(&mut node, request(2, None)),
        ErrorCode::InvalidPartitions,
    );
    harness::assert_code(
        &run(&mut node, request(4, Some(vec![vec![1, 2]]))),
        ErrorCode::InvalidReplicaAssignment,
    );
    harness::assert_code(
        &run(&mut node, request(3, Some(vec![vec![1]]))),
        ErrorCode::InvalidReplicaAssignment,
    );
    harness::assert_code(
        &run(&mut node, request(3, Some(vec![vec![1, 9]]))),
        ErrorCode::InvalidReplicaAssignment,
    );
    let mut unknown = request(3, None);
    unknown.topics[0].name = "nope".into();
    harness::assert_code(&run(&mut node, unknown), ErrorCode::UnknownTopicOrPartition);
    let mut validate = request(5, None);
    validate.validate_only = true;
    assert!(run(&mut node, validate).is_ok());
    assert_eq!(node.latest().topic(&t).unwrap().partition_count(), 2);
    assert!(run(&mut node, request(3, Some(vec![vec![3, 1]]))).is_ok());
    assert!(run(&mut node, request(6, None)).is_ok());
    let topic = node.committed_image().topic(&t).unwrap();
    assert_eq!(topic.partition_count(), 6);
    assert_eq!(topic.partition(2).unwrap().replicas(), &[3, 1]);
    assert!(topic.partitions().all(|p| p.replicas().len() == 2));
    let mut dup = request(8, None);
    dup.topics.push(dup.topics[0].clone());
    let reply = node
        .call(|c, _, next| c.create_partitions(next, &dup))
        .reply;
    assert!(
        reply
            .topics
            .iter()
            .all(|t| t.error.code == ErrorCode::InvalidRequest)
    );
    node.check_images();
}

// ---- Configs ----

#[test]
fn incremental_alter_configs_sets_deletes_appends_and_subtracts() {
    let (mut node, _) = three_brokers();
    node.create_topic("t", 1, 1);
    let op = |name: &str, op: AlterConfigOp, value: Option<&str>| ConfigOp {
        name: name.into(),
        op,
        value: value.map(str::to_owned),
    };
    let topic = ConfigResource::topic("t");
    let r = node.incremental_alter(
        topic.clone(),
        vec![
            op("retention.ms", AlterConfigOp::Set, Some("100")),
            op("cleanup.policy", AlterConfigOp::Append, Some("compact")),
        ],
    );
    assert!(r.error.is_ok());
    assert_eq!(
        node.committed_image().config(&topic, "cleanup.policy"),
        Some("delete,compact")
    );
    let r = node.incremental_alter(
        topic.clone(),
        vec![
            op("cleanup.policy", AlterConfigOp::Subtract, Some("delete")),
            op("retention.ms", AlterConfigOp::Delete, None),
        ],
    );
    assert!(r.error.is_ok());
    let image = node.committed_image();
    assert_eq!(image.config(&topic, "cleanup.policy"), Some("compact"));
    assert_eq!(image.config(&topic, "retention.ms"), None);
    // Setting the value it has writes nothing.
    let at = node.next_offset();
    node.incremental_alter(
        topic.clone(),
        vec![op("cleanup.policy", AlterConfigOp::Set, Some("compact"))],
    );
    assert_eq!(node.next_offset(), at);
    let failures = [
        (
            ConfigResource::topic("nope"),
            op("retention.ms", AlterConfigOp::Set, Some("1")),
            ErrorCode::UnknownTopicOrPartition,
        ),
        (
            topic.clone(),
            op("retention.forever", AlterConfigOp::Set, Some("1")),
            ErrorCode::InvalidConfig,
        ),
        (
            topic.clone(),
            op("retention.ms", AlterConfigOp::Set, Some("x")),
            ErrorCode::InvalidConfig,
        ),
        (
            topic.clone(),
            op("retention.ms", AlterConfigOp::Set, None),
            ErrorCode::InvalidRequest,
        ),
        (
            topic.clone(),
            op("retention.ms", AlterConfigOp::Append, Some("1")),
            ErrorCode::InvalidConfig,
        ),
        (
            ConfigResource::broker("x"),
            op("a.b", AlterConfigOp::Set, Some("1")),
            ErrorCode::InvalidRequest,
        ),
        (
            ConfigResource::broker("9"),
            op("a.b", AlterConfigOp::Set, Some("1")),
            ErrorCode::BrokerIdNotRegistered,
        ),
        (
            ConfigResource {
                resource_type: 8,
                name: "1".into(),
            },
            op("a", AlterConfigOp::Set, Some("1")),
            ErrorCode::InvalidRequest,
        ),
        (
            ConfigResource::broker(""),
            op("Bad Name", AlterConfigOp::Set, Some("1")),
            ErrorCode::InvalidConfig,
        ),
    ];
    for (resource, op, code) in failures {
        let at = node.next_offset();
        harness::assert_code(&node.incremental_alter(resource, vec![op]).error, code);
        assert_eq!(node.next_offset(), at);
    }
    let r = node.incremental_alter(
        topic.clone(),
        vec![
            op("retention.ms", AlterConfigOp::Set, Some("1")),
            op("retention.ms", AlterConfigOp::Delete, None),
        ],
    );
    harness::assert_code(&r.error, ErrorCode::InvalidRequest);
    // Several resources: each answered; the good ones written in one batch; duplicates refused.
    let request = IncrementalAlterConfigsRequest {
        resources: vec![
            (
                ConfigResource::broker(""),
                vec![op("log.retention.ms", AlterConfigOp::Set, Some("5"))],
            ),
            (
                ConfigResource::broker("1"),
                vec![op("log.retention.ms", AlterConfigOp::Set, Some("6"))],
            ),
            (
                ConfigResource::topic("t"),
                vec![op("bad.key", AlterConfigOp::Set, Some("6"))],
            ),
            (ConfigResource::broker("2"), vec![]),
            (ConfigResource::broker("2"), vec![]),
        ],
        validate_only: false,
    };
    let at = node.next_offset();
    let reply = node
        .call(|c, _, next| c.incremental_alter_configs(next, &request))
        .reply;
    let codes: Vec<ErrorCode> = reply.resources.iter().map(|r| r.error.code).collect();
    assert_eq!(
        codes,
        [
            ErrorCode::None,
            ErrorCode::None,
            ErrorCode::InvalidConfig,
            ErrorCode::InvalidRequest,
            ErrorCode::InvalidRequest
        ]
    );
    assert_eq!(node.next_offset() - at, 2);
    // Validate-only writes nothing.
    let mut validate = request.clone();
    validate.validate_only = true;
    validate.resources.truncate(2);
    let at = node.next_offset();
    node.call(|c, _, next| c.incremental_alter_configs(next, &validate));
    assert_eq!(node.next_offset(), at);
    node.check_images();
}

#[test]
fn alter_configs_replaces_every_key_and_describe_reads_the_committed_image() {
    let (mut node, _) = three_brokers();
    node.create_topic("t", 1, 1);
    let set = |configs: Vec<(&str, &str)>| AlterConfigsRequest {
        resources: vec![(
            ConfigResource::topic("t"),
            configs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), Some(v.to_owned())))
                .collect(),
        )],
        validate_only: false,
    };
    let run = |node: &mut Node, r: AlterConfigsRequest| {
        node.call(|c, _, next| c.alter_configs(next, &r)).reply
    };
    assert!(
        run(
            &mut node,
            set(vec![("retention.ms", "1"), ("segment.ms", "2")])
        )
        .resources[0]
            .error
            .is_ok()
    );
    assert!(
        run(&mut node, set(vec![("segment.ms", "3")])).resources[0]
            .error
            .is_ok()
    );
    let configs = node
        .committed_image()
        .configs(&ConfigResource::topic("t"))
        .unwrap()
        .clone();
    assert_eq!(
        configs.into_iter().collect::<Vec<_>>(),
        vec![("segment.ms".to_owned(), "3".to_owned())]
    );
    harness::assert_code(
        &run(&mut node, set(vec![("nope", "1")])).resources[0].error,
        ErrorCode::InvalidConfig,
    );
    node.incremental_alter(
        ConfigResource::broker(""),
        vec![ConfigOp {
            name: "log.retention.ms".into(),
            op: AlterConfigOp::Set,
            value: Some("7".into()),
        }],
    );
    node.incremental_alter(
        ConfigResource::broker("2"),
        vec![ConfigOp {
            name: "num.io.threads".into(),
            op: AlterConfigOp::Set,
            value: Some("9".into()),
        }],
    );
    let reply = node.controller.describe_configs(&DescribeConfigsRequest {
        resources: vec![
            (ConfigResource::topic("t"), None),
            (
                ConfigResource::topic("t"),
                Some(vec!["segment.ms".into(), "retention.ms".into()]),
            ),
            (ConfigResource::broker("2"), None),
            (ConfigResource::broker(""), None),
            (ConfigResource::topic("gone"), None),
            (
                ConfigResource {
                    resource_type: RESOURCE_BROKER,
                    name: "x".into(),
                },
                None,
            ),
        ],
        include_defaults: true,
    });
    let r = &reply.resources;
    assert!(r[0].configs.len() > 20, "explicit plus defaults");
    assert!(r[0].configs.iter().any(|c| c.name == "segment.ms"
        && c.source == ConfigSource::DynamicTopicConfig
        && c.value.as_deref() == Some("3")));
    assert!(r[0].configs.iter().any(|c| c.name == "retention.ms"
        && c.source == ConfigSource::DefaultConfig
        && c.value.as_deref() == Some("604800000")));
    assert_eq!(r[1].configs.len(), 2);
    let broker: Vec<(&str, ConfigSource)> = r[2]
        .configs
        .iter()
        .map(|c| (c.name.as_str(), c.source))
        .collect();
    assert_eq!(
        broker,
        [
            ("log.retention.ms", ConfigSource::DynamicDefaultBrokerConfig),
            ("num.io.threads", ConfigSource::DynamicBrokerConfig)
        ]
    );
    assert_eq!(r[3].configs.len(), 1);
    harness::assert_code(&r[4].error, ErrorCode::UnknownTopicOrPartition);
    harness::assert_code(&r[5].error, ErrorCode::InvalidRequest);
}

#[test]
fn broker_configs_are_kafkas_own_and_a_node_describes_every_one_for_itself() {
    let mut config = ControllerConfig::new(CLUSTER);
    let statics = [("log.retention.hours", "48"), ("num.network.threads", "3")];
    config.local_node = Some((
        1,
        statics
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    ));
    let mut node = Node::with_config(config);
    for id in 1..=2 {
        node.bring_up(id, None);
    }
    let set = |name: &str, value: &str| ConfigOp {
        name: name.into(),
        op: AlterConfigOp::Set,
        value: Some(value.into()),
    };
    // As Kafka: a key only server.properties sets, a per-broker key on the default, and a
    // key Kafka does not have are refused, each with Kafka's code and words.
    let refusals = [
        (
            ConfigResource::broker("1"),
            set("log.dirs", "/tmp/x"),
            ErrorCode::InvalidRequest,
            "Cannot update these configs dynamically: Set(log.dirs)",
        ),
        (
            ConfigResource::broker(""),
            set("listeners", "PLAINTEXT://:9092"),
            ErrorCode::InvalidRequest,
            "Cannot update these configs at default cluster level, broker id must be specified: Set(listeners)",
        ),
        (
            ConfigResource::broker("1"),
            set("log.retention.forever", "1"),
            ErrorCode::InvalidConfig,
            "Unknown broker config name: log.retention.forever",
        ),
        (
            ConfigResource::broker("1"),
            set("log.cleaner.threads", "many"),
            ErrorCode::InvalidConfig,
            "Invalid value many for configuration log.cleaner.threads: not a number",
        ),
    ];
    for (resource, op, code, message) in refusals {
        let at = node.next_offset();
        let result = node.incremental_alter(resource, vec![op]);
        assert_eq!(result.error.code, code, "{result:?}");
        assert_eq!(result.error.message.as_deref(), Some(message));
        assert_eq!(node.next_offset(), at, "nothing written");
    }
    assert!(
        node.incremental_alter(
            ConfigResource::broker("1"),
            vec![set("log.cleaner.threads", "2")]
        )
        .error
        .is_ok()
    );
    assert!(
        node.incremental_alter(
            ConfigResource::broker(""),
            vec![set("log.retention.ms", "5000")]
        )
        .error
        .is_ok()
    );

    // This node (1) describes every broker config for itself; another broker (2) shows what
    // the log holds for it.
    let reply = node.controller.describe_configs(&DescribeConfigsRequest {
        resources: vec![
            (ConfigResource::broker("1"), None),
            (ConfigResource::broker("2"), None),
        ],
        include_defaults: true,
    });
    let mine = &reply.resources[0].configs;
    assert!(mine.len() > 250, "Kafka's whole list: {}", mine.len());
    let entry = |name: &str| {
        let c = mine
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("{name} listed"));
        (c.value.as_deref(), c.source, c.read_only, c.is_sensitive)
    };
    assert_eq!(
        entry("log.retention.hours"),
        (Some("48"), ConfigSource::StaticBrokerConfig, true, false)
    );
    assert_eq!(
        entry("num.network.threads"),
        (Some("3"), ConfigSource::StaticBrokerConfig, false, false)
    );
    assert_eq!(
        entry("log.cleaner.threads"),
        (Some("2"), ConfigSource::DynamicBrokerConfig, false, false)
    );
    assert_eq!(
        entry("log.retention.ms"),
        (
            Some("5000"),
            ConfigSource::DynamicDefaultBrokerConfig,
            false,
            false
        )
    );
    assert_eq!(
        entry("auto.create.topics.enable"),
        (Some("true"), ConfigSource::DefaultConfig, true, false)
    );
    assert_eq!(
        entry("ssl.key.password"),
        (None, ConfigSource::DefaultConfig, false, true)
    );
    let theirs: Vec<&str> = reply.resources[1]
        .configs
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(theirs, ["log.retention.ms"]);
}

// ---- Pending state, leadership changes ----

#[test]
fn requests_see_uncommitted_records_and_replies_wait_for_them() {
    let (mut node, _) = three_brokers();
    node.auto_commit = false;
    let first = node.call(|c, _, next| {
        c.create_topics(
            next,
            &CreateTopicsRequest {
                topics: vec![topic("x", 1, 1)],
                validate_only: false,
            },
            &mut || Uuid::from_bytes([1; 16]),
        )
    });
    assert!(node.committed_image().topic_by_name("x").is_none());
    assert!(node.latest().topic_by_name("x").is_some());
    let second = node.call(|c, _, next| {
        c.create_topics(
            next,
            &CreateTopicsRequest {
                topics: vec![topic("x", 1, 1)],
                validate_only: false,
            },
            &mut || Uuid::from_bytes([2; 16]),
        )
    });
    harness::assert_code(&second.reply.topics[0].error, ErrorCode::TopicAlreadyExists);
    assert!(second.records.is_empty());
    // The refusal is released with the record it depends on, not before.
    assert_eq!(second.release_at, first.release_at);
    assert_eq!(node.controller.pending_offsets().count(), 2);
    node.commit();
    assert_eq!(node.controller.pending_offsets().count(), 0);
    assert!(node.committed_image().topic_by_name("x").is_some());
    // Describe needs no write and waits for nothing.
    let describe = node.controller.describe_configs(&DescribeConfigsRequest {
        resources: vec![(ConfigResource::topic("x"), None)],
        include_defaults: false,
    });
    assert!(describe.resources[0].error.is_ok());
}

#[test]
fn an_abandoned_proposal_disappears_from_the_latest_image() {
    let (mut node, _) = three_brokers();
    node.auto_commit = false;
    let committed_before = node.committed;
    let outcome = node.call(|c, _, next| {
        c.create_topics(
            next,
            &CreateTopicsRequest {
                topics: vec![topic("lost", 2, 2)],
                validate_only: false,
            },
            &mut || Uuid::from_bytes([1; 16]),
        )
    });
    assert!(node.latest().topic_by_name("lost").is_some());
    // Raft refused it: drop it from the log and tell the controller.
    node.log.truncate(committed_before as usize);
    node.controller.abandon(committed_before);
    assert!(outcome.release_at.is_some());
    assert!(node.latest().topic_by_name("lost").is_none());
    assert_eq!(node.controller.pending_offsets().count(), 0);
    node.auto_commit = true;
    node.create_topic("lost", 2, 2);
    node.check_images();
}

#[test]
fn a_new_active_controller_gives_every_broker_a_fresh_session() {
    let (mut node, epochs) = three_brokers();
    node.create_topic("t", 3, 3);
    node.controller.deactivate();
    assert!(!node.controller.is_active());
    assert_eq!(node.controller.tick(100_000, node.next_offset()), None);
    // Much later, another term: nobody is fenced at once, only after a full session.
    node.now = 1_000_000;
    node.controller.activate(node.now);
    assert_eq!(node.tick(), 0);
    node.now += TIMEOUT;
    node.heartbeat(&heartbeat(1, epochs[0], node.committed as i64));
    node.heartbeat(&heartbeat(2, epochs[1], node.committed as i64));
    node.now += 1;
    assert_eq!(node.tick(), 1);
    assert!(node.committed_image().broker(3).unwrap().fenced);
    node.check_images();
}

#[test]
fn every_outcome_is_at_most_one_bounded_batch() {
    // The harness asserts the limits on every proposal; here a busy mixed history.
    let mut node = Node::new();
    for id in 1..=5 {
        node.bring_up(id, Some(["a", "b"][id as usize % 2]));
    }
    for t in 0..20 {
        node.create_topic(&format!("t{t}"), 50, 3);
    }
    node.now += TIMEOUT + 1;
    node.heartbeat(&heartbeat(
        1,
        node.latest().broker(1).unwrap().epoch,
        node.committed as i64,
    ));
    node.tick();
    assert!(
        node.batches
            .iter()
            .all(|&n| n <= BATCH_RECORDS_MAX as usize)
    );
    assert!(node.latest().brokers().filter(|b| b.fenced).count() == 4);
    node.check_images();
}

#[test]
fn a_follower_replays_the_log_and_takes_over_with_the_same_view() {
    let (mut node, epochs) = three_brokers();
    node.create_topic("t", 4, 3);
    // A follower replays every committed record; a control record (the next leader's
    // LeaderChange) only advances it.
    let mut follower =
        Controller::new(ControllerConfig::new(CLUSTER), keel::metadata::Image::new());
    for (offset, bytes) in node.log.iter().enumerate() {
        follower
            .replay(offset as u64, &MetadataRecord::decode(bytes).unwrap())
            .unwrap();
    }
    let leader_change = node.next_offset();
    follower.advance(leader_change);
    assert_eq!(follower.committed().offset(), Some(leader_change));
    assert!(!follower.is_active());
    // A third node installs a snapshot of the follower's image instead.
    let records: Vec<Vec<u8>> =
        keel::metadata::snapshot::encoded_records(follower.committed()).collect();
    let image =
        keel::metadata::snapshot::load_image(records.iter().map(Vec::as_slice), leader_change + 1)
            .unwrap();
    let mut third = Controller::new(ControllerConfig::new(CLUSTER), keel::metadata::Image::new());
    third.load_snapshot(image);
    assert_eq!(third.committed(), follower.committed());
    // The follower becomes the leader: it sees what the old one committed.
    follower.activate(node.now);
    let outcome = follower.create_topics(
        leader_change + 1,
        &CreateTopicsRequest {
            topics: vec![topic("t", 1, 1)],
            validate_only: false,
        },
        &mut || Uuid::from_bytes([7; 16]),
    );
    assert_code(
        &outcome.reply.topics[0].error,
        ErrorCode::TopicAlreadyExists,
    );
    assert_eq!(
        outcome.release_at, None,
        "nothing pending: answered at once"
    );
    let outcome = follower.broker_heartbeat(
        node.now,
        leader_change + 1,
        &heartbeat(1, epochs[0], leader_change as i64),
    );
    assert!(outcome.reply.error.is_ok() && !outcome.reply.is_fenced);
}

#[test]
fn oversized_registrations_and_replication_factors_are_refused_not_written() {
    let mut node = Node::new();
    let mut huge = registration(1, None);
    huge.listeners = (0..80_000)
        .map(|i| Listener {
            port: i as u16,
            ..listener(1)
        })
        .collect();
    assert_code(&node.register(&huge).error, ErrorCode::InvalidRequest);
    assert!(node.log.is_empty());
    for id in 0..300 {
        node.register(&registration(id, None));
    }
    for id in 0..300 {
        let epoch = node.latest().broker(id).unwrap().epoch;
        node.heartbeat(&heartbeat(id, epoch, node.committed as i64));
    }
    let result = &node
        .create_topics(&CreateTopicsRequest {
            topics: vec![topic("wide", 1, 256)],
            validate_only: false,
        })
        .topics[0];
    assert_code(&result.error, ErrorCode::InvalidReplicationFactor);
    assert!(
        node.create_topics(&CreateTopicsRequest {
            topics: vec![topic("wide", 1, 255)],
            validate_only: false,
        })
        .topics[0]
            .error
            .is_ok()
    );
    node.check_images();
}
