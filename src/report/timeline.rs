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

/// A timeline action that is not a fault (scale, patch, apply, delete, …), marked at its instant.
pub struct Action {
    pub t_s: f64,
    pub label: String,
}

/// Labels longer than this are cut (a violation message can be a paragraph).
const LABEL_CHARS_MAX: usize = 60;

fn cut(label: &str) -> String {
    if label.chars().count() <= LABEL_CHARS_MAX { label.to_string() } else { format!("{}…", label.chars().take(LABEL_CHARS_MAX - 1).collect::<String>()) }
}

/// Groups of items whose x positions lie within `min_gap_px` of the group's
/// first: they share one line and their labels are stacked, not overlaid.
fn stacked<T>(items: &[T], x_of: impl Fn(&T) -> f64, min_gap_px: f64) -> Vec<(f64, Vec<&T>)> {
    let mut sorted: Vec<&T> = items.iter().collect();
    sorted.sort_by(|a, b| x_of(a).total_cmp(&x_of(b)));
    let mut groups: Vec<(f64, Vec<&T>)> = Vec::new();
    for it in sorted {
        match groups.last_mut() {
            Some((gx, members)) if x_of(it) - *gx < min_gap_px => members.push(it),
            _ => groups.push((x_of(it), vec![it])),
        }
    }
    groups
}

/// Horizontal labels packed into rows: each goes in the first row where it
/// does not run into the previous label; near the right edge it ends at its
/// x instead of starting there.
#[derive(Default)]
struct LabelRows {
    ends: Vec<f64>,
}

impl LabelRows {
    /// (text-anchor, text x, row) for a label of `width` px at `x`.
    fn place(&mut self, x: f64, width: f64, right: f64) -> (&'static str, f64, usize) {
        let (anchor, from, to) = if x + width > right { ("end", x - width - 3.0, x - 3.0) } else { ("start", x + 3.0, x + width + 3.0) };
        let row = self.ends.iter().position(|&end| end < from).unwrap_or(self.ends.len());
        if row == self.ends.len() {
            self.ends.push(to + 6.0);
        } else {
            self.ends[row] = to + 6.0;
        }
        (anchor, if anchor == "end" { to } else { from }, row)
    }
}

pub fn svg(title: &str, end_s: f64, rows: &[MetricsRow], windows: &[Window], marks: &[Mark], actions: &[Action], evictions_s: &[f64]) -> String {
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
                ("succeeded", "#3b6ea5", pts(|r| r.pods_succeeded)),
                ("failed", "#7f3b08", pts(|r| r.pods_failed)),
            ],
        },
        Panel { title: "nodes", series: vec![("ready", "#3b6ea5", pts(|r| r.nodes_ready)), ("not ready", "#b5485d", pts(|r| r.nodes - r.nodes_ready))] },
        Panel { title: "scheduling and eviction", series: vec![("unscheduled pods", "#d9822b", pts(|r| r.pods - r.pods_bound)), ("evictions (cumulative)", "#6b4c9a", evict)] },
    ];
    // Room below the axis for the stacked, slanted check labels.
    let x_px = |t: f64| left + pw * (t / end.max(1.0)).clamp(0.0, 1.0);
    let deepest = stacked(marks, |m| x_px(m.t_s), 14.0).iter().map(|(_, g)| g.len()).max().unwrap_or(0);
    // A slanted label of LABEL_CHARS_MAX characters reaches about 170 px below its start.
    let h = top + panels.len() as f64 * (ph + gap) + 190.0 + 13.0 * deepest.saturating_sub(1) as f64;
    let x = |t: f64| left + pw * (t / end).clamp(0.0, 1.0);
    let mut s = format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"{w}\" height=\"{h}\" fill=\"white\"/>\n");
    s.push_str(&format!("<text x=\"{left}\" y=\"26\" font-size=\"17\" font-weight=\"bold\">{}</text>\n", esc(title)));
    for (i, p) in panels.iter().enumerate() {
        let y0 = top + i as f64 * (ph + gap);
        let max = p.series.iter().flat_map(|(_, _, v)| v.iter().map(|(_, y)| *y)).fold(1.0f64, f64::max);
        let y = |v: f64| y0 + ph - ph * (v / max);
        // Fault labels go in the first row where they do not run into another
        // (near the right edge they end at their window instead).
        let mut rows = LabelRows::default();
        for wdw in windows {
            s.push_str(&format!("<rect x=\"{:.1}\" y=\"{y0}\" width=\"{:.1}\" height=\"{ph}\" fill=\"#f3d6d6\" fill-opacity=\"0.8\"/>\n", x(wdw.from_s), (x(wdw.to_s) - x(wdw.from_s)).max(1.0)));
        }
        // Labels after every window, so no later window covers an earlier label.
        for wdw in windows {
            if i == 0 {
                let label = cut(&wdw.label);
                let (anchor, tx, row) = rows.place(x(wdw.from_s), 5.8 * label.chars().count() as f64, left + pw);
                s.push_str(&format!("<text x=\"{tx:.1}\" y=\"{}\" font-size=\"10\" fill=\"#8a3030\" stroke=\"white\" stroke-width=\"3\" paint-order=\"stroke\" text-anchor=\"{anchor}\">{}</text>\n", y0 + 11.0 + 12.0 * row as f64, esc(&label)));
            }
        }
        s.push_str(&format!("<rect x=\"{left}\" y=\"{y0}\" width=\"{pw}\" height=\"{ph}\" fill=\"none\" stroke=\"#999\"/>\n"));
        s.push_str(&format!("<text x=\"{left}\" y=\"{}\" font-weight=\"bold\">{}</text>\n", y0 - 6.0, p.title));
        for frac in [0.0, 0.5, 1.0] {
            let v = (max * frac).round();
            s.push_str(&format!("<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\" font-size=\"10\">{v}</text>\n", left - 6.0, y(v) + 4.0));
        }
        let mut lx = left + 180.0;
        for (name, color, pts) in &p.series {
            if pts.is_empty() {
                continue;
            }
            let d: Vec<String> = pts.iter().map(|(t, v)| format!("{:.1},{:.1}", x(*t), y(*v))).collect();
            s.push_str(&format!("<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>\n", d.join(" ")));
            s.push_str(&format!("<rect x=\"{lx}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{color}\"/><text x=\"{}\" y=\"{}\" font-size=\"11\">{name}</text>\n", y0 - 16.0, lx + 14.0, y0 - 7.0));
            lx += 28.0 + 7.0 * name.len() as f64;
        }
        for m in marks {
            let color = if m.ok { "#4a9c5d" } else { "#c0392b" };
            let dash = if m.ok { "3,3" } else { "" };
            s.push_str(&format!("<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{y0}\" y2=\"{1}\" stroke=\"{color}\" stroke-dasharray=\"{dash}\"/>\n", x(m.t_s), y0 + ph));
        }
        for a in actions {
            s.push_str(&format!("<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{y0}\" y2=\"{1}\" stroke=\"#777\" stroke-width=\"0.8\" stroke-dasharray=\"1,3\"/>\n", x(a.t_s), y0 + ph));
        }
        if i == 0 {
            // Timeline actions: a marker on top of the first panel; labels at its
            // foot, each in the lowest row where it does not run into another.
            let mut rows = LabelRows::default();
            let mut sorted: Vec<&Action> = actions.iter().collect();
            sorted.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
            for a in sorted {
                let label = cut(&a.label);
                let ax = x(a.t_s);
                let (anchor, tx, row) = rows.place(ax, 5.3 * label.chars().count() as f64, left + pw);
                let ty = y0 + ph - 6.0 - 11.0 * row as f64;
                s.push_str(&format!("<path d=\"M{ax:.1},{y0} l-4,-6 h8 z\" fill=\"#555\"/>\n"));
                s.push_str(&format!("<text x=\"{tx:.1}\" y=\"{ty:.1}\" font-size=\"9\" fill=\"#444\" stroke=\"white\" stroke-width=\"3\" paint-order=\"stroke\" text-anchor=\"{anchor}\">{}</text>\n", esc(&label)));
            }
        }
        if i == panels.len() - 1 {
            // Check labels below the axis, slanted; marks at (nearly) the same
            // instant stack; near the right edge they slant back inwards.
            for (gx, group) in stacked(marks, |m| x(m.t_s), 14.0) {
                for (k, m) in group.iter().enumerate() {
                    let color = if m.ok { "#4a9c5d" } else { "#c0392b" };
                    let ty = y0 + ph + 22.0 + 13.0 * k as f64;
                    let inward = gx > left + pw * 0.8;
                    let (anchor, angle) = if inward { ("end", -35) } else { ("start", 35) };
                    let (tx, ty) = (gx, ty);
                    s.push_str(&format!(
                        "<text transform=\"translate({tx:.1},{ty:.1}) rotate({angle})\" text-anchor=\"{anchor}\" font-size=\"9\" fill=\"{color}\">{}{}</text>\n",
                        if m.ok { "" } else { "✗ " },
                        esc(&cut(&m.label))
                    ));
                }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn text_positions(svg: &str, needle: &str) -> Vec<String> {
        svg.lines().filter(|l| l.contains("<text") && l.contains(needle)).map(|l| l.split('>').next().unwrap_or("").to_string()).collect()
    }

    /// Issue 10, item 8: checks at one instant stack instead of overlaying;
    /// labels near the right edge turn inwards; long labels are cut; actions
    /// are marked; Succeeded and Failed pods are series.
    #[test]
    fn labels_stack_stay_inside_and_actions_are_marked() {
        let marks = vec![
            Mark { t_s: 290.0, label: "nine-after-scaled-rollout".into(), ok: true },
            Mark { t_s: 290.0, label: "two-replicasets".into(), ok: true },
            Mark { t_s: 30.0, label: "x".repeat(500), ok: false },
        ];
        let actions = vec![Action { t_s: 60.0, label: "scale deployments/default/web to 8".into() }, Action { t_s: 61.0, label: "patch deployments/default/web".into() }];
        let windows = vec![Window { from_s: 10.0, to_s: 40.0, label: "node a down".into() }, Window { from_s: 11.0, to_s: 20.0, label: "node b down".into() }];
        let rows = vec![MetricsRow { t_s: 0.0, pods_succeeded: 1, ..Default::default() }];
        let s = svg("t", 300.0, &rows, &windows, &marks, &actions, &[]);
        let (a, b) = (text_positions(&s, "nine-after"), text_positions(&s, "two-replicasets"));
        assert_eq!((a.len(), b.len()), (1, 1));
        assert_ne!(a[0].split("rotate").next(), b[0].split("rotate").next(), "stacked, not at the same place");
        assert!(a[0].contains("text-anchor=\"end\""), "near the right edge the label slants inwards: {}", a[0]);
        assert!(s.contains(&format!("{}…", "x".repeat(LABEL_CHARS_MAX - 1))) && !s.contains(&"x".repeat(LABEL_CHARS_MAX + 1)), "long labels are cut");
        let (sa, pa) = (text_positions(&s, "scale deployments"), text_positions(&s, "patch deployments"));
        assert_eq!((sa.len(), pa.len()), (1, 1), "actions are marked");
        assert_ne!(sa[0].split(" y=").nth(1), pa[0].split(" y=").nth(1), "close actions go to different rows");
        let (wa, wb) = (text_positions(&s, "node a down"), text_positions(&s, "node b down"));
        assert_ne!(wa[0].split(" y=").nth(1), wb[0].split(" y=").nth(1), "overlapping fault labels go to different rows");
        assert!(s.contains(">succeeded<") && s.contains(">failed<"));
    }
}
