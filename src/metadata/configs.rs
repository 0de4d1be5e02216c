//! The configuration keys the controller accepts, with their types and Kafka's defaults.
//!
//! Topic configs: Kafka 4.x's topic-level keys (`org.apache.kafka.common.config.TopicConfig`,
//! the ones `kafka-configs.sh --entity-type topics` accepts), each with its type and the
//! default Kafka shows in DescribeConfigs. A key not listed is refused (`INVALID_CONFIG`, as
//! Kafka answers "Unknown topic config name"); a value is checked loosely against its type
//! (numbers parse, booleans are `true`/`false`, enumerations hold a listed value), not against
//! every range Kafka enforces.
//!
//! Broker configs (dynamic, per broker id or cluster-wide): keel does not validate names
//! against Kafka's list of dynamic broker configs (that list is long and version-dependent);
//! it accepts any name in Kafka's key syntax (lower-case letters, digits, `.`, `-`, `_`) and
//! stores the value. The broker that reads a config judges it.

use crate::constants::WIRE_STRING_BYTES_MAX;

/// How a config value is parsed (Kafka's `ConfigDef.Type`, the ones topic configs use).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ConfigType {
    Boolean,
    Int,
    Long,
    Double,
    String,
    /// Comma-separated values; APPEND and SUBTRACT work on these.
    List,
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
        ConfigType::Long => number(value.trim().parse::<i64>().ok()),
        ConfigType::Double => match value.trim().parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(()),
            _ => bad("not a number"),
        },
        ConfigType::String | ConfigType::List => {
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

/// Checks a broker config key (syntax only) and value; the error is the `INVALID_CONFIG`
/// message.
pub fn validate_broker_config(name: &str, value: &str) -> Result<(), String> {
    check_name_syntax(name)?;
    check_value_length(name, value)
}

/// A config key in Kafka's syntax: non-empty, lower-case ASCII letters, digits, `.`, `-`, `_`.
pub fn check_name_syntax(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= 255
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if valid {
        Ok(())
    } else {
        Err(format!("Invalid config name {name:?}"))
    }
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
        assert!(validate_broker_config("log.retention.ms", "1").is_ok());
        assert!(validate_broker_config("Log Retention", "1").is_err());
        assert!(validate_broker_config("", "1").is_err());
    }
}
