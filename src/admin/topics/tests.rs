//! Tests of `keel topics`' pure parts: the request of every command at every version it can be
//! sent at, the outcome per topic read from answers (and answers that do not match the
//! request, refused), and the text and JSON output of every outcome, failures included.

use super::*;
use crate::exit::ExitStatus;
use crate::protocol::Message;
use crate::protocol::messages::{
    create_partitions_response, create_topics_response, delete_topics_response,
    describe_configs_response, metadata_response,
};

fn topic(name: &str) -> NewTopic {
    NewTopic {
        name: name.into(),
        partitions: 3,
        replication_factor: 2,
        assignment: Vec::new(),
        configs: vec![("retention.ms".into(), "1000".into())],
    }
}

fn usage_message(result: Result<impl std::fmt::Debug, AdminError>) -> String {
    let error = result.unwrap_err();
    assert_eq!(error.exit_status(), ExitStatus::Usage, "{error}");
    error.to_string()
}

// ---- create ----

#[test]
fn create_options_default_to_the_servers_defaults() {
    let options = CreateOptions {
        topic: "orders".into(),
        configs: vec!["cleanup.policy=compact".into()],
        ..Default::default()
    };
    assert_eq!(
        options.new_topic().unwrap(),
        NewTopic {
            name: "orders".into(),
            partitions: -1,
            replication_factor: -1,
            assignment: Vec::new(),
            configs: vec![("cleanup.policy".into(), "compact".into())],
        }
    );
}

#[test]
fn create_options_refuse_an_assignment_with_counts() {
    let options = CreateOptions {
        topic: "orders".into(),
        partitions: Some(2),
        replica_assignment: Some("1:2,2:1".into()),
        ..Default::default()
    };
    assert!(usage_message(options.new_topic()).contains("cannot be combined"));
    let assigned = CreateOptions {
        topic: "orders".into(),
        replica_assignment: Some("1:2,2:1".into()),
        ..Default::default()
    }
    .new_topic()
    .unwrap();
    assert_eq!(assigned.assignment, vec![vec![1, 2], vec![2, 1]]);
    assert_eq!((assigned.partitions, assigned.replication_factor), (-1, -1));
    let empty = CreateOptions::default();
    assert_eq!(usage_message(empty.new_topic()), "--topic: name 1 is empty");
}

#[test]
fn create_requests_encode_at_every_version() {
    let mut assigned = topic("audit");
    assigned.partitions = -1;
    assigned.replication_factor = -1;
    assigned.assignment = vec![vec![1, 2], vec![2, 3]];
    for version in ApiKey::CreateTopics.versions() {
        let request =
            create_topics_request(&[topic("orders"), assigned.clone()], version, 5_000, true)
                .unwrap();
        assert_eq!(request.timeout_ms, 5_000);
        assert!(request.validate_only);
        assert_eq!(request.topics[0].num_partitions, 3);
        assert_eq!(request.topics[0].replication_factor, 2);
        assert_eq!(request.topics[0].configs[0].name, "retention.ms");
        assert_eq!(request.topics[0].configs[0].value.as_deref(), Some("1000"));
        let assignments = &request.topics[1].assignments;
        assert_eq!(assignments[1].partition_index, 1);
        assert_eq!(assignments[1].broker_ids, vec![2, 3]);
        let bytes = request.to_bytes(version).unwrap();
        assert_eq!(
            CreateTopicsRequest::from_bytes(&bytes, version).unwrap(),
            request
        );
    }
}

#[test]
fn server_defaults_need_create_topics_v4() {
    let mut defaults = topic("orders");
    defaults.replication_factor = -1;
    assert!(create_topics_request(std::slice::from_ref(&defaults), 4, 1, false).is_ok());
    assert_eq!(
        usage_message(create_topics_request(&[defaults], 3, 1, false)),
        "the server speaks CreateTopics up to v3, which has no server-side defaults: give \
         both --partitions and --replication-factor"
    );
}

fn created(
    name: &str,
    error_code: i16,
    message: Option<&str>,
) -> create_topics_response::CreatableTopicResult {
    create_topics_response::CreatableTopicResult {
        name: name.into(),
        error_code,
        error_message: message.map(str::to_owned),
        ..Default::default()
    }
}

#[test]
fn create_outcomes_follow_the_request_order() {
    let mut orders = created("orders", 0, None);
    orders.topic_id = Uuid::from_bytes([7; 16]);
    orders.num_partitions = 3;
    orders.replication_factor = 2;
    let response = CreateTopicsResponse {
        topics: vec![
            created("audit", 36, Some("Topic 'audit' already exists.")),
            orders,
        ],
        ..Default::default()
    };
    let outcomes = create_outcomes(&[topic("orders"), topic("audit")], &response, "h:1").unwrap();
    assert_eq!(outcomes[0].error, None);
    assert_eq!(outcomes[0].partitions, 3);
    assert_eq!(
        outcomes[1].error,
        Some(KafkaError::new(36, Some("Topic 'audit' already exists.")))
    );
}

#[test]
fn create_answers_that_do_not_match_the_request_are_refused() {
    let response = CreateTopicsResponse {
        topics: vec![created("other", 0, None)],
        ..Default::default()
    };
    let error = create_outcomes(&[topic("orders")], &response, "h:1").unwrap_err();
    assert_eq!(error.exit_status(), ExitStatus::Incompatible);
    assert_eq!(
        error.to_string(),
        "h:1 gave an answer keel cannot use: it answers for \"other\", which was not asked about"
    );
    let empty = CreateTopicsResponse::default();
    assert!(
        create_outcomes(&[topic("orders")], &empty, "h:1")
            .unwrap_err()
            .to_string()
            .contains("does not answer for \"orders\"")
    );
}

fn outcome(error: Option<KafkaError>) -> CreateOutcome {
    CreateOutcome {
        error,
        topic_id: Uuid::ZERO,
        partitions: -1,
        replication_factor: -1,
    }
}

#[test]
fn create_output_says_what_happened_to_each_topic() {
    let full = CreateOutcome {
        error: None,
        topic_id: Uuid::from_bytes([65; 16]),
        partitions: 3,
        replication_factor: 2,
    };
    let output = create_output(&[(topic("orders"), full)], false, false);
    assert_eq!(
        output.text,
        "Created topic orders (id QUFBQUFBQUFBQUFBQUFBQQ, 3 partitions, replication factor 2).\n"
    );
    assert!(output.errors.is_empty());
    assert_eq!(
        output.json.render(),
        r#"{"validate_only":false,"topics":[{"name":"orders","status":"created","topic_id":"QUFBQUFBQUFBQUFBQUFBQQ","partitions":3,"replication_factor":2,"error":null}]}"#
    );
    // An old CreateTopics version says nothing but the outcome.
    let output = create_output(&[(topic("orders"), outcome(None))], false, false);
    assert_eq!(output.text, "Created topic orders.\n");
    let output = create_output(&[(topic("orders"), outcome(None))], false, true);
    assert_eq!(
        output.text,
        "Topic orders can be created; --validate-only: nothing changed.\n"
    );
    assert!(output.json.render().contains(r#""status":"validated""#));
}

#[test]
fn an_existing_topic_fails_unless_if_not_exists() {
    let exists = || {
        outcome(Some(KafkaError::new(
            36,
            Some("Topic 'orders' already exists."),
        )))
    };
    let output = create_output(&[(topic("orders"), exists())], false, false);
    assert_eq!(output.text, "");
    assert_eq!(
        output.errors,
        vec!["cannot create topic orders: TOPIC_ALREADY_EXISTS: Topic 'orders' already exists."]
    );
    assert_eq!(output.exit_status(), ExitStatus::Failed);
    assert_eq!(
        output.json.render(),
        r#"{"validate_only":false,"topics":[{"name":"orders","status":"failed","topic_id":null,"partitions":null,"replication_factor":null,"error":{"code":36,"name":"TOPIC_ALREADY_EXISTS","message":"Topic 'orders' already exists."}}]}"#
    );
    let output = create_output(&[(topic("orders"), exists())], true, false);
    assert_eq!(
        output.text,
        "Topic orders already exists; nothing done (--if-not-exists).\n"
    );
    assert_eq!(output.exit_status(), ExitStatus::Success);
    assert!(output.json.render().contains(r#""status":"exists""#));
    // --if-not-exists forgives nothing else.
    let invalid = outcome(Some(KafkaError::new(38, Some("Unable to replicate."))));
    let output = create_output(&[(topic("orders"), invalid)], true, false);
    assert_eq!(
        output.errors,
        vec!["cannot create topic orders: INVALID_REPLICATION_FACTOR: Unable to replicate."]
    );
}

// ---- delete ----

#[test]
fn delete_requests_name_topics_the_way_each_version_does() {
    let names = vec!["a".to_string(), "b".to_string()];
    for version in ApiKey::DeleteTopics.versions() {
        let request = delete_topics_request(&names, version, 900);
        if version >= 6 {
            assert!(request.topic_names.is_empty());
            assert_eq!(request.topics[1].name.as_deref(), Some("b"));
            assert_eq!(request.topics[1].topic_id, Uuid::ZERO);
        } else {
            assert_eq!(request.topic_names, names);
            assert!(request.topics.is_empty());
        }
        assert_eq!(request.timeout_ms, 900);
        request.to_bytes(version).unwrap();
    }
}

fn deleted(name: Option<&str>, error_code: i16) -> delete_topics_response::DeletableTopicResult {
    delete_topics_response::DeletableTopicResult {
        name: name.map(str::to_owned),
        error_code,
        ..Default::default()
    }
}

#[test]
fn delete_outcomes_and_output() {
    let names = vec!["a".to_string(), "gone".to_string(), "c".to_string()];
    let response = DeleteTopicsResponse {
        responses: vec![
            deleted(Some("c"), 41),
            deleted(Some("a"), 0),
            deleted(Some("gone"), 3),
        ],
        ..Default::default()
    };
    let outcomes = delete_outcomes(&names, &response, "h:1").unwrap();
    assert_eq!(outcomes[0], None);
    assert!(
        outcomes[1]
            .as_ref()
            .unwrap()
            .is(ErrorCode::UnknownTopicOrPartition)
    );
    assert!(is_not_controller(outcomes[2].as_ref()));
    let pairs: Vec<(String, Option<KafkaError>)> = names.into_iter().zip(outcomes).collect();
    let output = delete_output(&pairs, false);
    assert_eq!(output.text, "Deleted topic a.\n");
    assert_eq!(
        output.errors,
        vec![
            "cannot delete topic gone: UNKNOWN_TOPIC_OR_PARTITION: This server does not host \
             this topic or partition.",
            "cannot delete topic c: NOT_CONTROLLER: This node is not the active controller."
        ]
    );
    let output = delete_output(&pairs[..2], true);
    assert_eq!(
        output.text,
        "Deleted topic a.\nTopic gone does not exist; nothing done (--if-exists).\n"
    );
    assert_eq!(output.exit_status(), ExitStatus::Success);
    assert_eq!(
        output.json.render(),
        r#"{"topics":[{"name":"a","status":"deleted","error":null},{"name":"gone","status":"absent","error":null}]}"#
    );
}

#[test]
fn a_delete_answer_with_a_nameless_topic_is_refused() {
    let response = DeleteTopicsResponse {
        responses: vec![deleted(None, 100)],
        ..Default::default()
    };
    let error = delete_outcomes(&["a".to_string()], &response, "h:1").unwrap_err();
    assert_eq!(error.exit_status(), ExitStatus::Incompatible);
    assert!(error.to_string().contains("answers for \"\""), "{error}");
}

// ---- alter ----

#[test]
fn alter_requests_carry_the_total_and_new_replicas() {
    let options = AlterOptions {
        topic: "orders".into(),
        partitions: 5,
        replica_assignment: Some("1:2,2:3".into()),
        ..Default::default()
    };
    let increase = options.increase().unwrap();
    for version in ApiKey::CreatePartitions.versions() {
        let request = create_partitions_request(std::slice::from_ref(&increase), 700, false);
        assert_eq!(request.topics[0].count, 5);
        let assignments = request.topics[0].assignments.as_ref().unwrap();
        assert_eq!(assignments[1].broker_ids, vec![2, 3]);
        request.to_bytes(version).unwrap();
    }
    let placed_by_controller = AlterOptions {
        topic: "orders".into(),
        partitions: 5,
        ..Default::default()
    }
    .increase()
    .unwrap();
    let request = create_partitions_request(&[placed_by_controller], 700, true);
    assert_eq!(request.topics[0].assignments, None);
    assert!(request.validate_only);
    let bad = AlterOptions {
        topic: "orders".into(),
        partitions: 5,
        replica_assignment: Some("1:1".into()),
        ..Default::default()
    };
    assert!(usage_message(bad.increase()).contains("lists broker 1 twice"));
}

#[test]
fn alter_outcomes_and_output() {
    let increase = AlterOptions {
        topic: "orders".into(),
        partitions: 6,
        ..Default::default()
    }
    .increase()
    .unwrap();
    let answer = |code, message: Option<&str>| CreatePartitionsResponse {
        results: vec![create_partitions_response::CreatePartitionsTopicResult {
            name: "orders".into(),
            error_code: code,
            error_message: message.map(str::to_owned),
            ..Default::default()
        }],
        ..Default::default()
    };
    let increases = std::slice::from_ref(&increase);
    let ok = alter_outcomes(increases, &answer(0, None), "h:1").unwrap();
    let output = alter_output(&[(increase.clone(), ok[0].clone())], false, false);
    assert_eq!(output.text, "Topic orders now has 6 partitions.\n");
    assert_eq!(
        output.json.render(),
        r#"{"validate_only":false,"topics":[{"name":"orders","status":"altered","partitions":6,"error":null}]}"#
    );
    let output = alter_output(&[(increase.clone(), None)], false, true);
    assert_eq!(
        output.text,
        "Topic orders can grow to 6 partitions; --validate-only: nothing changed.\n"
    );
    let refused = alter_outcomes(
        increases,
        &answer(37, Some("Topic already has 6 partition(s).")),
        "h:1",
    )
    .unwrap();
    let output = alter_output(&[(increase.clone(), refused[0].clone())], false, false);
    assert_eq!(
        output.errors,
        vec!["cannot alter topic orders: INVALID_PARTITIONS: Topic already has 6 partition(s)."]
    );
    let unknown = alter_outcomes(increases, &answer(3, None), "h:1").unwrap();
    let output = alter_output(&[(increase, unknown[0].clone())], true, false);
    assert_eq!(
        output.text,
        "Topic orders does not exist; nothing done (--if-exists).\n"
    );
    assert_eq!(output.exit_status(), ExitStatus::Success);
}

// ---- list and describe ----

fn partition(
    index: i32,
    leader: i32,
    error_code: i16,
) -> metadata_response::MetadataResponsePartition {
    metadata_response::MetadataResponsePartition {
        error_code,
        partition_index: index,
        leader_id: leader,
        leader_epoch: 4,
        replica_nodes: vec![1, 2, 3],
        isr_nodes: vec![1, 2],
        offline_replicas: vec![3],
        ..Default::default()
    }
}

fn metadata() -> MetadataResponse {
    MetadataResponse {
        topics: vec![
            metadata_response::MetadataResponseTopic {
                name: Some("orders".into()),
                topic_id: Uuid::from_bytes([65; 16]),
                partitions: vec![partition(1, 2, 0), partition(0, 1, 0)],
                ..Default::default()
            },
            metadata_response::MetadataResponseTopic {
                name: Some("__consumer_offsets".into()),
                is_internal: true,
                partitions: vec![partition(0, -1, 5)],
                ..Default::default()
            },
            metadata_response::MetadataResponseTopic {
                name: Some("missing".into()),
                error_code: 3,
                ..Default::default()
            },
        ],
        ..Default::default()
    }
}

#[test]
fn topics_are_sorted_and_fields_a_version_lacks_are_unknown() {
    let topics = topic_descriptions(&metadata(), 12, None, "h:1").unwrap();
    let names: Vec<&str> = topics.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, vec!["__consumer_offsets", "missing", "orders"]);
    let orders = &topics[2];
    assert_eq!(orders.partitions[0].index, 0, "partitions sorted by index");
    assert_eq!(orders.partitions[0].leader_epoch, Some(4));
    assert_eq!(orders.partitions[0].offline_replicas, Some(vec![3]));
    assert_eq!(orders.replication_factor(), Some(3));
    let old = topic_descriptions(&metadata(), 4, None, "h:1").unwrap();
    assert_eq!(old[2].partitions[0].leader_epoch, None);
    assert_eq!(old[2].partitions[0].offline_replicas, None);
}

#[test]
fn metadata_answers_that_do_not_match_the_question_are_refused() {
    let asked = vec!["orders".to_string(), "nope".to_string()];
    let error = topic_descriptions(&metadata(), 12, Some(&asked), "h:1").unwrap_err();
    assert_eq!(error.exit_status(), ExitStatus::Incompatible);
    let mut nameless = metadata();
    nameless.topics[0].name = None;
    let error = topic_descriptions(&nameless, 12, None, "h:1").unwrap_err();
    assert_eq!(
        error.to_string(),
        "h:1 gave an answer keel cannot use: it lists a topic without a name"
    );
    let mut doubled = metadata();
    doubled.topics[1].name = Some("orders".into());
    let error = topic_descriptions(&doubled, 12, None, "h:1").unwrap_err();
    assert_eq!(
        error.to_string(),
        "h:1 gave an answer keel cannot use: it lists topic \"orders\" twice"
    );
}

#[test]
fn list_prints_names_one_per_line() {
    let topics = topic_descriptions(&metadata(), 12, None, "h:1").unwrap();
    let output = list_output(&topics, false);
    assert_eq!(output.text, "__consumer_offsets\nmissing\norders\n");
    let output = list_output(&topics, true);
    assert_eq!(output.text, "missing\norders\n");
    assert_eq!(
        output.json.render(),
        r#"{"topics":[{"name":"missing","topic_id":null,"internal":false,"partitions":0,"error":{"code":3,"name":"UNKNOWN_TOPIC_OR_PARTITION","message":"This server does not host this topic or partition."}},{"name":"orders","topic_id":"QUFBQUFBQUFBQUFBQUFBQQ","internal":false,"partitions":2,"error":null}]}"#
    );
}

fn config(
    name: &str,
    value: Option<&str>,
    source: i8,
) -> describe_configs_response::DescribeConfigsResourceResult {
    describe_configs_response::DescribeConfigsResourceResult {
        name: name.into(),
        value: value.map(str::to_owned),
        config_source: source,
        ..Default::default()
    }
}

#[test]
fn describe_shows_non_default_configs_and_every_partition() {
    let mut topics = topic_descriptions(&metadata(), 12, None, "h:1").unwrap();
    let asked = ["__consumer_offsets", "orders"];
    let request = describe_topic_configs_request(&asked);
    for version in ApiKey::DescribeConfigs.versions() {
        request.to_bytes(version).unwrap();
    }
    assert_eq!(request.resources[1].resource_type, RESOURCE_TYPE_TOPIC);
    assert_eq!(request.resources[1].configuration_keys, None);
    let response = DescribeConfigsResponse {
        results: vec![
            describe_configs_response::DescribeConfigsResult {
                resource_type: RESOURCE_TYPE_TOPIC,
                resource_name: "orders".into(),
                configs: vec![
                    config("segment.bytes", Some("1073741824"), CONFIG_SOURCE_DEFAULT),
                    config("retention.ms", Some("1000"), 1),
                    config("cleanup.policy", Some("compact"), 1),
                    config("secret", None, 1),
                ],
                ..Default::default()
            },
            describe_configs_response::DescribeConfigsResult {
                error_code: 29,
                resource_type: RESOURCE_TYPE_TOPIC,
                resource_name: "__consumer_offsets".into(),
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    apply_topic_configs(&mut topics, &asked, &response, "h:1").unwrap();
    let output = describe_output(&topics);
    assert_eq!(
        output.text,
        "Topic: __consumer_offsets  TopicId: -  PartitionCount: 1  ReplicationFactor: 3  \
         Configs: (unavailable: TOPIC_AUTHORIZATION_FAILED: Not authorized to access the topic.)\n  \
         PARTITION  LEADER  LEADER-EPOCH  REPLICAS  ISR  OFFLINE  ERROR\n  \
         0          none    4             1,2,3     1,2  3        LEADER_NOT_AVAILABLE\n\
         \n\
         Topic: orders  TopicId: QUFBQUFBQUFBQUFBQUFBQQ  PartitionCount: 2  ReplicationFactor: 3  \
         Configs: cleanup.policy=compact,retention.ms=1000,secret=(sensitive)\n  \
         PARTITION  LEADER  LEADER-EPOCH  REPLICAS  ISR  OFFLINE\n  \
         0          1       4             1,2,3     1,2  3\n  \
         1          2       4             1,2,3     1,2  3\n"
    );
    assert_eq!(
        output.errors,
        vec![
            "configs of topic __consumer_offsets: TOPIC_AUTHORIZATION_FAILED: Not authorized to \
             access the topic.",
            "topic missing: UNKNOWN_TOPIC_OR_PARTITION: This server does not host this topic or \
             partition."
        ]
    );
    assert_eq!(output.exit_status(), ExitStatus::Failed);
    let json = output.json.render();
    assert!(
        json.contains(
            r#"{"name":"orders","topic_id":"QUFBQUFBQUFBQUFBQUFBQQ","internal":false,"partition_count":2,"replication_factor":3,"configs":{"cleanup.policy":"compact","retention.ms":"1000","secret":null},"configs_error":null,"error":null,"partitions":[{"partition":0,"leader":1,"leader_epoch":4,"replicas":[1,2,3],"isr":[1,2],"offline_replicas":[3],"error":null},"#
        ),
        "{json}"
    );
    assert!(
        json.contains(r#""partitions":[{"partition":0,"leader":null,"leader_epoch":4,"replicas":[1,2,3],"isr":[1,2],"offline_replicas":[3],"error":{"code":5,"#),
        "{json}"
    );
    assert!(
        json.contains(r#"{"name":"missing","topic_id":null,"internal":false,"partition_count":0,"replication_factor":null,"configs":null,"configs_error":null,"error":{"code":3,"#),
        "{json}"
    );
}

#[test]
fn describe_without_configs_or_new_metadata_fields_says_so() {
    let topics = topic_descriptions(&metadata(), 4, None, "h:1").unwrap();
    let output = describe_output(&topics[2..]);
    assert_eq!(
        output.text,
        "Topic: orders  TopicId: QUFBQUFBQUFBQUFBQUFBQQ  PartitionCount: 2  ReplicationFactor: 3  \
         Configs: (unavailable)\n  \
         PARTITION  LEADER  LEADER-EPOCH  REPLICAS  ISR  OFFLINE\n  \
         0          1       -             1,2,3     1,2  -\n  \
         1          2       -             1,2,3     1,2  -\n"
    );
    assert!(output.errors.is_empty());
    assert!(output.json.render().contains(r#""leader_epoch":null"#));
}

#[test]
fn a_describe_configs_answer_about_other_topics_is_refused() {
    let mut topics = topic_descriptions(&metadata(), 12, None, "h:1").unwrap();
    let response = DescribeConfigsResponse {
        results: vec![describe_configs_response::DescribeConfigsResult {
            resource_type: RESOURCE_TYPE_TOPIC,
            resource_name: "elsewhere".into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let error = apply_topic_configs(&mut topics, &["orders"], &response, "h:1").unwrap_err();
    assert_eq!(error.exit_status(), ExitStatus::Incompatible);
}

#[test]
fn names_with_control_characters_are_escaped_in_text_but_not_in_json() {
    let output = delete_output(&[("bad\u{1b}[2J".into(), None)], false);
    assert_eq!(output.text, "Deleted topic bad\\u{1b}[2J.\n");
    assert!(output.json.render().contains(r#""name":"bad\u001b[2J""#));
}
