//! keel: a KRaft-style metadata quorum.
//!
//! A few controller nodes run Raft among themselves and keep all cluster metadata (brokers,
//! topics, partitions, configs) as one ordered event log; brokers pull that log like consumers,
//! keep a copy on their own disk and on restart fetch only what changed. The architecture is
//! described in `DESIGN.md`; each module's `//!` header says what it owns.
//!
//! - [`constants`]: every limit and default, with the reason for its value.
//! - [`raft`]: the consensus core, KRaft-style; pure and deterministic, events in, actions out.
//! - `sim` (feature `sim`): the whole-cluster deterministic fault simulator that checks `raft`.

pub mod constants;
pub mod raft;
#[cfg(feature = "sim")]
pub mod sim;
