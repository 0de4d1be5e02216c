//! The meaning of the metadata log: the records in it. Pure: no I/O.
//!
//! - [`record`]: the record frame (Kafka's metadata record framing) and the records the quorum
//!   itself writes: the LeaderChange control record and the NoOp record.
//!
//! The typed cluster-metadata records (brokers, topics, partitions, configs), the image they
//! build and the controller that produces them come with the metadata layer.

pub mod record;
