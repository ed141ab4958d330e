//! The markdown tables, the targets, and the `--json` document.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::{Value, json};

use super::measure::{Measured, Outcome};
use super::workload::{Cell, Direction, Mode, Pair, SerializationArg, Size, mode_str};

/// Every pair's outcome for one cell.
#[derive(Debug, Clone)]
pub struct Row {
    pub cell: Cell,
    pub outcomes: Vec<(Pair, Outcome)>,
}

impl Row {
    pub fn get(&self, pair: Pair) -> Option<&Measured> {
        self.outcomes
            .iter()
            .find(|(p, _)| *p == pair)
            .and_then(|(_, o)| o.measured())
    }

    fn outcome(&self, pair: Pair) -> Option<&Outcome> {
        self.outcomes
            .iter()
            .find(|(p, _)| *p == pair)
            .map(|(_, o)| o)
    }

    fn workload(&self) -> String {
        let c = &self.cell;
        match (c.mode, c.direction) {
            (Mode::Seed, _) => "seed c2p (bare string)".into(),
            (Mode::Roundtrip, _) if c.pinned => "roundtrip, pinned to 1 CPU".into(),
            (Mode::Roundtrip, _) => "roundtrip".into(),
            (Mode::Throughput, d) => {
                format!("throughput {}", d.unwrap_or(Direction::C2p).as_str())
            }
        }
    }
}

/// The machine the run was on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpu: String,
    pub nproc: usize,
    pub kernel: String,
    pub node: String,
    pub date: String,
}

/// Relative spread of one cell between runs on this VM (most throughput
/// cells of two back-to-back runs agree within 5–10 %, `docs/benchmarks.md`).
const NOISE: f64 = 0.05;

/// One target of the project and whether this run meets it.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub target: String,
    pub cell: String,
    /// Measured ratio (×, higher is better for Rust).
    pub ratio: f64,
    pub required: f64,
    pub met: bool,
    /// `socket ÷ Node↔Node` in the same cell (Rust ↔ Rust targets, when the
    /// socket pair ran): what the bare socket reaches, so the most a
    /// channel could.
    pub ceiling: Option<f64>,
}

/// Checks the targets on the cells that were run. `json` (the JSON
/// issue's):
/// - Rust ↔ Rust ≥ 3× Node ↔ Node msgs/s on tiny messages;
/// - Rust ↔ Rust ≥ 2× Node ↔ Node MB/s on 1 MiB messages (and the seed);
///
/// `advanced` (issue 5's), on throughput cells:
/// - Rust ↔ Rust ≥ 3× Node ↔ Node on 64 KiB objects;
/// - Rust ↔ Rust ≥ 5× Node ↔ Node on 1 MiB Buffers;
///
/// and both: Rust parent ↔ Node child never slower than Node ↔ Node
/// (msgs/s, and round-trip p50).
pub fn targets(rows: &[Row]) -> Vec<Target> {
    let mut out = Vec::new();
    for row in rows {
        let c = &row.cell;
        let nn = row.get(Pair::NodeNode);
        let ratio = |pair: Pair| -> Option<f64> {
            let (x, n) = (row.get(pair)?, nn?);
            match (x, n) {
                (Measured::Throughput { .. }, _) => Some(x.msgs_per_sec()? / n.msgs_per_sec()?),
                (Measured::Latency { .. }, _) => Some(n.p50_us()? / x.p50_us()?),
            }
        };
        let ceiling = ratio(Pair::Socket);
        let mut push = |target: &str, pair: Pair, required: f64| {
            if let Some(ratio) = ratio(pair) {
                out.push(Target {
                    target: target.into(),
                    cell: format!("{} {}", row.workload(), c.size.as_str()),
                    ratio,
                    required,
                    met: ratio >= required,
                    ceiling: ceiling.filter(|_| pair == Pair::RustRust),
                });
            }
        };
        let throughput = c.mode != Mode::Roundtrip;
        let rust_rust = match (c.serialization, c.size) {
            _ if !throughput => None,
            (SerializationArg::Json, Size::Tiny) => {
                Some(("Rust↔Rust ≥ 3× Node↔Node msgs/s (tiny)", 3.0))
            }
            (SerializationArg::Json, Size::M1) => {
                Some(("Rust↔Rust ≥ 2× Node↔Node MB/s (1 MiB)", 2.0))
            }
            (SerializationArg::Advanced, Size::K64) => {
                Some(("Rust↔Rust ≥ 3× Node↔Node (64 KiB objects)", 3.0))
            }
            (SerializationArg::Advanced, Size::M1Buf) => {
                Some(("Rust↔Rust ≥ 5× Node↔Node (1 MiB Buffers)", 5.0))
            }
            _ => None,
        };
        if let Some((target, required)) = rust_rust {
            push(target, Pair::RustRust, required);
        }
        if throughput {
            push("Rust→Node ≥ Node↔Node msgs/s", Pair::RustNode, 1.0);
        } else {
            push("Rust→Node ≥ Node↔Node (p50 latency)", Pair::RustNode, 1.0);
        }
    }
    out
}

fn int(x: f64) -> String {
    let digits = format!("{:.0}", x.max(0.0));
    let mut out = String::new();
    for (k, ch) in digits.chars().enumerate() {
        if k > 0 && (digits.len() - k) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn cell_text(o: Option<&Outcome>, f: impl Fn(&Measured) -> String) -> String {
    match o {
        None => String::new(),
        Some(Outcome::Ok(m)) => f(m),
        Some(Outcome::Skipped(_)) => "skipped".into(),
        Some(Outcome::Failed(_)) => "**failed**".into(),
    }
}

fn ratio_text(x: Option<&Measured>, n: Option<&Measured>) -> String {
    let r = match (x, n) {
        (Some(x @ Measured::Throughput { .. }), Some(n)) => {
            x.msgs_per_sec().zip(n.msgs_per_sec()).map(|(a, b)| a / b)
        }
        (Some(x @ Measured::Latency { .. }), Some(n)) => {
            x.p50_us().zip(n.p50_us()).map(|(a, b)| b / a)
        }
        _ => None,
    };
    r.map(|r| format!("{r:.2}×")).unwrap_or_default()
}

const PAIR_TITLES: [(Pair, &str); 4] = [
    (Pair::RustRust, "Rust↔Rust"),
    (Pair::RustNode, "Rust→Node"),
    (Pair::NodeNode, "Node↔Node"),
    (Pair::Socket, "socket"),
];

fn without_socket<'a>(titles: &[&'a (Pair, &'a str)]) -> Vec<&'a (Pair, &'a str)> {
    titles
        .iter()
        .copied()
        .filter(|(p, _)| *p != Pair::Socket)
        .collect()
}

/// Appends one markdown table: for each row its cell, then `cell_heads`
/// columns per pair in `titles` (filled by `cells`), then a ratio to
/// Node↔Node per pair in `ratios`. Nothing when `rows` is empty.
fn write_table(
    s: &mut String,
    rows: &[&Row],
    titles: &[&(Pair, &str)],
    ratios: &[&(Pair, &str)],
    cell_heads: &[&str],
    ratio_note: &str,
    cells: impl Fn(&Row, Pair) -> Vec<String>,
) {
    if rows.is_empty() {
        return;
    }
    let mut head = "| serialization | workload | size | count |".to_owned();
    let mut rule = "|---|---|---|---:|".to_owned();
    for (_, t) in titles {
        for h in cell_heads {
            let _ = write!(head, " {t} {h} |");
            rule.push_str("---:|");
        }
    }
    for (_, t) in ratios {
        let _ = write!(head, " {t} ÷ Node↔Node{ratio_note} |");
        rule.push_str("---:|");
    }
    let _ = writeln!(s, "{head}\n{rule}");
    for r in rows {
        let c = &r.cell;
        let _ = write!(
            s,
            "| {} | {} | {} | {} |",
            c.serialization.as_str(),
            r.workload(),
            c.size.as_str(),
            c.count
        );
        for (p, _) in titles {
            for text in cells(r, *p) {
                let _ = write!(s, " {text} |");
            }
        }
        for (p, _) in ratios {
            let _ = write!(s, " {} |", ratio_text(r.get(*p), r.get(Pair::NodeNode)));
        }
        s.push('\n');
    }
    s.push('\n');
}

/// The tables, the notes and the target list as markdown.
pub fn markdown(
    machine: &Machine,
    rows: &[Row],
    pairs: &[Pair],
    notes: &[String],
    quick: bool,
) -> String {
    let mut s = String::new();
    let titles: Vec<_> = PAIR_TITLES
        .iter()
        .filter(|(p, _)| pairs.contains(p))
        .collect();
    let ratios: Vec<_> = titles
        .iter()
        .copied()
        .filter(|(p, _)| *p != Pair::NodeNode && pairs.contains(&Pair::NodeNode))
        .collect();
    let _ = writeln!(
        s,
        "nodeipc bench{}: {} × {}, nproc {}, {}, node {}, {}\n",
        if quick {
            " --quick (smoke counts, not a measurement)"
        } else {
            ""
        },
        machine.nproc,
        machine.cpu,
        machine.nproc,
        machine.kernel,
        machine.node,
        machine.date
    );
    let _ = writeln!(
        s,
        "Rust→Node = Rust parent (nodeipc::Command) ↔ Node child (node-bench.js peer). \
         Ratios are against Node↔Node from this run: msgs/s (= MB/s) ratio for \
         throughput, Node p50 ÷ p50 for round trips; above 1× Rust is faster.\n"
    );
    if pairs.contains(&Pair::Socket) {
        let _ = writeln!(
            s,
            "socket = the bare socketpair between two processes moving the payload \
             bytes only (no framing, no copies, one-way cells of 64 KiB and more): \
             the ceiling of any channel on this machine.\n"
        );
    }

    let (lat, thr): (Vec<&Row>, Vec<&Row>) =
        rows.iter().partition(|r| r.cell.mode == Mode::Roundtrip);
    write_table(
        &mut s,
        &thr,
        &titles,
        &ratios,
        &["msgs/s", "MB/s"],
        "",
        |r, p| {
            let o = r.outcome(p);
            let msgs = cell_text(o, |m| m.msgs_per_sec().map(int).unwrap_or_default());
            let mb = if r.cell.payload() == 0 {
                String::new()
            } else {
                cell_text(o, |m| match m {
                    Measured::Throughput { mb_per_sec, .. } => format!("{mb_per_sec:.1}"),
                    _ => String::new(),
                })
            };
            vec![msgs, mb]
        },
    );
    // The socket pair has no round trips.
    let (lat_titles, lat_ratios) = (without_socket(&titles), without_socket(&ratios));
    write_table(
        &mut s,
        &lat,
        &lat_titles,
        &lat_ratios,
        &["mean / p50 / p99 µs"],
        " (p50)",
        |r, p| {
            vec![cell_text(r.outcome(p), |m| match *m {
                Measured::Latency {
                    mean_us,
                    p50_us,
                    p99_us,
                    ..
                } => format!("{mean_us:.1} / {p50_us:.1} / {p99_us:.1}"),
                _ => String::new(),
            })]
        },
    );

    for note in notes {
        let _ = writeln!(s, "Note: {note}\n");
    }

    let failures: Vec<String> = rows
        .iter()
        .flat_map(|r| {
            r.outcomes.iter().filter_map(move |(p, o)| match o {
                Outcome::Failed(e) => Some(format!("- {} {}: {e}", p.as_str(), r.cell)),
                _ => None,
            })
        })
        .collect();
    if !failures.is_empty() {
        let _ = writeln!(s, "Failed cells:\n\n{}\n", failures.join("\n"));
    }

    let targets = targets(rows);
    if !targets.is_empty() {
        let _ = writeln!(s, "| target | cell | measured | required | met |");
        let _ = writeln!(s, "|---|---|---:|---:|---|");
        for t in &targets {
            let met = match t.ceiling {
                _ if t.met => "yes".to_owned(),
                Some(c) if c < t.required => {
                    format!("**no**: the bare socket reaches {c:.2}× here")
                }
                _ if t.ratio >= t.required * (1.0 - NOISE) => {
                    "**no** (within run-to-run noise)".to_owned()
                }
                _ => "**no**".to_owned(),
            };
            let _ = writeln!(
                s,
                "| {} | {} | {:.2}× | {:.0}× | {met} |",
                t.target, t.cell, t.ratio, t.required
            );
        }
    }
    s
}

/// The `--json` document: `{machine, quick, notes, results, targets}`, each
/// result in `node-bench.js baseline`'s shape plus the cell, `pair` and
/// `pinned`.
pub fn json(machine: &Machine, rows: &[Row], notes: &[String], quick: bool) -> Value {
    let mut results = Vec::new();
    for r in rows {
        let c = &r.cell;
        for (pair, o) in &r.outcomes {
            let mut v = json!({
                "pair": pair,
                "serialization": c.serialization,
                "mode": mode_str(c.mode),
                "direction": c.direction,
                "size": c.size,
                "count": c.count,
                "payloadBytes": c.payload(),
                "pinned": c.pinned,
            });
            let obj = v.as_object_mut().expect("an object");
            match o {
                Outcome::Ok(m) => {
                    if let Value::Object(m) = json!(m) {
                        obj.extend(m);
                    }
                }
                Outcome::Skipped(why) => {
                    obj.insert("skipped".into(), why.as_str().into());
                }
                Outcome::Failed(e) => {
                    obj.insert("error".into(), e.as_str().into());
                }
            }
            results.push(v);
        }
    }
    json!({
        "machine": machine,
        "quick": quick,
        "notes": notes,
        "results": results,
        "targets": targets(rows),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throughput_row(serialization: SerializationArg, size: Size, rust_rust: f64) -> Row {
        let m = |msgs_per_sec| {
            Outcome::Ok(Measured::Throughput {
                seconds: 1.0,
                msgs_per_sec,
                mb_per_sec: 0.0,
            })
        };
        Row {
            cell: Cell {
                serialization,
                mode: Mode::Throughput,
                direction: Some(Direction::C2p),
                size,
                count: 1,
                pinned: false,
            },
            outcomes: vec![
                (Pair::RustRust, m(rust_rust)),
                (Pair::RustNode, m(1.0)),
                (Pair::NodeNode, m(1.0)),
            ],
        }
    }

    /// (target, required, met) of each target of `row`.
    fn checked(row: Row) -> Vec<(String, f64, bool)> {
        targets(&[row])
            .into_iter()
            .map(|t| (t.target, t.required, t.met))
            .collect()
    }

    #[test]
    fn advanced_rows_get_issue_5_targets_and_json_rows_keep_theirs() {
        use SerializationArg::{Advanced, Json};
        let rr = |s: &str, required, met| (s.to_owned(), required, met);
        let rn = rr("Rust→Node ≥ Node↔Node msgs/s", 1.0, true);
        assert_eq!(
            checked(throughput_row(Advanced, Size::K64, 2.9)),
            [
                rr("Rust↔Rust ≥ 3× Node↔Node (64 KiB objects)", 3.0, false),
                rn.clone()
            ]
        );
        assert_eq!(
            checked(throughput_row(Advanced, Size::M1Buf, 5.0)),
            [
                rr("Rust↔Rust ≥ 5× Node↔Node (1 MiB Buffers)", 5.0, true),
                rn.clone()
            ]
        );
        // The json targets on tiny and 1 MiB are not advanced's.
        for size in [Size::Tiny, Size::M1] {
            assert_eq!(
                checked(throughput_row(Advanced, size, 1.0)),
                vec![rn.clone()]
            );
        }
        assert_eq!(
            checked(throughput_row(Json, Size::M1, 2.0)),
            [
                rr("Rust↔Rust ≥ 2× Node↔Node MB/s (1 MiB)", 2.0, true),
                rn.clone()
            ]
        );
        assert_eq!(checked(throughput_row(Json, Size::K64, 1.0)), [rn]);
    }

    #[test]
    fn a_target_above_the_bare_socket_says_so() {
        let mut row = throughput_row(SerializationArg::Advanced, Size::M1Buf, 3.5);
        let socket = Measured::Throughput {
            seconds: 1.0,
            msgs_per_sec: 4.0,
            mb_per_sec: 0.0,
        };
        row.outcomes.push((Pair::Socket, Outcome::Ok(socket)));
        let t = targets(std::slice::from_ref(&row));
        assert_eq!(t[0].ceiling, Some(4.0));
        assert_eq!(t[1].ceiling, None, "Rust→Node targets have none");
        let machine = Machine {
            cpu: "cpu".into(),
            nproc: 2,
            kernel: "k".into(),
            node: "v20".into(),
            date: "d".into(),
        };
        let md = markdown(&machine, &[row], &Pair::ALL, &[], false);
        assert!(
            md.contains("| 3.50× | 5× | **no**: the bare socket reaches 4.00× here |"),
            "{md}"
        );
        assert!(md.contains("| socket msgs/s | socket MB/s |"), "{md}");
        assert!(md.contains("socket ÷ Node↔Node"), "{md}");
    }

    #[test]
    fn int_groups_thousands_like_to_locale_string() {
        assert_eq!(int(0.4), "0");
        assert_eq!(int(999.0), "999");
        assert_eq!(int(1000.0), "1,000");
        assert_eq!(int(1234567.6), "1,234,568");
    }
}
