//! `keel configs describe|set|delete`: Kafka's kafka-configs.sh for topics and brokers.
//!
//! - `describe`: DescribeConfigs. A topic, or the cluster-wide broker default (empty name), is
//!   asked of the bootstrap broker; broker `N` of broker `N` itself, as Kafka's AdminClient
//!   does (a Kafka broker describes only its own configs). Without a name, every topic (from
//!   Metadata) or every broker. By default only the entries set dynamically are shown (not
//!   static `server.properties` entries or defaults), as kafka-configs.sh does; `--all` shows
//!   every entry.
//! - `set` and `delete`: one IncrementalAlterConfigs to the controller (SET or DELETE per key),
//!   all-or-nothing for the resource, with `NOT_CONTROLLER` retried ([`super::session`]).
//!   Before a deletion the entity is described, and a key that is not set dynamically is
//!   refused without changing anything ("Invalid config(s): k", as kafka-configs.sh does).

use std::fmt::Write;

use crate::protocol::ErrorCode;

use crate::protocol::messages::{
    DescribeConfigsRequest, DescribeConfigsResponse, IncrementalAlterConfigsRequest,
    IncrementalAlterConfigsResponse, describe_configs_request, incremental_alter_configs_request,
};

use super::args::{parse_add_config, parse_delete_config};
use super::error::{AdminError, KafkaError};
use super::json::Json;
use super::output::Output;
use super::session::{
    BOOTSTRAP, ConnectOptions, NodeIndex, Session, is_not_controller, match_by_name,
};
use super::table::{Table, printable};

/// IncrementalAlterConfigs operations.
const OPERATION_SET: i8 = 0;
const OPERATION_DELETE: i8 = 1;

/// The kinds of entity `--entity-type` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityType {
    Topics,
    Brokers,
}

impl EntityType {
    /// The ConfigResource type on the wire.
    pub fn resource_type(self) -> i8 {
        match self {
            EntityType::Topics => 2,
            EntityType::Brokers => 4,
        }
    }

    /// As `--entity-type` spells it.
    pub fn name(self) -> &'static str {
        match self {
            EntityType::Topics => "topics",
            EntityType::Brokers => "brokers",
        }
    }
}

/// One topic, one broker, or the default of all brokers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entity {
    pub kind: EntityType,
    /// Topic name, broker id, or empty for the brokers' cluster-wide default.
    pub name: String,
}

impl Entity {
    /// Checks `--entity-name` / `--entity-default` for `kind`.
    pub fn new(kind: EntityType, name: Option<&str>, default: bool) -> Result<Entity, AdminError> {
        let usage = |m: &str| Err(AdminError::Usage(m.to_owned()));
        match (kind, name, default) {
            (_, Some(_), true) => usage("give --entity-name or --entity-default, not both"),
            (EntityType::Topics, _, true) => {
                usage("--entity-default is for brokers (topics have no cluster-wide entity)")
            }
            (_, None, false) => usage("give --entity-name (or, for brokers, --entity-default)"),
            (EntityType::Topics, Some(""), _) => usage("--entity-name: the topic name is empty"),
            (EntityType::Topics, Some(name), _) => Ok(Entity {
                kind,
                name: name.to_owned(),
            }),
            (EntityType::Brokers, Some(name), _) => match name.parse::<i32>() {
                Ok(id) if id >= 0 => Ok(Entity {
                    kind,
                    name: id.to_string(),
                }),
                _ => Err(AdminError::Usage(format!(
                    "--entity-name: {name:?} is not a broker id (brokers are named by their \
                     node.id)"
                ))),
            },
            (EntityType::Brokers, None, true) => Ok(Entity {
                kind,
                name: String::new(),
            }),
        }
    }

    /// `topic orders`, `broker 1`, `the default of every broker`.
    pub fn describe(&self) -> String {
        match (self.kind, self.name.as_str()) {
            (EntityType::Topics, name) => format!("topic {}", printable(name)),
            (EntityType::Brokers, "") => "the default of every broker".into(),
            (EntityType::Brokers, id) => format!("broker {}", printable(id)),
        }
    }

    fn json_name(&self) -> Json {
        if self.kind == EntityType::Brokers && self.name.is_empty() {
            Json::Null
        } else {
            Json::from(&self.name)
        }
    }
}

/// Kafka's names for the `ConfigSource` codes (`ConfigEntry.ConfigSource`).
pub fn source_name(source: i8) -> &'static str {
    match source {
        1 => "DYNAMIC_TOPIC_CONFIG",
        2 => "DYNAMIC_BROKER_CONFIG",
        3 => "DYNAMIC_DEFAULT_BROKER_CONFIG",
        4 => "STATIC_BROKER_CONFIG",
        5 => "DEFAULT_CONFIG",
        6 => "DYNAMIC_BROKER_LOGGER_CONFIG",
        7 => "DYNAMIC_CLIENT_METRICS_CONFIG",
        8 => "DYNAMIC_GROUP_CONFIG",
        _ => "UNKNOWN",
    }
}

/// Whether an entry of this source was set dynamically (what describe shows without `--all`).
pub fn is_dynamic(source: i8) -> bool {
    matches!(source, 1 | 2 | 3 | 6 | 7 | 8)
}

/// One configuration entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigEntry {
    pub name: String,
    /// `None`: withheld (sensitive) or null.
    pub value: Option<String>,
    pub source: i8,
    pub read_only: bool,
    pub sensitive: bool,
}

/// The DescribeConfigs request for `entities` (the same at every version).
pub fn describe_configs_request(entities: &[Entity]) -> DescribeConfigsRequest {
    DescribeConfigsRequest {
        resources: entities
            .iter()
            .map(|e| describe_configs_request::DescribeConfigsResource {
                resource_type: e.kind.resource_type(),
                resource_name: e.name.clone(),
                configuration_keys: None,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

/// Each entity's entries (or error), in the order of `entities`, sorted by name.
pub fn describe_outcomes(
    entities: &[Entity],
    response: &DescribeConfigsResponse,
    address: &str,
) -> Result<Vec<Result<Vec<ConfigEntry>, KafkaError>>, AdminError> {
    let asked: Vec<&str> = entities.iter().map(|e| e.name.as_str()).collect();
    let matched = match_by_name(address, &asked, &response.results, |r| {
        Some(r.resource_name.as_str())
    })?;
    let mut outcomes = Vec::new();
    for (entity, result) in entities.iter().zip(matched) {
        if result.resource_type != entity.kind.resource_type() {
            return Err(AdminError::BadAnswer {
                address: address.to_owned(),
                reason: format!(
                    "it answers for {} with resource type {}",
                    entity.describe(),
                    result.resource_type
                ),
            });
        }
        outcomes.push(
            match KafkaError::from_answer(result.error_code, result.error_message.as_deref()) {
                Some(error) => Err(error),
                None => {
                    let mut entries: Vec<ConfigEntry> = result
                        .configs
                        .iter()
                        .map(|c| ConfigEntry {
                            name: c.name.clone(),
                            value: c.value.clone(),
                            source: c.config_source,
                            read_only: c.read_only,
                            sensitive: c.is_sensitive,
                        })
                        .collect();
                    entries.sort_by(|a, b| a.name.cmp(&b.name));
                    Ok(entries)
                }
            },
        );
    }
    Ok(outcomes)
}

fn value_text(entry: &ConfigEntry) -> String {
    match &entry.value {
        Some(value) => printable(value),
        None if entry.sensitive => "(sensitive)".into(),
        None => "(null)".into(),
    }
}

/// The output of `describe`: per entity a heading and a table of its entries.
pub fn describe_output(
    kind: EntityType,
    outcomes: &[(Entity, Result<Vec<ConfigEntry>, KafkaError>)],
    all: bool,
) -> Output {
    let mut text = String::new();
    let mut errors = Vec::new();
    let mut entities_json = Vec::new();
    for (entity, outcome) in outcomes {
        let (configs_json, error_json) = match outcome {
            Err(error) => {
                errors.push(format!(
                    "cannot describe {}: {}",
                    entity.describe(),
                    printable(&error.to_string())
                ));
                (Json::Null, error.json())
            }
            Ok(entries) => {
                let shown: Vec<&ConfigEntry> = entries
                    .iter()
                    .filter(|e| all || is_dynamic(e.source))
                    .collect();
                if !text.is_empty() {
                    text.push('\n');
                }
                let which = if all { "All" } else { "Dynamic" };
                if shown.is_empty() {
                    let _ = writeln!(
                        text,
                        "{which} configs of {}: none{}",
                        entity.describe(),
                        if all {
                            ""
                        } else {
                            " (--all shows every entry)"
                        }
                    );
                } else {
                    let _ = writeln!(text, "{which} configs of {}:", entity.describe());
                    let mut table =
                        Table::new(&["NAME", "VALUE", "SOURCE", "READ-ONLY", "SENSITIVE"]);
                    for e in &shown {
                        table.row(vec![
                            e.name.clone(),
                            value_text(e),
                            source_name(e.source).into(),
                            e.read_only.to_string(),
                            e.sensitive.to_string(),
                        ]);
                    }
                    text.push_str(&table.render("  "));
                }
                let configs = shown
                    .iter()
                    .map(|e| {
                        Json::object([
                            ("name", Json::from(&e.name)),
                            ("value", Json::from(e.value.clone())),
                            ("source", Json::from(source_name(e.source))),
                            ("read_only", Json::from(e.read_only)),
                            ("sensitive", Json::from(e.sensitive)),
                        ])
                    })
                    .collect();
                (Json::Array(configs), Json::Null)
            }
        };
        entities_json.push(Json::object([
            ("name", entity.json_name()),
            ("configs", configs_json),
            ("error", error_json),
        ]));
    }
    if outcomes.is_empty() {
        let _ = writeln!(text, "No {} to describe.", kind.name());
    }
    Output {
        text,
        errors,
        json: Json::object([
            ("entity_type", Json::from(kind.name())),
            ("all", Json::from(all)),
            ("entities", Json::Array(entities_json)),
        ]),
    }
}

/// What `keel configs describe` was asked for.
#[derive(Debug, Clone)]
pub struct DescribeOptions {
    pub kind: EntityType,
    /// `None` with `default` false: every entity of the kind.
    pub name: Option<String>,
    pub default: bool,
    pub all: bool,
}

/// `keel configs describe`.
pub fn describe(connect: &ConnectOptions, options: &DescribeOptions) -> Result<Output, AdminError> {
    let named = options.name.is_some() || options.default;
    let entity = named
        .then(|| Entity::new(options.kind, options.name.as_deref(), options.default))
        .transpose()?;
    let mut session = connect.open()?;
    let entities = if let Some(entity) = entity {
        vec![entity]
    } else {
        match options.kind {
            EntityType::Topics => {
                let (_, response) = session.metadata(None)?;
                let mut names: Vec<String> = response
                    .topics
                    .iter()
                    .filter_map(|t| t.name.clone())
                    .collect();
                names.sort();
                names.dedup();
                names
                    .into_iter()
                    .map(|name| Entity {
                        kind: EntityType::Topics,
                        name,
                    })
                    .collect()
            }
            EntityType::Brokers => {
                let mut ids: Vec<i32> = session.view().brokers.iter().map(|b| b.id).collect();
                ids.sort_unstable();
                ids.dedup();
                ids.into_iter()
                    .map(|id| Entity {
                        kind: EntityType::Brokers,
                        name: id.to_string(),
                    })
                    .collect()
            }
        }
    };
    // Topics and the brokers' default in one request to the bootstrap broker; each broker
    // asked of itself.
    let mut groups: Vec<(NodeIndex, Vec<Entity>)> = Vec::new();
    for entity in entities {
        let node = node_for(&mut session, &entity)?;
        match groups.iter_mut().find(|(n, _)| *n == node) {
            Some((_, group)) => group.push(entity),
            None => groups.push((node, vec![entity])),
        }
    }
    let mut outcomes = Vec::new();
    for (node, group) in groups {
        let (_, response): (i16, DescribeConfigsResponse) =
            session.call(node, 0, |_| Ok(describe_configs_request(&group)))?;
        let results = describe_outcomes(&group, &response, session.address(node))?;
        outcomes.extend(group.into_iter().zip(results));
    }
    Ok(describe_output(options.kind, &outcomes, options.all))
}

/// The node to ask about `entity`: a broker of itself (a Kafka broker describes only its own
/// configs), anything else of the bootstrap broker.
fn node_for(session: &mut Session, entity: &Entity) -> Result<NodeIndex, AdminError> {
    match (entity.kind, entity.name.parse::<i32>()) {
        (EntityType::Brokers, Ok(id)) if session.view().brokers.iter().any(|b| b.id == id) => {
            session.node_for_broker(id)
        }
        _ => Ok(BOOTSTRAP),
    }
}

/// The keys set dynamically on `entity` (what `describe` shows without `--all`), or the
/// error the entity was answered with.
fn dynamic_keys(
    session: &mut Session,
    entity: &Entity,
) -> Result<Result<Vec<String>, KafkaError>, AdminError> {
    let node = node_for(session, entity)?;
    let group = std::slice::from_ref(entity);
    let (_, response): (i16, DescribeConfigsResponse) =
        session.call(node, 0, |_| Ok(describe_configs_request(group)))?;
    let mut outcomes = describe_outcomes(group, &response, session.address(node))?;
    Ok(outcomes.remove(0).map(|entries| {
        entries
            .into_iter()
            .filter(|e| is_dynamic(e.source))
            .map(|e| e.name)
            .collect()
    }))
}

/// kafka-configs.sh refuses to delete a key that is not set, before it changes anything:
/// "Invalid config(s): a,b" (its `InvalidConfigurationException`, exit status 1); `None`
/// when every key to delete is among `set`.
pub fn keys_not_set(change: &ConfigChange, set: &[String]) -> Option<KafkaError> {
    let missing: Vec<&str> = change
        .delete
        .iter()
        .filter(|key| !set.contains(key))
        .map(String::as_str)
        .collect();
    (!missing.is_empty()).then(|| {
        KafkaError::new(
            ErrorCode::InvalidConfig.code(),
            Some(&format!("Invalid config(s): {}", missing.join(","))),
        )
    })
}

/// A change of one entity's configs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigChange {
    pub entity: Entity,
    pub set: Vec<(String, String)>,
    pub delete: Vec<String>,
}

/// What `keel configs set` or `delete` was asked for.
#[derive(Debug, Clone)]
pub struct AlterOptions {
    pub kind: EntityType,
    pub name: Option<String>,
    pub default: bool,
    /// `--add-config` values (set).
    pub add: Vec<String>,
    /// `--delete-config` values (delete).
    pub delete: Vec<String>,
    pub validate_only: bool,
}

impl AlterOptions {
    pub fn change(&self) -> Result<ConfigChange, AdminError> {
        let entity = Entity::new(self.kind, self.name.as_deref(), self.default)?;
        let set = if self.add.is_empty() {
            Vec::new()
        } else {
            parse_add_config(&self.add)?
        };
        let delete = if self.delete.is_empty() {
            Vec::new()
        } else {
            parse_delete_config(&self.delete)?
        };
        if set.is_empty() && delete.is_empty() {
            return Err(AdminError::Usage(
                "nothing to change: give --add-config or --delete-config".into(),
            ));
        }
        if let Some((key, _)) = set.iter().find(|(k, _)| delete.contains(k)) {
            return Err(AdminError::Usage(format!(
                "{key} is both in --add-config and --delete-config"
            )));
        }
        Ok(ConfigChange {
            entity,
            set,
            delete,
        })
    }
}

/// The IncrementalAlterConfigs request for `changes` (the same at every version).
pub fn alter_request(
    changes: &[ConfigChange],
    validate_only: bool,
) -> IncrementalAlterConfigsRequest {
    IncrementalAlterConfigsRequest {
        resources: changes
            .iter()
            .map(
                |c| incremental_alter_configs_request::AlterConfigsResource {
                    resource_type: c.entity.kind.resource_type(),
                    resource_name: c.entity.name.clone(),
                    configs: c
                        .set
                        .iter()
                        .map(
                            |(name, value)| incremental_alter_configs_request::AlterableConfig {
                                name: name.clone(),
                                config_operation: OPERATION_SET,
                                value: Some(value.clone()),
                                ..Default::default()
                            },
                        )
                        .chain(c.delete.iter().map(|name| {
                            incremental_alter_configs_request::AlterableConfig {
                                name: name.clone(),
                                config_operation: OPERATION_DELETE,
                                value: None,
                                ..Default::default()
                            }
                        }))
                        .collect(),
                    ..Default::default()
                },
            )
            .collect(),
        validate_only,
        ..Default::default()
    }
}

/// Each change's error (`None`: applied), in the order of `changes`.
pub fn alter_outcomes(
    changes: &[ConfigChange],
    response: &IncrementalAlterConfigsResponse,
    address: &str,
) -> Result<Vec<Option<KafkaError>>, AdminError> {
    let asked: Vec<&str> = changes.iter().map(|c| c.entity.name.as_str()).collect();
    let matched = match_by_name(address, &asked, &response.responses, |r| {
        Some(r.resource_name.as_str())
    })?;
    Ok(matched
        .into_iter()
        .map(|r| KafkaError::from_answer(r.error_code, r.error_message.as_deref()))
        .collect())
}

/// The output of `set` / `delete`.
pub fn alter_output(
    outcomes: &[(ConfigChange, Option<KafkaError>)],
    validate_only: bool,
) -> Output {
    let mut text = String::new();
    let mut errors = Vec::new();
    let mut changes_json = Vec::new();
    for (change, error) in outcomes {
        let mut what = Vec::new();
        if !change.set.is_empty() {
            let pairs: Vec<String> = change
                .set
                .iter()
                .map(|(k, v)| format!("{}={}", printable(k), printable(v)))
                .collect();
            what.push(format!("set {}", pairs.join(", ")));
        }
        if !change.delete.is_empty() {
            let keys: Vec<String> = change.delete.iter().map(|k| printable(k)).collect();
            what.push(format!("deleted {}", keys.join(", ")));
        }
        let what = what.join("; ");
        let status = match error {
            None if validate_only => {
                let _ = writeln!(
                    text,
                    "Valid change of {} ({what}); --validate-only: nothing changed.",
                    change.entity.describe()
                );
                "validated"
            }
            None => {
                let _ = writeln!(text, "Updated {}: {what}.", change.entity.describe());
                "updated"
            }
            Some(e) => {
                errors.push(format!(
                    "cannot change {}: {}",
                    change.entity.describe(),
                    printable(&e.to_string())
                ));
                "failed"
            }
        };
        changes_json.push(Json::object([
            ("entity_type", Json::from(change.entity.kind.name())),
            ("entity_name", change.entity.json_name()),
            ("status", Json::from(status)),
            (
                "set",
                Json::object(change.set.iter().map(|(k, v)| (k.clone(), Json::from(v)))),
            ),
            ("deleted", Json::array(change.delete.iter())),
            ("error", error.as_ref().map_or(Json::Null, KafkaError::json)),
        ]));
    }
    Output {
        text,
        errors,
        json: Json::object([
            ("validate_only", Json::from(validate_only)),
            ("changes", Json::Array(changes_json)),
        ]),
    }
}

/// `keel configs set` and `keel configs delete`.
pub fn alter(connect: &ConnectOptions, options: &AlterOptions) -> Result<Output, AdminError> {
    let change = options.change()?;
    let mut session = connect.open()?;
    let validate_only = options.validate_only;
    if !change.delete.is_empty() {
        let refusal = match dynamic_keys(&mut session, &change.entity)? {
            Ok(set) => keys_not_set(&change, &set),
            Err(error) => Some(error),
        };
        if let Some(error) = refusal {
            return Ok(alter_output(&[(change, Some(error))], validate_only));
        }
    }
    let outcomes = session.call_controller(
        vec![change],
        0,
        |changes, _, _| Ok(alter_request(changes, validate_only)),
        |changes, response: IncrementalAlterConfigsResponse, _, address| {
            alter_outcomes(changes, &response, address)
        },
        |error| is_not_controller(error.as_ref()),
    )?;
    Ok(alter_output(&outcomes, validate_only))
}

#[cfg(test)]
mod tests;
