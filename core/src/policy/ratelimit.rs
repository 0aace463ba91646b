//! Local rate limits: a token bucket per app and API path, counted in
//! thousandths of a call so refill is exact in integers.

/// A token bucket.
#[derive(Clone, Debug)]
pub(crate) struct Bucket {
    milli: u64,
    last_ms: u64,
    /// Closed after a platform rate-limit answer until this time.
    pub(crate) blocked_until: u64,
}

impl Bucket {
    pub(crate) fn new(burst: u64, now: u64) -> Self {
        Bucket {
            milli: burst * 1000,
            last_ms: now,
            blocked_until: 0,
        }
    }

    fn refill(&mut self, per_minute: u64, burst: u64, now: u64) {
        if now > self.last_ms {
            let add = (now - self.last_ms).saturating_mul(per_minute) / 60;
            self.milli = (self.milli.saturating_add(add)).min(burst * 1000);
            self.last_ms = now;
        }
    }

    /// Takes one call's worth, or says when one will be there.
    pub(crate) fn take(&mut self, per_minute: u64, burst: u64, now: u64) -> Result<(), u64> {
        if now < self.blocked_until {
            return Err(self.blocked_until);
        }
        self.refill(per_minute, burst, now);
        if self.milli >= 1000 {
            self.milli -= 1000;
            return Ok(());
        }
        if per_minute == 0 {
            return Err(u64::MAX);
        }
        let need = 1000 - self.milli;
        Err(now + (need * 60).div_ceil(per_minute))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refills_one_call_per_second_at_sixty_a_minute() {
        let mut b = Bucket::new(2, 0);
        assert!(b.take(60, 2, 0).is_ok());
        assert!(b.take(60, 2, 0).is_ok());
        assert_eq!(b.take(60, 2, 0), Err(1000));
        assert_eq!(b.take(60, 2, 400), Err(1000));
        assert!(b.take(60, 2, 1000).is_ok());
    }
}
