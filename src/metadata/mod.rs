//! The meaning of the metadata log. Pure: no I/O, no clock, no randomness of its own.
//!
//! - [`record`]: the record frame (Kafka's metadata record framing), the typed metadata
//!   records ([`record::MetadataRecord`]) and the control records (LeaderChange, snapshot
//!   header and footer). Unknown types and versions are errors that name the offset.
//! - [`image`]: the metadata as of a committed offset, built only by applying committed
//!   records in order; compact (tens of bytes per partition) and cheap to clone.
//! - [`snapshot`]: the image as an ordered record stream that rebuilds an equal image, and
//!   the loader that rebuilds it.
//! - [`controller`]: the active controller's decisions: requests validated against the latest
//!   state and turned into the records of one batch, broker sessions, leader election.
//! - [`placement`]: rack-aware round-robin replica placement for new partitions.
//! - [`configs`]: the topic and broker config keys keel accepts, with types and Kafka's
//!   defaults ([`broker_configs`]: Kafka's broker configs, generated from Kafka's own list).
//!
//! Record schemas are in `protocol-spec/schemas/*Record.json`, documented with their meaning
//! in `protocol-spec/metadata-records.md`.

pub mod broker_configs;
pub mod configs;
pub mod controller;
pub mod image;
pub mod placement;
pub mod record;
pub mod snapshot;

pub use controller::Controller;
pub use image::Image;
pub use record::{ControlRecord, MetadataRecord};
