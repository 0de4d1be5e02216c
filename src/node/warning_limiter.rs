//! Repeated warnings, one line per cause per interval.
//!
//! A broker that retries every 100 ms while the controllers elect a leader, or while its
//! previous incarnation's session expires, would otherwise log the same refusal thousands of
//! times. [`WarningLimiter::admit`] lets the first occurrence of a cause through, then at most
//! one per [`WARNING_REPEAT_INTERVAL_MS`], which carries the count of the ones held back
//! meanwhile. Pure: the caller hands in the time. Causes are `&'static str` (error code names,
//! fixed phrases), so the table is bounded by the program's text.

use std::collections::BTreeMap;

use crate::constants::WARNING_REPEAT_INTERVAL_MS;

#[derive(Debug, Clone, Copy)]
struct Cause {
    logged_ms: u64,
    held_back: u64,
}

#[derive(Debug, Default)]
pub struct WarningLimiter {
    causes: BTreeMap<&'static str, Cause>,
}

/// A warning let through: how many of the same cause were held back since the last line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admitted {
    pub held_back: u64,
}

impl Admitted {
    /// The suffix a log line carries: empty, or how many repeats it stands for.
    pub fn suffix(self) -> String {
        if self.held_back == 0 {
            String::new()
        } else {
            format!(
                " ({} more like this in the last {} s)",
                self.held_back,
                WARNING_REPEAT_INTERVAL_MS / 1000
            )
        }
    }
}

impl WarningLimiter {
    /// Whether a warning of `cause` is logged now; `None` holds it back (and counts it).
    pub fn admit(&mut self, cause: &'static str, now_ms: u64) -> Option<Admitted> {
        match self.causes.get_mut(cause) {
            Some(seen) if now_ms < seen.logged_ms.saturating_add(WARNING_REPEAT_INTERVAL_MS) => {
                seen.held_back += 1;
                None
            }
            Some(seen) => {
                let admitted = Admitted {
                    held_back: seen.held_back,
                };
                *seen = Cause {
                    logged_ms: now_ms,
                    held_back: 0,
                };
                Some(admitted)
            }
            None => {
                self.causes.insert(
                    cause,
                    Cause {
                        logged_ms: now_ms,
                        held_back: 0,
                    },
                );
                Some(Admitted { held_back: 0 })
            }
        }
    }

    /// Forgets every cause (the condition ended): the next occurrence is logged at once.
    /// Returns how many warnings were held back and never logged.
    pub fn reset(&mut self) -> u64 {
        let held_back = self.causes.values().map(|c| c.held_back).sum();
        self.causes.clear();
        held_back
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_is_logged_once_per_interval_with_the_count_it_stands_for() {
        let mut limiter = WarningLimiter::default();
        assert_eq!(
            limiter.admit("NOT_CONTROLLER", 1_000),
            Some(Admitted { held_back: 0 })
        );
        // A retry every 100 ms until the interval has passed: all held back.
        let retries = WARNING_REPEAT_INTERVAL_MS / 100 - 1;
        for retry in 1..=retries {
            assert_eq!(limiter.admit("NOT_CONTROLLER", 1_000 + retry * 100), None);
        }
        let admitted = limiter
            .admit("NOT_CONTROLLER", 1_000 + WARNING_REPEAT_INTERVAL_MS)
            .unwrap();
        assert_eq!(admitted.held_back, retries);
        let held = retries;
        assert!(admitted.suffix().starts_with(&format!(" ({held} more")));
    }

    #[test]
    fn causes_are_limited_apart_and_reset_forgets_them() {
        let mut limiter = WarningLimiter::default();
        assert!(limiter.admit("NOT_CONTROLLER", 0).is_some());
        assert!(limiter.admit("DUPLICATE_BROKER_REGISTRATION", 1).is_some());
        assert!(limiter.admit("NOT_CONTROLLER", 2).is_none());
        assert!(limiter.admit("DUPLICATE_BROKER_REGISTRATION", 3).is_none());
        assert!(limiter.admit("DUPLICATE_BROKER_REGISTRATION", 4).is_none());
        assert_eq!(limiter.reset(), 3);
        assert_eq!(
            limiter.admit("NOT_CONTROLLER", 5),
            Some(Admitted { held_back: 0 })
        );
        assert_eq!(Admitted { held_back: 0 }.suffix(), "");
    }
}
