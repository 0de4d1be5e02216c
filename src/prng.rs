//! A small seeded PRNG (SplitMix64). The Raft core owns one, seeded by its caller, for election
//! timeouts and for choosing whom an observer asks for the leader; the node draws topic ids and
//! its incarnation id from its own, the event loop its reconnect jitter; the simulator uses the
//! same generator for everything it draws, so one seed fixes a whole run.
//!
//! Not cryptographic and not meant to be: it only has to be fast, well spread and reproducible.
//! A leaf: it uses no other module of keel, and every module may use it.

#[derive(Clone, Debug)]
pub struct Prng {
    state: u64,
}

impl Prng {
    pub fn new(seed: u64) -> Prng {
        Prng { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, bound)`; `bound` must be positive. Uses the widening multiply, whose
    /// bias is negligible for the small bounds used here.
    pub fn below(&mut self, bound: u64) -> u64 {
        assert!(bound > 0);
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }

    /// Uniform in `[low, high]`.
    pub fn range_inclusive(&mut self, low: u64, high: u64) -> u64 {
        assert!(low <= high);
        low + self.below(high - low + 1)
    }

    /// True with probability `p` (clamped to [0, 1]).
    pub fn chance(&mut self, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64) < p
    }

    /// Uniform float in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// An independent generator for a sub-component, so adding draws in one place does not
    /// shift every draw elsewhere.
    pub fn fork(&mut self) -> Prng {
        Prng::new(self.next_u64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence_and_bounds_hold() {
        let mut a = Prng::new(7);
        let mut b = Prng::new(7);
        for _ in 0..1000 {
            let x = a.below(10);
            assert_eq!(x, b.below(10));
            assert!(x < 10);
        }
        let mut c = Prng::new(8);
        let differs = (0..10).any(|_| a.next_u64() != c.next_u64());
        assert!(differs);
    }

    #[test]
    fn below_covers_the_whole_range() {
        let mut p = Prng::new(1);
        let mut seen = [false; 5];
        for _ in 0..200 {
            seen[p.below(5) as usize] = true;
        }
        assert!(seen.iter().all(|s| *s));
    }
}
