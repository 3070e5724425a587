//! Drift charts as SVG text, for the UI and reports. A pure renderer: no I/O, clock or
//! randomness, numbers written with fixed formatting, so the same input gives the same bytes.
//! It owns two charts — one feature of one monitoring batch as the reference's and the batch's
//! shares per bin side by side ([`histogram`]), and one feature's drift score per batch in time
//! order with the threshold and the drifted batches marked ([`series`]) — and the escaping of
//! every text that reaches the SVG (feature and category names come from users and data).
//! The SVG is self-contained: `viewBox`, `<title>` and `<desc>`, presentation attributes, no
//! style sheet, script or external reference.

use modeltrail_stats::drift::Comparison;
use std::fmt::Write;

/// The drawing's size in user units.
const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 400.0;
/// The plot area's margins: room for the title above, the tick labels left and below.
const LEFT: f64 = 64.0;
const RIGHT: f64 = 24.0;
const TOP: f64 = 76.0;
const BOTTOM: f64 = 84.0;
const PLOT_WIDTH: f64 = WIDTH - LEFT - RIGHT;
const PLOT_HEIGHT: f64 = HEIGHT - TOP - BOTTOM;
/// Tick labels on the x axis at most; more are thinned to every k-th.
const MAX_X_LABELS: usize = 12;
/// Characters of a name shown on the x axis or in the title (the whole name is in `<title>`).
const AXIS_LABEL_CHARS: usize = 18;
const TITLE_CHARS: usize = 64;
const SUBTITLE_CHARS: usize = 100;

const REFERENCE_FILL: &str = "#8da0cb";
const CURRENT_FILL: &str = "#fc8d62";
const DRIFT_COLOUR: &str = "#c0392b";
const QUIET_COLOUR: &str = "#1f77b4";
const AXIS_COLOUR: &str = "#444444";
const GRID_COLOUR: &str = "#e0e0e0";

/// What cannot be drawn.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ChartError {
    #[error("a histogram needs at least one bin")]
    NoBins,
    #[error("{bins} bins but {reference} reference and {current} current counts")]
    CountsMismatch {
        bins: usize,
        reference: usize,
        current: usize,
    },
    #[error("{edges} bin edges for {bins} bins: there is one more edge than bins")]
    EdgesMismatch { edges: usize, bins: usize },
    #[error("the {what} is not a finite number")]
    NotFinite { what: &'static str },
    #[error("{count} counted in a bin but the side has {rows} rows")]
    CountOverRows { count: u64, rows: u64 },
}

/// One drift result: the test, its score and threshold, how they compare, and the verdict as
/// recorded.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    pub test: String,
    pub score: f64,
    pub threshold: f64,
    /// Drift is declared when `score <comparison> threshold`.
    pub comparison: Comparison,
    pub drifted: bool,
}

impl Verdict {
    fn word(&self) -> &'static str {
        match self.drifted {
            true => "drifted",
            false => "no drift",
        }
    }

    /// "ks score 0.0001, drift when score <= 0.05".
    fn sentence(&self) -> String {
        format!(
            "{} score {}, drift when score {} {}",
            self.test,
            figure(self.score),
            self.comparison.symbol(),
            figure(self.threshold)
        )
    }
}

/// Reads a comparison as a batch record writes it (`<=`, `<`, `>=`).
pub fn comparison_of(symbol: &str) -> Option<Comparison> {
    [Comparison::AtMost, Comparison::Below, Comparison::AtLeast]
        .into_iter()
        .find(|c| c.symbol() == symbol)
}

/// Whether a comparison declares drift below the threshold (p-values) rather than above it
/// (distances).
fn drift_is_below(comparison: Comparison) -> bool {
    matches!(comparison, Comparison::AtMost | Comparison::Below)
}

/// What the bins are: numerical intervals by their edges, or one value or category each.
#[derive(Clone, Debug, PartialEq)]
pub enum BinAxis {
    /// Equal-width bins: one more edge than bins, each bin `[e_i, e_i+1)`, the last closed.
    Edges(Vec<f64>),
    /// One bin per value (numbers already written as text) or category.
    Values(Vec<String>),
}

/// One feature of one batch: the bins and each side's counts in them.
#[derive(Clone, Debug, PartialEq)]
pub struct Histogram {
    pub feature: String,
    /// What the batch is, for the subtitle: `monitoring_batch b2, window … to …`.
    pub batch: String,
    pub verdict: Verdict,
    pub axis: BinAxis,
    pub reference_counts: Vec<u64>,
    pub current_counts: Vec<u64>,
    pub reference_rows: u64,
    pub current_rows: u64,
}

/// One batch's result for the feature, in a time series.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub batch: String,
    /// When (the window's end, or the record's time), as written in the record.
    pub at: String,
    pub verdict: Verdict,
}

/// One feature's drift over batches, in the order given (time order).
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub feature: String,
    /// Whose batches: `model_version mv1`.
    pub subject: String,
    pub points: Vec<Point>,
    /// Batches not charted, each with why (`b3: not tested`), said in the description.
    pub skipped: Vec<String>,
}

/// Reference against current shares per bin, side by side, with the test's verdict.
pub fn histogram(chart: &Histogram) -> Result<String, ChartError> {
    let bins = chart.reference_counts.len();
    if bins == 0 {
        return Err(ChartError::NoBins);
    }
    if chart.current_counts.len() != bins {
        return Err(ChartError::CountsMismatch {
            bins,
            reference: bins,
            current: chart.current_counts.len(),
        });
    }
    match &chart.axis {
        BinAxis::Edges(edges) if edges.len() != bins + 1 => {
            return Err(ChartError::EdgesMismatch {
                edges: edges.len(),
                bins,
            })
        }
        BinAxis::Edges(edges) if edges.iter().any(|e| !e.is_finite()) => {
            return Err(ChartError::NotFinite { what: "bin edge" })
        }
        BinAxis::Values(values) if values.len() != bins => {
            return Err(ChartError::CountsMismatch {
                bins: values.len(),
                reference: bins,
                current: chart.current_counts.len(),
            })
        }
        _ => {}
    }
    check_finite(&chart.verdict)?;
    let reference = shares(&chart.reference_counts, chart.reference_rows)?;
    let current = shares(&chart.current_counts, chart.current_rows)?;
    let largest = reference
        .iter()
        .chain(&current)
        .copied()
        .fold(0.0, f64::max);
    let top = nice_ceiling(largest);

    let verdict = &chart.verdict;
    let title = format!(
        "Drift of {} in {}: {}",
        chart.feature,
        chart.batch,
        verdict.word()
    );
    let kind = match &chart.axis {
        BinAxis::Edges(_) => "equal-width bins",
        BinAxis::Values(_) => "bins, one per value",
    };
    let desc = format!(
        "Share of the reference's {} rows and of the batch's {} rows in each of {} {} of {}. \
         Test {}: {}.",
        chart.reference_rows,
        chart.current_rows,
        bins,
        kind,
        chart.feature,
        verdict.sentence(),
        verdict.word()
    );
    let mut svg = open(&title, &desc);
    heading(
        &mut svg,
        &format!(
            "{}: {}",
            shorten(&chart.feature, TITLE_CHARS),
            verdict.word()
        ),
        &shorten(&chart.batch, SUBTITLE_CHARS),
        verdict.drifted,
    );
    let _ = writeln!(
        svg,
        "<text class=\"verdict\" x=\"16\" y=\"64\" fill=\"{AXIS_COLOUR}\">{}</text>",
        escape(&shorten(&verdict.sentence(), TITLE_CHARS))
    );
    legend(&mut svg);
    y_axis(&mut svg, top, |v| format!("{}%", figure(v * 100.0)));

    let slot = PLOT_WIDTH / bins as f64;
    let bar = slot * 0.4;
    let bottom = TOP + PLOT_HEIGHT;
    svg.push_str("<g class=\"bins\">\n");
    for bin in 0..bins {
        let name = bin_name(&chart.axis, bin);
        let left = LEFT + slot * bin as f64;
        let sides = [
            (
                "reference",
                REFERENCE_FILL,
                left + slot * 0.1,
                chart.reference_counts[bin],
                chart.reference_rows,
                reference[bin],
            ),
            (
                "current",
                CURRENT_FILL,
                left + slot * 0.5,
                chart.current_counts[bin],
                chart.current_rows,
                current[bin],
            ),
        ];
        for (side, fill, x, count, rows, share) in sides {
            let height = share / top * PLOT_HEIGHT;
            let _ = writeln!(
                svg,
                "<rect class=\"bar {side}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" \
                 fill=\"{fill}\"><title>{}</title></rect>",
                coordinate(x),
                coordinate(bottom - height),
                coordinate(bar),
                coordinate(height),
                escape(&format!(
                    "{side}: {count} of {rows} rows ({}%) in {name}",
                    figure(share * 100.0)
                ))
            );
        }
    }
    svg.push_str("</g>\n");

    svg.push_str("<g class=\"x-axis\">\n");
    let _ = writeln!(
        svg,
        "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{AXIS_COLOUR}\"/>",
        coordinate(LEFT),
        coordinate(bottom),
        coordinate(LEFT + PLOT_WIDTH),
        coordinate(bottom)
    );
    match &chart.axis {
        BinAxis::Edges(edges) => {
            let every = thinning(edges.len());
            for (i, edge) in edges.iter().enumerate() {
                if i % every != 0 && i + 1 != edges.len() {
                    continue;
                }
                let x = LEFT + slot * i as f64;
                tick_label(&mut svg, x, bottom, &figure(*edge), edges.len() > 8);
            }
        }
        BinAxis::Values(values) => {
            let every = thinning(values.len());
            for (i, value) in values.iter().enumerate() {
                if i % every != 0 {
                    continue;
                }
                let x = LEFT + slot * (i as f64 + 0.5);
                tick_label(
                    &mut svg,
                    x,
                    bottom,
                    &shorten(value, AXIS_LABEL_CHARS),
                    values.len() > 6,
                );
            }
        }
    }
    let _ = writeln!(
        svg,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
        coordinate(LEFT + PLOT_WIDTH / 2.0),
        coordinate(HEIGHT - 8.0),
        escape(&shorten(&chart.feature, TITLE_CHARS))
    );
    svg.push_str("</g>\n");
    svg.push_str("</svg>\n");
    Ok(svg)
}

/// The drift score per batch, the threshold as a line, the side of it that is drift shaded,
/// and the drifted batches marked (filled) apart from the others (hollow). Batches are spaced
/// evenly in the order given, each labelled with its time.
pub fn series(chart: &Series) -> Result<String, ChartError> {
    for point in &chart.points {
        check_finite(&point.verdict)?;
    }
    let points = &chart.points;
    let drifted = points.iter().filter(|p| p.verdict.drifted).count();
    let title = match points.is_empty() {
        true => format!(
            "Drift of {} over time for {}: no batch",
            chart.feature, chart.subject
        ),
        false => format!(
            "Drift of {} over time for {}: {} of {} batches drifted",
            chart.feature,
            chart.subject,
            drifted,
            points.len()
        ),
    };
    let mut desc = format!(
        "Drift score of {} in {} monitoring batches of {}, in time order.",
        chart.feature,
        points.len(),
        chart.subject
    );
    for point in points {
        let _ = write!(
            desc,
            " {} ({}): {}: {}.",
            point.batch,
            point.at,
            point.verdict.sentence(),
            point.verdict.word()
        );
    }
    if !chart.skipped.is_empty() {
        let _ = write!(desc, " Not charted: {}.", chart.skipped.join("; "));
    }
    let mut svg = open(&title, &desc);
    let subtitle = match points.first() {
        None => "no monitoring batch has a drift result for this feature".to_owned(),
        Some(first) => {
            let tests = distinct(points.iter().map(|p| p.verdict.test.as_str()));
            format!(
                "{} · {} of {} batches drifted · test {}",
                shorten(&chart.subject, TITLE_CHARS),
                drifted,
                points.len(),
                match tests.len() {
                    1 => first.verdict.test.clone(),
                    _ => tests.join(", "),
                }
            )
        }
    };
    heading(
        &mut svg,
        &format!(
            "Drift of {} over time",
            shorten(&chart.feature, TITLE_CHARS)
        ),
        &shorten(&subtitle, SUBTITLE_CHARS),
        drifted > 0,
    );
    let all_p_values = points.iter().all(|p| drift_is_below(p.verdict.comparison));
    let largest = points
        .iter()
        .flat_map(|p| [p.verdict.score, p.verdict.threshold])
        .fold(0.0, f64::max);
    let top = match all_p_values {
        true => nice_ceiling(largest.max(1.0)),
        false => nice_ceiling(largest),
    };
    y_axis(&mut svg, top, figure);
    let bottom = TOP + PLOT_HEIGHT;
    let y_of = |v: f64| bottom - v.clamp(0.0, top) / top * PLOT_HEIGHT;
    let slot = PLOT_WIDTH / points.len().max(1) as f64;
    let x_of = |i: usize| LEFT + slot * (i as f64 + 0.5);

    if points.is_empty() {
        let _ = writeln!(
            svg,
            "<text class=\"empty\" x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"{AXIS_COLOUR}\">\
             No drift result for this feature yet</text>",
            coordinate(LEFT + PLOT_WIDTH / 2.0),
            coordinate(TOP + PLOT_HEIGHT / 2.0)
        );
    }

    // The threshold: one line for each run of batches with the same threshold and direction.
    svg.push_str("<g class=\"thresholds\">\n");
    let mut start = 0;
    while start < points.len() {
        let verdict = &points[start].verdict;
        let below = drift_is_below(verdict.comparison);
        let end = (start..points.len())
            .find(|&i| {
                points[i].verdict.threshold != verdict.threshold
                    || drift_is_below(points[i].verdict.comparison) != below
            })
            .unwrap_or(points.len());
        let x1 = LEFT + slot * start as f64;
        let x2 = LEFT + slot * end as f64;
        let y = y_of(verdict.threshold);
        let (zone_top, zone_height) = match below {
            true => (y, bottom - y),
            false => (TOP, y - TOP),
        };
        let _ = writeln!(
            svg,
            "<rect class=\"drift-zone\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" \
             fill=\"{DRIFT_COLOUR}\" fill-opacity=\"0.08\"/>",
            coordinate(x1),
            coordinate(zone_top),
            coordinate(x2 - x1),
            coordinate(zone_height)
        );
        let _ = writeln!(
            svg,
            "<line class=\"threshold\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" \
             stroke=\"{DRIFT_COLOUR}\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\">\
             <title>{}</title></line>",
            coordinate(x1),
            coordinate(y),
            coordinate(x2),
            coordinate(y),
            escape(&format!(
                "threshold {}: drift when score {} {}",
                figure(verdict.threshold),
                verdict.comparison.symbol(),
                figure(verdict.threshold)
            ))
        );
        let _ = writeln!(
            svg,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" font-size=\"11\" fill=\"{DRIFT_COLOUR}\">\
             {}</text>",
            coordinate(x2 - 4.0),
            coordinate(y - 4.0),
            escape(&format!(
                "threshold {} (drift {} {})",
                figure(verdict.threshold),
                verdict.comparison.symbol(),
                figure(verdict.threshold)
            ))
        );
        start = end;
    }
    svg.push_str("</g>\n");

    if points.len() > 1 {
        let line: Vec<String> = points
            .iter()
            .enumerate()
            .map(|(i, p)| {
                format!(
                    "{},{}",
                    coordinate(x_of(i)),
                    coordinate(y_of(p.verdict.score))
                )
            })
            .collect();
        let _ = writeln!(
            svg,
            "<polyline class=\"score\" points=\"{}\" fill=\"none\" stroke=\"{QUIET_COLOUR}\" \
             stroke-width=\"1.5\"/>",
            line.join(" ")
        );
    }
    svg.push_str("<g class=\"points\">\n");
    for (i, point) in points.iter().enumerate() {
        let (class, radius, fill, stroke) = match point.verdict.drifted {
            true => ("point drifted", 6.0, DRIFT_COLOUR, "#000000"),
            false => ("point", 4.5, "#ffffff", QUIET_COLOUR),
        };
        let _ = writeln!(
            svg,
            "<circle class=\"{class}\" cx=\"{}\" cy=\"{}\" r=\"{}\" fill=\"{fill}\" \
             stroke=\"{stroke}\" stroke-width=\"2\"><title>{}</title></circle>",
            coordinate(x_of(i)),
            coordinate(y_of(point.verdict.score)),
            coordinate(radius),
            escape(&format!(
                "{} ({}): {}: {}",
                point.batch,
                point.at,
                point.verdict.sentence(),
                point.verdict.word()
            ))
        );
    }
    svg.push_str("</g>\n");

    svg.push_str("<g class=\"x-axis\">\n");
    let _ = writeln!(
        svg,
        "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{AXIS_COLOUR}\"/>",
        coordinate(LEFT),
        coordinate(bottom),
        coordinate(LEFT + PLOT_WIDTH),
        coordinate(bottom)
    );
    let every = thinning(points.len());
    for (i, point) in points.iter().enumerate() {
        if i % every != 0 {
            continue;
        }
        let day = point.at.get(..10).unwrap_or(&point.at);
        tick_label(&mut svg, x_of(i), bottom, day, points.len() > 6);
    }
    let _ = writeln!(
        svg,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">batches in time order</text>",
        coordinate(LEFT + PLOT_WIDTH / 2.0),
        coordinate(HEIGHT - 8.0)
    );
    svg.push_str("</g>\n");
    svg.push_str("</svg>\n");
    Ok(svg)
}

fn check_finite(verdict: &Verdict) -> Result<(), ChartError> {
    if !verdict.score.is_finite() {
        return Err(ChartError::NotFinite { what: "score" });
    }
    if !verdict.threshold.is_finite() {
        return Err(ChartError::NotFinite { what: "threshold" });
    }
    Ok(())
}

/// Each count as a share of the side's rows (0 when the side has none).
fn shares(counts: &[u64], rows: u64) -> Result<Vec<f64>, ChartError> {
    counts
        .iter()
        .map(|&count| match rows {
            0 if count == 0 => Ok(0.0),
            _ if count > rows => Err(ChartError::CountOverRows { count, rows }),
            _ => Ok(count as f64 / rows as f64),
        })
        .collect()
}

/// The bin as a reader names it: `[20, 27.6)` (the last edge closed), or the value.
fn bin_name(axis: &BinAxis, bin: usize) -> String {
    match axis {
        BinAxis::Edges(edges) => {
            let close = match bin + 2 == edges.len() {
                true => ']',
                false => ')',
            };
            format!("[{}, {}{close}", figure(edges[bin]), figure(edges[bin + 1]))
        }
        BinAxis::Values(values) => values[bin].clone(),
    }
}

/// The SVG's opening: the root element, `<title>`, `<desc>` and the white background.
fn open(title: &str, desc: &str) -> String {
    let mut svg = String::with_capacity(8 * 1024);
    let _ = writeln!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" \
         height=\"{h}\" role=\"img\" aria-labelledby=\"chart-title chart-desc\" \
         font-family=\"sans-serif\" font-size=\"12\" fill=\"#222222\">",
        w = coordinate(WIDTH),
        h = coordinate(HEIGHT)
    );
    let _ = writeln!(svg, "<title id=\"chart-title\">{}</title>", escape(title));
    let _ = writeln!(svg, "<desc id=\"chart-desc\">{}</desc>", escape(desc));
    let _ = writeln!(
        svg,
        "<rect class=\"background\" x=\"0\" y=\"0\" width=\"{}\" height=\"{}\" fill=\"#ffffff\"/>",
        coordinate(WIDTH),
        coordinate(HEIGHT)
    );
    svg
}

/// The visible title (red when drifted) and subtitle.
fn heading(svg: &mut String, title: &str, subtitle: &str, drifted: bool) {
    let colour = match drifted {
        true => DRIFT_COLOUR,
        false => "#222222",
    };
    let _ = writeln!(
        svg,
        "<text class=\"heading\" x=\"16\" y=\"26\" font-size=\"16\" font-weight=\"bold\" \
         fill=\"{colour}\">{}</text>",
        escape(title)
    );
    let _ = writeln!(
        svg,
        "<text class=\"subtitle\" x=\"16\" y=\"46\" fill=\"{AXIS_COLOUR}\">{}</text>",
        escape(subtitle)
    );
}

/// The two sides' swatches, top right.
fn legend(svg: &mut String) {
    svg.push_str("<g class=\"legend\">\n");
    for (i, (name, fill)) in [("reference", REFERENCE_FILL), ("current", CURRENT_FILL)]
        .into_iter()
        .enumerate()
    {
        let x = WIDTH - RIGHT - 180.0 + 90.0 * i as f64;
        let _ = writeln!(
            svg,
            "<rect x=\"{}\" y=\"56\" width=\"12\" height=\"12\" fill=\"{fill}\"/>\
             <text x=\"{}\" y=\"66\">{name}</text>",
            coordinate(x),
            coordinate(x + 16.0)
        );
    }
    svg.push_str("</g>\n");
}

/// The y axis from 0 to `top`: five steps, grid lines, labels.
fn y_axis(svg: &mut String, top: f64, label: impl Fn(f64) -> String) {
    svg.push_str("<g class=\"y-axis\">\n");
    for step in 0..=5 {
        let value = top * step as f64 / 5.0;
        let y = TOP + PLOT_HEIGHT - PLOT_HEIGHT * step as f64 / 5.0;
        let _ = writeln!(
            svg,
            "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{GRID_COLOUR}\"/>\
             <text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            coordinate(LEFT),
            coordinate(y),
            coordinate(LEFT + PLOT_WIDTH),
            coordinate(y),
            coordinate(LEFT - 6.0),
            coordinate(y + 4.0),
            escape(&label(value))
        );
    }
    let _ = writeln!(
        svg,
        "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{AXIS_COLOUR}\"/>",
        coordinate(LEFT),
        coordinate(TOP),
        coordinate(LEFT),
        coordinate(TOP + PLOT_HEIGHT)
    );
    svg.push_str("</g>\n");
}

/// A label under the x axis at `x`, turned when labels are many.
fn tick_label(svg: &mut String, x: f64, bottom: f64, text: &str, turned: bool) {
    let y = bottom + 16.0;
    match turned {
        true => {
            let _ = writeln!(
                svg,
                "<text x=\"{x}\" y=\"{y}\" text-anchor=\"end\" transform=\"rotate(-40 {x} {y})\">{}</text>",
                escape(text),
                x = coordinate(x),
                y = coordinate(y)
            );
        }
        false => {
            let _ = writeln!(
                svg,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                coordinate(x),
                coordinate(y),
                escape(text)
            );
        }
    }
}

/// Label every k-th of `n` ticks so that at most [`MAX_X_LABELS`] are drawn.
fn thinning(n: usize) -> usize {
    n.div_ceil(MAX_X_LABELS).max(1)
}

fn distinct<'a>(items: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen: Vec<&str> = Vec::new();
    for item in items {
        if !seen.contains(&item) {
            seen.push(item);
        }
    }
    seen
}

/// The smallest of 1, 2, 2.5 and 5 times a power of ten that is at least `value` (1 for 0).
fn nice_ceiling(value: f64) -> f64 {
    if value.is_nan() || value <= 0.0 || value.is_infinite() {
        return 1.0;
    }
    let power = 10f64.powi(value.log10().floor() as i32);
    let ladder = [1.0, 2.0, 2.5, 5.0, 10.0];
    ladder
        .into_iter()
        .map(|step| step * power)
        .find(|candidate| *candidate >= value * (1.0 - 1e-12))
        .unwrap_or(10.0 * power)
}

/// A coordinate, two decimals, never `-0.00`.
fn coordinate(value: f64) -> String {
    let text = format!("{value:.2}");
    match text.as_str() {
        "-0.00" => "0.00".to_owned(),
        _ => text,
    }
}

/// A figure for people: up to four decimals without trailing zeros, or three significant
/// digits in scientific notation when smaller than 0.001 or from a million.
pub fn figure(value: f64) -> String {
    if value == 0.0 {
        return "0".to_owned();
    }
    if !value.is_finite() {
        return format!("{value}");
    }
    let magnitude = value.abs();
    if !(0.001..1e6).contains(&magnitude) {
        return format!("{value:.2e}");
    }
    let text = format!("{value:.4}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    match text {
        "-0" => "0".to_owned(),
        _ => text.to_owned(),
    }
}

/// At most `chars` characters, an ellipsis marking what was cut.
fn shorten(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((cut, _)) => {
            let kept = text[..cut]
                .chars()
                .take(chars.saturating_sub(1))
                .collect::<String>();
            format!("{kept}…")
        }
        None => text.to_owned(),
    }
}

/// Text or an attribute value made safe for XML: the five special characters as entities, and
/// characters XML 1.0 does not allow (most controls, lone surrogates cannot occur in `str`,
/// U+FFFE and U+FFFF) as U+FFFD.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(score: f64, threshold: f64, comparison: Comparison, drifted: bool) -> Verdict {
        Verdict {
            test: "ks".into(),
            score,
            threshold,
            comparison,
            drifted,
        }
    }

    fn age_histogram() -> Histogram {
        Histogram {
            feature: "age".into(),
            batch: "monitoring_batch b2".into(),
            verdict: verdict(0.0001, 0.05, Comparison::AtMost, true),
            axis: BinAxis::Edges(vec![20.0, 40.0, 60.0, 80.0]),
            reference_counts: vec![50, 30, 20],
            current_counts: vec![10, 40, 50],
            reference_rows: 100,
            current_rows: 100,
        }
    }

    fn parse(svg: &str) -> roxmltree::Document<'_> {
        match roxmltree::Document::parse(svg) {
            Ok(doc) => doc,
            Err(e) => panic!("not XML: {e}\n{svg}"),
        }
    }

    fn with_class<'a, 'i>(
        doc: &'a roxmltree::Document<'i>,
        class: &str,
    ) -> Vec<roxmltree::Node<'a, 'i>> {
        doc.descendants()
            .filter(|n| {
                n.attribute("class")
                    .is_some_and(|c| c.split(' ').any(|part| part == class))
            })
            .collect()
    }

    fn number(node: &roxmltree::Node, attribute: &str) -> f64 {
        node.attribute(attribute)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{attribute} of {node:?}"))
    }

    fn title_of(doc: &roxmltree::Document) -> String {
        doc.root_element()
            .children()
            .find(|n| n.has_tag_name("title"))
            .and_then(|n| n.text())
            .unwrap_or_default()
            .to_owned()
    }

    #[test]
    fn a_histogram_is_self_contained_accessible_xml() {
        let svg = histogram(&age_histogram()).expect("drawn");
        let doc = parse(&svg);
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        assert_eq!(
            root.tag_name().namespace(),
            Some("http://www.w3.org/2000/svg")
        );
        assert_eq!(root.attribute("viewBox"), Some("0 0 720.00 400.00"));
        assert_eq!(root.attribute("role"), Some("img"));
        assert_eq!(
            title_of(&doc),
            "Drift of age in monitoring_batch b2: drifted"
        );
        let desc = root
            .children()
            .find(|n| n.has_tag_name("desc"))
            .and_then(|n| n.text())
            .unwrap_or_default();
        assert!(
            desc.contains("ks score 1.00e-4, drift when score <= 0.05"),
            "{desc}"
        );
        for node in doc.descendants() {
            assert!(!node.has_tag_name("script"), "no script");
            assert!(!node.has_tag_name("image"), "no image");
            assert!(!node.has_tag_name("foreignObject"));
            for attribute in node.attributes() {
                assert!(!attribute.name().starts_with("on"), "no handler");
                assert!(!attribute.value().contains("http:") || attribute.name() == "xmlns");
                assert!(!attribute.value().contains("url("), "no reference");
            }
        }
        assert!(!svg.contains("href"), "no link");
        // The same input, the same bytes.
        assert_eq!(histogram(&age_histogram()).expect("drawn"), svg);
    }

    #[test]
    fn bars_are_two_per_bin_and_proportional_to_shares() {
        let chart = age_histogram();
        let svg = histogram(&chart).expect("drawn");
        let doc = parse(&svg);
        let bars = with_class(&doc, "bar");
        assert_eq!(bars.len(), 6);
        let reference = with_class(&doc, "reference");
        let current = with_class(&doc, "current");
        assert_eq!((reference.len(), current.len()), (3, 3));
        // The largest share (0.5) against the scale's top (0.5): the whole plot height.
        let heights: Vec<f64> = reference
            .iter()
            .chain(&current)
            .map(|b| number(b, "height"))
            .collect();
        let per_share = heights[0] / 0.5;
        assert!((per_share * 0.5 - PLOT_HEIGHT).abs() < 0.01, "{heights:?}");
        for (height, share) in heights.iter().zip([0.5, 0.3, 0.2, 0.1, 0.4, 0.5]) {
            assert!(
                (height - share * per_share).abs() < 0.011,
                "{height} for {share}"
            );
        }
        // Bars stand on the axis, side by side within their bin, bins left to right.
        let bottom = TOP + PLOT_HEIGHT;
        for bar in &bars {
            let end = number(bar, "y") + number(bar, "height");
            assert!((end - bottom).abs() < 0.011, "{bar:?}");
        }
        assert!(number(&reference[0], "x") < number(&current[0], "x"));
        assert!(number(&current[0], "x") < number(&reference[1], "x"));
        // Each bar names its side, counts and interval; the last interval is closed.
        let titles: Vec<&str> = bars
            .iter()
            .filter_map(|b| b.first_element_child().and_then(|t| t.text()))
            .collect();
        assert_eq!(titles[0], "reference: 50 of 100 rows (50%) in [20, 40)");
        assert_eq!(titles[5], "current: 50 of 100 rows (50%) in [60, 80]");
    }

    #[test]
    fn names_with_markup_are_escaped_everywhere() {
        let hostile = "a<b&\"c\"'d'>\u{1}</svg><script>alert(1)</script>";
        let mut chart = age_histogram();
        chart.feature = hostile.into();
        chart.batch = format!("monitoring_batch {hostile}");
        chart.verdict.test = hostile.into();
        chart.axis = BinAxis::Values(vec![hostile.into(), "<&\"".into(), "x".into()]);
        let svg = histogram(&chart).expect("drawn");
        let doc = parse(&svg);
        assert!(!svg.contains("<script"), "{svg}");
        assert!(doc.descendants().all(|n| !n.has_tag_name("script")));
        let title = title_of(&doc);
        assert!(
            title.contains("a<b&\"c\"'d'>\u{FFFD}</svg><script>"),
            "{title}"
        );
        let labels: Vec<&str> = doc
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text())
            .collect();
        assert!(labels.contains(&"<&\""), "{labels:?}");

        let series = Series {
            feature: hostile.into(),
            subject: format!("model_version {hostile}"),
            points: vec![Point {
                batch: hostile.into(),
                at: hostile.into(),
                verdict: verdict(0.5, 0.05, Comparison::AtMost, false),
            }],
            skipped: vec![format!("{hostile}: not tested")],
        };
        let svg = super::series(&series).expect("drawn");
        let doc = parse(&svg);
        assert!(!svg.contains("<script"), "{svg}");
        assert!(title_of(&doc).contains("a<b&\"c\"'d'>"));
    }

    #[test]
    fn category_names_are_shortened_on_the_axis_but_whole_in_the_bar_title() {
        let mut chart = age_histogram();
        let long = "Basel Stücki manufacturing site number two";
        chart.axis = BinAxis::Values(vec![long.into(), "Cork".into(), "Lyon".into()]);
        let svg = histogram(&chart).expect("drawn");
        let doc = parse(&svg);
        let labels: Vec<&str> = doc
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text())
            .collect();
        assert!(labels.contains(&"Basel Stücki manu…"), "{labels:?}");
        assert!(svg.contains(&format!("in {long}</title>")));
    }

    #[test]
    fn inconsistent_bins_are_refused_by_name() {
        let mut chart = age_histogram();
        chart.current_counts.pop();
        assert!(matches!(
            histogram(&chart),
            Err(ChartError::CountsMismatch { current: 2, .. })
        ));
        let mut chart = age_histogram();
        chart.axis = BinAxis::Edges(vec![0.0, 1.0]);
        assert_eq!(
            histogram(&chart),
            Err(ChartError::EdgesMismatch { edges: 2, bins: 3 })
        );
        let mut chart = age_histogram();
        chart.reference_counts = Vec::new();
        chart.current_counts = Vec::new();
        assert_eq!(histogram(&chart), Err(ChartError::NoBins));
        let mut chart = age_histogram();
        chart.verdict.score = f64::NAN;
        assert_eq!(
            histogram(&chart),
            Err(ChartError::NotFinite { what: "score" })
        );
        let mut chart = age_histogram();
        chart.current_rows = 10;
        assert_eq!(
            histogram(&chart),
            Err(ChartError::CountOverRows {
                count: 40,
                rows: 10
            })
        );
    }

    fn two_batches(comparison: Comparison, threshold: f64, scores: [f64; 2]) -> Series {
        Series {
            feature: "age".into(),
            subject: "model_version mv1".into(),
            points: vec![
                Point {
                    batch: "b1".into(),
                    at: "2026-11-08T00:00:00Z".into(),
                    verdict: verdict(
                        scores[0],
                        threshold,
                        comparison,
                        comparison.drifted(scores[0], threshold),
                    ),
                },
                Point {
                    batch: "b2".into(),
                    at: "2026-11-15T00:00:00Z".into(),
                    verdict: verdict(
                        scores[1],
                        threshold,
                        comparison,
                        comparison.drifted(scores[1], threshold),
                    ),
                },
            ],
            skipped: vec!["b3: not tested".into()],
        }
    }

    #[test]
    fn a_p_value_series_marks_the_low_score_and_draws_the_threshold() {
        let chart = two_batches(Comparison::AtMost, 0.05, [0.9, 0.0001]);
        let svg = series(&chart).expect("drawn");
        let doc = parse(&svg);
        let points = with_class(&doc, "point");
        assert_eq!(points.len(), 2);
        let drifted = with_class(&doc, "drifted");
        assert_eq!(drifted.len(), 1);
        assert!(drifted[0]
            .first_element_child()
            .and_then(|t| t.text())
            .is_some_and(|t| t.starts_with("b2 (2026-11-15T00:00:00Z)")));
        // p-values: the scale is 0 to 1; the threshold line sits at 0.05 of the plot's height.
        let lines = with_class(&doc, "threshold");
        assert_eq!(lines.len(), 1);
        let y = number(&lines[0], "y1");
        let expected = TOP + PLOT_HEIGHT - 0.05 * PLOT_HEIGHT;
        assert!((y - expected).abs() < 0.006, "{y} against {expected}");
        assert_eq!(number(&lines[0], "y2"), y);
        assert!((number(&lines[0], "x1") - LEFT).abs() < 0.006);
        assert!((number(&lines[0], "x2") - (LEFT + PLOT_WIDTH)).abs() < 0.006);
        // Drift is below the line: the shaded zone runs from it down to the axis.
        let zone = &with_class(&doc, "drift-zone")[0];
        assert!((number(zone, "y") - y).abs() < 0.006);
        // The drifted point lies in the zone, the other above the line; time runs left to right.
        assert!(number(&drifted[0], "cy") > y);
        assert!(number(&points[0], "cy") < y);
        assert!(number(&points[0], "cx") < number(&points[1], "cx"));
        assert_eq!(with_class(&doc, "score").len(), 1);
        assert!(title_of(&doc).contains("1 of 2 batches drifted"));
        let desc = doc
            .descendants()
            .find(|n| n.has_tag_name("desc"))
            .and_then(|n| n.text())
            .unwrap_or_default();
        assert!(desc.contains("Not charted: b3: not tested."), "{desc}");
    }

    #[test]
    fn a_distance_series_breaches_at_or_above_the_threshold() {
        // Wasserstein (normed): drift when the distance is at least 0.1; 0.1 itself drifts.
        let chart = two_batches(Comparison::AtLeast, 0.1, [0.02, 0.1]);
        assert!(chart.points[1].verdict.drifted);
        let svg = series(&chart).expect("drawn");
        let doc = parse(&svg);
        let drifted = with_class(&doc, "drifted");
        assert_eq!(drifted.len(), 1);
        // Distances: the scale's top is the largest figure rounded up (0.1).
        let y = number(&with_class(&doc, "threshold")[0], "y1");
        assert!((y - TOP).abs() < 0.006, "{y}");
        // Drift is above the line: the zone runs from the top of the plot down to it.
        let zone = &with_class(&doc, "drift-zone")[0];
        assert!((number(zone, "y") - TOP).abs() < 0.006);
        assert!((number(zone, "height") - (y - TOP)).abs() < 0.006);
        assert!(number(&drifted[0], "cy") <= y + 0.006);
    }

    #[test]
    fn a_changed_threshold_draws_a_line_per_run() {
        let mut chart = two_batches(Comparison::AtLeast, 0.1, [0.02, 0.3]);
        chart.points[1].verdict.threshold = 0.2;
        let svg = series(&chart).expect("drawn");
        let doc = parse(&svg);
        let lines = with_class(&doc, "threshold");
        assert_eq!(lines.len(), 2);
        assert!(number(&lines[0], "x2") <= number(&lines[1], "x1") + 0.006);
        assert!(number(&lines[0], "y1") > number(&lines[1], "y1"));
    }

    #[test]
    fn an_empty_series_is_an_empty_chart() {
        let chart = Series {
            feature: "age".into(),
            subject: "model_version mv1".into(),
            points: Vec::new(),
            skipped: Vec::new(),
        };
        let svg = series(&chart).expect("drawn");
        let doc = parse(&svg);
        assert!(with_class(&doc, "point").is_empty());
        assert!(with_class(&doc, "threshold").is_empty());
        assert_eq!(with_class(&doc, "empty").len(), 1);
        assert!(title_of(&doc).ends_with("no batch"));
    }

    #[test]
    fn figures_are_fixed() {
        assert_eq!(figure(0.05), "0.05");
        assert_eq!(figure(0.1 + 0.2), "0.3");
        assert_eq!(figure(20.0), "20");
        assert_eq!(figure(-3.25), "-3.25");
        assert_eq!(figure(0.000123), "1.23e-4");
        assert_eq!(figure(2.5e7), "2.50e7");
        assert_eq!(figure(-0.00001), "-1.00e-5");
        assert_eq!(figure(0.0), "0");
        assert_eq!(coordinate(-0.001), "0.00");
        assert_eq!(nice_ceiling(0.37), 0.5);
        assert_eq!(nice_ceiling(0.5), 0.5);
        assert_eq!(nice_ceiling(0.21), 0.25);
        assert_eq!(nice_ceiling(1.0), 1.0);
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(130.0), 200.0);
        assert_eq!(comparison_of("<="), Some(Comparison::AtMost));
        assert_eq!(comparison_of(">="), Some(Comparison::AtLeast));
        assert_eq!(comparison_of("<"), Some(Comparison::Below));
        assert_eq!(comparison_of("=="), None);
        assert_eq!(escape("<&\">'"), "&lt;&amp;&quot;&gt;&apos;");
        assert_eq!(escape("a\u{0}b\u{FFFF}"), "a\u{FFFD}b\u{FFFD}");
        assert_eq!(shorten("abcdef", 4), "abc…");
        assert_eq!(shorten("abcd", 4), "abcd");
    }
}
