//! The compare harness's chart: one horizontal bar per workload, its
//! parframe-over-polars time ratio, a line at 1 (below it parframe is
//! faster), written as SVG.
//!
//! ```
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("ratios.svg");
//! let bars = vec![("q1 sum v1 by id1".to_string(), 0.8), ("sort".to_string(), 1.3)];
//! parframe_bench::chart::ratio_chart(&path, "parframe / polars", &bars).unwrap();
//! assert!(std::fs::read_to_string(&path).unwrap().contains("q1 sum v1 by id1"));
//! ```

use std::path::Path;

use parframe::{Error, Result};
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

fn chart_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::External {
        context: format!("drawing the chart {}", path.display()),
        message: e.to_string(),
    }
}

/// Writes a bar chart of `bars` (label, ratio) to `path` (SVG) under
/// `title`. Ratios that are not finite and positive are left out.
pub fn ratio_chart(path: &Path, title: &str, bars: &[(String, f64)]) -> Result<()> {
    // Bottom to top on the chart: reversed, so the first bar is on top.
    let bars: Vec<&(String, f64)> = bars
        .iter()
        .rev()
        .filter(|(_, r)| r.is_finite() && *r > 0.0)
        .collect();
    let n = bars.len().max(1);
    let height = 150 + 28 * n as u32;
    let label_width = bars
        .iter()
        .map(|(l, _)| l.chars().count() as u32 * 7 + 16)
        .max()
        .unwrap_or(60);
    let x_max = bars.iter().map(|(_, r)| *r).fold(1.0, f64::max) * 1.15;
    let root = SVGBackend::new(path, (760 + label_width, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| chart_err(path, e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(34)
        .y_label_area_size(label_width)
        .build_cartesian_2d(0f64..x_max, (0..n).into_segmented())
        .map_err(|e| chart_err(path, e))?;
    let label = |v: &SegmentValue<usize>| match v {
        SegmentValue::CenterOf(i) => bars.get(*i).map(|b| b.0.clone()).unwrap_or_default(),
        _ => String::new(),
    };
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(n)
        .y_label_formatter(&label)
        .x_desc("parframe time / polars time (below 1: parframe is faster)")
        .draw()
        .map_err(|e| chart_err(path, e))?;
    chart
        .draw_series(bars.iter().enumerate().map(|(i, (_, r))| {
            let color = if *r <= 1.0 {
                RGBColor(46, 139, 87)
            } else {
                RGBColor(205, 92, 92)
            };
            let mut bar = Rectangle::new(
                [
                    (0.0, SegmentValue::Exact(i)),
                    (*r, SegmentValue::Exact(i + 1)),
                ],
                color.filled(),
            );
            bar.set_margin(4, 4, 0, 0);
            bar
        }))
        .map_err(|e| chart_err(path, e))?;
    chart
        .draw_series(bars.iter().enumerate().map(|(i, (_, r))| {
            Text::new(
                format!(" {r:.2}"),
                (*r, SegmentValue::CenterOf(i)),
                ("sans-serif", 12),
            )
        }))
        .map_err(|e| chart_err(path, e))?;
    chart
        .draw_series(std::iter::once(PathElement::new(
            vec![(1.0, SegmentValue::Exact(0)), (1.0, SegmentValue::Last)],
            BLACK.stroke_width(1),
        )))
        .map_err(|e| chart_err(path, e))?;
    root.present().map_err(|e| chart_err(path, e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn bars_and_labels_and_skipped_ratios() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.svg");
        let bars = vec![
            ("fast".to_string(), 0.5),
            ("slow".to_string(), 2.0),
            ("disagreed".to_string(), f64::NAN),
        ];
        ratio_chart(&path, "t", &bars).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("fast") && svg.contains("slow") && svg.contains("2.00"));
        assert!(!svg.contains("disagreed"));
        // One filled bar per finite ratio, green below 1, red above.
        assert!(svg.contains("#2E8B57") && svg.contains("#CD5C5C"), "{svg}");
    }
}
