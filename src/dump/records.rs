//! Records as readable text and as JSON: the metadata decoder's typed records
//! (`metadata::record`), one line or one JSON object each, with every field that carries
//! meaning, and a record that does not decode shown as an error naming its offset.
//!
//! Each record is described once, as a list of fields ([`fields`]); the text and the JSON
//! renderings are two views of that list, so they cannot disagree. Topic ids in partition
//! records are named from the TopicRecords seen before them ([`TopicNames`]).

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::constants::DUMP_TOPIC_NAMES_MAX;
use crate::metadata::MetadataRecord;
use crate::metadata::image::{
    RESOURCE_BROKER, RESOURCE_BROKER_LOGGER, RESOURCE_CLIENT_METRICS, RESOURCE_GROUP,
    RESOURCE_TOPIC,
};
use crate::metadata::record::{ControlRecord, RecordError, decode_control, decode_frame};
use crate::protocol::messages::{
    LeaderChangeMessage, SnapshotFooterRecord, SnapshotHeaderRecord, TopicRecord,
    leader_change_message,
};
use crate::protocol::primitives::RawTaggedField;
use crate::protocol::{Message, Uuid};

use super::text::timestamp;
use crate::json_escape::write_json_string;

/// A decoded record of a data or a control batch, with the version it was written at.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    Metadata(MetadataRecord, i16),
    Control(ControlRecord, i16),
}

impl Decoded {
    /// The schema name, e.g. `PartitionChangeRecord`, `LeaderChangeMessage`.
    pub fn name(&self) -> &'static str {
        match self {
            Decoded::Metadata(record, _) => record.name(),
            Decoded::Control(ControlRecord::LeaderChange(_), _) => LeaderChangeMessage::NAME,
            Decoded::Control(ControlRecord::SnapshotHeader(_), _) => SnapshotHeaderRecord::NAME,
            Decoded::Control(ControlRecord::SnapshotFooter(_), _) => SnapshotFooterRecord::NAME,
        }
    }

    pub fn version(&self) -> i16 {
        match self {
            Decoded::Metadata(_, v) | Decoded::Control(_, v) => *v,
        }
    }
}

/// Decodes one record of a batch (`control`: the batch's control bit), as a node would.
pub fn decode(control: bool, bytes: &[u8]) -> Result<Decoded, RecordError> {
    if control {
        let version = decode_frame(bytes)?.version;
        decode_control(bytes).map(|record| Decoded::Control(record, version))
    } else {
        MetadataRecord::decode_versioned(bytes).map(|(record, v)| Decoded::Metadata(record, v))
    }
}

/// The schema name of a record that decodes, as a node would decode it; without moving the
/// decoded record around (verify and stats decode every record and keep none).
pub fn decoded_name(control: bool, bytes: &[u8]) -> Result<&'static str, RecordError> {
    if control {
        decode_control(bytes).map(|record| match record {
            ControlRecord::LeaderChange(_) => LeaderChangeMessage::NAME,
            ControlRecord::SnapshotHeader(_) => SnapshotHeaderRecord::NAME,
            ControlRecord::SnapshotFooter(_) => SnapshotFooterRecord::NAME,
        })
    } else {
        MetadataRecord::decode(bytes).map(|record| record.name())
    }
}

/// What a record that does not decode is counted as in statistics: its type when the frame
/// is readable (at most 2 x 65536 distinct keys), else one bucket.
pub fn unreadable_kind(control: bool, bytes: &[u8]) -> String {
    let kind = if control { "control" } else { "metadata" };
    match decode_frame(bytes) {
        Ok(frame) => format!("unreadable {kind} record type {}", frame.record_type),
        Err(_) => format!("unreadable {kind} record frame"),
    }
}

/// Topic names by id, learnt from TopicRecords, to name the topic of partition records.
/// Bounded by `DUMP_TOPIC_NAMES_MAX`; past it, records show ids alone.
#[derive(Debug, Default)]
pub struct TopicNames {
    names: HashMap<Uuid, String>,
}

impl TopicNames {
    pub fn learn(&mut self, record: &MetadataRecord) {
        if let MetadataRecord::Topic(topic) = record
            && (self.names.len() < DUMP_TOPIC_NAMES_MAX || self.names.contains_key(&topic.topic_id))
        {
            self.names.insert(topic.topic_id, topic.name.clone());
        }
    }

    /// Learns from a record not otherwise decoded: only a TopicRecord's body is decoded.
    pub fn learn_from_bytes(&mut self, control: bool, bytes: &[u8]) {
        if control {
            return;
        }
        if let Ok(frame) = decode_frame(bytes)
            && frame.record_type == TopicRecord::RECORD_TYPE
            && let Ok(record) = MetadataRecord::decode_frame(&frame)
        {
            self.learn(&record);
        }
    }

    pub fn get(&self, id: &Uuid) -> Option<&str> {
        self.names.get(id).map(String::as_str)
    }
}

/// One field's value, borrowed from the record where it can be (a listing decodes millions
/// of records; copying each field would cost more than decoding it).
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Int(i64),
    Str(&'a str),
    /// A string made for the listing (e.g. `topic:orders`).
    Text(String),
    Bool(bool),
    Null,
    Ints(&'a [i32]),
    Uuid(Uuid),
    Uuids(&'a [Uuid]),
    /// Milliseconds since the Unix epoch: ISO 8601 in text, the number in JSON.
    Time(i64),
    /// Structures: `text` in text, their fields as JSON objects.
    Structs(Vec<Struct<'a>>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Struct<'a> {
    pub text: String,
    pub fields: Vec<Field<'a>>,
}

/// A named value; `text: false` fields appear in JSON only (a topic id next to its name).
#[derive(Debug, Clone, PartialEq)]
pub struct Field<'a> {
    pub key: &'static str,
    pub value: Value<'a>,
    pub text: bool,
}

fn field<'a>(key: &'static str, value: Value<'a>) -> Field<'a> {
    Field {
        key,
        value,
        text: true,
    }
}

fn int<'a>(value: impl Into<i64>) -> Value<'a> {
    Value::Int(value.into())
}

fn opt_str(value: &Option<String>) -> Value<'_> {
    value.as_deref().map_or(Value::Null, Value::Str)
}

fn resource_type_name(resource_type: i8) -> String {
    match resource_type {
        RESOURCE_TOPIC => "topic".into(),
        RESOURCE_BROKER => "broker".into(),
        RESOURCE_BROKER_LOGGER => "broker-logger".into(),
        RESOURCE_CLIENT_METRICS => "client-metrics".into(),
        RESOURCE_GROUP => "group".into(),
        other => format!("type-{other}"),
    }
}

/// Kafka's security protocol ids (`SecurityProtocol`).
pub fn security_protocol_name(id: i16) -> String {
    match id {
        0 => "PLAINTEXT".into(),
        1 => "SSL".into(),
        2 => "SASL_PLAINTEXT".into(),
        3 => "SASL_SSL".into(),
        other => format!("protocol-{other}"),
    }
}

/// A listener as Kafka writes one (`NAME://host:port`), with its security protocol when the
/// name does not say it.
pub fn listener_text(name: &str, host: &str, port: u16, security_protocol: i16) -> String {
    let protocol = security_protocol_name(security_protocol);
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    };
    if protocol == name {
        format!("{name}://{host}:{port}")
    } else {
        format!("{name}({protocol})://{host}:{port}")
    }
}

fn topic_fields<'a>(out: &mut Vec<Field<'a>>, names: &'a TopicNames, topic_id: Uuid) {
    match names.get(&topic_id) {
        Some(name) => {
            out.push(field("topic", Value::Str(name)));
            out.push(Field {
                key: "topic_id",
                value: Value::Uuid(topic_id),
                text: false,
            });
        }
        None => out.push(field("topic_id", Value::Uuid(topic_id))),
    }
}

fn unknown_tags(out: &mut Vec<Field<'_>>, tags: &[RawTaggedField]) {
    if !tags.is_empty() {
        let tags: Vec<String> = tags.iter().map(|t| t.tag.to_string()).collect();
        out.push(field("unknown_tags", Value::Text(tags.join(","))));
    }
}

fn voters(list: &[leader_change_message::Voter]) -> Value<'_> {
    Value::Structs(
        list.iter()
            .map(|v| Struct {
                text: if v.voter_directory_id == Uuid::ZERO {
                    v.voter_id.to_string()
                } else {
                    format!("{}:{}", v.voter_id, v.voter_directory_id)
                },
                fields: vec![
                    field("id", int(v.voter_id)),
                    field("directory_id", Value::Uuid(v.voter_directory_id)),
                ],
            })
            .collect(),
    )
}

/// The fields of a record worth showing, in schema order; fields a record leaves at "no
/// change" (PartitionChange, BrokerRegistrationChange) or empty and unused are left out.
pub fn fields<'a>(record: &'a Decoded, names: &'a TopicNames) -> Vec<Field<'a>> {
    let mut out = Vec::with_capacity(8);
    match record {
        Decoded::Metadata(record, _) => match record {
            MetadataRecord::RegisterBroker(r) => {
                out.push(field("broker", int(r.broker_id)));
                out.push(field("epoch", int(r.broker_epoch)));
                out.push(field("incarnation", Value::Uuid(r.incarnation_id)));
                let listeners = r
                    .end_points
                    .iter()
                    .map(|e| Struct {
                        text: listener_text(&e.name, &e.host, e.port, e.security_protocol),
                        fields: vec![
                            field("name", Value::Str(&e.name)),
                            field("host", Value::Str(&e.host)),
                            field("port", int(e.port)),
                            field(
                                "security_protocol",
                                Value::Text(security_protocol_name(e.security_protocol)),
                            ),
                        ],
                    })
                    .collect();
                out.push(field("listeners", Value::Structs(listeners)));
                let features = r
                    .features
                    .iter()
                    .map(|f| Struct {
                        text: format!(
                            "{}:{}-{}",
                            f.name, f.min_supported_version, f.max_supported_version
                        ),
                        fields: vec![
                            field("name", Value::Str(&f.name)),
                            field("min", int(f.min_supported_version)),
                            field("max", int(f.max_supported_version)),
                        ],
                    })
                    .collect();
                out.push(field("features", Value::Structs(features)));
                out.push(field("rack", opt_str(&r.rack)));
                out.push(field("fenced", Value::Bool(r.fenced)));
                out.push(field(
                    "in_controlled_shutdown",
                    Value::Bool(r.in_controlled_shutdown),
                ));
                if r.is_migrating_zk_broker {
                    out.push(field("is_migrating_zk_broker", Value::Bool(true)));
                }
                if !r.log_dirs.is_empty() {
                    out.push(field("log_dirs", Value::Uuids(&r.log_dirs)));
                }
                unknown_tags(&mut out, &r.unknown_tagged_fields);
            }
            MetadataRecord::UnregisterBroker(r) => {
                out.push(field("broker", int(r.broker_id)));
                out.push(field("epoch", int(r.broker_epoch)));
                unknown_tags(&mut out, &r.unknown_tagged_fields);
            }
            MetadataRecord::Topic(r) => {
                out.push(field("name", Value::Str(&r.name)));
                out.push(field("id", Value::Uuid(r.topic_id)));
                unknown_tags(&mut out, &r.unknown_tagged_fields);
            }
            MetadataRecord::Partition(r) => {
                topic_fields(&mut out, names, r.topic_id);
                out.push(field("partition", int(r.partition_id)));
                out.push(field("replicas", Value::Ints(&r.replicas)));
                out.push(field("isr", Value::Ints(&r.isr)));
                out.push(field("leader", int(r.leader)));
                out.push(field("leader_epoch", int(r.leader_epoch)));
                out.push(field("partition_epoch", int(r.partition_epoch)));
                if !r.removing_replicas.is_empty() {
                    out.push(field(
                        "removing_replicas",
                        Value::Ints(&r.removing_replicas),
                    ));
                }
                if !r.adding_replicas.is_empty() {
                    out.push(field("adding_replicas", Value::Ints(&r.adding_replicas)));
                }
                if r.leader_recovery_state != 0 {
                    out.push(field("leader_recovery_state", int(r.leader_recovery_state)));
                }
                if !r.directories.is_empty() {
                    out.push(field("directories", Value::Uuids(&r.directories)));
                }
                if let Some(elr) = &r.eligible_leader_replicas {
                    out.push(field("eligible_leader_replicas", Value::Ints(elr)));
                }
                if let Some(elr) = &r.last_known_elr {
                    out.push(field("last_known_elr", Value::Ints(elr)));
                }
                unknown_tags(&mut out, &r.unknown_tagged_fields);
            }
            MetadataRecord::Config(r) => {
                let name = if r.resource_type == RESOURCE_BROKER && r.resource_name.is_empty() {
                    "<default>"
                } else {
                    &r.resource_name
                };
                out.push(field(
                    "resource",
                    Value::Text(format!("{}:{name}", resource_type_name(r.resource_type))),
                ));
                out.push(Field {
                    key: "resource_type",
                    value: Value::Text(resource_type_name(r.resource_type)),
                    text: false,
                });
                out.push(Field {
                    key: "resource_name",
                    value: Value::Str(&r.resource_name),
                    text: false,
                });
                out.push(field("name", Value::Str(&r.name)));
                out.push(field("value", opt_str(&r.value)));
                unknown_tags(&mut out, &r.unknown_tagged_fields);
            }
            MetadataRecord::PartitionChange(r) => {
                topic_fields(&mut out, names, r.topic_id);
                out.push(field("partition", int(r.partition_id)));
                if r.leader != crate::metadata::image::NO_LEADER_CHANGE {
                    out.push(field("leader", int(r.leader)));
                }
                let optional = [
                    ("isr", &r.isr),
                    ("replicas", &r.replicas),
                    ("removing_replicas", &r.removing_replicas),
                    ("adding_replicas", &r.adding_replicas),
                ];
                for (key, value) in optional {
                    if let Some(value) = value {
                        out.push(field(key, Value::Ints(value)));
                    }
                }
                if r.leader_recovery_state != -1 {
                    out.push(field("leader_recovery_state", int(r.leader_recovery_state)));
                }
                if let Some(directories) = &r.directories {
                    out.push(field("directories", Value::Uuids(directories)));
                }
                if let Some(elr) = &r.eligible_leader_replicas {
                    out.push(field("eligible_leader_replicas", Value::Ints(elr)));
                }
                if let Some(elr) = &r.last_known_elr {
                    out.push(field("last_known_elr", Value::Ints(elr)));
                }
                unknown_tags(&mut out, &r.unknown_tagged_fields);
            }
            MetadataRecord::RemoveTopic(r) => {
                topic_fields(&mut out, names, r.topic_id);
                if names.get(&r.topic_id).is_some() {
                    // Removal is where the id matters most: show it in text too.
                    out.last_mut().expect("topic_fields pushed the id").text = true;
                }
                unknown_tags(&mut out, &r.unknown_tagged_fields);
            }
            MetadataRecord::FeatureLevel(r) => {
                out.push(field("name", Value::Str(&r.name)));
                out.push(field("level", int(r.feature_level)));
                unknown_tags(&mut out, &r.unknown_tagged_fields);
            }
            MetadataRecord::BrokerRegistrationChange(r) => {
                out.push(field("broker", int(r.broker_id)));
                out.push(field("epoch", int(r.broker_epoch)));
                match r.fenced {
                    0 => {}
                    1 => out.push(field("fenced", Value::Bool(true))),
                    -1 => out.push(field("fenced", Value::Bool(false))),
                    other => out.push(field("fenced", int(other))),
                }
                match r.in_controlled_shutdown {
                    0 => {}
                    1 => out.push(field("in_controlled_shutdown", Value::Bool(true))),
                    other => out.push(field("in_controlled_shutdown", int(other))),
                }
                if !r.log_dirs.is_empty() {
                    out.push(field("log_dirs", Value::Uuids(&r.log_dirs)));
                }
                unknown_tags(&mut out, &r.unknown_tagged_fields);
            }
            MetadataRecord::NoOp(r) => unknown_tags(&mut out, &r.unknown_tagged_fields),
        },
        Decoded::Control(record, _) => match record {
            ControlRecord::LeaderChange(r) => {
                out.push(field("leader", int(r.leader_id)));
                out.push(field("voters", voters(&r.voters)));
                out.push(field("granting_voters", voters(&r.granting_voters)));
                unknown_tags(&mut out, &r.unknown_tagged_fields);
            }
            ControlRecord::SnapshotHeader(r) => {
                out.push(field(
                    "last_contained_log_timestamp",
                    Value::Time(r.last_contained_log_timestamp),
                ));
                unknown_tags(&mut out, &r.unknown_tagged_fields);
            }
            ControlRecord::SnapshotFooter(r) => unknown_tags(&mut out, &r.unknown_tagged_fields),
        },
    }
    out
}

/// Whether a string can be shown bare in text: a plain token that cannot be mistaken for
/// more fields, a list or `null`.
fn is_plain(s: &str) -> bool {
    !s.is_empty()
        && s != "null"
        && s.bytes()
            .all(|c| c.is_ascii_graphic() && !matches!(c, b'"' | b'=' | b'[' | b']' | b',' | b'\\'))
}

/// A string as text: bare when it is a plain token, else quoted and escaped like JSON, so a
/// config value with spaces or `=` cannot be mistaken for more fields.
fn write_text_string(out: &mut String, s: &str) {
    if is_plain(s) {
        out.push_str(s);
    } else {
        write_json_string(out, s);
    }
}

fn write_list<T>(out: &mut String, items: &[T], mut write: impl FnMut(&mut String, &T)) {
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write(out, item);
    }
    out.push(']');
}

fn write_int(out: &mut String, n: i64) {
    let _ = write!(out, "{n}");
}

fn write_value_text(out: &mut String, value: &Value<'_>) {
    match value {
        Value::Int(n) => write_int(out, *n),
        Value::Str(s) => write_text_string(out, s),
        Value::Text(s) => write_text_string(out, s),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Null => out.push_str("null"),
        Value::Ints(list) => write_list(out, list, |out, n| write_int(out, i64::from(*n))),
        Value::Uuid(id) => {
            let _ = write!(out, "{id}");
        }
        Value::Uuids(list) => write_list(out, list, |out, id| {
            let _ = write!(out, "{id}");
        }),
        Value::Time(ms) => out.push_str(&timestamp(*ms)),
        Value::Structs(list) => write_list(out, list, |out, s| out.push_str(&s.text)),
    }
}

fn write_value_json(out: &mut String, value: &Value<'_>) {
    match value {
        Value::Int(n) | Value::Time(n) => write_int(out, *n),
        Value::Str(s) => write_json_string(out, s),
        Value::Text(s) => write_json_string(out, s),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Null => out.push_str("null"),
        Value::Ints(list) => write_list(out, list, |out, n| write_int(out, i64::from(*n))),
        Value::Uuid(id) => {
            let _ = write!(out, "\"{id}\"");
        }
        Value::Uuids(list) => write_list(out, list, |out, id| {
            let _ = write!(out, "\"{id}\"");
        }),
        Value::Structs(list) => write_list(out, list, |out, s| write_fields_json(out, &s.fields)),
    }
}

/// Fields as one JSON object.
pub fn write_fields_json(out: &mut String, fields: &[Field<'_>]) {
    out.push('{');
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_json_string(out, f.key);
        out.push(':');
        write_value_json(out, &f.value);
    }
    out.push('}');
}

/// Fields as ` key=value` pairs (each with its leading space).
pub fn write_fields_text(out: &mut String, fields: &[Field<'_>]) {
    for f in fields.iter().filter(|f| f.text) {
        out.push(' ');
        out.push_str(f.key);
        out.push('=');
        write_value_text(out, &f.value);
    }
}

/// Appends one record as a line of text, e.g.
/// `  offset 12 PartitionChangeRecord v2 topic=orders partition=3 leader=1 isr=[1,2]`.
pub fn write_record_line(
    out: &mut String,
    offset: u64,
    decoded: &Result<Decoded, RecordError>,
    names: &TopicNames,
) {
    match decoded {
        Ok(record) => {
            let _ = write!(
                out,
                "  offset {offset} {} v{}",
                record.name(),
                record.version()
            );
            write_fields_text(out, &fields(record, names));
        }
        Err(error) => {
            let _ = write!(out, "  offset {offset} ERROR {error}");
        }
    }
    out.push('\n');
}

/// Appends one record as a JSON object on its own line.
pub fn write_record_json(
    out: &mut String,
    offset: u64,
    decoded: &Result<Decoded, RecordError>,
    names: &TopicNames,
) {
    match decoded {
        Ok(record) => {
            let _ = write!(out, "{{\"type\":\"record\",\"offset\":{offset},\"record\":");
            write_json_string(out, record.name());
            let _ = write!(out, ",\"version\":{},\"fields\":", record.version());
            write_fields_json(out, &fields(record, names));
            out.push('}');
        }
        Err(error) => {
            let _ = write!(out, "{{\"type\":\"record\",\"offset\":{offset},\"error\":");
            write_json_string(out, &error.to_string());
            out.push('}');
        }
    }
    out.push('\n');
}

/// One record as a line of text (without the newline).
pub fn record_line(
    offset: u64,
    decoded: &Result<Decoded, RecordError>,
    names: &TopicNames,
) -> String {
    let mut out = String::new();
    write_record_line(&mut out, offset, decoded, names);
    out.pop();
    out
}

/// One record as a JSON object (without the newline).
pub fn record_json(
    offset: u64,
    decoded: &Result<Decoded, RecordError>,
    names: &TopicNames,
) -> String {
    let mut out = String::new();
    write_record_json(&mut out, offset, decoded, names);
    out.pop();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::record::{encode_leader_change, encode_snapshot_header};
    use crate::protocol::messages::{
        BrokerRegistrationChangeRecord, ConfigRecord, PartitionChangeRecord, RegisterBrokerRecord,
        register_broker_record::BrokerEndpoint,
    };

    fn id(n: u8) -> Uuid {
        Uuid::from_bytes([n; 16])
    }

    fn line(offset: u64, record: MetadataRecord, names: &TopicNames) -> String {
        record_line(offset, &decode(false, &record.encode()), names)
    }

    #[test]
    fn a_partition_change_shows_only_what_changes_and_names_its_topic() {
        let mut names = TopicNames::default();
        let change = MetadataRecord::PartitionChange(PartitionChangeRecord {
            topic_id: id(7),
            partition_id: 3,
            leader: 1,
            isr: Some(vec![1, 2]),
            leader_recovery_state: -1,
            ..Default::default()
        });
        assert_eq!(
            line(9, change.clone(), &names),
            format!(
                "  offset 9 PartitionChangeRecord v2 topic_id={} partition=3 leader=1 isr=[1,2]",
                id(7)
            )
        );
        names.learn_from_bytes(
            false,
            &MetadataRecord::Topic(TopicRecord {
                name: "orders".into(),
                topic_id: id(7),
                ..Default::default()
            })
            .encode(),
        );
        assert_eq!(
            line(9, change.clone(), &names),
            "  offset 9 PartitionChangeRecord v2 topic=orders partition=3 leader=1 isr=[1,2]"
        );
        let json = record_json(9, &decode(false, &change.encode()), &names);
        assert_eq!(
            json,
            format!(
                "{{\"type\":\"record\",\"offset\":9,\"record\":\"PartitionChangeRecord\",\"version\":2,\
                 \"fields\":{{\"topic\":\"orders\",\"topic_id\":\"{}\",\"partition\":3,\"leader\":1,\"isr\":[1,2]}}}}",
                id(7)
            )
        );
    }

    #[test]
    fn brokers_configs_and_fencing_read_naturally() {
        let names = TopicNames::default();
        let register = MetadataRecord::RegisterBroker(RegisterBrokerRecord {
            broker_id: 1,
            broker_epoch: 37,
            incarnation_id: id(2),
            end_points: vec![
                BrokerEndpoint {
                    name: "PLAINTEXT".into(),
                    host: "h1".into(),
                    port: 9092,
                    security_protocol: 0,
                    ..Default::default()
                },
                BrokerEndpoint {
                    name: "INTERNAL".into(),
                    host: "::1".into(),
                    port: 9094,
                    security_protocol: 3,
                    ..Default::default()
                },
            ],
            rack: Some("r 1".into()),
            fenced: true,
            ..Default::default()
        });
        assert_eq!(
            line(37, register, &names),
            format!(
                "  offset 37 RegisterBrokerRecord v3 broker=1 epoch=37 incarnation={} \
                 listeners=[PLAINTEXT://h1:9092,INTERNAL(SASL_SSL)://[::1]:9094] features=[] \
                 rack=\"r 1\" fenced=true in_controlled_shutdown=false",
                id(2)
            )
        );
        let config = MetadataRecord::Config(ConfigRecord {
            resource_type: RESOURCE_BROKER,
            resource_name: String::new(),
            name: "log.retention.ms".into(),
            value: None,
            ..Default::default()
        });
        assert_eq!(
            line(4, config, &names),
            "  offset 4 ConfigRecord v0 resource=broker:<default> name=log.retention.ms value=null"
        );
        let unfence = MetadataRecord::BrokerRegistrationChange(BrokerRegistrationChangeRecord {
            broker_id: 1,
            broker_epoch: 37,
            fenced: -1,
            ..Default::default()
        });
        assert_eq!(
            line(40, unfence, &names),
            "  offset 40 BrokerRegistrationChangeRecord v2 broker=1 epoch=37 fenced=false"
        );
    }

    #[test]
    fn control_records_and_errors_name_themselves_and_the_offset() {
        let names = TopicNames::default();
        let leader_change = encode_leader_change(&LeaderChangeMessage {
            version: 1,
            leader_id: 2,
            voters: vec![leader_change_message::Voter {
                voter_id: 2,
                voter_directory_id: id(5),
                ..Default::default()
            }],
            ..Default::default()
        });
        assert_eq!(
            record_line(0, &decode(true, &leader_change), &names),
            format!(
                "  offset 0 LeaderChangeMessage v1 leader=2 voters=[2:{}] granting_voters=[]",
                id(5)
            )
        );
        assert_eq!(
            record_line(0, &decode(true, &encode_snapshot_header(0)), &names),
            "  offset 0 SnapshotHeaderRecord v0 last_contained_log_timestamp=1970-01-01T00:00:00.000Z"
        );
        // Type 99 is no record keel knows; a LeaderChange in a data batch is not a record of
        // type 2 (TopicRecord) either.
        let unknown = decode(false, &[0x01, 0x63, 0x00, 0x00]);
        assert_eq!(
            record_line(4711, &unknown, &names),
            "  offset 4711 ERROR unknown metadata record type 99 version 0"
        );
        assert_eq!(
            record_json(4711, &unknown, &names),
            "{\"type\":\"record\",\"offset\":4711,\"error\":\"unknown metadata record type 99 version 0\"}"
        );
        assert!(decode(false, &leader_change).is_err());
        assert_eq!(
            unreadable_kind(false, &[0x01, 0x63, 0x00, 0x00]),
            "unreadable metadata record type 99"
        );
        assert_eq!(
            unreadable_kind(true, &[0x07]),
            "unreadable control record frame"
        );
    }

    #[test]
    fn strings_that_are_not_plain_tokens_are_quoted() {
        let text = |s: &str| {
            let mut out = String::new();
            write_text_string(&mut out, s);
            out
        };
        assert_eq!(text("compact"), "compact");
        assert_eq!(text("a b"), "\"a b\"");
        assert_eq!(text("x=y"), "\"x=y\"");
        assert_eq!(text(""), "\"\"");
        assert_eq!(text("null"), "\"null\"");
    }

    #[test]
    fn topic_names_are_bounded() {
        let mut names = TopicNames::default();
        for n in 0..(DUMP_TOPIC_NAMES_MAX as u32 + 10) {
            let mut bytes = [0u8; 16];
            bytes[..4].copy_from_slice(&n.to_be_bytes());
            names.learn(&MetadataRecord::Topic(TopicRecord {
                name: format!("t{n}"),
                topic_id: Uuid::from_bytes(bytes),
                ..Default::default()
            }));
        }
        assert_eq!(names.names.len(), DUMP_TOPIC_NAMES_MAX);
    }
}
