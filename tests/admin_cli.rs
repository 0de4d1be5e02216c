//! The real `keel` binary's admin commands (`topics`, `configs`, `cluster`, `quorum describe
//! --bootstrap-server`) against a scripted fake Kafka cluster (`common::fake_broker`): routing
//! (bootstrap, controller, NOT_CONTROLLER retries), version negotiation, output (text and
//! JSON), Kafka errors by name, exit statuses, and answers that are late, malformed or huge.
//!
//! Every command runs with a `--timeout-ms` of a few seconds and under `run_keel`'s bound; the
//! fake's threads stop when it is dropped.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::fake_broker::{
    Answer, CLUSTER_ID, FakeCluster, api_versions, default_api_versions, metadata, requested_topics,
};
use common::run_keel;
use keel::protocol::messages::{
    ApiVersionsResponse, CreatePartitionsResponse, CreateTopicsResponse, DeleteTopicsResponse,
    DescribeClusterResponse, DescribeConfigsResponse, DescribeQuorumResponse,
    IncrementalAlterConfigsResponse, RequestBody, ResponseBody, api_versions_response,
    create_partitions_response, create_topics_response, delete_topics_response,
    describe_cluster_response, describe_configs_response, describe_quorum_response,
    incremental_alter_configs_response, metadata_response,
};
use keel::protocol::{ApiKey, ErrorCode, Uuid, encode_response};

/// Bound of one `keel` run (the commands themselves get a few seconds of `--timeout-ms`).
const RUN_TIMEOUT: Duration = Duration::from_secs(30);

struct Run {
    stdout: String,
    stderr: String,
    code: i32,
}

fn keel(args: &[&str]) -> Run {
    let output = run_keel(args, RUN_TIMEOUT);
    Run {
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        code: output
            .status
            .code()
            .expect("keel exited, not killed by a signal"),
    }
}

/// `keel <args> --bootstrap-server <fake broker 1> --timeout-ms 5000`.
fn keel_at(fake: &FakeCluster, args: &[&str]) -> Run {
    let address = fake.address(1);
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--bootstrap-server", &address, "--timeout-ms", "5000"]);
    keel(&all)
}

fn created(name: &str, error_code: i16, message: Option<&str>) -> ResponseBody {
    ResponseBody::CreateTopics(CreateTopicsResponse {
        topics: vec![create_topics_response::CreatableTopicResult {
            name: name.into(),
            error_code,
            error_message: message.map(str::to_owned),
            ..Default::default()
        }],
        ..Default::default()
    })
}

fn topic_names(request: &RequestBody) -> Vec<String> {
    match request {
        RequestBody::CreateTopics(r) => r.topics.iter().map(|t| t.name.clone()).collect(),
        RequestBody::DeleteTopics(r) if !r.topics.is_empty() => {
            r.topics.iter().filter_map(|t| t.name.clone()).collect()
        }
        RequestBody::DeleteTopics(r) => r.topic_names.clone(),
        _ => Vec::new(),
    }
}

// ---- topics create ----

#[test]
fn create_sends_the_topic_to_the_controller_at_the_negotiated_version() {
    // Two brokers; Metadata names broker 2 as controller; broker 2 offers CreateTopics 2..5.
    let fake = FakeCluster::start(2, |ctx, request| match &request.body {
        RequestBody::ApiVersions(_) if ctx.node == 2 => {
            let mut apis = default_api_versions();
            for api in &mut apis {
                if api.0 == ApiKey::CreateTopics {
                    api.2 = 5;
                }
            }
            Answer::Body(api_versions(&apis))
        }
        RequestBody::Metadata(_) => Answer::Body(metadata(ctx, 2, Vec::new())),
        RequestBody::CreateTopics(r) => {
            let mut body = CreateTopicsResponse::default();
            for topic in &r.topics {
                body.topics
                    .push(create_topics_response::CreatableTopicResult {
                        name: topic.name.clone(),
                        num_partitions: topic.num_partitions,
                        replication_factor: topic.replication_factor,
                        configs: Some(Vec::new()),
                        ..Default::default()
                    });
            }
            Answer::Body(ResponseBody::CreateTopics(body))
        }
        _ => Answer::Default,
    });
    let run = keel_at(
        &fake,
        &[
            "topics",
            "create",
            "--topic",
            "orders",
            "--partitions",
            "3",
            "--replication-factor",
            "2",
            "--config",
            "retention.ms=1000",
            "--config",
            "cleanup.policy=compact,delete",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "Created topic orders (3 partitions, replication factor 2).\n"
    );
    assert_eq!(run.stderr, "");
    let sent = fake.seen_api(ApiKey::CreateTopics);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].node, 2, "sent to the controller");
    assert_eq!(sent[0].version, 5, "min(keel's 7, the broker's 5)");
    assert_eq!(sent[0].client_id.as_deref(), Some("keel-admin"));
    let RequestBody::CreateTopics(request) = &sent[0].body else {
        unreachable!()
    };
    let topic = &request.topics[0];
    assert_eq!(
        (
            topic.name.as_str(),
            topic.num_partitions,
            topic.replication_factor
        ),
        ("orders", 3, 2)
    );
    let configs: Vec<(&str, Option<&str>)> = topic
        .configs
        .iter()
        .map(|c| (c.name.as_str(), c.value.as_deref()))
        .collect();
    assert_eq!(
        configs,
        vec![
            ("retention.ms", Some("1000")),
            ("cleanup.policy", Some("compact,delete"))
        ]
    );
    assert!(!request.validate_only);
    assert!(
        request.timeout_ms > 0 && request.timeout_ms <= 5_000,
        "the time left: {}",
        request.timeout_ms
    );
    // Bootstrap: ApiVersions then Metadata on broker 1, ApiVersions on broker 2.
    let first: Vec<(i32, ApiKey)> = fake
        .seen()
        .iter()
        .take(3)
        .map(|s| (s.node, s.api_key))
        .collect();
    assert_eq!(
        first,
        vec![
            (1, ApiKey::ApiVersions),
            (1, ApiKey::Metadata),
            (2, ApiKey::ApiVersions)
        ]
    );
    assert!(fake.problems().is_empty(), "{:?}", fake.problems());
}

#[test]
fn not_controller_once_then_the_new_controller_creates_the_topic() {
    let metadata_answers = Arc::new(AtomicU32::new(0));
    let answers = Arc::clone(&metadata_answers);
    let fake = FakeCluster::start(2, move |ctx, request| match &request.body {
        // The first Metadata names broker 1, every later one broker 2.
        RequestBody::Metadata(_) => {
            let n = answers.fetch_add(1, Ordering::SeqCst);
            Answer::Body(metadata(ctx, if n == 0 { 1 } else { 2 }, Vec::new()))
        }
        RequestBody::CreateTopics(_) if ctx.node == 1 => {
            Answer::Body(created("orders", ErrorCode::NotController.code(), None))
        }
        RequestBody::CreateTopics(_) => Answer::Body(created("orders", 0, None)),
        _ => Answer::Default,
    });
    let run = keel_at(
        &fake,
        &["topics", "create", "--topic", "orders", "--partitions", "1"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "Created topic orders.\n");
    let nodes: Vec<i32> = fake
        .seen_api(ApiKey::CreateTopics)
        .iter()
        .map(|s| s.node)
        .collect();
    assert_eq!(nodes, vec![1, 2]);
    assert_eq!(
        metadata_answers.load(Ordering::SeqCst),
        2,
        "a fresh Metadata"
    );
}

#[test]
fn not_controller_forever_gives_up_after_the_retry_bound() {
    let fake = FakeCluster::start(1, |_, request| match &request.body {
        RequestBody::CreateTopics(_) => {
            Answer::Body(created("orders", ErrorCode::NotController.code(), Some("")))
        }
        _ => Answer::Default,
    });
    let started = Instant::now();
    let run = keel_at(&fake, &["topics", "create", "--topic", "orders"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        "keel: cannot create topic orders: NOT_CONTROLLER: This node is not the active \
         controller.\n"
    );
    assert_eq!(
        fake.seen_api(ApiKey::CreateTopics).len(),
        1 + keel::constants::ADMIN_NOT_CONTROLLER_RETRIES_MAX as usize
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn an_existing_topic_is_an_error_by_name_unless_if_not_exists() {
    let fake = FakeCluster::start(1, |_, request| match &request.body {
        RequestBody::CreateTopics(_) => Answer::Body(created(
            "orders",
            ErrorCode::TopicAlreadyExists.code(),
            Some("Topic 'orders' already exists."),
        )),
        _ => Answer::Default,
    });
    let run = keel_at(&fake, &["topics", "create", "--topic", "orders"]);
    assert_eq!(run.code, 1);
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        "keel: cannot create topic orders: TOPIC_ALREADY_EXISTS: Topic 'orders' already exists.\n"
    );
    let run = keel_at(&fake, &["topics", "create", "--topic", "orders", "--json"]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stdout,
        "{\"validate_only\":false,\"topics\":[{\"name\":\"orders\",\"status\":\"failed\",\
         \"topic_id\":null,\"partitions\":null,\"replication_factor\":null,\"error\":{\"code\":36,\
         \"name\":\"TOPIC_ALREADY_EXISTS\",\"message\":\"Topic 'orders' already exists.\"}}]}\n"
    );
    let run = keel_at(
        &fake,
        &["topics", "create", "--topic", "orders", "--if-not-exists"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "Topic orders already exists; nothing done (--if-not-exists).\n"
    );
}

#[test]
fn create_with_an_assignment_and_validate_only() {
    let fake = FakeCluster::start(1, |_, request| match &request.body {
        RequestBody::CreateTopics(_) => Answer::Body(created("audit", 0, None)),
        _ => Answer::Default,
    });
    let run = keel_at(
        &fake,
        &[
            "topics",
            "create",
            "--topic",
            "audit",
            "--replica-assignment",
            "1:2,2:1",
            "--validate-only",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "Topic audit can be created; --validate-only: nothing changed.\n"
    );
    let sent = fake.seen_api(ApiKey::CreateTopics);
    let RequestBody::CreateTopics(request) = &sent[0].body else {
        unreachable!()
    };
    assert!(request.validate_only);
    let topic = &request.topics[0];
    assert_eq!((topic.num_partitions, topic.replication_factor), (-1, -1));
    let assignment: Vec<(i32, Vec<i32>)> = topic
        .assignments
        .iter()
        .map(|a| (a.partition_index, a.broker_ids.clone()))
        .collect();
    assert_eq!(assignment, vec![(0, vec![1, 2]), (1, vec![2, 1])]);
}

#[test]
fn server_defaults_on_an_old_create_topics_version_are_a_usage_error() {
    let fake = FakeCluster::start(1, |_, request| match &request.body {
        RequestBody::ApiVersions(_) => {
            let mut apis = default_api_versions();
            for api in &mut apis {
                if api.0 == ApiKey::CreateTopics {
                    api.2 = 3;
                }
            }
            Answer::Body(api_versions(&apis))
        }
        _ => Answer::Default,
    });
    let run = keel_at(&fake, &["topics", "create", "--topic", "orders"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("CreateTopics up to v3") && run.stderr.contains("--partitions"),
        "{}",
        run.stderr
    );
    assert!(fake.seen_api(ApiKey::CreateTopics).is_empty());
}

// ---- usage and network ----

#[test]
fn bad_arguments_exit_2_before_any_connection() {
    let fake = FakeCluster::start(1, |_, _| Answer::Default);
    for (args, expected) in [
        (
            vec![
                "topics",
                "create",
                "--topic",
                "t",
                "--replica-assignment",
                "1:1",
            ],
            "partition 0 lists broker 1 twice",
        ),
        (
            vec!["topics", "create", "--topic", "t", "--config", "nokey"],
            "\"nokey\" is not key=value",
        ),
        (
            vec![
                "configs",
                "describe",
                "--entity-type",
                "brokers",
                "--entity-name",
                "b1",
            ],
            "not a broker id",
        ),
        (
            vec![
                "configs",
                "set",
                "--entity-type",
                "topics",
                "--entity-name",
                "t",
                "--add-config",
                "a=[1",
            ],
            "unmatched '['",
        ),
        (
            vec!["topics", "delete", "--topic", "a", "--topic", "a"],
            "a is given twice",
        ),
    ] {
        let run = keel_at(&fake, &args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(expected), "{args:?}: {}", run.stderr);
    }
    assert!(fake.seen().is_empty(), "nothing was sent");
    // clap's own usage errors exit 2 too.
    let run = keel(&[
        "topics",
        "create",
        "--bootstrap-server",
        "127.0.0.1:1",
        "--topic",
        "t",
        "--partitions",
        "0",
    ]);
    assert_eq!(run.code, 2);
    let run = keel(&["topics", "list", "--bootstrap-server", "nohostport"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("is not host:port"), "{}", run.stderr);
}

#[test]
fn a_broker_that_cannot_be_reached_is_named_and_exits_4() {
    let port = common::free_ports(1)[0];
    let address = format!("127.0.0.1:{port}");
    let run = keel(&[
        "topics",
        "list",
        "--bootstrap-server",
        &address,
        "--timeout-ms",
        "3000",
    ]);
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(
        run.stderr
            .starts_with(&format!("keel: cannot connect to {address}: ")),
        "{}",
        run.stderr
    );
    let run = keel(&[
        "topics",
        "list",
        "--bootstrap-server",
        &address,
        "--timeout-ms",
        "3000",
        "--json",
    ]);
    assert_eq!(run.code, 4);
    assert!(
        run.stdout
            .starts_with("{\"error\":{\"message\":\"cannot connect to ")
            && run.stdout.ends_with(",\"exit_code\":4}}\n"),
        "{}",
        run.stdout
    );
    // Several bootstrap servers: the first reachable one is used.
    let fake = FakeCluster::start(1, |_, _| Answer::Default);
    let servers = format!("{address},{}", fake.address(1));
    let run = keel(&[
        "topics",
        "list",
        "--bootstrap-server",
        &servers,
        "--timeout-ms",
        "3000",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn a_silent_broker_times_out_within_timeout_ms() {
    let fake = FakeCluster::start(1, |_, request| match &request.body {
        RequestBody::Metadata(_) => Answer::Silent,
        _ => Answer::Default,
    });
    let started = Instant::now();
    let run = keel(&[
        "topics",
        "list",
        "--bootstrap-server",
        &fake.address(1),
        "--timeout-ms",
        "700",
    ]);
    let elapsed = started.elapsed();
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        format!(
            "keel: timed out after 700 ms waiting for an answer from {} (--timeout-ms)\n",
            fake.address(1)
        )
    );
    assert!(elapsed >= Duration::from_millis(600), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

#[test]
fn a_controller_that_stays_unknown_times_out() {
    let fake = FakeCluster::start(1, |ctx, request| match &request.body {
        RequestBody::Metadata(_) => Answer::Body(metadata(ctx, -1, Vec::new())),
        _ => Answer::Default,
    });
    let run = keel(&[
        "topics",
        "delete",
        "--topic",
        "orders",
        "--bootstrap-server",
        &fake.address(1),
        "--timeout-ms",
        "1500",
    ]);
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("waiting for a controller (Metadata names none yet)"),
        "{}",
        run.stderr
    );
    assert!(
        fake.seen_api(ApiKey::Metadata).len() >= 3,
        "asked again with a backoff"
    );
    assert!(fake.seen_api(ApiKey::DeleteTopics).is_empty());
}

#[test]
fn a_controller_that_appears_late_gets_the_request() {
    let metadata_answers = Arc::new(AtomicU32::new(0));
    let answers = Arc::clone(&metadata_answers);
    let fake = FakeCluster::start(1, move |ctx, request| match &request.body {
        RequestBody::Metadata(_) => {
            let n = answers.fetch_add(1, Ordering::SeqCst);
            Answer::Body(metadata(ctx, if n < 2 { -1 } else { 1 }, Vec::new()))
        }
        RequestBody::DeleteTopics(_) => {
            Answer::Body(ResponseBody::DeleteTopics(DeleteTopicsResponse {
                responses: vec![delete_topics_response::DeletableTopicResult {
                    name: Some("orders".into()),
                    ..Default::default()
                }],
                ..Default::default()
            }))
        }
        _ => Answer::Default,
    });
    let run = keel_at(&fake, &["topics", "delete", "--topic", "orders"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "Deleted topic orders.\n");
    assert_eq!(metadata_answers.load(Ordering::SeqCst), 3);
}

// ---- answers keel cannot use ----

#[test]
fn malformed_and_huge_answers_are_clear_errors_exit_6() {
    let mut huge_prefix = i32::MAX.to_be_bytes().to_vec();
    huge_prefix.extend([0, 0, 0, 1]);
    for (raw, expected) in [
        // A frame of 6 bytes: the correlation id and two bytes of a Metadata body.
        (
            vec![0, 0, 0, 6, 0, 0, 0, 1, 0, 0],
            "sent a response keel cannot read",
        ),
        (
            huge_prefix,
            "it announces a response of 2147483647 bytes, more than the 100000000 keel accepts",
        ),
        (
            vec![0xff, 0xff, 0xff, 0xfe],
            "it announces a response of negative size -2",
        ),
        (
            vec![0, 0, 0, 4, 0, 0, 0x30, 0x39],
            "answered request 12345, expected 1",
        ),
    ] {
        let answer = raw.clone();
        let fake = FakeCluster::start(1, move |_, request| match &request.body {
            RequestBody::Metadata(_) => Answer::Raw(answer.clone()),
            _ => Answer::Default,
        });
        let run = keel_at(&fake, &["topics", "list"]);
        assert_eq!(run.code, 6, "{raw:?}: {}", run.stderr);
        assert!(
            run.stderr.contains(&fake.address(1)) && run.stderr.contains(expected),
            "{raw:?}: {}",
            run.stderr
        );
    }
}

#[test]
fn an_answer_about_other_topics_is_refused() {
    let fake = FakeCluster::start(1, |_, request| match &request.body {
        RequestBody::CreateTopics(_) => Answer::Body(created("someone-else", 0, None)),
        _ => Answer::Default,
    });
    let run = keel_at(&fake, &["topics", "create", "--topic", "orders"]);
    assert_eq!(run.code, 6, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("it answers for \"someone-else\", which was not asked about"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_controller_address_that_cannot_be_an_address_is_refused() {
    let fake = FakeCluster::start(1, |ctx, request| match &request.body {
        RequestBody::Metadata(_) => {
            let ResponseBody::Metadata(mut body) = metadata(ctx, 1, Vec::new()) else {
                unreachable!()
            };
            body.brokers[0].port = -5;
            Answer::Body(ResponseBody::Metadata(body))
        }
        _ => Answer::Default,
    });
    let run = keel_at(&fake, &["topics", "delete", "--topic", "orders"]);
    assert_eq!(run.code, 6, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("its Metadata gives broker 1 the address \"127.0.0.1:-5\""),
        "{}",
        run.stderr
    );
}

#[test]
fn a_closed_connection_is_a_network_error() {
    let fake = FakeCluster::start(1, |_, request| match &request.body {
        RequestBody::Metadata(_) => Answer::Close,
        _ => Answer::Default,
    });
    let run = keel_at(&fake, &["topics", "list"]);
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(
        run.stderr
            .contains(&format!("{} closed the connection", fake.address(1))),
        "{}",
        run.stderr
    );
}

#[test]
fn apis_the_server_does_not_offer_exit_6_with_a_hint_for_controllers() {
    // A broker without DeleteTopics.
    let fake = FakeCluster::start(1, |_, request| match &request.body {
        RequestBody::ApiVersions(_) => {
            let apis: Vec<_> = default_api_versions()
                .into_iter()
                .filter(|a| a.0 != ApiKey::DeleteTopics)
                .collect();
            Answer::Body(api_versions(&apis))
        }
        _ => Answer::Default,
    });
    let run = keel_at(&fake, &["topics", "delete", "--topic", "orders"]);
    assert_eq!(run.code, 6, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        format!("keel: {} does not serve DeleteTopics\n", fake.address(1))
    );
    // A controller: Vote and DescribeQuorum, no Metadata.
    let controller = FakeCluster::start(1, |_, _| {
        Answer::Body(api_versions(&[
            (ApiKey::ApiVersions, 0, 4),
            (ApiKey::Vote, 0, 2),
            (ApiKey::DescribeQuorum, 0, 2),
        ]))
    });
    let run = keel_at(&controller, &["topics", "list"]);
    assert_eq!(run.code, 6, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("does not serve Metadata (it serves Vote: it is a controller"),
        "{}",
        run.stderr
    );
    // quorum describe --bootstrap-server at a controller: use --bootstrap-controller.
    let run = keel(&[
        "quorum",
        "describe",
        "--bootstrap-server",
        &controller.address(1),
        "--timeout-ms",
        "5000",
    ]);
    assert_eq!(run.code, 6, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        format!(
            "keel: {} does not serve Metadata (it is a controller: ask it with \
             --bootstrap-controller)\n",
            controller.address(1)
        )
    );
    // A broker whose versions keel does not speak.
    let ancient = FakeCluster::start(1, |_, request| match &request.body {
        RequestBody::ApiVersions(_) => Answer::Body(api_versions(&[
            (ApiKey::ApiVersions, 0, 4),
            (ApiKey::Metadata, 0, 0),
        ])),
        _ => Answer::Default,
    });
    let run = keel_at(&ancient, &["topics", "list"]);
    assert_eq!(run.code, 6, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("serves Metadata v0 only, keel speaks v1-v13"),
        "{}",
        run.stderr
    );
}

#[test]
fn api_versions_downgrades_as_kip_511_says() {
    // A server that knows ApiVersions up to v2 answers v4 with the v0 error body.
    let fake = FakeCluster::start(1, |_, request| match &request.body {
        RequestBody::ApiVersions(_) if request.version() > 2 => {
            let body = ApiVersionsResponse {
                error_code: ErrorCode::UnsupportedVersion.code(),
                api_keys: vec![api_versions_response::ApiVersion {
                    api_key: ApiKey::ApiVersions as i16,
                    min_version: 0,
                    max_version: 2,
                    ..Default::default()
                }],
                ..Default::default()
            };
            let mut frame = Vec::new();
            encode_response(&mut frame, request.correlation_id(), 0, &body).unwrap();
            Answer::Raw(frame)
        }
        _ => Answer::Default,
    });
    let run = keel_at(&fake, &["topics", "list"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let versions: Vec<i16> = fake
        .seen_api(ApiKey::ApiVersions)
        .iter()
        .map(|s| s.version)
        .collect();
    assert_eq!(versions, vec![4, 2]);
}

// ---- delete, alter, list, describe ----

#[test]
fn delete_several_topics_some_missing() {
    let fake = FakeCluster::start(1, |_, request| match &request.body {
        RequestBody::DeleteTopics(_) => {
            let names = topic_names(&request.body);
            Answer::Body(ResponseBody::DeleteTopics(DeleteTopicsResponse {
                responses: names
                    .into_iter()
                    .map(|name| delete_topics_response::DeletableTopicResult {
                        error_code: if name == "gone" { 3 } else { 0 },
                        name: Some(name),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }))
        }
        _ => Answer::Default,
    });
    let args = [
        "topics", "delete", "--topic", "a", "--topic", "gone", "--topic", "b",
    ];
    let run = keel_at(&fake, &args);
    assert_eq!(run.code, 1);
    assert_eq!(run.stdout, "Deleted topic a.\nDeleted topic b.\n");
    assert_eq!(
        run.stderr,
        "keel: cannot delete topic gone: UNKNOWN_TOPIC_OR_PARTITION: This server does not host \
         this topic or partition.\n"
    );
    let mut with_flags = args.to_vec();
    with_flags.extend(["--if-exists", "--json"]);
    let run = keel_at(&fake, &with_flags);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "{\"topics\":[{\"name\":\"a\",\"status\":\"deleted\",\"error\":null},{\"name\":\"gone\",\
         \"status\":\"absent\",\"error\":null},{\"name\":\"b\",\"status\":\"deleted\",\"error\":null}]}\n"
    );
    let sent = fake.seen_api(ApiKey::DeleteTopics);
    assert_eq!(sent[0].version, 6);
    assert_eq!(topic_names(&sent[0].body), vec!["a", "gone", "b"]);
}

#[test]
fn alter_grows_a_topic_or_says_why_not() {
    let fake = FakeCluster::start(1, |_, request| match &request.body {
        RequestBody::CreatePartitions(r) => {
            let topic = &r.topics[0];
            let (code, message) = if topic.count > 4 {
                (0, None)
            } else {
                (
                    37,
                    Some("Topic currently has 4 partitions, which is higher than the requested 2."),
                )
            };
            Answer::Body(ResponseBody::CreatePartitions(CreatePartitionsResponse {
                results: vec![create_partitions_response::CreatePartitionsTopicResult {
                    name: topic.name.clone(),
                    error_code: code,
                    error_message: message.map(str::to_owned),
                    ..Default::default()
                }],
                ..Default::default()
            }))
        }
        _ => Answer::Default,
    });
    let run = keel_at(
        &fake,
        &["topics", "alter", "--topic", "orders", "--partitions", "6"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "Topic orders now has 6 partitions.\n");
    let run = keel_at(
        &fake,
        &["topics", "alter", "--topic", "orders", "--partitions", "2"],
    );
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "keel: cannot alter topic orders: INVALID_PARTITIONS: Topic currently has 4 partitions, \
         which is higher than the requested 2.\n"
    );
    let sent = fake.seen_api(ApiKey::CreatePartitions);
    assert_eq!(sent[0].version, 3);
}

fn orders_metadata() -> Vec<metadata_response::MetadataResponseTopic> {
    let partition = |index, leader| metadata_response::MetadataResponsePartition {
        partition_index: index,
        leader_id: leader,
        leader_epoch: 7,
        replica_nodes: vec![1, 2],
        isr_nodes: vec![leader],
        offline_replicas: Vec::new(),
        ..Default::default()
    };
    vec![
        metadata_response::MetadataResponseTopic {
            name: Some("orders".into()),
            topic_id: Uuid::from_bytes([65; 16]),
            partitions: vec![partition(0, 1), partition(1, 2)],
            ..Default::default()
        },
        metadata_response::MetadataResponseTopic {
            name: Some("__consumer_offsets".into()),
            topic_id: Uuid::from_bytes([66; 16]),
            is_internal: true,
            partitions: vec![partition(0, 1)],
            ..Default::default()
        },
    ]
}

fn metadata_with_orders(
    ctx: &common::fake_broker::Ctx,
    request: &keel::protocol::RequestFrame,
) -> Answer {
    let all = orders_metadata();
    let topics = match requested_topics(request) {
        None => all,
        Some(names) => names
            .into_iter()
            .map(|name| {
                all.iter()
                    .find(|t| t.name.as_deref() == Some(name.as_str()))
                    .cloned()
                    .unwrap_or(metadata_response::MetadataResponseTopic {
                        error_code: 3,
                        name: Some(name),
                        ..Default::default()
                    })
            })
            .collect(),
    };
    Answer::Body(metadata(ctx, 1, topics))
}

#[test]
fn list_prints_every_topic_name() {
    let fake = FakeCluster::start(1, |ctx, request| match &request.body {
        RequestBody::Metadata(_) => metadata_with_orders(ctx, request),
        _ => Answer::Default,
    });
    let run = keel_at(&fake, &["topics", "list"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "__consumer_offsets\norders\n");
    let run = keel_at(&fake, &["topics", "list", "--exclude-internal", "--json"]);
    assert_eq!(
        run.stdout,
        "{\"topics\":[{\"name\":\"orders\",\"topic_id\":\"QUFBQUFBQUFBQUFBQUFBQQ\",\
         \"internal\":false,\"partitions\":2,\"error\":null}]}\n"
    );
    // The list asks for every topic (null) and never for auto-creation.
    let asked = fake.seen_api(ApiKey::Metadata);
    let RequestBody::Metadata(request) = &asked.last().unwrap().body else {
        unreachable!()
    };
    assert_eq!(request.topics, None);
    assert!(!request.allow_auto_topic_creation);
}

#[test]
fn describe_shows_partitions_and_non_default_configs() {
    let fake = FakeCluster::start(1, |ctx, request| match &request.body {
        RequestBody::Metadata(_) => metadata_with_orders(ctx, request),
        RequestBody::DescribeConfigs(r) => {
            Answer::Body(ResponseBody::DescribeConfigs(DescribeConfigsResponse {
                results: r
                    .resources
                    .iter()
                    .map(|res| describe_configs_response::DescribeConfigsResult {
                        resource_type: res.resource_type,
                        resource_name: res.resource_name.clone(),
                        configs: vec![
                            describe_configs_response::DescribeConfigsResourceResult {
                                name: "retention.ms".into(),
                                value: Some("1000".into()),
                                config_source: 1,
                                ..Default::default()
                            },
                            describe_configs_response::DescribeConfigsResourceResult {
                                name: "segment.bytes".into(),
                                value: Some("1073741824".into()),
                                config_source: 5,
                                ..Default::default()
                            },
                        ],
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }))
        }
        _ => Answer::Default,
    });
    let run = keel_at(
        &fake,
        &["topics", "describe", "--topic", "orders", "--topic", "nope"],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "Topic: orders  TopicId: QUFBQUFBQUFBQUFBQUFBQQ  PartitionCount: 2  ReplicationFactor: 2  \
         Configs: retention.ms=1000\n  \
         PARTITION  LEADER  LEADER-EPOCH  REPLICAS  ISR  OFFLINE\n  \
         0          1       7             1,2       1    -\n  \
         1          2       7             1,2       2    -\n"
    );
    assert_eq!(
        run.stderr,
        "keel: topic nope: UNKNOWN_TOPIC_OR_PARTITION: This server does not host this topic or \
         partition.\n"
    );
    let run = keel_at(
        &fake,
        &["topics", "describe", "--topic", "orders", "--json"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "{\"topics\":[{\"name\":\"orders\",\"topic_id\":\"QUFBQUFBQUFBQUFBQUFBQQ\",\"internal\":false,\
         \"partition_count\":2,\"replication_factor\":2,\"configs\":{\"retention.ms\":\"1000\"},\
         \"configs_error\":null,\"error\":null,\"partitions\":[{\"partition\":0,\"leader\":1,\
         \"leader_epoch\":7,\"replicas\":[1,2],\"isr\":[1],\"offline_replicas\":[],\"error\":null},\
         {\"partition\":1,\"leader\":2,\"leader_epoch\":7,\"replicas\":[1,2],\"isr\":[2],\
         \"offline_replicas\":[],\"error\":null}]}]}\n"
    );
    // Every topic when none is named.
    let run = keel_at(&fake, &["topics", "describe"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.starts_with("Topic: __consumer_offsets "),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("\n\nTopic: orders "), "{}", run.stdout);
}

#[test]
fn describe_against_an_old_broker_without_describe_configs() {
    let fake = FakeCluster::start(1, |ctx, request| match &request.body {
        RequestBody::ApiVersions(_) => Answer::Body(api_versions(&[
            (ApiKey::ApiVersions, 0, 2),
            (ApiKey::Metadata, 0, 4),
        ])),
        RequestBody::Metadata(_) => metadata_with_orders(ctx, request),
        _ => Answer::Default,
    });
    let run = keel_at(&fake, &["topics", "describe", "--topic", "orders"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        format!(
            "Topic: orders  TopicId: -  PartitionCount: 2  ReplicationFactor: 2  Configs: (unavailable)\n  \
             PARTITION  LEADER  LEADER-EPOCH  REPLICAS  ISR  OFFLINE\n  \
             0          1       -             1,2       1    -\n  \
             1          2       -             1,2       2    -\n\
             note: {} does not serve DescribeConfigs at a version keel speaks: configs not \
             shown\n",
            fake.address(1)
        )
    );
    assert_eq!(fake.seen_api(ApiKey::Metadata).last().unwrap().version, 4);
}

// ---- configs ----

fn configs_fake() -> FakeCluster {
    FakeCluster::start(2, |ctx, request| match &request.body {
        RequestBody::Metadata(_) => Answer::Body(metadata(ctx, 2, Vec::new())),
        RequestBody::DescribeConfigs(r) => {
            Answer::Body(ResponseBody::DescribeConfigs(DescribeConfigsResponse {
                results: r
                    .resources
                    .iter()
                    .map(|res| describe_configs_response::DescribeConfigsResult {
                        resource_type: res.resource_type,
                        resource_name: res.resource_name.clone(),
                        configs: vec![
                            describe_configs_response::DescribeConfigsResourceResult {
                                name: "log.cleaner.threads".into(),
                                value: Some(format!("{}", ctx.node)),
                                config_source: 2,
                                ..Default::default()
                            },
                            describe_configs_response::DescribeConfigsResourceResult {
                                name: "num.io.threads".into(),
                                value: Some("8".into()),
                                config_source: 4,
                                read_only: true,
                                ..Default::default()
                            },
                        ],
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }))
        }
        RequestBody::IncrementalAlterConfigs(r) => Answer::Body(
            ResponseBody::IncrementalAlterConfigs(IncrementalAlterConfigsResponse {
                responses: r
                    .resources
                    .iter()
                    .map(
                        |res| incremental_alter_configs_response::AlterConfigsResourceResponse {
                            error_code: if res.resource_name == "bad" { 40 } else { 0 },
                            error_message: (res.resource_name == "bad")
                                .then(|| "Unknown topic config name: x".to_owned()),
                            resource_type: res.resource_type,
                            resource_name: res.resource_name.clone(),
                            ..Default::default()
                        },
                    )
                    .collect(),
                ..Default::default()
            }),
        ),
        _ => Answer::Default,
    })
}

#[test]
fn configs_of_a_broker_are_asked_of_that_broker() {
    let fake = configs_fake();
    let run = keel_at(
        &fake,
        &[
            "configs",
            "describe",
            "--entity-type",
            "brokers",
            "--entity-name",
            "2",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "Dynamic configs of broker 2:\n  \
         NAME                 VALUE  SOURCE                 READ-ONLY  SENSITIVE\n  \
         log.cleaner.threads  2      DYNAMIC_BROKER_CONFIG  false      false\n"
    );
    let asked = fake.seen_api(ApiKey::DescribeConfigs);
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].node, 2);
    let run = keel_at(
        &fake,
        &[
            "configs",
            "describe",
            "--entity-type",
            "brokers",
            "--all",
            "--json",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "{\"entity_type\":\"brokers\",\"all\":true,\"entities\":[\
         {\"name\":\"1\",\"configs\":[{\"name\":\"log.cleaner.threads\",\"value\":\"1\",\"source\":\"DYNAMIC_BROKER_CONFIG\",\"read_only\":false,\"sensitive\":false},\
         {\"name\":\"num.io.threads\",\"value\":\"8\",\"source\":\"STATIC_BROKER_CONFIG\",\"read_only\":true,\"sensitive\":false}],\"error\":null},\
         {\"name\":\"2\",\"configs\":[{\"name\":\"log.cleaner.threads\",\"value\":\"2\",\"source\":\"DYNAMIC_BROKER_CONFIG\",\"read_only\":false,\"sensitive\":false},\
         {\"name\":\"num.io.threads\",\"value\":\"8\",\"source\":\"STATIC_BROKER_CONFIG\",\"read_only\":true,\"sensitive\":false}],\"error\":null}]}\n"
    );
}

#[test]
fn deleting_a_config_that_is_not_set_is_refused_before_anything_changes() {
    let fake = configs_fake();
    // num.io.threads is only static there, foo is nowhere: as kafka-configs.sh, nothing is
    // sent and the command fails with Kafka's words.
    let run = keel_at(
        &fake,
        &[
            "configs",
            "delete",
            "--entity-type",
            "brokers",
            "--entity-name",
            "2",
            "--delete-config",
            "log.cleaner.threads,num.io.threads,foo",
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "cannot change broker 2: INVALID_CONFIG: Invalid config(s): num.io.threads,foo"
        ),
        "{}",
        run.stderr
    );
    assert!(fake.seen_api(ApiKey::IncrementalAlterConfigs).is_empty());
    let asked = fake.seen_api(ApiKey::DescribeConfigs);
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].node, 2, "a broker's configs are asked of it");
}

#[test]
fn configs_set_and_delete_go_to_the_controller() {
    let fake = configs_fake();
    let run = keel_at(
        &fake,
        &[
            "configs",
            "set",
            "--entity-type",
            "topics",
            "--entity-name",
            "orders",
            "--add-config",
            "retention.ms=1000,cleanup.policy=[compact,delete]",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "Updated topic orders: set retention.ms=1000, cleanup.policy=compact,delete.\n"
    );
    let run = keel_at(
        &fake,
        &[
            "configs",
            "delete",
            "--entity-type",
            "brokers",
            "--entity-default",
            "--delete-config",
            "log.cleaner.threads",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "Updated the default of every broker: deleted log.cleaner.threads.\n"
    );
    let sent = fake.seen_api(ApiKey::IncrementalAlterConfigs);
    assert_eq!(sent.len(), 2);
    assert!(sent.iter().all(|s| s.node == 2 && s.version == 1));
    let RequestBody::IncrementalAlterConfigs(set) = &sent[0].body else {
        unreachable!()
    };
    let ops: Vec<(&str, i8, Option<&str>)> = set.resources[0]
        .configs
        .iter()
        .map(|c| (c.name.as_str(), c.config_operation, c.value.as_deref()))
        .collect();
    assert_eq!(
        ops,
        vec![
            ("retention.ms", 0, Some("1000")),
            ("cleanup.policy", 0, Some("compact,delete"))
        ]
    );
    let RequestBody::IncrementalAlterConfigs(delete) = &sent[1].body else {
        unreachable!()
    };
    assert_eq!(
        (
            delete.resources[0].resource_type,
            delete.resources[0].resource_name.as_str()
        ),
        (4, "")
    );
    assert_eq!(delete.resources[0].configs[0].config_operation, 1);
    let run = keel_at(
        &fake,
        &[
            "configs",
            "set",
            "--entity-type",
            "topics",
            "--entity-name",
            "bad",
            "--add-config",
            "x=1",
        ],
    );
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "keel: cannot change topic bad: INVALID_CONFIG: Unknown topic config name: x\n"
    );
}

// ---- cluster ----

#[test]
fn cluster_describe_uses_describe_cluster_or_falls_back_to_metadata() {
    let fake = FakeCluster::start(2, |ctx, request| match &request.body {
        RequestBody::DescribeCluster(_) => {
            Answer::Body(ResponseBody::DescribeCluster(DescribeClusterResponse {
                endpoint_type: 1,
                cluster_id: CLUSTER_ID.into(),
                controller_id: 2,
                brokers: ctx
                    .ports
                    .iter()
                    .enumerate()
                    .map(
                        |(i, port)| describe_cluster_response::DescribeClusterBroker {
                            broker_id: i as i32 + 1,
                            host: "127.0.0.1".into(),
                            port: i32::from(*port),
                            rack: Some(format!("rack-{}", i + 1)),
                            is_fenced: i == 1,
                            ..Default::default()
                        },
                    )
                    .collect(),
                ..Default::default()
            }))
        }
        _ => Answer::Default,
    });
    let run = keel_at(&fake, &["cluster", "describe"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let port = |node: i32| fake.address(node).rsplit_once(':').unwrap().1.to_owned();
    assert_eq!(
        run.stdout,
        format!(
            "ClusterId:     {CLUSTER_ID}\nControllerId:  2\nBrokers:       2\n  \
             ID  HOST       PORT   RACK    FENCED\n  \
             1   127.0.0.1  {}  rack-1  no\n  \
             2   127.0.0.1  {}  rack-2  yes\n",
            port(1),
            port(2)
        )
    );
    let sent = fake.seen_api(ApiKey::DescribeCluster);
    assert_eq!(sent[0].version, 2);
    let RequestBody::DescribeCluster(request) = &sent[0].body else {
        unreachable!()
    };
    assert_eq!(request.endpoint_type, 1, "brokers' endpoints");
    assert!(request.include_fenced_brokers);
    // Without DescribeCluster: Metadata.
    let old = FakeCluster::start(1, |_, request| match &request.body {
        RequestBody::ApiVersions(_) => {
            let apis: Vec<_> = default_api_versions()
                .into_iter()
                .filter(|a| a.0 != ApiKey::DescribeCluster)
                .collect();
            Answer::Body(api_versions(&apis))
        }
        _ => Answer::Default,
    });
    let run = keel_at(&old, &["cluster", "describe", "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        format!(
            "{{\"cluster_id\":\"{CLUSTER_ID}\",\"controller_id\":1,\"source\":\"Metadata v13\",\
             \"brokers\":[{{\"id\":1,\"host\":\"127.0.0.1\",\"port\":{},\"rack\":null,\"fenced\":null}}]}}\n",
            old.address(1).rsplit_once(':').unwrap().1
        )
    );
}

// ---- quorum describe through a broker ----

#[test]
fn quorum_describe_through_a_broker_that_forwards_describe_quorum() {
    let fake = FakeCluster::start(1, |_, request| match &request.body {
        RequestBody::ApiVersions(_) => {
            let mut apis = default_api_versions();
            apis.push((ApiKey::DescribeQuorum, 0, 2));
            Answer::Body(api_versions(&apis))
        }
        RequestBody::DescribeQuorum(_) => {
            let replica = |id, leo| describe_quorum_response::ReplicaState {
                replica_id: id,
                replica_directory_id: Uuid::from_bytes([id as u8; 16]),
                log_end_offset: leo,
                last_fetch_timestamp: 1_000,
                last_caught_up_timestamp: 1_000,
                ..Default::default()
            };
            Answer::Body(ResponseBody::DescribeQuorum(DescribeQuorumResponse {
                topics: vec![describe_quorum_response::TopicData {
                    topic_name: "__cluster_metadata".into(),
                    partitions: vec![describe_quorum_response::PartitionData {
                        leader_id: 3001,
                        leader_epoch: 5,
                        high_watermark: 42,
                        current_voters: vec![replica(3001, 42), replica(3002, 40)],
                        observers: vec![replica(1, 42)],
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }))
        }
        _ => Answer::Default,
    });
    let address = fake.address(1);
    let run = keel(&[
        "quorum",
        "describe",
        "--bootstrap-server",
        &address,
        "--replication",
        "--timeout-ms",
        "5000",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", run.stdout);
    assert!(
        lines[1].starts_with("3001") && lines[1].ends_with("Leader"),
        "{}",
        run.stdout
    );
    assert!(
        lines[2].contains(" 2 ") && lines[2].ends_with("Follower"),
        "{}",
        run.stdout
    );
    assert!(
        lines[3].starts_with("1 ") && lines[3].ends_with("Observer"),
        "{}",
        run.stdout
    );
    let run = keel(&[
        "quorum",
        "describe",
        "--bootstrap-server",
        &address,
        "--json",
        "--timeout-ms",
        "5000",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.starts_with(&format!(
            "{{\"cluster_id\":\"{CLUSTER_ID}\",\"leader_id\":3001,\"leader_epoch\":5,\"high_watermark\":42,\"max_follower_lag\":2,"
        )),
        "{}",
        run.stdout
    );
    let sent = fake.seen_api(ApiKey::DescribeQuorum);
    assert!(sent.iter().all(|s| s.version == 2));
}

#[test]
fn quorum_describe_at_a_broker_with_bootstrap_controller_names_the_alternative() {
    // What Kafka's brokers (and keel's) answer a DescribeCluster for controllers.
    let broker = FakeCluster::start(1, |_, request| match &request.body {
        RequestBody::DescribeCluster(_) => {
            Answer::Body(ResponseBody::DescribeCluster(DescribeClusterResponse {
                error_code: ErrorCode::MismatchedEndpointType.code(),
                error_message: Some("The request was sent to an endpoint of type BROKER".into()),
                ..Default::default()
            }))
        }
        _ => Answer::Default,
    });
    let run = keel(&[
        "quorum",
        "describe",
        "--bootstrap-controller",
        &broker.address(1),
        "--timeout-ms",
        "5000",
    ]);
    assert_eq!(run.code, 6, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        format!(
            "keel: {} does not serve DescribeQuorum for controllers (it is a broker: ask it \
             with --bootstrap-server)\n",
            broker.address(1)
        )
    );
}

#[test]
fn quorum_describe_through_a_broker_that_does_not_forward_names_the_alternative() {
    let fake = FakeCluster::start(1, |_, _| Answer::Default);
    let run = keel(&[
        "quorum",
        "describe",
        "--bootstrap-server",
        &fake.address(1),
        "--timeout-ms",
        "5000",
    ]);
    assert_eq!(run.code, 6, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        format!(
            "keel: {} does not serve DescribeQuorum (the broker does not forward it to the \
             controllers; ask a controller with --bootstrap-controller)\n",
            fake.address(1)
        )
    );
    // One of the two bootstrap options is required.
    let run = keel(&["quorum", "describe"]);
    assert_eq!(run.code, 2);
}

#[test]
fn quorum_describe_without_a_leader_says_so() {
    let fake = FakeCluster::start(1, |_, request| match &request.body {
        RequestBody::ApiVersions(_) => {
            let mut apis = default_api_versions();
            apis.push((ApiKey::DescribeQuorum, 0, 2));
            Answer::Body(api_versions(&apis))
        }
        RequestBody::DescribeQuorum(_) => {
            Answer::Body(ResponseBody::DescribeQuorum(DescribeQuorumResponse {
                topics: vec![describe_quorum_response::TopicData {
                    topic_name: "__cluster_metadata".into(),
                    partitions: vec![describe_quorum_response::PartitionData {
                        error_code: ErrorCode::NotLeaderOrFollower.code(),
                        leader_id: -1,
                        leader_epoch: 9,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }))
        }
        _ => Answer::Default,
    });
    let run = keel(&[
        "quorum",
        "describe",
        "--bootstrap-server",
        &fake.address(1),
        "--timeout-ms",
        "5000",
        "--json",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "{\"error\":{\"message\":\"the quorum has no leader right now (epoch 9); try again\",\
         \"exit_code\":1}}\n"
    );
}
