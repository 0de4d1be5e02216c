//! The keys of one file with their values and lines: every key checked against keel's table
//! and Kafka's keys, each set once, and the typed reads `Config::parse` makes of them.

use std::collections::BTreeMap;

use super::kafka::{is_kafka_key, kafka_key_refusal, unknown_key_message};
use super::keys::{self, IntegerKey};
use super::properties::parse_properties;
use super::{ConfigError, error};

/// A file's `key=value` entries, known keys only.
pub struct Values {
    /// Value and 1-based line of each key.
    entries: BTreeMap<String, (String, usize)>,
    /// Keys of the file that Kafka defines but keel does not use, in file order.
    kafka_keys_ignored: Vec<String>,
}

impl Values {
    /// Reads properties text: a key that is neither keel's nor Kafka's, a Kafka key that
    /// cannot be ignored, and a key set twice are errors on their line.
    pub fn read(text: &str) -> Result<Values, ConfigError> {
        let mut entries: BTreeMap<String, (String, usize)> = BTreeMap::new();
        let mut kafka_keys_ignored = Vec::new();
        for (key, value, line) in parse_properties(text)? {
            let on_line = |message: String| ConfigError {
                key: Some(key.clone()),
                line: Some(line),
                message,
            };
            if keys::find(&key).is_none() {
                if !is_kafka_key(&key) {
                    return Err(on_line(unknown_key_message(&key)));
                }
                if let Some(refusal) = kafka_key_refusal(&key, &value) {
                    return Err(on_line(refusal));
                }
                kafka_keys_ignored.push(key.clone());
            }
            if let Some((_, first_line)) = entries.get(&key) {
                return Err(on_line(format!("set twice (first on line {first_line})")));
            }
            entries.insert(key, (value, line));
        }
        Ok(Values {
            entries,
            kafka_keys_ignored,
        })
    }

    /// The value of the key named `name`, if the file sets it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries.get(name).map(|(value, _)| value.as_str())
    }

    /// The value of `name`, or the error that it is required.
    pub fn require(&self, name: &str) -> Result<&str, ConfigError> {
        self.get(name).ok_or_else(|| error(name, "is required"))
    }

    /// `result`, its error placed on the line of `name` unless it has a line already.
    pub fn located<T>(&self, name: &str, result: Result<T, ConfigError>) -> Result<T, ConfigError> {
        let line = self.entries.get(name).map(|(_, line)| *line);
        result.map_err(|mut e| {
            e.line = e.line.or(line);
            e
        })
    }

    /// An error about `name` on its line.
    pub fn error_at<T>(&self, name: &str, message: impl Into<String>) -> Result<T, ConfigError> {
        self.located(name, Err(error(name, message)))
    }

    /// The integer value of `key`: its default when absent (an error if it has none), else
    /// the value, which must be a non-negative integer within the key's range.
    pub fn integer(&self, key: &IntegerKey) -> Result<u64, ConfigError> {
        let Some(value) = self.get(key.name) else {
            return key.default.ok_or_else(|| error(key.name, "is required"));
        };
        let number = value
            .parse::<u64>()
            .map_err(|_| error(key.name, format!("{value:?} is not a non-negative integer")));
        let checked = number.and_then(|number| {
            if number < key.min || number > key.max {
                Err(error(
                    key.name,
                    format!(
                        "{number} is outside the allowed range {}..={}",
                        key.min, key.max
                    ),
                ))
            } else {
                Ok(number)
            }
        });
        self.located(key.name, checked)
    }

    /// Every `key=value` of the file.
    pub fn properties(&self) -> BTreeMap<String, String> {
        self.entries
            .iter()
            .map(|(key, (value, _))| (key.clone(), value.clone()))
            .collect()
    }

    /// The keys of the file that Kafka defines but keel does not use, in file order.
    pub fn kafka_keys_ignored(&self) -> &[String] {
        &self.kafka_keys_ignored
    }
}
