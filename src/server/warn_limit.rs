//! A budget for warnings that remote peers can trigger at will (a client sending garbage in a
//! loop), so the log cannot grow with their effort: at most `per_window` lines per window,
//! and the next line allowed says how many were left out.

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
        if now_ms >= self.window_start_ms + self.window_ms {
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
}
