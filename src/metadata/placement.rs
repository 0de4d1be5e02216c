//! Replica placement for new partitions: Kafka's rack-aware round robin. Pure and
//! deterministic: the caller passes the rotation (keel derives it from the topic id, which
//! the caller drew at random), so the same inputs always give the same assignment.
//!
//! The algorithm is Kafka's (`AdminUtils.assignReplicasToBrokersRackAware`, whose spirit
//! `StripedReplicaPlacer` keeps): brokers are listed rack by rack in alternation (the first
//! broker of every rack, then the second of every rack, ...), each partition's first replica
//! (its preferred leader) walks that list round robin from a start index, and each further
//! replica steps through the list by a shift that changes every full round, skipping a broker
//! whose rack already holds a replica of the partition while some rack holds none, and a
//! broker that already holds one while some broker holds none. So leaders spread evenly over
//! brokers, replicas of one partition spread over as many racks as there are, and followers
//! of partitions with the same leader differ. Without racks it is plain round robin.

use std::collections::{BTreeMap, BTreeSet};

/// A broker new replicas may go to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsableBroker {
    pub id: i32,
    /// `None` and an empty name are the same "no rack" group.
    pub rack: Option<String>,
}

/// Where rotation starts, so that topics do not all begin on the same broker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rotation {
    /// Index into the rack-alternated broker list of partition 0's first replica.
    pub start: u32,
    /// Initial shift between a partition's first and second replica.
    pub shift: u32,
}

/// Why replicas cannot be placed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlacementError {
    /// `replication_factor` exceeds the usable brokers (or is not positive).
    ReplicationFactor { wanted: usize, brokers: usize },
}

/// The brokers listed rack by rack in alternation; racks by name (no rack first), brokers in
/// a rack by id. Returns the list and each entry's rack index.
fn rack_alternated(brokers: &[UsableBroker]) -> (Vec<i32>, Vec<usize>) {
    let mut racks: BTreeMap<&str, BTreeSet<i32>> = BTreeMap::new();
    for broker in brokers {
        racks
            .entry(broker.rack.as_deref().unwrap_or(""))
            .or_default()
            .insert(broker.id);
    }
    let racks: Vec<Vec<i32>> = racks
        .into_values()
        .map(|ids| ids.into_iter().collect())
        .collect();
    let mut ids = Vec::with_capacity(brokers.len());
    let mut rack_of = Vec::with_capacity(brokers.len());
    let deepest = racks.iter().map(Vec::len).max().unwrap_or(0);
    for depth in 0..deepest {
        for (rack, members) in racks.iter().enumerate() {
            if let Some(&id) = members.get(depth) {
                ids.push(id);
                rack_of.push(rack);
            }
        }
    }
    (ids, rack_of)
}

/// Replicas for partitions `first_partition .. first_partition + count` of a topic, each a
/// list of `replication_factor` distinct broker ids, preferred leader first.
pub fn place(
    brokers: &[UsableBroker],
    first_partition: u32,
    count: u32,
    replication_factor: usize,
    rotation: Rotation,
) -> Result<Vec<Vec<i32>>, PlacementError> {
    let (ids, rack_of) = rack_alternated(brokers);
    let n = ids.len();
    if replication_factor == 0 || replication_factor > n {
        return Err(PlacementError::ReplicationFactor {
            wanted: replication_factor,
            brokers: n,
        });
    }
    let rack_count = rack_of.iter().copied().max().map_or(0, |r| r + 1);
    let start = rotation.start as usize % n;
    let mut assignments = Vec::with_capacity(count as usize);
    for i in 0..count {
        let p = (first_partition + i) as usize;
        // The shift grows by one every full round of first replicas, as in Kafka.
        let shift = rotation.shift as usize + p / n;
        let first = (p + start) % n;
        let mut replicas = Vec::with_capacity(replication_factor);
        let mut racks_used = BTreeSet::from([rack_of[first]]);
        let mut brokers_used = BTreeSet::from([first]);
        replicas.push(ids[first]);
        let mut k = 0usize;
        while replicas.len() < replication_factor {
            // n >= 2 here: replication_factor >= 2 and replication_factor <= n.
            let step = 1 + (shift * rack_count.max(1) + k) % (n - 1);
            let candidate = (first + step) % n;
            k += 1;
            let rack = rack_of[candidate];
            let rack_ok = !racks_used.contains(&rack) || racks_used.len() == rack_count;
            let broker_ok = !brokers_used.contains(&candidate) || brokers_used.len() == n;
            if rack_ok && broker_ok {
                racks_used.insert(rack);
                brokers_used.insert(candidate);
                replicas.push(ids[candidate]);
            }
            assert!(k <= 4 * n * n, "placement always terminates");
        }
        assignments.push(replicas);
    }
    Ok(assignments)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn brokers(spec: &[(i32, Option<&str>)]) -> Vec<UsableBroker> {
        spec.iter()
            .map(|&(id, rack)| UsableBroker {
                id,
                rack: rack.map(str::to_owned),
            })
            .collect()
    }

    const ROT: Rotation = Rotation { start: 0, shift: 0 };

    #[test]
    fn without_racks_it_is_round_robin() {
        let b = brokers(&[(1, None), (2, None), (3, None)]);
        let placed = place(&b, 0, 6, 2, ROT).unwrap();
        let leaders: Vec<i32> = placed.iter().map(|r| r[0]).collect();
        assert_eq!(leaders, [1, 2, 3, 1, 2, 3]);
        for replicas in &placed {
            assert_eq!(replicas.len(), 2);
            assert_ne!(replicas[0], replicas[1]);
        }
        // The second round shifts the followers.
        assert_ne!(placed[0], placed[3]);
    }

    #[test]
    fn replicas_spread_over_racks() {
        let b = brokers(&[
            (1, Some("a")),
            (2, Some("a")),
            (3, Some("b")),
            (4, Some("b")),
            (5, Some("c")),
            (6, Some("c")),
        ]);
        let rack = |id: i32| ["a", "a", "b", "b", "c", "c"][(id - 1) as usize];
        let placed = place(&b, 0, 60, 3, Rotation { start: 4, shift: 1 }).unwrap();
        for replicas in &placed {
            let racks: BTreeSet<&str> = replicas.iter().map(|&id| rack(id)).collect();
            assert_eq!(racks.len(), 3, "{replicas:?}");
        }
        let mut leaders = BTreeMap::new();
        for replicas in &placed {
            *leaders.entry(replicas[0]).or_insert(0) += 1;
        }
        assert!(leaders.values().all(|&n| n == 10), "{leaders:?}");
    }

    #[test]
    fn too_few_brokers_is_an_error() {
        let b = brokers(&[(1, None), (2, None)]);
        assert_eq!(
            place(&b, 0, 1, 3, ROT),
            Err(PlacementError::ReplicationFactor {
                wanted: 3,
                brokers: 2
            })
        );
        assert!(place(&[], 0, 1, 1, ROT).is_err());
    }

    proptest! {
        #[test]
        fn every_placement_is_valid_and_as_rack_diverse_as_possible(
            racks in proptest::collection::vec(proptest::option::of(0u8..4), 1..12),
            rf in 1usize..6,
            count in 1u32..40,
            first in 0u32..100,
            start in any::<u32>(),
            shift in any::<u32>(),
        ) {
            let b: Vec<UsableBroker> = racks
                .iter()
                .enumerate()
                .map(|(i, r)| UsableBroker { id: i as i32 * 10, rack: r.map(|r| format!("r{r}")) })
                .collect();
            let rack_of = |id: i32| b.iter().find(|x| x.id == id).unwrap().rack.clone().unwrap_or_default();
            let all_racks: BTreeSet<String> = b.iter().map(|x| x.rack.clone().unwrap_or_default()).collect();
            match place(&b, first, count, rf, Rotation { start, shift }) {
                Err(_) => prop_assert!(rf > b.len()),
                Ok(placed) => {
                    prop_assert_eq!(placed.len(), count as usize);
                    for replicas in placed {
                        let distinct: BTreeSet<i32> = replicas.iter().copied().collect();
                        prop_assert_eq!(distinct.len(), rf);
                        let racks: BTreeSet<String> = replicas.iter().map(|&id| rack_of(id)).collect();
                        prop_assert_eq!(racks.len(), rf.min(all_racks.len()));
                    }
                }
            }
        }
    }
}
