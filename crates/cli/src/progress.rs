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
            "{spinner} [{elapsed_precise}] {bar:30} {percent:>3}%  {msg}",
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
        let Some((done, total)) = bar_position(p) else {
            return;
        };
        if self.bar.is_hidden() {
            if self.start.elapsed() < DELAY {
                return;
            }
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
        self.bar.set_length(total);
        self.bar.set_position(done);
        self.bar.set_message(bar_message(p));
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

/// Where the bar stands: the share of input rows read when the source
/// knows its row count (a Parquet or IPC footer), else the share of
/// partitions done; `None` when neither total is known.
fn bar_position(p: &Progress) -> Option<(u64, u64)> {
    match (p.rows_total, p.partitions_total) {
        (Some(total), _) if total > 0 => Some((p.rows_read.min(total), total)),
        (_, Some(total)) => Some((p.partitions_done, total)),
        _ => None,
    }
}

/// The text after the bar: partitions, rows read, rows written.
fn bar_message(p: &Progress) -> String {
    let mut m = match p.partitions_total {
        Some(t) => format!("{}/{t} partitions, ", p.partitions_done),
        None => String::new(),
    };
    m.push_str(&format!("{} rows read", group_digits(p.rows_read)));
    if p.rows_written > 0 {
        m.push_str(&format!(", {} written", group_digits(p.rows_written)));
    }
    m
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
            ..Progress::default()
        });
        ui.finish();
    }

    #[test]
    fn the_bar_counts_rows_when_their_total_is_known() {
        let mut p = Progress {
            rows_read: 250,
            partitions_done: 1,
            partitions_total: Some(4),
            ..Progress::default()
        };
        assert_eq!(bar_position(&p), Some((1, 4)));
        assert_eq!(bar_message(&p), "1/4 partitions, 250 rows read");
        p.rows_total = Some(1000);
        p.rows_written = 1234;
        assert_eq!(bar_position(&p), Some((250, 1000)));
        assert_eq!(
            bar_message(&p),
            "1/4 partitions, 250 rows read, 1_234 written"
        );
        p.partitions_total = None;
        p.rows_total = None;
        assert_eq!(bar_position(&p), None);
    }
}
