//! Warnings that repeat, limited so the log cannot grow with the repetition; the next line
//! allowed says how many were left out. Pure: callers hand in the time.
//!
//! - [`WarnLimit`]: a budget for warnings that remote peers can trigger at will (a client
//!   sending garbage in a loop): at most `per_window` lines per window.
//! - [`CauseLimit`]: one line per cause per window, for a condition that repeats while it
//!   lasts (a broker's registration refused every 100 ms while the controllers elect a leader).
//!   Causes are `&'static str` (error code names, fixed phrases), so the table is bounded by
//!   the program's text.

use std::collections::BTreeMap;

/// Counts warnings per fixed window of time.
#[derive(Debug, Clone)]
pub struct WarnLimit {
    per_window: u32,
    window_ms: u64,
    window_start_ms: u64,
    in_window: u32,
    suppressed: u64,
}

impl WarnLimit {
    pub fn new(per_window: u32, window_ms: u64) -> WarnLimit {
        assert!(
            per_window > 0 && window_ms > 0,
            "an empty budget logs nothing"
        );
        WarnLimit {
            per_window,
            window_ms,
            window_start_ms: 0,
            in_window: 0,
            suppressed: 0,
        }
    }

    /// Whether a warning at `now_ms` may be logged; if so, the text to append to it (how many
    /// were left out before it, or nothing).
    pub fn allow(&mut self, now_ms: u64) -> Option<String> {
        // A window starts with the first line it allows.
        if self.in_window == 0 || now_ms >= self.window_start_ms.saturating_add(self.window_ms) {
            self.window_start_ms = now_ms;
            self.in_window = 0;
        }
        if self.in_window >= self.per_window {
            self.suppressed += 1;
            return None;
        }
        self.in_window += 1;
        let note = match std::mem::take(&mut self.suppressed) {
            0 => String::new(),
            n => format!(" ({n} similar warnings left out before this one)"),
        };
        Some(note)
    }

    /// Warnings left out since the last one allowed.
    pub fn left_out(&self) -> u64 {
        self.suppressed
    }
}

/// One line per cause per window.
#[derive(Debug, Clone)]
pub struct CauseLimit {
    window_ms: u64,
    causes: BTreeMap<&'static str, WarnLimit>,
}

impl CauseLimit {
    pub fn new(window_ms: u64) -> CauseLimit {
        CauseLimit {
            window_ms,
            causes: BTreeMap::new(),
        }
    }

    /// Whether a warning of `cause` at `now_ms` may be logged; if so, the text to append.
    pub fn allow(&mut self, cause: &'static str, now_ms: u64) -> Option<String> {
        let window_ms = self.window_ms;
        self.causes
            .entry(cause)
            .or_insert_with(|| WarnLimit::new(1, window_ms))
            .allow(now_ms)
    }

    /// Forgets every cause (the condition ended), so the next occurrence is logged at once;
    /// returns how many warnings were left out and never accounted for in a line.
    pub fn reset(&mut self) -> u64 {
        let left_out = self.causes.values().map(WarnLimit::left_out).sum();
        self.causes.clear();
        left_out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_logs_the_budget_then_one_line_per_window_that_counts_the_rest() {
        let mut limit = WarnLimit::new(3, 1000);
        let logged: Vec<Option<String>> = (0..10).map(|i| limit.allow(i)).collect();
        assert_eq!(logged.iter().filter(|l| l.is_some()).count(), 3);
        assert_eq!(logged[0].as_deref(), Some(""));
        assert_eq!(limit.allow(999), None);
        assert_eq!(
            limit.allow(1000).as_deref(),
            Some(" (8 similar warnings left out before this one)")
        );
        assert_eq!(limit.allow(1001).as_deref(), Some(""));
    }

    #[test]
    fn a_repeating_cause_is_logged_once_per_window_with_the_count_it_stands_for() {
        let mut limit = CauseLimit::new(10_000);
        assert_eq!(limit.allow("NOT_CONTROLLER", 1_000).as_deref(), Some(""));
        // A retry every 100 ms for the rest of the window: all left out.
        for retry in 1..100 {
            assert_eq!(limit.allow("NOT_CONTROLLER", 1_000 + retry * 100), None);
        }
        assert_eq!(
            limit.allow("NOT_CONTROLLER", 11_000).as_deref(),
            Some(" (99 similar warnings left out before this one)")
        );
    }

    #[test]
    fn causes_are_limited_apart_and_reset_forgets_them() {
        let mut limit = CauseLimit::new(10_000);
        assert!(limit.allow("NOT_CONTROLLER", 0).is_some());
        assert!(limit.allow("DUPLICATE_BROKER_REGISTRATION", 1).is_some());
        assert!(limit.allow("NOT_CONTROLLER", 2).is_none());
        assert!(limit.allow("DUPLICATE_BROKER_REGISTRATION", 3).is_none());
        assert!(limit.allow("DUPLICATE_BROKER_REGISTRATION", 4).is_none());
        assert_eq!(limit.reset(), 3);
        assert_eq!(limit.allow("NOT_CONTROLLER", 5).as_deref(), Some(""));
    }
}
