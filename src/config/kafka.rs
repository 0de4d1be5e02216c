//! Keys that are Kafka's but not keel's: which are accepted and ignored, which are refused
//! because ignoring them would change what the operator asked for, and the nearest known key
//! for one that is neither keel's nor Kafka's.

use crate::constants::CONFIG_KEY_SUGGESTION_DISTANCE_MAX;
use crate::metadata::broker_configs::{BROKER_CONFIGS, KAFKA_KEYS_RETIRED};

use super::keys::KEYS;

/// Kafka's authorizer; keel has none to run in its place.
pub const AUTHORIZER_CLASS_NAME: &str = "authorizer.class.name";

/// Kafka's dynamic quorum (KIP-853), which keel does not support yet.
pub const CONTROLLER_QUORUM_BOOTSTRAP_SERVERS: &str = "controller.quorum.bootstrap.servers";

/// A key that Kafka defines for a broker or controller (Kafka 4.x's, or a 3.9 file's retired
/// ones), directly or behind a `listener.name.<listener>.` prefix.
pub fn is_kafka_key(key: &str) -> bool {
    crate::metadata::configs::broker_config_of(key).is_some() || KAFKA_KEYS_RETIRED.contains(&key)
}

/// Why a Kafka key keel does not use cannot be ignored, if it cannot: ignoring it would run
/// the node other than its operator asked.
pub fn kafka_key_refusal(key: &str, value: &str) -> Option<String> {
    match key {
        AUTHORIZER_CLASS_NAME if !value.trim().is_empty() => Some(format!(
            "keel has no authorizer yet, so it cannot enforce {}: remove the key (every client may do everything) rather than believe it is enforced",
            value.trim()
        )),
        _ => None,
    }
}

/// The error message for a key neither keel nor Kafka defines, with the nearest known key.
pub fn unknown_key_message(key: &str) -> String {
    const LISTED: &str = "keel's keys are listed in docs/operations.md";
    let candidates = KEYS
        .iter()
        .map(|known| (known.name(), true))
        .chain(BROKER_CONFIGS.iter().map(|def| (def.name, false)))
        .chain(KAFKA_KEYS_RETIRED.iter().map(|name| (*name, false)));
    let nearest = candidates
        .map(|(name, keel)| (edit_distance(key, name), name, keel))
        .min_by_key(|(distance, name, _)| (*distance, *name));
    match nearest {
        Some((distance, name, keel)) if distance <= CONFIG_KEY_SUGGESTION_DISTANCE_MAX => {
            let whose = if keel {
                ""
            } else {
                " (a Kafka key keel ignores)"
            };
            format!("unknown key; did you mean {name}{whose}? ({LISTED})")
        }
        _ => format!("unknown key, neither keel's nor Kafka's ({LISTED})"),
    }
}

/// Levenshtein distance between two keys, by bytes (keys are ASCII).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b = b.as_bytes();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, &ca) in a.as_bytes().iter().enumerate() {
        current[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}
