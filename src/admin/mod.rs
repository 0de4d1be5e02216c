//! Command-line clients: blocking, one request at a time, over plain sockets with timeouts.
//! They speak the same Kafka protocol as everything else, so Kafka's tools could do what they
//! do and they could talk to Kafka.
//!
//! - [`client`]: a connection that sends a request and waits for its response.
//! - [`session`]: bootstrap, version negotiation and controller routing for the commands that
//!   talk to brokers, the way Kafka's AdminClient does them.
//! - [`topics`], [`configs`], [`cluster`]: `keel topics`, `keel configs`, `keel cluster`
//!   (Kafka's kafka-topics.sh, kafka-configs.sh, kafka-cluster.sh).
//! - [`quorum`]: `keel quorum describe` (Kafka's kafka-metadata-quorum.sh describe).
//! - [`args`], [`error`], [`output`], [`json`], [`table`]: argument checks, failures and exit
//!   statuses, and the text and `--json` output the commands share.

pub mod args;
pub mod client;
pub mod cluster;
pub mod configs;
pub mod error;
pub mod json;
pub mod output;
pub mod quorum;
pub mod session;
pub mod table;
pub mod topics;
