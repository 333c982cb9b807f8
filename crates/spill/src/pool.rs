//! The memory pool and its reservations.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parframe_common::{Error, Result, format_bytes};

/// A hard memory budget shared by all operators of a context.
///
/// Cheap to clone (an `Arc`). Accounting is lock-free: a reservation grows
/// with a compare-and-swap on the used counter, so a failed grow never
/// overshoots the limit, not even briefly.
#[derive(Clone)]
pub struct MemoryPool {
    inner: Arc<PoolInner>,
}

struct PoolInner {
    limit: u64,
    used: AtomicU64,
    peak: AtomicU64,
}

impl fmt::Debug for MemoryPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryPool")
            .field("limit", &format_bytes(self.limit()))
            .field("used", &format_bytes(self.used()))
            .field("peak", &format_bytes(self.peak()))
            .finish()
    }
}

impl MemoryPool {
    /// A pool that lets reservations hold at most `limit` bytes in total.
    pub fn new(limit: u64) -> Self {
        MemoryPool {
            inner: Arc::new(PoolInner {
                limit,
                used: AtomicU64::new(0),
                peak: AtomicU64::new(0),
            }),
        }
    }

    /// A pool without a limit (`u64::MAX`).
    pub fn unbounded() -> Self {
        Self::new(u64::MAX)
    }

    /// The budget in bytes.
    pub fn limit(&self) -> u64 {
        self.inner.limit
    }

    /// Bytes currently reserved.
    pub fn used(&self) -> u64 {
        self.inner.used.load(Ordering::Relaxed)
    }

    /// The most bytes ever reserved at once.
    pub fn peak(&self) -> u64 {
        self.inner.peak.load(Ordering::Relaxed)
    }

    /// Bytes still free.
    pub fn available(&self) -> u64 {
        self.limit().saturating_sub(self.used())
    }

    /// A new, empty reservation for the named consumer (an operator).
    pub fn reservation(&self, consumer: impl Into<String>) -> Reservation {
        Reservation {
            pool: self.clone(),
            consumer: consumer.into(),
            size: 0,
        }
    }

    fn try_take(&self, bytes: u64) -> bool {
        let inner = &self.inner;
        let mut cur = inner.used.load(Ordering::Relaxed);
        loop {
            let Some(next) = cur.checked_add(bytes) else {
                return false;
            };
            if next > inner.limit {
                return false;
            }
            match inner
                .used
                .compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => {
                    inner.peak.fetch_max(next, Ordering::Relaxed);
                    return true;
                }
                Err(actual) => cur = actual,
            }
        }
    }

    fn give_back(&self, bytes: u64) {
        self.inner.used.fetch_sub(bytes, Ordering::AcqRel);
    }
}

/// Bytes held by one consumer. Freed when dropped.
pub struct Reservation {
    pool: MemoryPool,
    consumer: String,
    size: u64,
}

impl fmt::Debug for Reservation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reservation")
            .field("consumer", &self.consumer)
            .field("size", &self.size)
            .finish()
    }
}

impl Reservation {
    /// Bytes this reservation holds.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The consumer's name, used in error messages and statistics.
    pub fn consumer(&self) -> &str {
        &self.consumer
    }

    /// The pool this reservation draws from.
    pub fn pool(&self) -> &MemoryPool {
        &self.pool
    }

    /// Grows by `bytes`, or fails with [`Error::ResourcesExhausted`] leaving
    /// the reservation as it was.
    pub fn try_grow(&mut self, bytes: u64) -> Result<()> {
        if self.pool.try_take(bytes) {
            self.size += bytes;
            Ok(())
        } else {
            Err(Error::ResourcesExhausted(format!(
                "'{}' needs {} more but the memory pool has {} of {} free",
                self.consumer,
                format_bytes(bytes),
                format_bytes(self.pool.available()),
                format_bytes(self.pool.limit())
            )))
        }
    }

    /// Resizes to exactly `bytes`, growing (fallibly) or shrinking.
    pub fn try_resize(&mut self, bytes: u64) -> Result<()> {
        if bytes > self.size {
            self.try_grow(bytes - self.size)
        } else {
            self.shrink(self.size - bytes);
            Ok(())
        }
    }

    /// Gives back `bytes` (at most what is held).
    pub fn shrink(&mut self, bytes: u64) {
        let b = bytes.min(self.size);
        self.pool.give_back(b);
        self.size -= b;
    }

    /// Gives back everything.
    pub fn free(&mut self) {
        self.shrink(self.size);
    }

    /// Moves `bytes` of this reservation into a new one for another consumer
    /// without touching the pool, e.g. when an operator hands its output on.
    pub fn split(&mut self, bytes: u64, consumer: impl Into<String>) -> Reservation {
        let b = bytes.min(self.size);
        self.size -= b;
        Reservation {
            pool: self.pool.clone(),
            consumer: consumer.into(),
            size: b,
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.free();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grow_fails_without_overshoot() {
        let pool = MemoryPool::new(100);
        let mut a = pool.reservation("a");
        let mut b = pool.reservation("b");
        a.try_grow(60).unwrap();
        let err = b.try_grow(50).unwrap_err().to_string();
        assert!(err.contains("'b' needs 50 B"), "{err}");
        assert_eq!(pool.used(), 60);
        b.try_grow(40).unwrap();
        assert_eq!(pool.available(), 0);
        drop(a);
        assert_eq!(pool.used(), 40);
        assert_eq!(pool.peak(), 100);
    }

    #[test]
    fn split_and_resize() {
        let pool = MemoryPool::new(100);
        let mut a = pool.reservation("a");
        a.try_resize(80).unwrap();
        let s = a.split(30, "out");
        assert_eq!((a.size(), s.size(), pool.used()), (50, 30, 80));
        a.try_resize(10).unwrap();
        assert_eq!(pool.used(), 40);
        drop(s);
        assert_eq!(pool.used(), 10);
    }

    #[test]
    fn concurrent_reservations_respect_limit() {
        let pool = MemoryPool::new(1000);
        std::thread::scope(|s| {
            for _ in 0..4 {
                let pool = pool.clone();
                s.spawn(move || {
                    let mut r = pool.reservation("t");
                    for _ in 0..1000 {
                        if r.try_grow(7).is_ok() {
                            r.shrink(7);
                        }
                    }
                });
            }
        });
        assert_eq!(pool.used(), 0);
        assert!(pool.peak() <= 1000);
    }
}
