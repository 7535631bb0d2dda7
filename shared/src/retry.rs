//! The one retry policy of the service: exponential backoff with full jitter, so that
//! contending writers and retrying clients spread out instead of colliding again in
//! lock step. Every retry loop is bounded by its own attempt count; this only says how
//! long to wait between attempts.

use std::time::Duration;

/// The wait before attempt `attempt + 1`: uniform in `1..=10 × 2^attempt` ms, the
/// ceiling capped at 640 ms.
pub fn backoff(attempt: u32) -> Duration {
    let ceiling_ms = 10u64 << attempt.min(6);
    let mut random = [0u8; 8];
    let jitter = match getrandom::fill(&mut random) {
        Ok(()) => u64::from_le_bytes(random) % ceiling_ms,
        Err(_) => ceiling_ms / 2,
    };
    Duration::from_millis(jitter + 1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_stays_under_its_ceiling() {
        for attempt in 0..20 {
            let wait = super::backoff(attempt).as_millis() as u64;
            assert!((1..=640).contains(&wait), "{attempt}: {wait}");
        }
    }
}
