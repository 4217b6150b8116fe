//! Time as the domain sees it: milliseconds since the Unix epoch, from a clock that tests control.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A point in time, in milliseconds since the Unix epoch (AWS emits millisecond precision).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Milliseconds since the epoch.
    pub fn millis(self) -> i64 {
        self.0
    }
    /// Seconds since the epoch as a float with millisecond precision (the restJson1 encoding).
    pub fn epoch_seconds(self) -> f64 {
        self.0 as f64 / 1000.0
    }
    /// The same instant as a `SystemTime` (before the epoch: the epoch).
    pub fn system_time(self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(u64::try_from(self.0).unwrap_or(0))
    }
}

/// Where "now" comes from. The server uses [`SystemClock`]; tests may substitute their own.
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        Timestamp(ms)
    }
}

/// A clock that moves only when told to: tests make time pass with [`ManualClock::advance`]
/// instead of sleeping.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// Stopped at `at`.
    pub fn at(at: Timestamp) -> Self {
        ManualClock(AtomicI64::new(at.0))
    }

    /// Stopped at the wall clock's now, so that requests signed now are within the SigV4
    /// window.
    pub fn starting_now() -> Self {
        Self::at(SystemClock.now())
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_advanced() {
        let clock = ManualClock::at(Timestamp(1_000));
        assert_eq!(clock.now(), Timestamp(1_000));
        assert_eq!(clock.now(), Timestamp(1_000));
        clock.advance(Duration::from_millis(1_500));
        assert_eq!(clock.now(), Timestamp(2_500));
        assert_eq!(
            clock.now().system_time(),
            UNIX_EPOCH + Duration::from_millis(2_500)
        );
    }
}
