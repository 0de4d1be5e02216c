//! Which inbound connection gets a slot, which one is closed to make room for it, and which
//! have been idle too long: the bookkeeping behind `max.connections`,
//! `max.connections.per.ip` and `connections.max.idle.ms`, free of sockets so it can be tested
//! on its own. The event loop owns the connections; this module owns one entry per slot.
//!
//! Slots come in two pools. `ordinary_max` of them (`max.connections`) take any connection; a
//! new connection always starts there, because nothing is known of it before its first
//! request. `reserved_max` more take only peers: a connection the event loop found to carry
//! the quorum's or a broker's requests ([`Admission::mark_peer`]) moves into the reserve while
//! it has room, freeing its ordinary place.
//!
//! Invariants:
//! - `ordinary_in_use <= ordinary_max` and `reserved_in_use <= reserved_max`, and together they
//!   count the occupied entries; `per_ip` counts the occupied entries of each address (no
//!   zero counts are kept), so no count exceeds `per_ip_max`.
//! - When the ordinary pool is full, a new connection gets room only by the eviction of the
//!   least recently active ordinary connection that the caller says is owed no answer
//!   ([`Admission::admission`]); a connection in the reserve is never evicted. Activity is
//!   ordered by a counter, not the clock, so the order is exact within one millisecond.
//! - An entry whose connection moved no byte for `idle_ms` is reported by
//!   [`Admission::idle`] (the caller closes it unless it is owed an answer); the next time
//!   to look is never later than the earliest such expiry.

use std::collections::HashMap;
use std::net::IpAddr;

/// Why a new connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Its address already has `max.connections.per.ip` connections.
    PerIpLimit,
    /// Every ordinary slot holds a connection that is owed an answer.
    Full,
}

#[derive(Debug, Clone)]
struct Entry {
    ip: IpAddr,
    peer: bool,
    reserved: bool,
    /// Position in the order of activity (larger: more recent).
    last_active: u64,
    last_active_ms: u64,
}

#[derive(Debug)]
pub struct Admission {
    entries: Vec<Option<Entry>>,
    ordinary_max: usize,
    reserved_max: usize,
    ordinary_in_use: usize,
    reserved_in_use: usize,
    per_ip_max: usize,
    per_ip: HashMap<IpAddr, usize>,
    idle_ms: u64,
    /// No entry expires before this (u64::MAX: none can).
    next_idle_check_ms: u64,
    activity: u64,
}

impl Admission {
    pub fn new(ordinary_max: usize, reserved_max: usize, per_ip_max: usize, idle_ms: u64) -> Self {
        assert!(ordinary_max > 0 && per_ip_max > 0 && idle_ms > 0);
        Admission {
            entries: vec![None; ordinary_max + reserved_max],
            ordinary_max,
            reserved_max,
            ordinary_in_use: 0,
            reserved_in_use: 0,
            per_ip_max,
            per_ip: HashMap::new(),
            idle_ms,
            next_idle_check_ms: u64::MAX,
            activity: 0,
        }
    }

    /// Slots in both pools: the slot numbers are `0..slots()`.
    pub fn slots(&self) -> usize {
        self.entries.len()
    }

    /// Connections in the ordinary pool and in the reserve.
    pub fn in_use(&self) -> (usize, usize) {
        (self.ordinary_in_use, self.reserved_in_use)
    }

    /// Whether a new connection from `ip` can be admitted: `Ok(None)` if there is room,
    /// `Ok(Some(slot))` if there is once the connection in `slot` is closed (released) to make
    /// room, else why not. `evictable(slot)` says whether a connection is owed no answer.
    pub fn admission(
        &self,
        ip: IpAddr,
        evictable: impl Fn(usize) -> bool,
    ) -> Result<Option<usize>, Refusal> {
        if self.per_ip.get(&ip).copied().unwrap_or(0) >= self.per_ip_max {
            return Err(Refusal::PerIpLimit);
        }
        if self.ordinary_in_use < self.ordinary_max {
            return Ok(None);
        }
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(slot, entry)| entry.as_ref().map(|e| (slot, e)))
            .filter(|(slot, entry)| !entry.reserved && evictable(*slot))
            .min_by_key(|(_, entry)| entry.last_active)
            .map(|(slot, _)| Some(slot))
            .ok_or(Refusal::Full)
    }

    /// Admits a connection from `ip` into a free slot of the ordinary pool, which
    /// [`Admission::admission`] said there is room for; returns the slot.
    pub fn admit(&mut self, ip: IpAddr, now_ms: u64) -> usize {
        assert!(
            self.ordinary_in_use < self.ordinary_max,
            "no ordinary slot free"
        );
        let slot =
            self.entries.iter().position(Option::is_none).expect(
                "a free slot: the ordinary pool has room and the reserve holds only its own",
            );
        self.activity += 1;
        self.entries[slot] = Some(Entry {
            ip,
            peer: false,
            reserved: false,
            last_active: self.activity,
            last_active_ms: now_ms,
        });
        self.ordinary_in_use += 1;
        *self.per_ip.entry(ip).or_insert(0) += 1;
        assert!(self.per_ip[&ip] <= self.per_ip_max);
        self.next_idle_check_ms = self
            .next_idle_check_ms
            .min(now_ms.saturating_add(self.idle_ms));
        slot
    }

    /// The connection in `slot` is gone.
    pub fn release(&mut self, slot: usize) {
        let entry = self.entries[slot].take().expect("release of a free slot");
        if entry.reserved {
            self.reserved_in_use -= 1;
        } else {
            self.ordinary_in_use -= 1;
        }
        let count = self.per_ip.get_mut(&entry.ip).expect("counted address");
        *count -= 1;
        if *count == 0 {
            self.per_ip.remove(&entry.ip);
        }
    }

    /// The connection in `slot` moved bytes at `now_ms`.
    pub fn touch(&mut self, slot: usize, now_ms: u64) {
        self.activity += 1;
        let entry = self.entries[slot].as_mut().expect("touch of a free slot");
        entry.last_active = self.activity;
        entry.last_active_ms = now_ms;
        self.next_idle_check_ms = self
            .next_idle_check_ms
            .min(now_ms.saturating_add(self.idle_ms));
    }

    pub fn is_peer(&self, slot: usize) -> bool {
        self.entries[slot].as_ref().is_some_and(|e| e.peer)
    }

    pub fn is_reserved(&self, slot: usize) -> bool {
        self.entries[slot].as_ref().is_some_and(|e| e.reserved)
    }

    /// The connection in `slot` is a peer's: it moves into the reserve if there is room there
    /// (returns true), else it stays an ordinary (evictable) connection.
    pub fn mark_peer(&mut self, slot: usize) -> bool {
        let has_room = self.reserved_in_use < self.reserved_max;
        let entry = self.entries[slot].as_mut().expect("mark of a free slot");
        entry.peer = true;
        if entry.reserved || !has_room {
            return false;
        }
        entry.reserved = true;
        self.reserved_in_use += 1;
        self.ordinary_in_use -= 1;
        true
    }

    /// The earliest time an entry may become idle (u64::MAX: none).
    pub fn next_deadline_ms(&self) -> u64 {
        self.next_idle_check_ms
    }

    /// The slots whose connections moved no byte for `idle_ms`, once that time has come; the
    /// caller closes those owed no answer. One owed an answer stays and is looked at again
    /// one idle period later (its answer, when written, counts as activity anyway).
    pub fn idle(&mut self, now_ms: u64) -> Vec<usize> {
        if now_ms < self.next_idle_check_ms {
            return Vec::new();
        }
        let mut expired = Vec::new();
        let mut next = u64::MAX;
        for (slot, entry) in self.entries.iter().enumerate() {
            let Some(entry) = entry else { continue };
            let expiry = entry.last_active_ms.saturating_add(self.idle_ms);
            if expiry <= now_ms {
                expired.push(slot);
                next = next.min(now_ms.saturating_add(self.idle_ms));
            } else {
                next = next.min(expiry);
            }
        }
        self.next_idle_check_ms = next;
        expired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
    }

    #[test]
    fn a_full_pool_evicts_the_least_recently_active_connection_owed_no_answer() {
        let mut admission = Admission::new(3, 1, 100, 60_000);
        let a = admission.admit(ip(1), 0);
        let b = admission.admit(ip(1), 1);
        let c = admission.admit(ip(1), 1);
        // Within one millisecond the order of activity still counts: b before c.
        assert_eq!(admission.admission(ip(2), |_| true), Ok(Some(a)));
        admission.touch(a, 2);
        assert_eq!(admission.admission(ip(2), |_| true), Ok(Some(b)));
        // b is owed an answer: c is next.
        assert_eq!(admission.admission(ip(2), |s| s != b), Ok(Some(c)));
        assert_eq!(
            admission.admission(ip(2), |_| false),
            Err(Refusal::Full),
            "every connection is owed an answer"
        );
        admission.release(b);
        assert_eq!(admission.admission(ip(2), |_| false), Ok(None));
        let d = admission.admit(ip(2), 3);
        assert_eq!(d, b, "the freed slot is reused");
        assert_eq!(admission.in_use(), (3, 0));
    }

    #[test]
    fn a_peer_moves_into_the_reserve_and_is_never_evicted() {
        let mut admission = Admission::new(2, 1, 100, 60_000);
        let peer = admission.admit(ip(1), 0);
        let other = admission.admit(ip(1), 1);
        assert!(admission.mark_peer(peer));
        assert!(admission.is_reserved(peer));
        assert_eq!(admission.in_use(), (1, 1));
        // Its ordinary place is free again.
        assert_eq!(admission.admission(ip(2), |_| true), Ok(None));
        let client = admission.admit(ip(2), 2);
        // The pool is full; the peer is the least recently active but is not a candidate.
        assert_eq!(admission.admission(ip(3), |_| true), Ok(Some(other)));
        admission.release(other);
        let second_peer = admission.admit(ip(3), 3);
        // The reserve is full: a second peer stays ordinary, and can be evicted.
        assert!(!admission.mark_peer(second_peer));
        assert!(admission.is_peer(second_peer) && !admission.is_reserved(second_peer));
        assert_eq!(admission.admission(ip(4), |_| true), Ok(Some(client)));
        admission.touch(client, 4);
        assert_eq!(admission.admission(ip(4), |_| true), Ok(Some(second_peer)));
        // Releasing the reserved peer frees the reserve.
        admission.release(peer);
        assert_eq!(admission.in_use(), (2, 0));
        assert!(admission.mark_peer(second_peer));
    }

    #[test]
    fn connections_over_the_per_address_limit_are_refused() {
        let mut admission = Admission::new(10, 0, 2, 60_000);
        let first = admission.admit(ip(1), 0);
        admission.admit(ip(1), 0);
        assert_eq!(
            admission.admission(ip(1), |_| true),
            Err(Refusal::PerIpLimit)
        );
        assert_eq!(admission.admission(ip(2), |_| true), Ok(None));
        admission.release(first);
        assert_eq!(admission.admission(ip(1), |_| true), Ok(None));
    }

    #[test]
    fn idle_connections_are_reported_once_their_time_has_come() {
        let mut admission = Admission::new(4, 0, 100, 1_000);
        let quiet = admission.admit(ip(1), 0);
        let busy = admission.admit(ip(1), 0);
        assert_eq!(admission.next_deadline_ms(), 1_000);
        admission.touch(busy, 600);
        assert!(admission.idle(999).is_empty());
        assert_eq!(admission.idle(1_000), vec![quiet]);
        // The caller closed it; the other expires one idle period after its last activity.
        admission.release(quiet);
        assert_eq!(admission.next_deadline_ms(), 1_600);
        assert!(admission.idle(1_599).is_empty());
        assert_eq!(admission.idle(1_600), vec![busy]);
        // Kept (it was owed an answer): looked at again one period later.
        assert_eq!(admission.next_deadline_ms(), 2_600);
        admission.release(busy);
        assert!(admission.idle(2_600).is_empty());
        assert_eq!(admission.next_deadline_ms(), u64::MAX);
    }
}
