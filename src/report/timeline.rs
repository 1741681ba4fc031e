//! `report.svg`: a run on one page — pods by phase, nodes by readiness,
//! unscheduled pods and evictions over virtual time, with fault windows
//! shaded and check outcomes and violations marked.

use super::observer::MetricsRow;

/// A shaded interval (a fault), in seconds of virtual time.
pub struct Window {
    pub from_s: f64,
    pub to_s: f64,
    pub label: String,
}

/// A marked instant: a check (ok or not) or a violation.
pub struct Mark {
    pub t_s: f64,
    pub label: String,
    pub ok: bool,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

struct Panel<'a> {
    title: &'a str,
    series: Vec<(&'a str, &'a str, Vec<(f64, f64)>)>,
}

pub fn svg(title: &str, end_s: f64, rows: &[MetricsRow], windows: &[Window], marks: &[Mark], evictions_s: &[f64]) -> String {
    let (w, left, right, top) = (1000.0, 70.0, 20.0, 50.0);
    let (ph, gap) = (150.0, 40.0);
    let pw = w - left - right;
    let end = end_s.max(1.0);
    let pts = |f: fn(&MetricsRow) -> i64| rows.iter().map(|r| (r.t_s, f(r) as f64)).collect::<Vec<_>>();
    let mut evict = vec![(0.0, 0.0)];
    for (i, t) in evictions_s.iter().enumerate() {
        evict.push((*t, i as f64));
        evict.push((*t, (i + 1) as f64));
    }
    evict.push((end, evictions_s.len() as f64));
    let panels = [
        Panel {
            title: "pods by phase",
            series: vec![
                ("running", "#4a9c5d", pts(|r| r.pods_running)),
                ("pending", "#d9822b", pts(|r| r.pods_pending)),
                ("terminating", "#b5485d", pts(|r| r.pods_deleting)),
            ],
        },
        Panel { title: "nodes", series: vec![("ready", "#3b6ea5", pts(|r| r.nodes_ready)), ("not ready", "#b5485d", pts(|r| r.nodes - r.nodes_ready))] },
        Panel { title: "scheduling and eviction", series: vec![("unscheduled pods", "#d9822b", pts(|r| r.pods - r.pods_bound)), ("evictions (cumulative)", "#6b4c9a", evict)] },
    ];
    let h = top + panels.len() as f64 * (ph + gap) + 110.0;
    let x = |t: f64| left + pw * (t / end).clamp(0.0, 1.0);
    let mut s = format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"{w}\" height=\"{h}\" fill=\"white\"/>\n");
    s.push_str(&format!("<text x=\"{left}\" y=\"26\" font-size=\"17\" font-weight=\"bold\">{}</text>\n", esc(title)));
    for (i, p) in panels.iter().enumerate() {
        let y0 = top + i as f64 * (ph + gap);
        let max = p.series.iter().flat_map(|(_, _, v)| v.iter().map(|(_, y)| *y)).fold(1.0f64, f64::max);
        let y = |v: f64| y0 + ph - ph * (v / max);
        for (k, wdw) in windows.iter().enumerate() {
            s.push_str(&format!("<rect x=\"{:.1}\" y=\"{y0}\" width=\"{:.1}\" height=\"{ph}\" fill=\"#f3d6d6\" fill-opacity=\"0.8\"/>\n", x(wdw.from_s), (x(wdw.to_s) - x(wdw.from_s)).max(1.0)));
            if i == 0 {
                // Labels step down in four rows so neighbouring windows stay readable.
                let row = (k % 4) as f64;
                s.push_str(&format!("<text x=\"{:.1}\" y=\"{}\" font-size=\"10\" fill=\"#8a3030\">{}</text>\n", x(wdw.from_s) + 3.0, y0 + 11.0 + 12.0 * row, esc(&wdw.label)));
            }
        }
        s.push_str(&format!("<rect x=\"{left}\" y=\"{y0}\" width=\"{pw}\" height=\"{ph}\" fill=\"none\" stroke=\"#999\"/>\n"));
        s.push_str(&format!("<text x=\"{left}\" y=\"{}\" font-weight=\"bold\">{}</text>\n", y0 - 6.0, p.title));
        for frac in [0.0, 0.5, 1.0] {
            let v = (max * frac).round();
            s.push_str(&format!("<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\" font-size=\"10\">{v}</text>\n", left - 6.0, y(v) + 4.0));
        }
        let mut lx = left + 260.0;
        for (name, color, pts) in &p.series {
            if pts.is_empty() {
                continue;
            }
            let d: Vec<String> = pts.iter().map(|(t, v)| format!("{:.1},{:.1}", x(*t), y(*v))).collect();
            s.push_str(&format!("<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>\n", d.join(" ")));
            s.push_str(&format!("<rect x=\"{lx}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{color}\"/><text x=\"{}\" y=\"{}\" font-size=\"11\">{name}</text>\n", y0 - 16.0, lx + 14.0, y0 - 7.0));
            lx += 150.0;
        }
        for m in marks {
            let color = if m.ok { "#4a9c5d" } else { "#c0392b" };
            let dash = if m.ok { "3,3" } else { "" };
            s.push_str(&format!("<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{y0}\" y2=\"{1}\" stroke=\"{color}\" stroke-dasharray=\"{dash}\"/>\n", x(m.t_s), y0 + ph));
            if i == panels.len() - 1 {
                s.push_str(&format!(
                    "<text transform=\"translate({:.1},{}) rotate(35)\" font-size=\"9\" fill=\"{color}\">{}{}</text>\n",
                    x(m.t_s),
                    y0 + ph + 22.0,
                    if m.ok { "" } else { "✗ " },
                    esc(&m.label)
                ));
            }
        }
    }
    // Round ticks: the smallest step from the list giving at most 8 of them.
    let step = [5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0].into_iter().find(|st| end / st <= 8.0).unwrap_or(end / 8.0);
    let axis_y = top + panels.len() as f64 * (ph + gap) - gap + 14.0;
    let mut t = 0.0;
    while t <= end + 1e-9 {
        s.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{axis_y:.1}\" text-anchor=\"middle\" font-size=\"10\" fill=\"#555\">{}</text>\n",
            x(t),
            crate::time::format_duration(std::time::Duration::from_secs_f64(t))
        ));
        t += step;
    }
    s.push_str("</svg>\n");
    s
}
