//! What can go wrong in an admin command, and the exit status each failure gives.
//!
//! Two kinds: a [`KafkaError`] is the cluster's answer for one item (a topic, a config
//! resource) or a whole request, shown by Kafka's name and the server's message; an
//! [`AdminError`] stops the command (bad usage, no connection, an answer that makes no sense,
//! an API the server does not offer). Each failure maps to one of the exit statuses of
//! [`ExitStatus::ADMIN`] (their meanings are written once, in [`crate::exit`]): a refusal is
//! [`ExitStatus::Failed`], bad arguments [`ExitStatus::Usage`], the network
//! [`ExitStatus::Network`], a server keel cannot use [`ExitStatus::Incompatible`].

use std::fmt;
use std::ops::RangeInclusive;

use crate::exit::ExitStatus;
use crate::protocol::{ApiKey, ErrorCode};

use super::client::ClientError;
use super::json::Json;

/// An error code in an answer, with the server's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaError {
    pub code: i16,
    /// The server's message; `None` when it sent none (or an empty one).
    pub message: Option<String>,
}

impl KafkaError {
    /// `None` for code 0 (no error).
    pub fn from_answer(code: i16, message: Option<&str>) -> Option<KafkaError> {
        (code != ErrorCode::None.code()).then(|| KafkaError::new(code, message))
    }

    pub fn new(code: i16, message: Option<&str>) -> KafkaError {
        KafkaError {
            code,
            message: message.filter(|m| !m.is_empty()).map(str::to_owned),
        }
    }

    pub fn is(&self, code: ErrorCode) -> bool {
        self.code == code.code()
    }

    /// Kafka's name for the code (`TOPIC_ALREADY_EXISTS`), if keel knows it.
    pub fn name(&self) -> Option<&'static str> {
        ErrorCode::from_code(self.code).map(ErrorCode::name)
    }

    /// `{"code": 36, "name": "TOPIC_ALREADY_EXISTS", "message": "..."}`; `name` is null for
    /// a code keel does not know, `message` is the server's or else what the code means.
    pub fn json(&self) -> Json {
        Json::object([
            ("code", Json::from(self.code)),
            ("name", Json::from(self.name())),
            ("message", Json::from(self.text())),
        ])
    }

    /// The server's message, or what the code means.
    fn text(&self) -> String {
        match (&self.message, ErrorCode::from_code(self.code)) {
            (Some(message), _) => message.clone(),
            (None, Some(code)) => code.meaning().to_owned(),
            (None, None) => "an error code keel does not know".to_owned(),
        }
    }
}

impl fmt::Display for KafkaError {
    /// `TOPIC_ALREADY_EXISTS: Topic 'orders' already exists.`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name}: {}", self.text()),
            None => write!(f, "error code {}: {}", self.code, self.text()),
        }
    }
}

/// A failure that stops an admin command.
#[derive(Debug)]
pub enum AdminError {
    /// Bad arguments.
    Usage(String),
    /// The connection failed, or the answer could not be read.
    Client(ClientError),
    /// No bootstrap server could be used; what happened with each.
    Bootstrap(Vec<AdminError>),
    /// The server answered a whole request with an error.
    Refused {
        address: String,
        api: ApiKey,
        error: KafkaError,
    },
    /// The server does not offer `api` at any version keel can use.
    Unsupported {
        address: String,
        api: ApiKey,
        /// The server's versions; `None` if it does not offer the API at all.
        theirs: Option<RangeInclusive<i16>>,
        ours: RangeInclusive<i16>,
        /// What the user can do about it.
        hint: Option<String>,
    },
    /// An answer that contradicts the request or itself.
    BadAnswer { address: String, reason: String },
    /// `--timeout-ms` passed while waiting for `waiting_for`.
    TimedOut {
        waiting_for: String,
        timeout_ms: u64,
    },
}

impl AdminError {
    /// The command's exit status: a bootstrap failure is a network one only if every server
    /// failed on the network.
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            AdminError::Usage(_) => ExitStatus::Usage,
            AdminError::Client(ClientError::Encode(_)) => ExitStatus::Usage,
            AdminError::Client(e) if e.is_network() => ExitStatus::Network,
            AdminError::Client(_) => ExitStatus::Incompatible,
            AdminError::Bootstrap(errors) => errors
                .iter()
                .map(AdminError::exit_status)
                .find(|&status| status != ExitStatus::Network)
                .unwrap_or(ExitStatus::Network),
            AdminError::Refused { .. } => ExitStatus::Failed,
            AdminError::Unsupported { .. } | AdminError::BadAnswer { .. } => {
                ExitStatus::Incompatible
            }
            AdminError::TimedOut { .. } => ExitStatus::Network,
        }
    }
}

impl From<ClientError> for AdminError {
    fn from(e: ClientError) -> AdminError {
        match e {
            ClientError::TimedOut { address } => AdminError::TimedOut {
                waiting_for: format!("an answer from {address}"),
                timeout_ms: 0,
            },
            e => AdminError::Client(e),
        }
    }
}

fn versions(range: &RangeInclusive<i16>) -> String {
    if range.start() == range.end() {
        format!("v{}", range.start())
    } else {
        format!("v{}-v{}", range.start(), range.end())
    }
}

impl fmt::Display for AdminError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdminError::Usage(message) => write!(f, "{message}"),
            AdminError::Client(e) => write!(f, "{e}"),
            AdminError::Bootstrap(errors) => {
                write!(f, "no bootstrap server could be used")?;
                for e in errors {
                    write!(f, "; {e}")?;
                }
                Ok(())
            }
            AdminError::Refused {
                address,
                api,
                error,
            } => write!(f, "{address} refused {}: {error}", api.name()),
            AdminError::Unsupported {
                address,
                api,
                theirs,
                ours,
                hint,
            } => {
                match theirs {
                    None => write!(f, "{address} does not serve {}", api.name())?,
                    Some(theirs) => write!(
                        f,
                        "{address} serves {} {} only, keel speaks {}",
                        api.name(),
                        versions(theirs),
                        versions(ours)
                    )?,
                }
                if let Some(hint) = hint {
                    write!(f, " ({hint})")?;
                }
                Ok(())
            }
            AdminError::BadAnswer { address, reason } => {
                write!(f, "{address} gave an answer keel cannot use: {reason}")
            }
            AdminError::TimedOut {
                waiting_for,
                timeout_ms,
            } => {
                if *timeout_ms > 0 {
                    write!(
                        f,
                        "timed out after {timeout_ms} ms waiting for {waiting_for} (--timeout-ms)"
                    )
                } else {
                    write!(f, "timed out waiting for {waiting_for} (--timeout-ms)")
                }
            }
        }
    }
}

impl std::error::Error for AdminError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_errors_read_like_kafkas_tools() {
        let exists = KafkaError::new(36, Some("Topic 'orders' already exists."));
        assert_eq!(
            exists.to_string(),
            "TOPIC_ALREADY_EXISTS: Topic 'orders' already exists."
        );
        assert!(exists.is(ErrorCode::TopicAlreadyExists));
        assert_eq!(
            exists.json().render(),
            r#"{"code":36,"name":"TOPIC_ALREADY_EXISTS","message":"Topic 'orders' already exists."}"#
        );
        // No message (or an empty one): what the code means.
        assert_eq!(
            KafkaError::new(41, Some("")).to_string(),
            "NOT_CONTROLLER: This node is not the active controller."
        );
        let unknown = KafkaError::new(9999, None);
        assert_eq!(
            unknown.to_string(),
            "error code 9999: an error code keel does not know"
        );
        assert_eq!(unknown.json().get("name"), Some(&Json::Null));
        assert_eq!(KafkaError::from_answer(0, Some("ignored")), None);
    }

    #[test]
    fn every_failure_has_its_exit_status() {
        let refused = AdminError::Refused {
            address: "h:1".into(),
            api: ApiKey::DescribeCluster,
            error: KafkaError::new(42, None),
        };
        assert_eq!(refused.exit_status(), ExitStatus::Failed);
        assert_eq!(
            refused.to_string(),
            "h:1 refused DescribeCluster: INVALID_REQUEST: The request is malformed or inconsistent."
        );
        assert_eq!(
            AdminError::Usage("x".into()).exit_status(),
            ExitStatus::Usage
        );
        let connect = AdminError::Client(ClientError::Connect {
            address: "h:1".into(),
            source: std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
        });
        assert_eq!(connect.exit_status(), ExitStatus::Network);
        assert!(connect.to_string().starts_with("cannot connect to h:1: "));
        let timed_out = AdminError::from(ClientError::TimedOut {
            address: "h:1".into(),
        });
        assert_eq!(timed_out.exit_status(), ExitStatus::Network);
        assert_eq!(
            timed_out.to_string(),
            "timed out waiting for an answer from h:1 (--timeout-ms)"
        );
        let malformed = AdminError::Client(ClientError::Frame {
            address: "h:1".into(),
            reason: "too large".into(),
        });
        assert_eq!(malformed.exit_status(), ExitStatus::Incompatible);
        let unsupported = AdminError::Unsupported {
            address: "h:1".into(),
            api: ApiKey::Metadata,
            theirs: Some(0..=0),
            ours: 1..=13,
            hint: None,
        };
        assert_eq!(unsupported.exit_status(), ExitStatus::Incompatible);
        assert_eq!(
            unsupported.to_string(),
            "h:1 serves Metadata v0 only, keel speaks v1-v13"
        );
        // Bootstrap: network only if every server failed on the network.
        let all_network = AdminError::Bootstrap(vec![timed_out]);
        assert_eq!(all_network.exit_status(), ExitStatus::Network);
        let mixed = AdminError::Bootstrap(vec![connect, unsupported]);
        assert_eq!(mixed.exit_status(), ExitStatus::Incompatible);
        assert!(
            mixed
                .to_string()
                .starts_with("no bootstrap server could be used; cannot connect to h:1"),
            "{mixed}"
        );
    }
}
