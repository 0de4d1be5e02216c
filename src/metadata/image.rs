//! The metadata image: the cluster metadata (features, brokers, topics, partitions, configs) as
//! of one committed offset of the metadata log. Pure: no I/O.
//!
//! An image is built only by applying committed records in log order ([`Image::apply`]) or by
//! loading a snapshot ([`crate::metadata::snapshot`]), which is the same thing starting from a
//! later point. A record that cannot apply (a partition of an unknown topic, a change to a
//! broker that is not registered, an offset that does not advance) is an [`ApplyError`] naming
//! the offset, and leaves the image unchanged: a replica that cannot apply a committed record
//! must stop rather than diverge from the others.
//!
//! Queries are cheap: topics by id and by name (ordered maps), a topic's partitions by index,
//! brokers by id, configs by resource. Derived indexes kept in step with every apply: the
//! number of partitions each broker leads and is in the ISR of ([`BrokerLoad`]), and the topic
//! names that collide once `.` and `_` are unified (Kafka refuses such pairs).
//!
//! Memory layout, sized for millions of partitions (Kafka's snapshots cost ~100 bytes per
//! partition on disk; `tests/metadata_memory.rs` measures this layout):
//! - a partition is 48 bytes: replicas and ISR inline for up to 6 ids in total (a replication
//!   factor of 3 with a full ISR), one heap slice beyond that, then leader, leader epoch,
//!   partition epoch and recovery state. Reassignment state, log directories and eligible
//!   leader replicas, which almost no partition has, live in a per-topic side map.
//! - a topic's partitions live in chunks of 1024 behind `Arc`s, and each topic behind an
//!   `Arc`, so cloning an image (the controller's committed and latest views, a snapshot being
//!   written while the node applies more) copies pointers, and a change copies one chunk.
//! - a topic name is stored once (`Arc<str>`), shared by the topic and the name index.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use super::record::MetadataRecord;
use crate::protocol::Uuid;
use crate::protocol::messages::{
    BrokerRegistrationChangeRecord, ConfigRecord, PartitionChangeRecord, PartitionRecord,
    RegisterBrokerRecord, TopicRecord, register_broker_record,
};

/// A partition without a leader (Kafka's `LeaderConstants.NO_LEADER`).
pub const NO_LEADER: i32 = -1;
/// PartitionChangeRecord.Leader when the leader does not change.
pub const NO_LEADER_CHANGE: i32 = -2;
/// Leader recovery states (PartitionRecord.LeaderRecoveryState).
pub const LEADER_RECOVERED: i8 = 0;
pub const LEADER_RECOVERING: i8 = 1;
/// ConfigRecord.ResourceType values (Kafka's `ConfigResource.Type` ids).
pub const RESOURCE_TOPIC: i8 = 2;
pub const RESOURCE_BROKER: i8 = 4;
pub const RESOURCE_BROKER_LOGGER: i8 = 8;
pub const RESOURCE_CLIENT_METRICS: i8 = 16;
pub const RESOURCE_GROUP: i8 = 32;

/// Most replicas (and most ISR members) one partition may have: the image stores the counts
/// in a byte. Kafka has no such limit, but a replication factor above a few is never used.
pub const PARTITION_MEMBERS_MAX: usize = u8::MAX as usize;

/// Partitions per copy-on-write chunk of a topic.
const CHUNK_PARTITIONS: usize = 1024;
/// Replica plus ISR ids stored inside the partition itself.
const INLINE_MEMBERS: usize = 6;

/// The replicas and the ISR of one partition, in one inline array when they fit.
#[derive(Clone, PartialEq, Eq, Debug)]
enum Members {
    Inline {
        replicas: u8,
        isr: u8,
        ids: [i32; INLINE_MEMBERS],
    },
    Heap {
        replicas: u8,
        ids: Box<[i32]>,
    },
}

impl Members {
    fn new(replicas: &[i32], isr: &[i32]) -> Members {
        assert!(replicas.len() <= PARTITION_MEMBERS_MAX && isr.len() <= PARTITION_MEMBERS_MAX);
        let total = replicas.len() + isr.len();
        if total <= INLINE_MEMBERS {
            let mut ids = [0; INLINE_MEMBERS];
            ids[..replicas.len()].copy_from_slice(replicas);
            ids[replicas.len()..total].copy_from_slice(isr);
            Members::Inline {
                replicas: replicas.len() as u8,
                isr: isr.len() as u8,
                ids,
            }
        } else {
            let mut ids = Vec::with_capacity(total);
            ids.extend_from_slice(replicas);
            ids.extend_from_slice(isr);
            Members::Heap {
                replicas: replicas.len() as u8,
                ids: ids.into_boxed_slice(),
            }
        }
    }

    fn replicas(&self) -> &[i32] {
        match self {
            Members::Inline { replicas, ids, .. } => &ids[..usize::from(*replicas)],
            Members::Heap { replicas, ids } => &ids[..usize::from(*replicas)],
        }
    }

    fn isr(&self) -> &[i32] {
        match self {
            Members::Inline { replicas, isr, ids } => {
                let start = usize::from(*replicas);
                &ids[start..start + usize::from(*isr)]
            }
            Members::Heap { replicas, ids } => &ids[usize::from(*replicas)..],
        }
    }
}

/// The compact state of one partition (see the module header for the layout).
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) struct PartitionState {
    members: Members,
    leader: i32,
    leader_epoch: i32,
    partition_epoch: i32,
    leader_recovery_state: i8,
}

/// What almost no partition has: reassignment state, log directories, eligible leader
/// replicas. Present in [`TopicImage`]'s side map only when one of them is not empty.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct PartitionExtras {
    pub removing_replicas: Vec<i32>,
    pub adding_replicas: Vec<i32>,
    pub directories: Vec<Uuid>,
    pub eligible_leader_replicas: Vec<i32>,
    pub last_known_elr: Vec<i32>,
}

impl PartitionExtras {
    fn is_empty(&self) -> bool {
        self.removing_replicas.is_empty()
            && self.adding_replicas.is_empty()
            && self.directories.is_empty()
            && self.eligible_leader_replicas.is_empty()
            && self.last_known_elr.is_empty()
    }
}

/// One partition as the image holds it, borrowed.
#[derive(Clone, Copy, Debug)]
pub struct PartitionView<'a> {
    topic_id: Uuid,
    partition_id: i32,
    state: &'a PartitionState,
    extras: Option<&'a PartitionExtras>,
}

static NO_EXTRAS: PartitionExtras = PartitionExtras {
    removing_replicas: Vec::new(),
    adding_replicas: Vec::new(),
    directories: Vec::new(),
    eligible_leader_replicas: Vec::new(),
    last_known_elr: Vec::new(),
};

impl<'a> PartitionView<'a> {
    pub fn topic_id(&self) -> Uuid {
        self.topic_id
    }
    pub fn partition_id(&self) -> i32 {
        self.partition_id
    }
    /// The replicas in preference order (the first is the preferred leader).
    pub fn replicas(&self) -> &'a [i32] {
        self.state.members.replicas()
    }
    pub fn isr(&self) -> &'a [i32] {
        self.state.members.isr()
    }
    /// The leader's broker id, or [`NO_LEADER`].
    pub fn leader(&self) -> i32 {
        self.state.leader
    }
    pub fn leader_epoch(&self) -> i32 {
        self.state.leader_epoch
    }
    pub fn partition_epoch(&self) -> i32 {
        self.state.partition_epoch
    }
    pub fn leader_recovery_state(&self) -> i8 {
        self.state.leader_recovery_state
    }
    /// Reassignment state, directories and eligible leader replicas (all empty for almost
    /// every partition).
    pub fn extras(&self) -> &'a PartitionExtras {
        self.extras.unwrap_or(&NO_EXTRAS)
    }

    /// The PartitionRecord that recreates this partition (what a snapshot writes).
    pub fn to_record(&self) -> PartitionRecord {
        let extras = self.extras();
        let nullable = |ids: &Vec<i32>| (!ids.is_empty()).then(|| ids.clone());
        PartitionRecord {
            partition_id: self.partition_id,
            topic_id: self.topic_id,
            replicas: self.replicas().to_vec(),
            isr: self.isr().to_vec(),
            removing_replicas: extras.removing_replicas.clone(),
            adding_replicas: extras.adding_replicas.clone(),
            leader: self.leader(),
            leader_recovery_state: self.leader_recovery_state(),
            leader_epoch: self.leader_epoch(),
            partition_epoch: self.partition_epoch(),
            directories: extras.directories.clone(),
            eligible_leader_replicas: nullable(&extras.eligible_leader_replicas),
            last_known_elr: nullable(&extras.last_known_elr),
            ..Default::default()
        }
    }
}

/// A topic: its name, id and partitions.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TopicImage {
    name: Arc<str>,
    id: Uuid,
    partition_count: u32,
    chunks: Vec<Arc<Vec<PartitionState>>>,
    extras: BTreeMap<i32, PartitionExtras>,
}

impl TopicImage {
    fn new(name: Arc<str>, id: Uuid) -> TopicImage {
        TopicImage {
            name,
            id,
            partition_count: 0,
            chunks: Vec::new(),
            extras: BTreeMap::new(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn id(&self) -> Uuid {
        self.id
    }
    pub fn partition_count(&self) -> u32 {
        self.partition_count
    }

    fn state(&self, partition_id: i32) -> Option<&PartitionState> {
        let index = usize::try_from(partition_id).ok()?;
        if index >= self.partition_count as usize {
            return None;
        }
        Some(&self.chunks[index / CHUNK_PARTITIONS][index % CHUNK_PARTITIONS])
    }

    pub fn partition(&self, partition_id: i32) -> Option<PartitionView<'_>> {
        let state = self.state(partition_id)?;
        Some(PartitionView {
            topic_id: self.id,
            partition_id,
            state,
            extras: self.extras.get(&partition_id),
        })
    }

    /// The partitions in index order.
    pub fn partitions(&self) -> impl Iterator<Item = PartitionView<'_>> + '_ {
        self.chunks
            .iter()
            .flat_map(|chunk| chunk.iter())
            .enumerate()
            .map(move |(index, state)| {
                let partition_id = index as i32;
                PartitionView {
                    topic_id: self.id,
                    partition_id,
                    state,
                    extras: self.extras.get(&partition_id),
                }
            })
    }

    /// Replaces partition `partition_id` (which exists) or appends it (the next index).
    fn put(&mut self, partition_id: i32, state: PartitionState) {
        let index = usize::try_from(partition_id).expect("checked by the caller");
        let count = self.partition_count as usize;
        assert!(index <= count);
        if index < count {
            let chunk = Arc::make_mut(&mut self.chunks[index / CHUNK_PARTITIONS]);
            chunk[index % CHUNK_PARTITIONS] = state;
            return;
        }
        if count.is_multiple_of(CHUNK_PARTITIONS) {
            self.chunks.push(Arc::new(Vec::with_capacity(1)));
        }
        let chunk = Arc::make_mut(self.chunks.last_mut().expect("a chunk was pushed"));
        if chunk.len() == chunk.capacity() {
            // Grow by a quarter rather than double: a topic's partitions are the bulk of the
            // image and a doubled vector would leave up to half of them as slack.
            let grow = (chunk.len() / 4 + 1).min(CHUNK_PARTITIONS - chunk.len());
            chunk.reserve_exact(grow);
        }
        chunk.push(state);
        self.partition_count += 1;
    }

    fn set_extras(&mut self, partition_id: i32, extras: PartitionExtras) {
        if extras.is_empty() {
            self.extras.remove(&partition_id);
        } else {
            self.extras.insert(partition_id, extras);
        }
    }
}

/// A broker's listener.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Listener {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub security_protocol: i16,
}

/// A feature level range a broker supports.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SupportedFeature {
    pub name: String,
    pub min_supported: i16,
    pub max_supported: i16,
}

/// A registered broker (the last RegisterBrokerRecord for its id, with the changes since).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct BrokerRegistration {
    pub id: i32,
    pub incarnation_id: Uuid,
    /// The broker epoch: the offset of its RegisterBrokerRecord.
    pub epoch: i64,
    pub listeners: Vec<Listener>,
    pub features: Vec<SupportedFeature>,
    pub rack: Option<String>,
    pub fenced: bool,
    pub in_controlled_shutdown: bool,
    pub is_migrating_zk_broker: bool,
    pub log_dirs: Vec<Uuid>,
}

impl BrokerRegistration {
    /// May lead partitions and be added to ISRs: unfenced and not shutting down (Kafka's
    /// `isActive`).
    pub fn is_active(&self) -> bool {
        !self.fenced && !self.in_controlled_shutdown
    }

    /// The rack, with Kafka's "no rack" (null) and an empty rack name both `None`.
    pub fn rack_name(&self) -> Option<&str> {
        self.rack.as_deref().filter(|rack| !rack.is_empty())
    }

    fn from_record(record: &RegisterBrokerRecord) -> BrokerRegistration {
        BrokerRegistration {
            id: record.broker_id,
            incarnation_id: record.incarnation_id,
            epoch: record.broker_epoch,
            listeners: record
                .end_points
                .iter()
                .map(|e| Listener {
                    name: e.name.clone(),
                    host: e.host.clone(),
                    port: e.port,
                    security_protocol: e.security_protocol,
                })
                .collect(),
            features: record
                .features
                .iter()
                .map(|f| SupportedFeature {
                    name: f.name.clone(),
                    min_supported: f.min_supported_version,
                    max_supported: f.max_supported_version,
                })
                .collect(),
            rack: record.rack.clone(),
            fenced: record.fenced,
            in_controlled_shutdown: record.in_controlled_shutdown,
            is_migrating_zk_broker: record.is_migrating_zk_broker,
            log_dirs: record.log_dirs.clone(),
        }
    }

    /// The RegisterBrokerRecord that recreates this registration (what a snapshot writes).
    pub fn to_record(&self) -> RegisterBrokerRecord {
        RegisterBrokerRecord {
            broker_id: self.id,
            is_migrating_zk_broker: self.is_migrating_zk_broker,
            incarnation_id: self.incarnation_id,
            broker_epoch: self.epoch,
            end_points: self
                .listeners
                .iter()
                .map(|l| register_broker_record::BrokerEndpoint {
                    name: l.name.clone(),
                    host: l.host.clone(),
                    port: l.port,
                    security_protocol: l.security_protocol,
                    ..Default::default()
                })
                .collect(),
            features: self
                .features
                .iter()
                .map(|f| register_broker_record::BrokerFeature {
                    name: f.name.clone(),
                    min_supported_version: f.min_supported,
                    max_supported_version: f.max_supported,
                    ..Default::default()
                })
                .collect(),
            rack: self.rack.clone(),
            fenced: self.fenced,
            in_controlled_shutdown: self.in_controlled_shutdown,
            log_dirs: self.log_dirs.clone(),
            ..Default::default()
        }
    }
}

/// A configurable resource: a type (`RESOURCE_TOPIC`, `RESOURCE_BROKER`, ...) and a name.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct ConfigResource {
    pub resource_type: i8,
    pub name: String,
}

impl ConfigResource {
    pub fn topic(name: &str) -> ConfigResource {
        ConfigResource {
            resource_type: RESOURCE_TOPIC,
            name: name.to_owned(),
        }
    }
    pub fn broker(name: &str) -> ConfigResource {
        ConfigResource {
            resource_type: RESOURCE_BROKER,
            name: name.to_owned(),
        }
    }
}

/// How many partitions a broker id leads and is in the ISR of (derived, kept by apply). The
/// id [`NO_LEADER`] counts leaderless partitions.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct BrokerLoad {
    /// Partitions this id leads.
    pub leaders: u32,
    /// Partitions whose ISR holds this id.
    pub isr: u32,
    /// Partitions whose ISR holds this id and at least one other member.
    pub isr_shared: u32,
}

impl BrokerLoad {
    fn is_zero(&self) -> bool {
        *self == BrokerLoad::default()
    }
}

/// Why a record cannot apply to the image.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum ApplyErrorKind {
    /// Records apply at strictly increasing offsets.
    OffsetNotAfter {
        last: u64,
    },
    UnknownTopic(Uuid),
    UnknownPartition {
        topic_id: Uuid,
        partition_id: i32,
    },
    /// A PartitionRecord whose index is neither an existing partition nor the next one.
    PartitionNotNext {
        topic_id: Uuid,
        partition_id: i32,
        partition_count: u32,
    },
    TopicIdExists(Uuid),
    TopicNameExists {
        name: String,
        existing: Uuid,
    },
    InvalidTopicId(Uuid),
    UnknownBroker(i32),
    BrokerEpochMismatch {
        broker_id: i32,
        registered: i64,
        record: i64,
    },
    /// A field holds a value its schema does not define.
    InvalidValue {
        field: &'static str,
        value: i64,
    },
    /// More replicas or ISR members than [`PARTITION_MEMBERS_MAX`].
    TooManyMembers {
        field: &'static str,
        count: usize,
    },
    /// A leader or partition epoch would overflow.
    EpochOverflow {
        topic_id: Uuid,
        partition_id: i32,
    },
}

impl fmt::Display for ApplyErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApplyErrorKind::OffsetNotAfter { last } => {
                write!(f, "the image is already at offset {last}")
            }
            ApplyErrorKind::UnknownTopic(id) => write!(f, "no topic has id {id}"),
            ApplyErrorKind::UnknownPartition {
                topic_id,
                partition_id,
            } => write!(f, "topic {topic_id} has no partition {partition_id}"),
            ApplyErrorKind::PartitionNotNext {
                topic_id,
                partition_id,
                partition_count,
            } => write!(
                f,
                "partition {partition_id} of topic {topic_id}, which has {partition_count} \
                 partition(s): partitions are created in index order"
            ),
            ApplyErrorKind::TopicIdExists(id) => write!(f, "a topic with id {id} exists"),
            ApplyErrorKind::TopicNameExists { name, existing } => {
                write!(f, "topic name {name:?} is taken by topic {existing}")
            }
            ApplyErrorKind::InvalidTopicId(id) => write!(f, "{id} is not a valid topic id"),
            ApplyErrorKind::UnknownBroker(id) => write!(f, "broker {id} is not registered"),
            ApplyErrorKind::BrokerEpochMismatch {
                broker_id,
                registered,
                record,
            } => write!(
                f,
                "broker {broker_id} is registered with epoch {registered}, the record names {record}"
            ),
            ApplyErrorKind::InvalidValue { field, value } => {
                write!(f, "{field} {value} is not a valid value")
            }
            ApplyErrorKind::TooManyMembers { field, count } => write!(
                f,
                "{field} has {count} brokers, more than the {PARTITION_MEMBERS_MAX} keel supports"
            ),
            ApplyErrorKind::EpochOverflow {
                topic_id,
                partition_id,
            } => write!(
                f,
                "an epoch of partition {partition_id} of topic {topic_id} would overflow"
            ),
        }
    }
}

/// A committed record that cannot apply, with its offset. Fatal for the replica.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ApplyError {
    pub offset: u64,
    /// The record's schema name.
    pub record: &'static str,
    pub kind: ApplyErrorKind,
}

impl fmt::Display for ApplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot apply the {} at offset {}: {}",
            self.record, self.offset, self.kind
        )
    }
}

impl std::error::Error for ApplyError {}

/// The metadata as of one committed offset. See the module header.
#[derive(Clone, PartialEq, Debug, Default)]
pub struct Image {
    offset: Option<u64>,
    features: BTreeMap<String, i16>,
    brokers: BTreeMap<i32, Arc<BrokerRegistration>>,
    topics: BTreeMap<Uuid, Arc<TopicImage>>,
    topic_ids: BTreeMap<Arc<str>, Uuid>,
    configs: BTreeMap<ConfigResource, Arc<BTreeMap<String, String>>>,
    partition_count: u64,
    load: BTreeMap<i32, BrokerLoad>,
    collisions: BTreeMap<String, BTreeSet<Arc<str>>>,
}

/// Kafka's topic names collide when they differ only in `.` versus `_`.
fn collision_key(name: &str) -> Option<String> {
    (name.contains('.') || name.contains('_')).then(|| name.replace('.', "_"))
}

fn check_members(field: &'static str, ids: &[i32]) -> Result<(), ApplyErrorKind> {
    if ids.len() > PARTITION_MEMBERS_MAX {
        return Err(ApplyErrorKind::TooManyMembers {
            field,
            count: ids.len(),
        });
    }
    Ok(())
}

fn account(load: &mut BTreeMap<i32, BrokerLoad>, state: &PartitionState, add: bool) {
    // One map lookup per broker and partition (a million partitions are loaded at start).
    let mut change = |id: i32, leads: bool, in_isr: bool, shared: bool| {
        let entry = load.entry(id).or_default();
        for (counter, counts) in [
            (&mut entry.leaders, leads),
            (&mut entry.isr, in_isr),
            (&mut entry.isr_shared, shared),
        ] {
            if !counts {
                continue;
            }
            if add {
                *counter += 1;
            } else {
                *counter = counter
                    .checked_sub(1)
                    .expect("a partition is only unaccounted after being accounted");
            }
        }
        if !add && entry.is_zero() {
            load.remove(&id);
        }
    };
    let isr = state.members.isr();
    let shared = isr.len() > 1;
    let mut leader_counted = false;
    for &id in isr {
        let leads = id == state.leader && !leader_counted;
        leader_counted |= leads;
        change(id, leads, true, shared);
    }
    if !leader_counted {
        change(state.leader, true, false, false);
    }
}

impl Image {
    /// The empty image, before the first record of the log.
    pub fn new() -> Image {
        Image::default()
    }

    /// The offset of the last record applied (or the last offset a snapshot covers); `None`
    /// for the empty image.
    pub fn offset(&self) -> Option<u64> {
        self.offset
    }

    /// Applies the committed record at `offset`. On error the image is unchanged.
    pub fn apply(&mut self, offset: u64, record: &MetadataRecord) -> Result<(), ApplyError> {
        let error = |kind| ApplyError {
            offset,
            record: record.name(),
            kind,
        };
        if let Some(last) = self.offset
            && offset <= last
        {
            return Err(error(ApplyErrorKind::OffsetNotAfter { last }));
        }
        self.apply_record(record).map_err(error)?;
        self.offset = Some(offset);
        Ok(())
    }

    /// Notes that the log is committed through `offset` without a metadata record there (a
    /// control record). Offsets at or below the image's are ignored.
    pub fn advance_to(&mut self, offset: u64) {
        if self.offset.is_none_or(|last| offset > last) {
            self.offset = Some(offset);
        }
    }

    /// Sets the offset a loaded snapshot covers.
    pub(crate) fn set_offset(&mut self, offset: Option<u64>) {
        self.offset = offset;
    }

    /// Applies one record without looking at offsets (log replay and snapshot loading).
    pub(crate) fn apply_record(&mut self, record: &MetadataRecord) -> Result<(), ApplyErrorKind> {
        match record {
            MetadataRecord::FeatureLevel(r) => {
                if r.feature_level == 0 {
                    self.features.remove(&r.name);
                } else {
                    self.features.insert(r.name.clone(), r.feature_level);
                }
            }
            MetadataRecord::RegisterBroker(r) => {
                self.brokers
                    .insert(r.broker_id, Arc::new(BrokerRegistration::from_record(r)));
            }
            MetadataRecord::UnregisterBroker(r) => {
                self.registered(r.broker_id, r.broker_epoch)?;
                self.brokers.remove(&r.broker_id);
            }
            MetadataRecord::BrokerRegistrationChange(r) => self.change_broker(r)?,
            MetadataRecord::Topic(r) => self.add_topic(r)?,
            MetadataRecord::Partition(r) => self.put_partition(r)?,
            MetadataRecord::PartitionChange(r) => self.change_partition(r)?,
            MetadataRecord::RemoveTopic(r) => self.remove_topic(r.topic_id)?,
            MetadataRecord::Config(r) => self.set_config(r)?,
            MetadataRecord::NoOp(_) => {}
        }
        Ok(())
    }

    fn registered(&self, broker_id: i32, epoch: i64) -> Result<(), ApplyErrorKind> {
        let broker = self
            .brokers
            .get(&broker_id)
            .ok_or(ApplyErrorKind::UnknownBroker(broker_id))?;
        if broker.epoch != epoch {
            return Err(ApplyErrorKind::BrokerEpochMismatch {
                broker_id,
                registered: broker.epoch,
                record: epoch,
            });
        }
        Ok(())
    }

    fn change_broker(&mut self, r: &BrokerRegistrationChangeRecord) -> Result<(), ApplyErrorKind> {
        self.registered(r.broker_id, r.broker_epoch)?;
        let fenced = match r.fenced {
            -1 => Some(false),
            0 => None,
            1 => Some(true),
            value => {
                return Err(ApplyErrorKind::InvalidValue {
                    field: "Fenced",
                    value: i64::from(value),
                });
            }
        };
        let in_controlled_shutdown = match r.in_controlled_shutdown {
            0 => None,
            1 => Some(true),
            value => {
                return Err(ApplyErrorKind::InvalidValue {
                    field: "InControlledShutdown",
                    value: i64::from(value),
                });
            }
        };
        let broker = Arc::make_mut(self.brokers.get_mut(&r.broker_id).expect("checked"));
        if let Some(fenced) = fenced {
            broker.fenced = fenced;
        }
        if let Some(in_controlled_shutdown) = in_controlled_shutdown {
            broker.in_controlled_shutdown = in_controlled_shutdown;
        }
        if !r.log_dirs.is_empty() {
            broker.log_dirs = r.log_dirs.clone();
        }
        Ok(())
    }

    fn add_topic(&mut self, r: &TopicRecord) -> Result<(), ApplyErrorKind> {
        if r.topic_id == Uuid::ZERO {
            return Err(ApplyErrorKind::InvalidTopicId(r.topic_id));
        }
        if self.topics.contains_key(&r.topic_id) {
            return Err(ApplyErrorKind::TopicIdExists(r.topic_id));
        }
        if let Some(&existing) = self.topic_ids.get(r.name.as_str()) {
            return Err(ApplyErrorKind::TopicNameExists {
                name: r.name.clone(),
                existing,
            });
        }
        let name: Arc<str> = Arc::from(r.name.as_str());
        if let Some(key) = collision_key(&name) {
            self.collisions
                .entry(key)
                .or_default()
                .insert(Arc::clone(&name));
        }
        self.topic_ids.insert(Arc::clone(&name), r.topic_id);
        self.topics
            .insert(r.topic_id, Arc::new(TopicImage::new(name, r.topic_id)));
        Ok(())
    }

    fn put_partition(&mut self, r: &PartitionRecord) -> Result<(), ApplyErrorKind> {
        let topic = self
            .topics
            .get(&r.topic_id)
            .ok_or(ApplyErrorKind::UnknownTopic(r.topic_id))?;
        let count = topic.partition_count;
        if r.partition_id < 0 || i64::from(r.partition_id) > i64::from(count) {
            return Err(ApplyErrorKind::PartitionNotNext {
                topic_id: r.topic_id,
                partition_id: r.partition_id,
                partition_count: count,
            });
        }
        check_members("Replicas", &r.replicas)?;
        check_members("Isr", &r.isr)?;
        let state = PartitionState {
            members: Members::new(&r.replicas, &r.isr),
            leader: r.leader,
            leader_epoch: r.leader_epoch,
            partition_epoch: r.partition_epoch,
            leader_recovery_state: r.leader_recovery_state,
        };
        let extras = PartitionExtras {
            removing_replicas: r.removing_replicas.clone(),
            adding_replicas: r.adding_replicas.clone(),
            directories: r.directories.clone(),
            eligible_leader_replicas: r.eligible_leader_replicas.clone().unwrap_or_default(),
            last_known_elr: r.last_known_elr.clone().unwrap_or_default(),
        };
        let topic = Arc::make_mut(self.topics.get_mut(&r.topic_id).expect("checked"));
        if let Some(old) = topic.state(r.partition_id) {
            account(&mut self.load, old, false);
        } else {
            self.partition_count += 1;
        }
        account(&mut self.load, &state, true);
        topic.put(r.partition_id, state);
        topic.set_extras(r.partition_id, extras);
        Ok(())
    }

    fn change_partition(&mut self, r: &PartitionChangeRecord) -> Result<(), ApplyErrorKind> {
        let unknown = || ApplyErrorKind::UnknownPartition {
            topic_id: r.topic_id,
            partition_id: r.partition_id,
        };
        let topic = self
            .topics
            .get(&r.topic_id)
            .ok_or(ApplyErrorKind::UnknownTopic(r.topic_id))?;
        let old = topic.state(r.partition_id).ok_or_else(unknown)?;
        if r.leader < NO_LEADER_CHANGE {
            return Err(ApplyErrorKind::InvalidValue {
                field: "Leader",
                value: i64::from(r.leader),
            });
        }
        if !(-1..=1).contains(&r.leader_recovery_state) {
            return Err(ApplyErrorKind::InvalidValue {
                field: "LeaderRecoveryState",
                value: i64::from(r.leader_recovery_state),
            });
        }
        let replicas = r.replicas.as_deref().unwrap_or(old.members.replicas());
        let isr = r.isr.as_deref().unwrap_or(old.members.isr());
        check_members("Replicas", replicas)?;
        check_members("Isr", isr)?;
        let overflow = || ApplyErrorKind::EpochOverflow {
            topic_id: r.topic_id,
            partition_id: r.partition_id,
        };
        let (leader, leader_epoch) = if r.leader == NO_LEADER_CHANGE {
            (old.leader, old.leader_epoch)
        } else {
            (
                r.leader,
                old.leader_epoch.checked_add(1).ok_or_else(overflow)?,
            )
        };
        let state = PartitionState {
            members: Members::new(replicas, isr),
            leader,
            leader_epoch,
            partition_epoch: old.partition_epoch.checked_add(1).ok_or_else(overflow)?,
            leader_recovery_state: if r.leader_recovery_state == -1 {
                old.leader_recovery_state
            } else {
                r.leader_recovery_state
            },
        };
        let mut extras = topic
            .extras
            .get(&r.partition_id)
            .cloned()
            .unwrap_or_default();
        let replace = |slot: &mut Vec<i32>, new: &Option<Vec<i32>>| {
            if let Some(new) = new {
                slot.clone_from(new);
            }
        };
        replace(&mut extras.removing_replicas, &r.removing_replicas);
        replace(&mut extras.adding_replicas, &r.adding_replicas);
        replace(
            &mut extras.eligible_leader_replicas,
            &r.eligible_leader_replicas,
        );
        replace(&mut extras.last_known_elr, &r.last_known_elr);
        if let Some(directories) = &r.directories {
            extras.directories.clone_from(directories);
        }
        account(&mut self.load, old, false);
        account(&mut self.load, &state, true);
        let topic = Arc::make_mut(self.topics.get_mut(&r.topic_id).expect("checked"));
        topic.put(r.partition_id, state);
        topic.set_extras(r.partition_id, extras);
        Ok(())
    }

    fn remove_topic(&mut self, topic_id: Uuid) -> Result<(), ApplyErrorKind> {
        let topic = self
            .topics
            .remove(&topic_id)
            .ok_or(ApplyErrorKind::UnknownTopic(topic_id))?;
        for partition in topic.partitions() {
            account(&mut self.load, partition.state, false);
        }
        self.partition_count -= u64::from(topic.partition_count);
        self.topic_ids.remove(topic.name());
        if let Some(key) = collision_key(topic.name()) {
            let names = self.collisions.get_mut(&key).expect("indexed when added");
            names.remove(topic.name());
            if names.is_empty() {
                self.collisions.remove(&key);
            }
        }
        // A topic's configs go with it (Kafka's ConfigurationsDelta does the same).
        self.configs.remove(&ConfigResource::topic(topic.name()));
        Ok(())
    }

    fn set_config(&mut self, r: &ConfigRecord) -> Result<(), ApplyErrorKind> {
        if ![
            RESOURCE_TOPIC,
            RESOURCE_BROKER,
            RESOURCE_BROKER_LOGGER,
            RESOURCE_CLIENT_METRICS,
            RESOURCE_GROUP,
        ]
        .contains(&r.resource_type)
        {
            return Err(ApplyErrorKind::InvalidValue {
                field: "ResourceType",
                value: i64::from(r.resource_type),
            });
        }
        let resource = ConfigResource {
            resource_type: r.resource_type,
            name: r.resource_name.clone(),
        };
        match &r.value {
            Some(value) => {
                let configs = self.configs.entry(resource).or_default();
                Arc::make_mut(configs).insert(r.name.clone(), value.clone());
            }
            None => {
                if let Some(configs) = self.configs.get_mut(&resource) {
                    Arc::make_mut(configs).remove(&r.name);
                    if configs.is_empty() {
                        self.configs.remove(&resource);
                    }
                }
            }
        }
        Ok(())
    }

    // ---- Queries ----

    /// Finalized feature levels by name.
    pub fn features(&self) -> &BTreeMap<String, i16> {
        &self.features
    }

    pub fn feature_level(&self, name: &str) -> Option<i16> {
        self.features.get(name).copied()
    }

    pub fn broker(&self, id: i32) -> Option<&BrokerRegistration> {
        self.brokers.get(&id).map(|b| &**b)
    }

    /// Registered brokers by id.
    pub fn brokers(&self) -> impl Iterator<Item = &BrokerRegistration> + '_ {
        self.brokers.values().map(|b| &**b)
    }

    pub fn broker_count(&self) -> usize {
        self.brokers.len()
    }

    /// Partitions `broker_id` leads and is in the ISR of ([`NO_LEADER`] counts leaderless
    /// partitions).
    pub fn broker_load(&self, broker_id: i32) -> BrokerLoad {
        self.load.get(&broker_id).copied().unwrap_or_default()
    }

    /// Every id that leads a partition or is in an ISR, with its counts.
    pub fn loads(&self) -> impl Iterator<Item = (i32, BrokerLoad)> + '_ {
        self.load.iter().map(|(&id, &load)| (id, load))
    }

    pub fn topic(&self, id: &Uuid) -> Option<&TopicImage> {
        self.topics.get(id).map(|t| &**t)
    }

    pub fn topic_by_name(&self, name: &str) -> Option<&TopicImage> {
        self.topic_ids.get(name).and_then(|id| self.topic(id))
    }

    pub fn topic_id(&self, name: &str) -> Option<Uuid> {
        self.topic_ids.get(name).copied()
    }

    /// Topics in name order.
    pub fn topics(&self) -> impl Iterator<Item = &TopicImage> + '_ {
        self.topic_ids.values().map(|id| &*self.topics[id])
    }

    /// Topics in name order, from the first one named after `name` (all when `None`): where a
    /// walk over the topics that was interrupted resumes.
    pub fn topics_after<'a>(
        &'a self,
        name: Option<&str>,
    ) -> impl Iterator<Item = &'a TopicImage> + 'a {
        use std::ops::Bound;
        let start: Bound<&str> = match name {
            Some(name) => Bound::Excluded(name),
            None => Bound::Unbounded,
        };
        self.topic_ids
            .range::<str, _>((start, Bound::Unbounded))
            .map(|(_, id)| &*self.topics[id])
    }

    pub fn topic_count(&self) -> usize {
        self.topics.len()
    }

    /// Partitions over all topics.
    pub fn partition_count(&self) -> u64 {
        self.partition_count
    }

    pub fn partition(&self, topic_id: &Uuid, partition_id: i32) -> Option<PartitionView<'_>> {
        self.topic(topic_id)?.partition(partition_id)
    }

    /// An existing topic whose name collides with `name` once `.` and `_` are unified (Kafka
    /// refuses to create such a pair), other than `name` itself.
    pub fn colliding_topic(&self, name: &str) -> Option<&str> {
        let key = collision_key(name)?;
        self.collisions
            .get(&key)?
            .iter()
            .map(|n| &**n)
            .find(|&existing| existing != name)
    }

    /// The stored configs of a resource (keys with explicit values only).
    pub fn configs(&self, resource: &ConfigResource) -> Option<&BTreeMap<String, String>> {
        self.configs.get(resource).map(|c| &**c)
    }

    pub fn config(&self, resource: &ConfigResource, key: &str) -> Option<&str> {
        self.configs(resource)?.get(key).map(String::as_str)
    }

    /// Every resource with stored configs, ordered by type then name.
    pub fn config_resources(
        &self,
    ) -> impl Iterator<Item = (&ConfigResource, &BTreeMap<String, String>)> + '_ {
        self.configs.iter().map(|(r, c)| (r, &**c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::messages::{
        FeatureLevelRecord, RemoveTopicRecord, UnregisterBrokerRecord,
    };

    fn id(n: u8) -> Uuid {
        Uuid::from_bytes([n; 16])
    }

    fn topic(name: &str, n: u8) -> MetadataRecord {
        MetadataRecord::Topic(TopicRecord {
            name: name.into(),
            topic_id: id(n),
            ..Default::default()
        })
    }

    fn partition(n: u8, p: i32, replicas: &[i32], leader: i32) -> MetadataRecord {
        MetadataRecord::Partition(PartitionRecord {
            partition_id: p,
            topic_id: id(n),
            replicas: replicas.to_vec(),
            isr: replicas.to_vec(),
            leader,
            leader_epoch: 0,
            partition_epoch: 0,
            ..Default::default()
        })
    }

    fn broker(broker_id: i32, epoch: i64) -> MetadataRecord {
        MetadataRecord::RegisterBroker(RegisterBrokerRecord {
            broker_id,
            broker_epoch: epoch,
            incarnation_id: id(100 + broker_id as u8),
            rack: None,
            ..Default::default()
        })
    }

    fn apply_all(image: &mut Image, records: &[MetadataRecord]) {
        let start = image.offset().map_or(0, |o| o + 1);
        for (i, record) in records.iter().enumerate() {
            image.apply(start + i as u64, record).unwrap();
        }
    }

    #[test]
    fn a_partition_is_48_bytes() {
        assert_eq!(std::mem::size_of::<PartitionState>(), 48);
    }

    #[test]
    fn members_round_trip_inline_and_on_the_heap() {
        for (replicas, isr) in [
            (vec![], vec![]),
            (vec![1], vec![1]),
            (vec![1, 2, 3], vec![3, 1, 2]),
            (vec![1, 2, 3, 4], vec![4]),
            (vec![1, 2, 3, 4], vec![1, 2, 3, 4]),
            ((0..255).collect::<Vec<i32>>(), (0..255).rev().collect()),
        ] {
            let members = Members::new(&replicas, &isr);
            assert_eq!(members.replicas(), &replicas[..]);
            assert_eq!(members.isr(), &isr[..]);
            assert_eq!(
                matches!(members, Members::Inline { .. }),
                replicas.len() + isr.len() <= INLINE_MEMBERS
            );
        }
    }

    #[test]
    fn records_build_topics_partitions_brokers_configs_and_features() {
        let mut image = Image::new();
        apply_all(
            &mut image,
            &[
                MetadataRecord::FeatureLevel(FeatureLevelRecord {
                    name: "metadata.version".into(),
                    feature_level: 21,
                    ..Default::default()
                }),
                broker(1, 1),
                broker(2, 2),
                topic("orders", 7),
                partition(7, 0, &[1, 2], 1),
                partition(7, 1, &[2, 1], 2),
                MetadataRecord::Config(ConfigRecord {
                    resource_type: RESOURCE_TOPIC,
                    resource_name: "orders".into(),
                    name: "retention.ms".into(),
                    value: Some("1000".into()),
                    ..Default::default()
                }),
            ],
        );
        assert_eq!(image.offset(), Some(6));
        assert_eq!(image.feature_level("metadata.version"), Some(21));
        assert_eq!(image.broker_count(), 2);
        let orders = image.topic_by_name("orders").unwrap();
        assert_eq!(orders.id(), id(7));
        assert_eq!(orders.partition_count(), 2);
        assert_eq!(image.topic(&id(7)).unwrap().name(), "orders");
        let p1 = orders.partition(1).unwrap();
        assert_eq!(
            (p1.replicas(), p1.isr(), p1.leader()),
            (&[2, 1][..], &[2, 1][..], 2)
        );
        assert!(orders.partition(2).is_none() && orders.partition(-1).is_none());
        assert_eq!(
            image.config(&ConfigResource::topic("orders"), "retention.ms"),
            Some("1000")
        );
        assert_eq!(image.partition_count(), 2);
        assert_eq!(
            image.broker_load(1),
            BrokerLoad {
                leaders: 1,
                isr: 2,
                isr_shared: 2
            }
        );
    }

    #[test]
    fn a_partition_change_bumps_epochs_and_changes_only_what_it_names() {
        let mut image = Image::new();
        apply_all(&mut image, &[topic("t", 1), partition(1, 0, &[1, 2, 3], 1)]);
        let change = |leader: i32, isr: Option<Vec<i32>>| {
            MetadataRecord::PartitionChange(PartitionChangeRecord {
                topic_id: id(1),
                partition_id: 0,
                leader,
                isr,
                ..Default::default()
            })
        };
        apply_all(&mut image, &[change(NO_LEADER_CHANGE, Some(vec![1, 2]))]);
        let p = image.partition(&id(1), 0).unwrap();
        assert_eq!(
            (p.leader(), p.leader_epoch(), p.partition_epoch()),
            (1, 0, 1)
        );
        assert_eq!(p.isr(), &[1, 2]);
        assert_eq!(p.replicas(), &[1, 2, 3]);
        apply_all(&mut image, &[change(2, None)]);
        let p = image.partition(&id(1), 0).unwrap();
        assert_eq!(
            (p.leader(), p.leader_epoch(), p.partition_epoch()),
            (2, 1, 2)
        );
        assert_eq!(p.isr(), &[1, 2]);
        apply_all(&mut image, &[change(NO_LEADER, Some(vec![3]))]);
        let p = image.partition(&id(1), 0).unwrap();
        assert_eq!(
            (p.leader(), p.leader_epoch(), p.partition_epoch()),
            (-1, 2, 3)
        );
        assert_eq!(image.broker_load(NO_LEADER).leaders, 1);
        assert_eq!(image.broker_load(1), BrokerLoad::default());
    }

    #[test]
    fn impossible_records_are_errors_naming_the_offset_and_change_nothing() {
        let mut image = Image::new();
        apply_all(
            &mut image,
            &[broker(1, 0), topic("t", 1), partition(1, 0, &[1], 1)],
        );
        let before = image.clone();
        let cases: Vec<(MetadataRecord, ApplyErrorKind)> = vec![
            (
                partition(9, 0, &[1], 1),
                ApplyErrorKind::UnknownTopic(id(9)),
            ),
            (
                partition(1, 2, &[1], 1),
                ApplyErrorKind::PartitionNotNext {
                    topic_id: id(1),
                    partition_id: 2,
                    partition_count: 1,
                },
            ),
            (
                MetadataRecord::PartitionChange(PartitionChangeRecord {
                    topic_id: id(1),
                    partition_id: 5,
                    ..Default::default()
                }),
                ApplyErrorKind::UnknownPartition {
                    topic_id: id(1),
                    partition_id: 5,
                },
            ),
            (
                MetadataRecord::PartitionChange(PartitionChangeRecord {
                    topic_id: id(1),
                    partition_id: 0,
                    leader: -3,
                    ..Default::default()
                }),
                ApplyErrorKind::InvalidValue {
                    field: "Leader",
                    value: -3,
                },
            ),
            (
                topic("t", 2),
                ApplyErrorKind::TopicNameExists {
                    name: "t".into(),
                    existing: id(1),
                },
            ),
            (topic("u", 1), ApplyErrorKind::TopicIdExists(id(1))),
            (topic("u", 0), ApplyErrorKind::InvalidTopicId(Uuid::ZERO)),
            (
                MetadataRecord::RemoveTopic(RemoveTopicRecord {
                    topic_id: id(3),
                    ..Default::default()
                }),
                ApplyErrorKind::UnknownTopic(id(3)),
            ),
            (
                MetadataRecord::BrokerRegistrationChange(BrokerRegistrationChangeRecord {
                    broker_id: 2,
                    broker_epoch: 0,
                    fenced: 1,
                    ..Default::default()
                }),
                ApplyErrorKind::UnknownBroker(2),
            ),
            (
                MetadataRecord::BrokerRegistrationChange(BrokerRegistrationChangeRecord {
                    broker_id: 1,
                    broker_epoch: 5,
                    fenced: 1,
                    ..Default::default()
                }),
                ApplyErrorKind::BrokerEpochMismatch {
                    broker_id: 1,
                    registered: 0,
                    record: 5,
                },
            ),
            (
                MetadataRecord::BrokerRegistrationChange(BrokerRegistrationChangeRecord {
                    broker_id: 1,
                    broker_epoch: 0,
                    fenced: 2,
                    ..Default::default()
                }),
                ApplyErrorKind::InvalidValue {
                    field: "Fenced",
                    value: 2,
                },
            ),
            (
                MetadataRecord::UnregisterBroker(UnregisterBrokerRecord {
                    broker_id: 1,
                    broker_epoch: 9,
                    ..Default::default()
                }),
                ApplyErrorKind::BrokerEpochMismatch {
                    broker_id: 1,
                    registered: 0,
                    record: 9,
                },
            ),
            (
                MetadataRecord::Config(ConfigRecord {
                    resource_type: 3,
                    ..Default::default()
                }),
                ApplyErrorKind::InvalidValue {
                    field: "ResourceType",
                    value: 3,
                },
            ),
            (
                MetadataRecord::Partition(PartitionRecord {
                    topic_id: id(1),
                    partition_id: 1,
                    replicas: (0..256).collect(),
                    ..Default::default()
                }),
                ApplyErrorKind::TooManyMembers {
                    field: "Replicas",
                    count: 256,
                },
            ),
        ];
        for (record, kind) in cases {
            let error = image.apply(100, &record).unwrap_err();
            assert_eq!(error.offset, 100);
            assert_eq!(error.kind, kind, "{record:?}");
            assert!(error.to_string().contains("at offset 100"), "{error}");
            assert_eq!(image, before);
        }
        // Offsets must advance.
        let error = image.apply(2, &topic("v", 5)).unwrap_err();
        assert_eq!(error.kind, ApplyErrorKind::OffsetNotAfter { last: 2 });
        assert_eq!(image, before);
    }

    #[test]
    fn removing_a_topic_removes_its_partitions_name_configs_and_load() {
        let mut image = Image::new();
        apply_all(
            &mut image,
            &[
                topic("a.b", 1),
                partition(1, 0, &[1, 2], 1),
                MetadataRecord::Config(ConfigRecord {
                    resource_type: RESOURCE_TOPIC,
                    resource_name: "a.b".into(),
                    name: "cleanup.policy".into(),
                    value: Some("compact".into()),
                    ..Default::default()
                }),
            ],
        );
        assert_eq!(image.colliding_topic("a_b"), Some("a.b"));
        assert_eq!(image.colliding_topic("a.b"), None);
        apply_all(
            &mut image,
            &[MetadataRecord::RemoveTopic(RemoveTopicRecord {
                topic_id: id(1),
                ..Default::default()
            })],
        );
        let mut empty = Image::new();
        empty.set_offset(image.offset());
        assert_eq!(image, empty);
        assert_eq!(image.colliding_topic("a_b"), None);
    }

    #[test]
    fn broker_changes_fence_unfence_and_shut_down() {
        let mut image = Image::new();
        apply_all(&mut image, &[broker(1, 0)]);
        assert!(image.broker(1).unwrap().fenced);
        let change = |fenced: i8, in_controlled_shutdown: i8| {
            MetadataRecord::BrokerRegistrationChange(BrokerRegistrationChangeRecord {
                broker_id: 1,
                broker_epoch: 0,
                fenced,
                in_controlled_shutdown,
                ..Default::default()
            })
        };
        apply_all(&mut image, &[change(-1, 0)]);
        assert!(image.broker(1).unwrap().is_active());
        apply_all(&mut image, &[change(0, 1)]);
        let b = image.broker(1).unwrap();
        assert!(!b.fenced && b.in_controlled_shutdown && !b.is_active());
        apply_all(&mut image, &[change(1, 0)]);
        assert!(image.broker(1).unwrap().fenced);
        apply_all(
            &mut image,
            &[MetadataRecord::UnregisterBroker(UnregisterBrokerRecord {
                broker_id: 1,
                broker_epoch: 0,
                ..Default::default()
            })],
        );
        assert!(image.broker(1).is_none());
    }

    #[test]
    fn a_clone_shares_partitions_until_one_side_changes_a_chunk() {
        let mut image = Image::new();
        apply_all(&mut image, &[topic("t", 1)]);
        let records: Vec<_> = (0..3000).map(|p| partition(1, p, &[1, 2, 3], 1)).collect();
        apply_all(&mut image, &records);
        let copy = image.clone();
        let shared = |a: &Image, b: &Image, chunk: usize| {
            Arc::ptr_eq(
                &a.topics[&id(1)].chunks[chunk],
                &b.topics[&id(1)].chunks[chunk],
            )
        };
        assert!((0..3).all(|c| shared(&image, &copy, c)));
        apply_all(
            &mut image,
            &[MetadataRecord::PartitionChange(PartitionChangeRecord {
                topic_id: id(1),
                partition_id: 1500,
                leader: 2,
                ..Default::default()
            })],
        );
        assert!(shared(&image, &copy, 0) && !shared(&image, &copy, 1) && shared(&image, &copy, 2));
        assert_eq!(copy.partition(&id(1), 1500).unwrap().leader(), 1);
        assert_eq!(image.partition(&id(1), 1500).unwrap().leader(), 2);
    }
}
