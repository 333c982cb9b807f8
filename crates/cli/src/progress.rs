//! The progress bar: an `indicatif` bar on stderr fed by the context's
//! progress callback, drawn only on a terminal, only without `--quiet`, and
//! only once a job has run for a second (short jobs stay silent).

use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use parframe::Progress;

/// How long a job runs before the bar appears.
const DELAY: Duration = Duration::from_secs(1);

/// A progress bar that may stay hidden.
pub struct ProgressUi {
    bar: ProgressBar,
    start: Instant,
    enabled: bool,
}

impl ProgressUi {
    /// A bar, drawn only when `enabled` (stderr is a terminal, not quiet).
    pub fn new(enabled: bool) -> Arc<Self> {
        let bar = ProgressBar::hidden();
        if let Ok(style) = ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} partitions  {msg}",
        ) {
            bar.set_style(style);
        }
        Arc::new(ProgressUi {
            bar,
            start: Instant::now(),
            enabled,
        })
    }

    /// Takes one progress report (from any thread).
    pub fn update(&self, p: &Progress) {
        if !self.enabled {
            return;
        }
        let Some(total) = p.partitions_total else {
            return;
        };
        if self.bar.is_hidden() {
            if self.start.elapsed() < DELAY {
                return;
            }
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
        self.bar.set_length(total);
        self.bar.set_position(p.partitions_done);
        self.bar
            .set_message(format!("{} rows read", group_digits(p.rows_read)));
    }

    /// Shows a plain count (for jobs that are not plans, such as `gen`).
    pub fn set(&self, done: u64, total: u64, message: String) {
        if !self.enabled {
            return;
        }
        if self.bar.is_hidden() {
            if self.start.elapsed() < DELAY {
                return;
            }
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
        self.bar.set_length(total);
        self.bar.set_position(done);
        self.bar.set_message(message);
    }

    /// Removes the bar (before printing results).
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// `12345678` as `12_345_678`.
pub fn group_digits(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push('_');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits() {
        assert_eq!(group_digits(0), "0");
        assert_eq!(group_digits(999), "999");
        assert_eq!(group_digits(1000), "1_000");
        assert_eq!(group_digits(12_345_678), "12_345_678");
    }

    #[test]
    fn hidden_bar_takes_updates() {
        let ui = ProgressUi::new(false);
        ui.update(&Progress {
            rows_read: 10,
            partitions_done: 1,
            partitions_total: Some(2),
        });
        ui.finish();
    }
}
