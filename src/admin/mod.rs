//! Command-line clients: blocking, one request at a time, over plain sockets with timeouts.
//! They speak the same Kafka protocol as everything else, so Kafka's tools could do what they
//! do and they could talk to Kafka.
//!
//! - [`client`]: a connection that sends a request and waits for its response.
//! - [`quorum`]: `keel quorum describe`.

pub mod client;
pub mod quorum;
