//! keel: a KRaft-style metadata quorum.
//!
//! A few controller nodes run Raft among themselves and keep all cluster metadata (brokers,
//! topics, partitions, configs) as one ordered event log; brokers pull that log like consumers,
//! keep a copy on their own disk and on restart fetch only what changed. The architecture
//! (every module, the path of a write and of a fetch, who may use whom) is
//! `docs/ARCHITECTURE.md`; each module's `//!` header says what it owns.
//!
//! - [`admin`]: the command-line clients (`keel topics`, `configs`, `cluster`, `quorum
//!   describe`), blocking, over the Kafka protocol, routed like Kafka's AdminClient.
//! - [`batch_size`]: the size formula of a record batch, which storage, the controller,
//!   snapshots and the node all count with; a leaf every module may use.
//! - [`constants`]: every limit and default, with the reason for its value.
//! - [`config`]: the node's `server.properties`, parsed and validated before anything runs.
//! - [`node`]: one node: the Raft core, the log and the wire glued together; no sockets.
//! - [`protocol`]: the Kafka wire protocol (framing, primitive types, every message keel
//!   speaks, generated from the schemas in `protocol-spec/schemas/`). Pure.
//! - [`storage`]: the on-disk engine: preallocated, memory-mapped, CRC-checked segment log
//!   with sparse indexes, epoch history, snapshots, quorum-state and meta.properties files,
//!   and recovery that tells a torn tail from corruption. Files and bytes only.
//! - [`dump`]: `keel-dump`, which inspects and verifies a node's files with storage's own readers.
//! - [`json_escape`]: JSON string literals for the tools' `--json` output; a leaf every module
//!   may use.
//! - [`dev`]: `keel dev`, a local quorum as child processes of one command.
//! - [`exit`]: the exit statuses of every command, one enum; a leaf every module may use.
//! - [`log_limit`]: warnings that repeat, limited to a few lines per window with a count.
//! - [`metadata`]: the meaning of the log: typed records, the image they build, its snapshots,
//!   and the quorum controller that turns requests into records. Pure.
//! - [`prng`]: the seeded generator (SplitMix64) behind every random draw; a leaf every module
//!   may use.
//! - [`raft`]: the consensus core, KRaft-style; pure and deterministic, events in, actions out.
//! - [`server`]: the network edge (mio): inbound connections and outbound peer links.
//! - [`uuid`]: Kafka's 128-bit ids and their text form; a leaf every module may use.
//! - `sim` (feature `sim`): the whole-cluster deterministic fault simulator that checks `raft`.

pub mod admin;
pub mod batch_size;
pub mod config;
pub mod constants;
pub mod dev;
pub mod dump;
pub mod exit;
pub mod json_escape;
pub mod log_limit;
pub mod metadata;
pub mod node;
pub mod prng;
pub mod protocol;
pub mod raft;
pub mod server;
#[cfg(feature = "sim")]
pub mod sim;
pub mod storage;
pub mod uuid;
