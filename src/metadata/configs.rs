//! The configuration keys the controller accepts, with their types and Kafka's defaults.
//!
//! Topic configs: Kafka 4.x's topic-level keys (`org.apache.kafka.common.config.TopicConfig`,
//! the ones `kafka-configs.sh --entity-type topics` accepts), each with its type and the
//! default Kafka shows in DescribeConfigs. A key not listed is refused (`INVALID_CONFIG`, as
//! Kafka answers "Unknown topic config name"); a value is checked loosely against its type
//! (numbers parse, booleans are `true`/`false`, enumerations hold a listed value), not against
//! every range Kafka enforces.
//!
//! Broker configs: Kafka's own list ([`super::broker_configs`], generated from the page Kafka
//! generates from its `ConfigDef`), each with its type, default and update mode. A broker
//! describes every one of them for itself, as Kafka does; only the dynamic ones (update mode
//! per-broker or cluster-wide) may be set through AlterConfigs, per-broker ones only on a
//! named broker. A key Kafka does not define is refused (`INVALID_CONFIG`, as for topics); a
//! key Kafka defines but cannot change at runtime is refused with Kafka's `INVALID_REQUEST`
//! "Cannot update these configs dynamically". Listener-prefixed keys
//! (`listener.name.<listener>.[<mechanism>.]<key>`) stand for their key.

use crate::constants::WIRE_STRING_BYTES_MAX;

/// How a config value is parsed (Kafka's `ConfigDef.Type`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ConfigType {
    Boolean,
    Int,
    Short,
    Long,
    Double,
    String,
    /// Comma-separated values; APPEND and SUBTRACT work on these.
    List,
    /// A Java class name.
    Class,
    /// A secret: described as null and sensitive, never shown.
    Password,
}

impl ConfigType {
    /// Kafka's `ConfigType` code in DescribeConfigs (v3+).
    pub fn wire_code(self) -> i8 {
        match self {
            ConfigType::Boolean => 1,
            ConfigType::String => 2,
            ConfigType::Int => 3,
            ConfigType::Short => 4,
            ConfigType::Long => 5,
            ConfigType::Double => 6,
            ConfigType::List => 7,
            ConfigType::Class => 8,
            ConfigType::Password => 9,
        }
    }
}

/// Whether a broker config can be changed at runtime, and where (Kafka's "Update Mode").
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum UpdateMode {
    /// Only in `server.properties`, read at start.
    ReadOnly,
    /// Dynamically, for one broker.
    PerBroker,
    /// Dynamically, for one broker or for all (the cluster-wide default resource).
    ClusterWide,
}

/// One of Kafka's broker configs.
#[derive(Clone, Copy, Debug)]
pub struct BrokerConfigDef {
    pub name: &'static str,
    pub config_type: ConfigType,
    /// Kafka's default as DescribeConfigs shows it; `None` is null.
    pub default: Option<&'static str>,
    pub mode: UpdateMode,
}

/// One topic config key.
#[derive(Clone, Copy, Debug)]
pub struct TopicConfigDef {
    pub name: &'static str,
    pub config_type: ConfigType,
    /// Kafka's default, as DescribeConfigs prints it.
    pub default: &'static str,
    /// The only values allowed (each list element, for lists), or empty for any.
    pub valid_values: &'static [&'static str],
    /// The smallest number allowed, for numbers.
    pub min: Option<i64>,
}

const fn def(name: &'static str, config_type: ConfigType, default: &'static str) -> TopicConfigDef {
    TopicConfigDef {
        name,
        config_type,
        default,
        valid_values: &[],
        min: None,
    }
}

const fn with_values(mut d: TopicConfigDef, values: &'static [&'static str]) -> TopicConfigDef {
    d.valid_values = values;
    d
}

const fn with_min(mut d: TopicConfigDef, min: i64) -> TopicConfigDef {
    d.min = Some(min);
    d
}

use super::broker_configs::BROKER_CONFIGS;
use ConfigType::{Boolean, Double, Int, List, Long, String as Str};

/// Kafka 4.x's topic configs, sorted by name.
pub const TOPIC_CONFIGS: &[TopicConfigDef] = &[
    with_values(
        def("cleanup.policy", List, "delete"),
        &["compact", "delete"],
    ),
    def("compression.gzip.level", Int, "-1"),
    def("compression.lz4.level", Int, "9"),
    with_values(
        def("compression.type", Str, "producer"),
        &["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"],
    ),
    def("compression.zstd.level", Int, "3"),
    with_min(def("delete.retention.ms", Long, "86400000"), 0),
    with_min(def("file.delete.delay.ms", Long, "60000"), 0),
    with_min(def("flush.messages", Long, "9223372036854775807"), 1),
    with_min(def("flush.ms", Long, "9223372036854775807"), 0),
    def("follower.replication.throttled.replicas", List, ""),
    with_min(def("index.interval.bytes", Int, "4096"), 0),
    def("leader.replication.throttled.replicas", List, ""),
    with_min(def("local.retention.bytes", Long, "-2"), -2),
    with_min(def("local.retention.ms", Long, "-2"), -2),
    with_min(def("max.compaction.lag.ms", Long, "9223372036854775807"), 1),
    with_min(def("max.message.bytes", Int, "1048588"), 0),
    with_min(def("message.timestamp.after.max.ms", Long, "3600000"), 0),
    with_min(
        def(
            "message.timestamp.before.max.ms",
            Long,
            "9223372036854775807",
        ),
        0,
    ),
    with_values(
        def("message.timestamp.type", Str, "CreateTime"),
        &["CreateTime", "LogAppendTime"],
    ),
    def("min.cleanable.dirty.ratio", Double, "0.5"),
    with_min(def("min.compaction.lag.ms", Long, "0"), 0),
    with_min(def("min.insync.replicas", Int, "1"), 1),
    def("preallocate", Boolean, "false"),
    def("remote.log.copy.disable", Boolean, "false"),
    def("remote.log.delete.on.disable", Boolean, "false"),
    def("remote.storage.enable", Boolean, "false"),
    def("retention.bytes", Long, "-1"),
    with_min(def("retention.ms", Long, "604800000"), -1),
    with_min(def("segment.bytes", Int, "1073741824"), 1024 * 1024),
    with_min(def("segment.index.bytes", Int, "10485760"), 4),
    with_min(def("segment.jitter.ms", Long, "0"), 0),
    with_min(def("segment.ms", Long, "604800000"), 1),
    def("unclean.leader.election.enable", Boolean, "false"),
];

/// The definition of topic config `name`, if Kafka has one.
pub fn topic_config(name: &str) -> Option<&'static TopicConfigDef> {
    TOPIC_CONFIGS.iter().find(|d| d.name == name)
}

fn check_scalar(def: &TopicConfigDef, value: &str) -> Result<(), String> {
    let bad = |what: &str| {
        Err(format!(
            "Invalid value {value} for configuration {}: {what}",
            def.name
        ))
    };
    let number = |n: Option<i64>| match (n, def.min) {
        (None, _) => bad("not a number"),
        (Some(n), Some(min)) if n < min => bad(&format!("value must be at least {min}")),
        _ => Ok(()),
    };
    match def.config_type {
        ConfigType::Boolean => match value.trim().to_ascii_lowercase().as_str() {
            "true" | "false" => Ok(()),
            _ => bad("expected true or false"),
        },
        ConfigType::Int => number(value.trim().parse::<i32>().ok().map(i64::from)),
        ConfigType::Short => number(value.trim().parse::<i16>().ok().map(i64::from)),
        ConfigType::Long => number(value.trim().parse::<i64>().ok()),
        ConfigType::Double => match value.trim().parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(()),
            _ => bad("not a number"),
        },
        ConfigType::String | ConfigType::List | ConfigType::Class | ConfigType::Password => {
            if def.valid_values.is_empty() || def.valid_values.contains(&value.trim()) {
                Ok(())
            } else {
                bad(&format!("must be one of {}", def.valid_values.join(", ")))
            }
        }
    }
}

/// Checks a topic config key and value; the error is the `INVALID_CONFIG` message.
pub fn validate_topic_config(name: &str, value: &str) -> Result<(), String> {
    let def = topic_config(name).ok_or_else(|| format!("Unknown topic config name: {name}"))?;
    check_value_length(name, value)?;
    if def.config_type == ConfigType::List {
        // Throttled-replica lists are `partition:broker` pairs or `*`: keel keeps them as text.
        if def.valid_values.is_empty() {
            return Ok(());
        }
        if value.trim().is_empty() {
            return Err(format!(
                "Invalid value {value} for configuration {name}: empty list"
            ));
        }
        for item in split_list(value) {
            check_scalar(def, &item)?;
        }
        return Ok(());
    }
    check_scalar(def, value)
}

/// Kafka's broker config `name` (exactly; see [`broker_config_of`] for prefixed keys).
pub fn broker_config(name: &str) -> Option<&'static BrokerConfigDef> {
    BROKER_CONFIGS
        .binary_search_by(|d| d.name.cmp(name))
        .ok()
        .map(|i| &BROKER_CONFIGS[i])
}

/// The broker config a key stands for: the key itself, or the `<key>` of a listener-prefixed
/// `listener.name.<listener>.[<mechanism>.]<key>` (Kafka's per-listener security configs).
pub fn broker_config_of(name: &str) -> Option<&'static BrokerConfigDef> {
    if let Some(def) = broker_config(name) {
        return Some(def);
    }
    let rest = name.strip_prefix("listener.name.")?;
    let (_listener, key) = rest.split_once('.')?;
    broker_config(key).or_else(|| {
        let (_mechanism, key) = key.split_once('.')?;
        broker_config(key).filter(|d| d.name.starts_with("sasl."))
    })
}

/// Why a broker config change is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BrokerConfigRefusal {
    /// Kafka defines no such broker config (`INVALID_CONFIG`).
    Unknown(String),
    /// Kafka reads it from `server.properties` only (`INVALID_REQUEST`).
    NotDynamic(String),
    /// It can be set per broker only, not on the cluster-wide default (`INVALID_REQUEST`).
    PerBrokerOnly(String),
    /// The value does not fit the key's type (`INVALID_CONFIG`).
    Invalid(String),
}

/// Checks a broker config key that is to be changed at runtime (`value`: `None` for a
/// deletion), on one broker or, with `cluster_default`, on the cluster-wide default.
pub fn validate_broker_config(
    name: &str,
    value: Option<&str>,
    cluster_default: bool,
) -> Result<(), BrokerConfigRefusal> {
    let def = broker_config_of(name).ok_or_else(|| {
        BrokerConfigRefusal::Unknown(format!("Unknown broker config name: {name}"))
    })?;
    match def.mode {
        UpdateMode::ReadOnly => {
            return Err(BrokerConfigRefusal::NotDynamic(format!(
                "Cannot update these configs dynamically: Set({name})"
            )));
        }
        UpdateMode::PerBroker if cluster_default => {
            return Err(BrokerConfigRefusal::PerBrokerOnly(format!(
                "Cannot update these configs at default cluster level, broker id must be specified: Set({name})"
            )));
        }
        _ => {}
    }
    let Some(value) = value else {
        return Ok(());
    };
    check_value_length(name, value).map_err(BrokerConfigRefusal::Invalid)?;
    let as_topic_def = TopicConfigDef {
        name: def.name,
        config_type: def.config_type,
        default: "",
        valid_values: &[],
        min: None,
    };
    let checked = match def.config_type {
        ConfigType::List => split_list(value)
            .iter()
            .try_for_each(|item| check_scalar(&as_topic_def, item)),
        _ => check_scalar(&as_topic_def, value),
    };
    checked.map_err(BrokerConfigRefusal::Invalid)
}

fn check_value_length(name: &str, value: &str) -> Result<(), String> {
    if value.len() > WIRE_STRING_BYTES_MAX {
        return Err(format!(
            "The value of {name} is {} bytes, more than the {WIRE_STRING_BYTES_MAX} a record holds",
            value.len()
        ));
    }
    Ok(())
}

/// The elements of a list value (trimmed, empty elements dropped).
pub fn split_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_every_default_is_valid() {
        for pair in TOPIC_CONFIGS.windows(2) {
            assert!(
                pair[0].name < pair[1].name,
                "{} before {}",
                pair[0].name,
                pair[1].name
            );
        }
        for def in TOPIC_CONFIGS {
            if !(def.config_type == ConfigType::List && def.default.is_empty()) {
                validate_topic_config(def.name, def.default)
                    .unwrap_or_else(|e| panic!("default of {}: {e}", def.name));
            }
        }
    }

    #[test]
    fn values_are_checked_loosely_by_type() {
        assert!(validate_topic_config("retention.ms", "1000").is_ok());
        assert!(validate_topic_config("retention.ms", "-1").is_ok());
        assert!(validate_topic_config("retention.ms", "soon").is_err());
        assert!(validate_topic_config("retention.ms", "-5").is_err());
        assert!(validate_topic_config("min.insync.replicas", "0").is_err());
        assert!(validate_topic_config("segment.bytes", "99999999999").is_err());
        assert!(validate_topic_config("cleanup.policy", "compact,delete").is_ok());
        assert!(validate_topic_config("cleanup.policy", "compact,forever").is_err());
        assert!(validate_topic_config("compression.type", "zstd").is_ok());
        assert!(validate_topic_config("compression.type", "brotli").is_err());
        assert!(validate_topic_config("preallocate", "TRUE").is_ok());
        assert!(validate_topic_config("preallocate", "yes").is_err());
        assert!(validate_topic_config("min.cleanable.dirty.ratio", "0.1").is_ok());
        assert!(validate_topic_config("leader.replication.throttled.replicas", "0:1,1:2").is_ok());
        assert_eq!(
            validate_topic_config("retention.forever", "1"),
            Err("Unknown topic config name: retention.forever".into())
        );
    }

    #[test]
    fn broker_configs_are_kafkas_dynamic_ones_checked_by_type() {
        for pair in BROKER_CONFIGS.windows(2) {
            assert!(pair[0].name < pair[1].name, "sorted: {}", pair[1].name);
        }
        assert!(BROKER_CONFIGS.len() > 250, "Kafka's whole list");
        let ok = |name: &str, value: &str| validate_broker_config(name, Some(value), false);
        assert_eq!(ok("log.cleaner.threads", "2"), Ok(()));
        assert_eq!(ok("log.retention.ms", "86400000"), Ok(()));
        assert_eq!(
            ok("log.cleaner.threads", "two"),
            Err(BrokerConfigRefusal::Invalid(
                "Invalid value two for configuration log.cleaner.threads: not a number".into()
            ))
        );
        assert_eq!(
            ok("log.dirs", "/tmp/kafka-logs"),
            Err(BrokerConfigRefusal::NotDynamic(
                "Cannot update these configs dynamically: Set(log.dirs)".into()
            ))
        );
        assert_eq!(
            ok("log.retention.forever", "1"),
            Err(BrokerConfigRefusal::Unknown(
                "Unknown broker config name: log.retention.forever".into()
            ))
        );
        // Per-broker keys only on a named broker; cluster-wide ones on either.
        assert!(matches!(
            validate_broker_config("listeners", Some("PLAINTEXT://:9092"), true),
            Err(BrokerConfigRefusal::PerBrokerOnly(_))
        ));
        assert_eq!(
            validate_broker_config("log.cleaner.threads", Some("2"), true),
            Ok(())
        );
        // Listener-prefixed security keys stand for their key.
        assert_eq!(
            ok("listener.name.external.ssl.keystore.location", "/k"),
            Ok(())
        );
        assert_eq!(
            ok(
                "listener.name.sasl_ssl.plain.sasl.jaas.config",
                "x required;"
            ),
            Ok(())
        );
        assert!(broker_config_of("listener.name.x.log.flush").is_none());
        // A deletion is checked for the key alone.
        assert_eq!(
            validate_broker_config("log.cleaner.threads", None, false),
            Ok(())
        );
        assert!(validate_broker_config("log.dirs", None, false).is_err());
    }
}
