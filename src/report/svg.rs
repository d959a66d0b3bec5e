//! The weekly coverage trend as an inline SVG bar chart: one bar per week, the share
//! proven readable written above each bar (so the figure does not rest on colour or
//! reading the axis).

use super::WeekRow;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Per mille as a percentage with one decimal and its sign, as the language writes it:
/// `74,4 %` in bokmål, `74.4 %` in English, with a no-break space before the sign so that
/// the number and its sign never part at a line break. (CSV and JSON keep per mille.)
pub(super) fn percent(permille: u64, lang: super::text::Lang) -> String {
    let sep = match lang {
        super::text::Lang::Nb => ',',
        super::text::Lang::En => '.',
    };
    format!("{}{sep}{}\u{a0}%", permille / 10, permille % 10)
}

/// The chart; `title` and `desc` are read by screen readers.
pub(super) fn trend(weeks: &[WeekRow], title: &str, desc: &str, lang: super::text::Lang) -> String {
    let (w, h) = (640u32, 240u32);
    let (left, right, top, bottom) = (44u32, 12u32, 24u32, 36u32);
    let plot_w = w - left - right;
    let plot_h = h - top - bottom;
    let n = weeks.len().max(1) as u32;
    let slot = plot_w / n;
    let bar = (slot * 7 / 10).clamp(4, 60);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"100%\" role=\"img\" aria-labelledby=\"trend-title trend-desc\">\
<title id=\"trend-title\">{}</title><desc id=\"trend-desc\">{}</desc>",
        esc(title),
        esc(desc)
    );
    // Axis and grid at 0, 50 and 100 %.
    for pct in [0u32, 50, 100] {
        let y = top + plot_h - plot_h * pct / 100;
        s.push_str(&format!(
            "<line x1=\"{left}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"#999\" stroke-width=\"{}\"/>\
<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\" fill=\"#333\">{pct}\u{a0}%</text>",
            w - right,
            if pct == 0 { 1 } else { 0 },
            left - 6,
            y + 4
        ));
        if pct != 0 {
            s.push_str(&format!(
                "<line x1=\"{left}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"#ccc\" stroke-dasharray=\"3 3\"/>",
                w - right
            ));
        }
    }
    for (i, wk) in weeks.iter().enumerate() {
        let p = wk.coverage.readable_permille.min(1000) as u32;
        let bh = plot_h * p / 1000;
        let x = left + slot * i as u32 + (slot - bar) / 2;
        let y = top + plot_h - bh;
        s.push_str(&format!(
            "<rect x=\"{x}\" y=\"{y}\" width=\"{bar}\" height=\"{bh}\" fill=\"#2b6cb0\"><title>{}: {}</title></rect>\
<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\" fill=\"#111\">{}</text>\
<text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\" fill=\"#333\">{}</text>",
            esc(&wk.week),
            percent(wk.coverage.readable_permille, lang),
            x + bar / 2,
            y.saturating_sub(4).max(11),
            percent(wk.coverage.readable_permille, lang),
            x + bar / 2,
            h - bottom + 14,
            esc(wk.week.split_once('-').map_or(wk.week.as_str(), |(_, w)| w)),
        ));
    }
    s.push_str("</svg>");
    s
}
