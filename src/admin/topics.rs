//! `keel topics create|delete|list|describe|alter`: Kafka's kafka-topics.sh over the Kafka
//! protocol, routed like Kafka's AdminClient ([`super::session`]).
//!
//! - `create`: CreateTopics to the controller (server defaults, -1, need CreateTopics v4+).
//! - `delete`: DeleteTopics to the controller (by name; from v6 in the `Topics` array).
//! - `alter`: CreatePartitions to the controller (the new total partition count).
//! - `list`: Metadata for every topic from the bootstrap broker.
//! - `describe`: Metadata for the topics (or every topic) and DescribeConfigs for their
//!   non-default configs, both from the bootstrap broker.
//!
//! Each command has three pure parts, tested on their own: the request for a negotiated
//! version, the outcome per item read from the answer (checked against what was asked), and the
//! [`Output`] (text and JSON) of the outcomes.

use std::fmt::Write;

use crate::protocol::messages::{
    CreatePartitionsRequest, CreatePartitionsResponse, CreateTopicsRequest, CreateTopicsResponse,
    DeleteTopicsRequest, DeleteTopicsResponse, DescribeConfigsRequest, DescribeConfigsResponse,
    MetadataResponse, create_partitions_request, create_topics_request, delete_topics_request,
    describe_configs_request,
};
use crate::protocol::{ApiKey, ErrorCode, Uuid};

use super::args::{check_topic_names, parse_replica_assignment, parse_topic_configs};
use super::error::{AdminError, KafkaError};
use super::json::Json;
use super::output::Output;
use super::session::{BOOTSTRAP, ConnectOptions, is_not_controller, match_by_name};
use super::table::{Table, id_list, printable};

/// DescribeConfigs resource type of a topic.
pub const RESOURCE_TYPE_TOPIC: i8 = 2;
/// DescribeConfigs `ConfigSource` of an entry at its default.
pub const CONFIG_SOURCE_DEFAULT: i8 = 5;
/// CreateTopics from v4 accepts -1 for "the server's default" (KIP-464).
const CREATE_TOPICS_DEFAULTS_VERSION: i16 = 4;
/// DeleteTopics from v6 names topics in `Topics` (name or id) instead of `TopicNames`.
const DELETE_TOPICS_BY_STATE_VERSION: i16 = 6;

fn topic_id_json(id: Uuid) -> Json {
    if id == Uuid::ZERO {
        Json::Null
    } else {
        Json::from(id.to_string())
    }
}

fn error_json(error: Option<&KafkaError>) -> Json {
    error.map_or(Json::Null, KafkaError::json)
}

// ---- create ----

/// What `keel topics create` was asked for.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub topic: String,
    pub partitions: Option<i32>,
    pub replication_factor: Option<i16>,
    pub replica_assignment: Option<String>,
    pub configs: Vec<String>,
    pub if_not_exists: bool,
    pub validate_only: bool,
}

/// One topic to create, its arguments checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTopic {
    pub name: String,
    /// -1: the server's default (or given by `assignment`).
    pub partitions: i32,
    /// -1: the server's default (or given by `assignment`).
    pub replication_factor: i16,
    /// Per partition, its replicas; empty to let the controller place them.
    pub assignment: Vec<Vec<i32>>,
    pub configs: Vec<(String, String)>,
}

impl CreateOptions {
    /// The topic to create, or a usage error.
    pub fn new_topic(&self) -> Result<NewTopic, AdminError> {
        check_topic_names(std::slice::from_ref(&self.topic))?;
        let configs = parse_topic_configs(&self.configs)?;
        let assignment = match &self.replica_assignment {
            Some(text) => {
                if self.partitions.is_some() || self.replication_factor.is_some() {
                    return Err(AdminError::Usage(
                        "--replica-assignment gives the partitions and their replicas: it cannot \
                         be combined with --partitions or --replication-factor"
                            .into(),
                    ));
                }
                parse_replica_assignment(text)?
            }
            None => Vec::new(),
        };
        Ok(NewTopic {
            name: self.topic.clone(),
            partitions: self.partitions.unwrap_or(-1),
            replication_factor: self.replication_factor.unwrap_or(-1),
            assignment,
            configs,
        })
    }
}

/// The CreateTopics request for `topics` at `version`.
pub fn create_topics_request(
    topics: &[NewTopic],
    version: i16,
    timeout_ms: i32,
    validate_only: bool,
) -> Result<CreateTopicsRequest, AdminError> {
    let mut creatable = Vec::new();
    for topic in topics {
        let uses_defaults = topic.assignment.is_empty()
            && (topic.partitions == -1 || topic.replication_factor == -1);
        if uses_defaults && version < CREATE_TOPICS_DEFAULTS_VERSION {
            return Err(AdminError::Usage(format!(
                "the server speaks CreateTopics up to v{version}, which has no server-side \
                 defaults: give both --partitions and --replication-factor"
            )));
        }
        creatable.push(create_topics_request::CreatableTopic {
            name: topic.name.clone(),
            num_partitions: topic.partitions,
            replication_factor: topic.replication_factor,
            assignments: topic
                .assignment
                .iter()
                .enumerate()
                .map(
                    |(index, brokers)| create_topics_request::CreatableReplicaAssignment {
                        partition_index: index as i32,
                        broker_ids: brokers.clone(),
                        ..Default::default()
                    },
                )
                .collect(),
            configs: topic
                .configs
                .iter()
                .map(
                    |(name, value)| create_topics_request::CreatableTopicConfig {
                        name: name.clone(),
                        value: Some(value.clone()),
                        ..Default::default()
                    },
                )
                .collect(),
            ..Default::default()
        });
    }
    Ok(CreateTopicsRequest {
        topics: creatable,
        timeout_ms,
        validate_only,
        ..Default::default()
    })
}

/// What became of one topic of a CreateTopics request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateOutcome {
    pub error: Option<KafkaError>,
    /// From v7 (zero before, and for a refused or validate-only topic).
    pub topic_id: Uuid,
    /// From v5 (-1 before, and for a refused topic).
    pub partitions: i32,
    pub replication_factor: i16,
}

/// Each topic's outcome, in the order of `topics`.
pub fn create_outcomes(
    topics: &[NewTopic],
    response: &CreateTopicsResponse,
    address: &str,
) -> Result<Vec<CreateOutcome>, AdminError> {
    let asked: Vec<&str> = topics.iter().map(|t| t.name.as_str()).collect();
    let matched = match_by_name(address, &asked, &response.topics, |t| Some(&t.name))?;
    Ok(matched
        .into_iter()
        .map(|t| CreateOutcome {
            error: KafkaError::from_answer(t.error_code, t.error_message.as_deref()),
            topic_id: t.topic_id,
            partitions: t.num_partitions,
            replication_factor: t.replication_factor,
        })
        .collect())
}

/// The output of `create`.
pub fn create_output(
    outcomes: &[(NewTopic, CreateOutcome)],
    if_not_exists: bool,
    validate_only: bool,
) -> Output {
    let mut text = String::new();
    let mut errors = Vec::new();
    let mut topics_json = Vec::new();
    for (topic, outcome) in outcomes {
        let name = printable(&topic.name);
        let mut facts = Vec::new();
        if outcome.topic_id != Uuid::ZERO {
            facts.push(format!("id {}", outcome.topic_id));
        }
        if outcome.partitions >= 0 {
            facts.push(format!("{} partitions", outcome.partitions));
        }
        if outcome.replication_factor >= 0 {
            facts.push(format!("replication factor {}", outcome.replication_factor));
        }
        let facts = if facts.is_empty() {
            String::new()
        } else {
            format!(" ({})", facts.join(", "))
        };
        let status = match &outcome.error {
            None if validate_only => {
                let _ = writeln!(
                    text,
                    "Topic {name} can be created{facts}; --validate-only: nothing changed."
                );
                "validated"
            }
            None => {
                let _ = writeln!(text, "Created topic {name}{facts}.");
                "created"
            }
            Some(e) if if_not_exists && e.is(ErrorCode::TopicAlreadyExists) => {
                let _ = writeln!(
                    text,
                    "Topic {name} already exists; nothing done (--if-not-exists)."
                );
                "exists"
            }
            Some(e) => {
                errors.push(format!(
                    "cannot create topic {name}: {}",
                    printable(&e.to_string())
                ));
                "failed"
            }
        };
        let failed = status == "failed";
        topics_json.push(Json::object([
            ("name", Json::from(&topic.name)),
            ("status", Json::from(status)),
            ("topic_id", topic_id_json(outcome.topic_id)),
            (
                "partitions",
                Json::from((outcome.partitions >= 0).then_some(outcome.partitions)),
            ),
            (
                "replication_factor",
                Json::from((outcome.replication_factor >= 0).then_some(outcome.replication_factor)),
            ),
            (
                "error",
                error_json(outcome.error.as_ref().filter(|_| failed)),
            ),
        ]));
    }
    Output {
        text,
        errors,
        json: Json::object([
            ("validate_only", Json::from(validate_only)),
            ("topics", Json::Array(topics_json)),
        ]),
    }
}

/// `keel topics create`.
pub fn create(connect: &ConnectOptions, options: &CreateOptions) -> Result<Output, AdminError> {
    let topic = options.new_topic()?;
    let mut session = connect.open()?;
    let validate_only = options.validate_only;
    let outcomes = session.call_controller(
        vec![topic],
        0,
        |topics, version, timeout_ms| {
            create_topics_request(topics, version, timeout_ms, validate_only)
        },
        |topics, response: CreateTopicsResponse, _, address| {
            create_outcomes(topics, &response, address)
        },
        |outcome| is_not_controller(outcome.error.as_ref()),
    )?;
    Ok(create_output(
        &outcomes,
        options.if_not_exists,
        validate_only,
    ))
}

// ---- delete ----

/// The DeleteTopics request for `names` at `version`.
pub fn delete_topics_request(
    names: &[String],
    version: i16,
    timeout_ms: i32,
) -> DeleteTopicsRequest {
    let mut request = DeleteTopicsRequest {
        timeout_ms,
        ..Default::default()
    };
    if version >= DELETE_TOPICS_BY_STATE_VERSION {
        request.topics = names
            .iter()
            .map(|name| delete_topics_request::DeleteTopicState {
                name: Some(name.clone()),
                ..Default::default()
            })
            .collect();
    } else {
        request.topic_names = names.to_vec();
    }
    request
}

/// Each topic's error (`None`: deleted), in the order of `names`.
pub fn delete_outcomes(
    names: &[String],
    response: &DeleteTopicsResponse,
    address: &str,
) -> Result<Vec<Option<KafkaError>>, AdminError> {
    let asked: Vec<&str> = names.iter().map(String::as_str).collect();
    let matched = match_by_name(address, &asked, &response.responses, |t| t.name.as_deref())?;
    Ok(matched
        .into_iter()
        .map(|t| KafkaError::from_answer(t.error_code, t.error_message.as_deref()))
        .collect())
}

/// The output of `delete`.
pub fn delete_output(outcomes: &[(String, Option<KafkaError>)], if_exists: bool) -> Output {
    let mut text = String::new();
    let mut errors = Vec::new();
    let mut topics_json = Vec::new();
    for (name, error) in outcomes {
        let shown = printable(name);
        let status = match error {
            None => {
                let _ = writeln!(text, "Deleted topic {shown}.");
                "deleted"
            }
            Some(e) if if_exists && e.is(ErrorCode::UnknownTopicOrPartition) => {
                let _ = writeln!(
                    text,
                    "Topic {shown} does not exist; nothing done (--if-exists)."
                );
                "absent"
            }
            Some(e) => {
                errors.push(format!(
                    "cannot delete topic {shown}: {}",
                    printable(&e.to_string())
                ));
                "failed"
            }
        };
        topics_json.push(Json::object([
            ("name", Json::from(name)),
            ("status", Json::from(status)),
            (
                "error",
                error_json(error.as_ref().filter(|_| status == "failed")),
            ),
        ]));
    }
    Output {
        text,
        errors,
        json: Json::object([("topics", Json::Array(topics_json))]),
    }
}

/// `keel topics delete`.
pub fn delete(
    connect: &ConnectOptions,
    names: &[String],
    if_exists: bool,
) -> Result<Output, AdminError> {
    check_topic_names(names)?;
    let mut session = connect.open()?;
    let outcomes = session.call_controller(
        names.to_vec(),
        0,
        |names, version, timeout_ms| Ok(delete_topics_request(names, version, timeout_ms)),
        |names, response: DeleteTopicsResponse, _, address| {
            delete_outcomes(names, &response, address)
        },
        |error| is_not_controller(error.as_ref()),
    )?;
    Ok(delete_output(&outcomes, if_exists))
}

// ---- alter ----

/// What `keel topics alter` was asked for.
#[derive(Debug, Clone, Default)]
pub struct AlterOptions {
    pub topic: String,
    pub partitions: i32,
    /// Replicas of each new partition (`1:2,2:3`), in order.
    pub replica_assignment: Option<String>,
    pub if_exists: bool,
    pub validate_only: bool,
}

/// A topic to grow, its arguments checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionIncrease {
    pub name: String,
    pub total_partitions: i32,
    /// Replicas of each new partition; `None` to let the controller place them.
    pub assignment: Option<Vec<Vec<i32>>>,
}

impl AlterOptions {
    pub fn increase(&self) -> Result<PartitionIncrease, AdminError> {
        check_topic_names(std::slice::from_ref(&self.topic))?;
        let assignment = self
            .replica_assignment
            .as_deref()
            .map(parse_replica_assignment)
            .transpose()?;
        Ok(PartitionIncrease {
            name: self.topic.clone(),
            total_partitions: self.partitions,
            assignment,
        })
    }
}

/// The CreatePartitions request (the same at every version).
pub fn create_partitions_request(
    increases: &[PartitionIncrease],
    timeout_ms: i32,
    validate_only: bool,
) -> CreatePartitionsRequest {
    CreatePartitionsRequest {
        topics: increases
            .iter()
            .map(
                |increase| create_partitions_request::CreatePartitionsTopic {
                    name: increase.name.clone(),
                    count: increase.total_partitions,
                    assignments: increase.assignment.as_ref().map(|partitions| {
                        partitions
                            .iter()
                            .map(
                                |brokers| create_partitions_request::CreatePartitionsAssignment {
                                    broker_ids: brokers.clone(),
                                    ..Default::default()
                                },
                            )
                            .collect()
                    }),
                    ..Default::default()
                },
            )
            .collect(),
        timeout_ms,
        validate_only,
        ..Default::default()
    }
}

/// Each topic's error (`None`: grown), in the order of `increases`.
pub fn alter_outcomes(
    increases: &[PartitionIncrease],
    response: &CreatePartitionsResponse,
    address: &str,
) -> Result<Vec<Option<KafkaError>>, AdminError> {
    let asked: Vec<&str> = increases.iter().map(|i| i.name.as_str()).collect();
    let matched = match_by_name(address, &asked, &response.results, |r| Some(&r.name))?;
    Ok(matched
        .into_iter()
        .map(|r| KafkaError::from_answer(r.error_code, r.error_message.as_deref()))
        .collect())
}

/// The output of `alter`.
pub fn alter_output(
    outcomes: &[(PartitionIncrease, Option<KafkaError>)],
    if_exists: bool,
    validate_only: bool,
) -> Output {
    let mut text = String::new();
    let mut errors = Vec::new();
    let mut topics_json = Vec::new();
    for (increase, error) in outcomes {
        let name = printable(&increase.name);
        let count = increase.total_partitions;
        let status = match error {
            None if validate_only => {
                let _ = writeln!(
                    text,
                    "Topic {name} can grow to {count} partitions; --validate-only: nothing changed."
                );
                "validated"
            }
            None => {
                let _ = writeln!(text, "Topic {name} now has {count} partitions.");
                "altered"
            }
            Some(e) if if_exists && e.is(ErrorCode::UnknownTopicOrPartition) => {
                let _ = writeln!(
                    text,
                    "Topic {name} does not exist; nothing done (--if-exists)."
                );
                "absent"
            }
            Some(e) => {
                errors.push(format!(
                    "cannot alter topic {name}: {}",
                    printable(&e.to_string())
                ));
                "failed"
            }
        };
        topics_json.push(Json::object([
            ("name", Json::from(&increase.name)),
            ("status", Json::from(status)),
            ("partitions", Json::from(count)),
            (
                "error",
                error_json(error.as_ref().filter(|_| status == "failed")),
            ),
        ]));
    }
    Output {
        text,
        errors,
        json: Json::object([
            ("validate_only", Json::from(validate_only)),
            ("topics", Json::Array(topics_json)),
        ]),
    }
}

/// `keel topics alter`.
pub fn alter(connect: &ConnectOptions, options: &AlterOptions) -> Result<Output, AdminError> {
    let increase = options.increase()?;
    let mut session = connect.open()?;
    let validate_only = options.validate_only;
    let outcomes = session.call_controller(
        vec![increase],
        0,
        |increases, _, timeout_ms| {
            Ok(create_partitions_request(
                increases,
                timeout_ms,
                validate_only,
            ))
        },
        |increases, response: CreatePartitionsResponse, _, address| {
            alter_outcomes(increases, &response, address)
        },
        |error| is_not_controller(error.as_ref()),
    )?;
    Ok(alter_output(&outcomes, options.if_exists, validate_only))
}

// ---- list and describe ----

/// One partition as Metadata describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionDescription {
    pub index: i32,
    /// -1: no leader.
    pub leader: i32,
    /// `None` before Metadata v7.
    pub leader_epoch: Option<i32>,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    /// `None` before Metadata v5.
    pub offline_replicas: Option<Vec<i32>>,
    pub error: Option<KafkaError>,
}

/// What `describe` could learn of a topic's configs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicConfigs {
    /// The entries not at their default (`name`, value; `None` for a withheld sensitive one).
    Listed(Vec<(String, Option<String>)>),
    /// DescribeConfigs answered with an error for this topic.
    Failed(KafkaError),
    /// Not asked (the server does not serve DescribeConfigs at a version keel speaks, or the
    /// topic has an error).
    Unknown,
}

/// One topic as Metadata (and DescribeConfigs) describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicDescription {
    pub name: String,
    /// Zero before Metadata v10.
    pub topic_id: Uuid,
    pub internal: bool,
    /// By index.
    pub partitions: Vec<PartitionDescription>,
    pub error: Option<KafkaError>,
    pub configs: TopicConfigs,
}

impl TopicDescription {
    /// Kafka's definition: the replica count of the first partition.
    pub fn replication_factor(&self) -> Option<usize> {
        self.partitions.first().map(|p| p.replicas.len())
    }
}

/// The topics of a Metadata answer at `version`, by name. With `asked`, every asked name must
/// be answered, once, and no other; without, no topic may lack a name.
pub fn topic_descriptions(
    response: &MetadataResponse,
    version: i16,
    asked: Option<&[String]>,
    address: &str,
) -> Result<Vec<TopicDescription>, AdminError> {
    let entries: Vec<&_> = match asked {
        Some(names) => {
            let asked: Vec<&str> = names.iter().map(String::as_str).collect();
            match_by_name(address, &asked, &response.topics, |t| t.name.as_deref())?
        }
        None => {
            let mut names: Vec<Option<&str>> =
                response.topics.iter().map(|t| t.name.as_deref()).collect();
            names.sort_unstable();
            let reason = if names.first() == Some(&None) {
                Some("it lists a topic without a name".to_owned())
            } else {
                names
                    .windows(2)
                    .find(|pair| pair[0] == pair[1])
                    .map(|pair| format!("it lists topic {:?} twice", pair[0].unwrap_or("")))
            };
            if let Some(reason) = reason {
                return Err(AdminError::BadAnswer {
                    address: address.to_owned(),
                    reason,
                });
            }
            response.topics.iter().collect()
        }
    };
    let mut topics: Vec<TopicDescription> = entries
        .into_iter()
        .map(|t| {
            let mut partitions: Vec<PartitionDescription> = t
                .partitions
                .iter()
                .map(|p| PartitionDescription {
                    index: p.partition_index,
                    leader: p.leader_id,
                    leader_epoch: (version >= 7).then_some(p.leader_epoch),
                    replicas: p.replica_nodes.clone(),
                    isr: p.isr_nodes.clone(),
                    offline_replicas: (version >= 5).then(|| p.offline_replicas.clone()),
                    error: KafkaError::from_answer(p.error_code, None),
                })
                .collect();
            partitions.sort_by_key(|p| p.index);
            TopicDescription {
                name: t.name.clone().unwrap_or_default(),
                topic_id: t.topic_id,
                internal: t.is_internal,
                partitions,
                error: KafkaError::from_answer(t.error_code, None),
                configs: TopicConfigs::Unknown,
            }
        })
        .collect();
    topics.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(topics)
}

/// The output of `list`: names one per line, as kafka-topics.sh --list prints them.
pub fn list_output(topics: &[TopicDescription], exclude_internal: bool) -> Output {
    let shown: Vec<&TopicDescription> = topics
        .iter()
        .filter(|t| !(exclude_internal && t.internal))
        .collect();
    let mut text = String::new();
    for topic in &shown {
        let _ = writeln!(text, "{}", printable(&topic.name));
    }
    let topics_json = shown
        .iter()
        .map(|t| {
            Json::object([
                ("name", Json::from(&t.name)),
                ("topic_id", topic_id_json(t.topic_id)),
                ("internal", Json::from(t.internal)),
                ("partitions", Json::from(t.partitions.len())),
                ("error", error_json(t.error.as_ref())),
            ])
        })
        .collect();
    Output {
        text,
        errors: Vec::new(),
        json: Json::object([("topics", Json::Array(topics_json))]),
    }
}

/// `keel topics list`.
pub fn list(connect: &ConnectOptions, exclude_internal: bool) -> Result<Output, AdminError> {
    let mut session = connect.open()?;
    let (version, response) = session.metadata(None)?;
    let topics = topic_descriptions(&response, version, None, session.address(BOOTSTRAP))?;
    Ok(list_output(&topics, exclude_internal))
}

/// The DescribeConfigs request for every entry of `topics` (the same at every version).
pub fn describe_topic_configs_request(topics: &[&str]) -> DescribeConfigsRequest {
    DescribeConfigsRequest {
        resources: topics
            .iter()
            .map(|name| describe_configs_request::DescribeConfigsResource {
                resource_type: RESOURCE_TYPE_TOPIC,
                resource_name: (*name).to_owned(),
                configuration_keys: None,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

/// Sets each topic's configs from a DescribeConfigs answer about `asked` (the topics without an
/// error, which are the ones asked about).
pub fn apply_topic_configs(
    topics: &mut [TopicDescription],
    asked: &[&str],
    response: &DescribeConfigsResponse,
    address: &str,
) -> Result<(), AdminError> {
    let matched = match_by_name(address, asked, &response.results, |r| {
        Some(r.resource_name.as_str())
    })?;
    for (name, result) in asked.iter().zip(matched) {
        let Some(topic) = topics.iter_mut().find(|t| t.name == *name) else {
            continue;
        };
        topic.configs =
            match KafkaError::from_answer(result.error_code, result.error_message.as_deref()) {
                Some(error) => TopicConfigs::Failed(error),
                None => {
                    let mut entries: Vec<(String, Option<String>)> = result
                        .configs
                        .iter()
                        .filter(|c| c.config_source != CONFIG_SOURCE_DEFAULT)
                        .map(|c| (c.name.clone(), c.value.clone()))
                        .collect();
                    entries.sort();
                    TopicConfigs::Listed(entries)
                }
            };
    }
    Ok(())
}

fn configs_text(configs: &TopicConfigs) -> String {
    match configs {
        TopicConfigs::Listed(entries) => entries
            .iter()
            .map(|(name, value)| {
                format!(
                    "{}={}",
                    printable(name),
                    value.as_deref().map_or("(sensitive)".into(), printable)
                )
            })
            .collect::<Vec<_>>()
            .join(","),
        TopicConfigs::Failed(e) => format!("(unavailable: {})", printable(&e.to_string())),
        TopicConfigs::Unknown => "(unavailable)".into(),
    }
}

/// The output of `describe`: per topic a summary line (Kafka's kafka-topics.sh --describe
/// fields) and a table of its partitions.
pub fn describe_output(topics: &[TopicDescription]) -> Output {
    let mut text = String::new();
    let mut errors = Vec::new();
    let mut topics_json = Vec::new();
    for topic in topics {
        let name = printable(&topic.name);
        if let Some(error) = &topic.error {
            errors.push(format!("topic {name}: {}", printable(&error.to_string())));
        } else {
            if !text.is_empty() {
                text.push('\n');
            }
            let id = if topic.topic_id == Uuid::ZERO {
                "-".to_owned()
            } else {
                topic.topic_id.to_string()
            };
            let _ = writeln!(
                text,
                "Topic: {name}  TopicId: {id}  PartitionCount: {}  ReplicationFactor: {}  Configs: {}",
                topic.partitions.len(),
                topic
                    .replication_factor()
                    .map_or("-".into(), |r| r.to_string()),
                configs_text(&topic.configs)
            );
            if let TopicConfigs::Failed(e) = &topic.configs {
                errors.push(format!(
                    "configs of topic {name}: {}",
                    printable(&e.to_string())
                ));
            }
            let with_errors = topic.partitions.iter().any(|p| p.error.is_some());
            let mut header = vec![
                "PARTITION",
                "LEADER",
                "LEADER-EPOCH",
                "REPLICAS",
                "ISR",
                "OFFLINE",
            ];
            if with_errors {
                header.push("ERROR");
            }
            let mut table = Table::new(&header);
            for p in &topic.partitions {
                let mut row = vec![
                    p.index.to_string(),
                    if p.leader < 0 {
                        "none".into()
                    } else {
                        p.leader.to_string()
                    },
                    p.leader_epoch.map_or("-".into(), |e| e.to_string()),
                    id_list(&p.replicas),
                    id_list(&p.isr),
                    p.offline_replicas.as_deref().map_or("-".into(), id_list),
                ];
                if with_errors {
                    row.push(p.error.as_ref().map_or("-".into(), |e| {
                        e.name().map_or(e.code.to_string(), str::to_owned)
                    }));
                }
                table.row(row);
            }
            text.push_str(&table.render("  "));
        }
        let (configs, configs_error) = match &topic.configs {
            TopicConfigs::Listed(entries) => (
                Json::object(
                    entries
                        .iter()
                        .map(|(k, v)| (k.clone(), Json::from(v.clone()))),
                ),
                Json::Null,
            ),
            TopicConfigs::Failed(e) => (Json::Null, e.json()),
            TopicConfigs::Unknown => (Json::Null, Json::Null),
        };
        let partitions_json = topic
            .partitions
            .iter()
            .map(|p| {
                Json::object([
                    ("partition", Json::from(p.index)),
                    ("leader", Json::from((p.leader >= 0).then_some(p.leader))),
                    ("leader_epoch", Json::from(p.leader_epoch)),
                    ("replicas", Json::from(&p.replicas[..])),
                    ("isr", Json::from(&p.isr[..])),
                    (
                        "offline_replicas",
                        p.offline_replicas.as_deref().map_or(Json::Null, Json::from),
                    ),
                    ("error", error_json(p.error.as_ref())),
                ])
            })
            .collect();
        topics_json.push(Json::object([
            ("name", Json::from(&topic.name)),
            ("topic_id", topic_id_json(topic.topic_id)),
            ("internal", Json::from(topic.internal)),
            ("partition_count", Json::from(topic.partitions.len())),
            ("replication_factor", Json::from(topic.replication_factor())),
            ("configs", configs),
            ("configs_error", configs_error),
            ("error", error_json(topic.error.as_ref())),
            ("partitions", Json::Array(partitions_json)),
        ]));
    }
    Output {
        text,
        errors,
        json: Json::object([("topics", Json::Array(topics_json))]),
    }
}

/// `keel topics describe`: `names` empty describes every topic.
pub fn describe(connect: &ConnectOptions, names: &[String]) -> Result<Output, AdminError> {
    check_topic_names(names)?;
    let mut session = connect.open()?;
    let asked = (!names.is_empty()).then_some(names);
    let (version, response) = session.metadata(asked)?;
    let mut topics = topic_descriptions(&response, version, asked, session.address(BOOTSTRAP))?;
    let healthy: Vec<String> = topics
        .iter()
        .filter(|t| t.error.is_none())
        .map(|t| t.name.clone())
        .collect();
    let mut output_notes = Vec::new();
    if !healthy.is_empty() {
        if session
            .version_for(BOOTSTRAP, ApiKey::DescribeConfigs, 0)
            .is_ok()
        {
            let asked: Vec<&str> = healthy.iter().map(String::as_str).collect();
            let (_, configs): (i16, DescribeConfigsResponse) =
                session.call(BOOTSTRAP, 0, |_| Ok(describe_topic_configs_request(&asked)))?;
            apply_topic_configs(&mut topics, &asked, &configs, session.address(BOOTSTRAP))?;
        } else {
            output_notes.push(format!(
                "note: {} does not serve DescribeConfigs at a version keel speaks: configs not \
                 shown",
                session.address(BOOTSTRAP)
            ));
        }
    }
    let mut output = describe_output(&topics);
    for note in output_notes {
        let _ = writeln!(output.text, "{note}");
    }
    Ok(output)
}

#[cfg(test)]
mod tests;
