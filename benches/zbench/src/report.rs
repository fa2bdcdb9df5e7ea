//! Medians, ratios and the Markdown report of `zbench all`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

use crate::machine::Machine;
use crate::runner::{AllArgs, Bench, Peer};

/// Every JSON line and failure, by figure and implementation.
#[derive(Default, Debug)]
pub struct Results {
    lines: BTreeMap<(Bench, Peer), Vec<Value>>,
    failures: BTreeMap<(Bench, Peer), Vec<String>>,
}

/// One row of the table.
#[derive(Debug)]
pub struct Figure {
    pub bench: Bench,
    pub medians: BTreeMap<Peer, f64>,
}

pub fn median(xs: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

impl Results {
    pub fn push(&mut self, bench: Bench, peer: Peer, v: Value) {
        self.lines.entry((bench, peer)).or_default().push(v);
    }

    pub fn fail(&mut self, bench: Bench, peer: Peer, e: String) {
        self.failures.entry((bench, peer)).or_default().push(e);
    }

    fn values(&self, bench: Bench, peer: Peer, key: &str) -> Vec<f64> {
        self.lines
            .get(&(bench, peer))
            .map(|ls| {
                ls.iter()
                    .filter_map(|l| l.get(key).and_then(Value::as_f64))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn figure(&self, bench: Bench, peers: &[Peer]) -> Figure {
        let medians = peers
            .iter()
            .filter_map(|&p| median(&self.values(bench, p, bench.key())).map(|m| (p, m)))
            .collect();
        Figure { bench, medians }
    }

    /// A string field of any JSON line of `peer` (versions).
    fn meta(&self, peer: Peer, key: &str) -> Option<String> {
        self.lines
            .iter()
            .filter(|((_, p), _)| *p == peer)
            .flat_map(|(_, ls)| ls.iter())
            .find_map(|l| l.get(key).and_then(Value::as_str).map(str::to_string))
    }
}

/// The target for zgreen's figure (all lower-is-better).
fn target(bench: Bench) -> (f64, &'static str) {
    match bench {
        Bench::Spawn => (1000.0, "≤ 1 µs"),
        Bench::Yield => (60.0, "≤ 60 ns"),
        Bench::Rss => (8.0 * 1024.0, "≤ 8 KiB"),
        _ => (f64::NAN, "see the suite tables"),
    }
}

fn title(bench: Bench, args: &AllArgs) -> String {
    let s = &args.sizes;
    match bench {
        Bench::Spawn => format!(
            "spawn + join, ns per greenlet ({} in batches of {})",
            s.total, s.batch
        ),
        Bench::Yield => format!("sleep(0) / yield ping-pong, ns per yield ({} yields)", s.yields),
        Bench::Rss => format!("RSS per parked greenlet ({} live)", s.count),
        other => other.name().to_string(),
    }
}

fn fmt_value(bench: Bench, x: f64) -> String {
    match bench {
        Bench::Spawn | Bench::Yield if x >= 100.0 => format!("{x:.0} ns"),
        Bench::Spawn | Bench::Yield => format!("{x:.1} ns"),
        Bench::Rss => format!("{:.2} KiB", x / 1024.0),
        _ => format!("{x:.1}"),
    }
}

/// `peer ÷ zgreen`, and which side is better (every figure is
/// lower-is-better).
fn fmt_ratio(bench: Bench, zgreen: f64, peer: f64) -> String {
    let r = peer / zgreen;
    let (better, worse) = match bench {
        Bench::Rss => ("less memory", "more memory"),
        _ => ("faster", "slower"),
    };
    if r >= 1.0 {
        format!("{r:.2} (zgreen {r:.2}× {better})")
    } else {
        format!("{r:.2} (zgreen {:.2}× {worse})", 1.0 / r)
    }
}

pub fn markdown(
    m: &Machine,
    res: &Results,
    figures: &[Figure],
    peers: &[Peer],
    args: &AllArgs,
    cmdline: &str,
) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "### Machine\n");
    let _ = writeln!(o, "- CPU: {} (`nproc` = {})", m.cpu_model, m.nproc);
    let _ = writeln!(
        o,
        "- kernel: {}; vm.max_map_count = {}",
        m.kernel, m.max_map_count
    );
    let _ = writeln!(
        o,
        "- {}; may {}",
        m.rustc,
        may_version().unwrap_or_else(|| "?".into())
    );
    if let (Some(g), Some(p)) = (res.meta(Peer::Gevent, "gevent"), res.meta(Peer::Gevent, "python")) {
        let _ = writeln!(o, "- gevent {g} on CPython {p}");
    }
    let _ = writeln!(
        o,
        "- load average (1, 5, 15 min) at start: {}; at end: {}",
        m.loadavg,
        crate::machine::loadavg()
    );
    let _ = writeln!(o, "- command: `{cmdline}`");
    let _ = writeln!(
        o,
        "- {} run(s) per implementation and figure, each in its own process, implementations interleaved; medians shown",
        args.runs
    );

    let _ = writeln!(o, "- {}", crate::suite::versions(&crate::runner::python(args)));
    let _ = writeln!(o);
    if figures.is_empty() {
        return o;
    }
    let others: Vec<Peer> = peers.iter().copied().filter(|&p| p != Peer::Zgreen).collect();
    let _ = writeln!(o, "### Medians (lower is better for every figure)\n");
    let mut head = String::from("| figure |");
    let mut rule = String::from("|---|");
    for p in peers {
        let _ = write!(head, " {} |", p.name());
        rule.push_str("---:|");
    }
    if peers.contains(&Peer::Zgreen) {
        for p in &others {
            let _ = write!(head, " {} ÷ zgreen |", p.name());
            rule.push_str("---|");
        }
        head.push_str(" issue target (zgreen) |");
        rule.push_str("---|");
    }
    let _ = writeln!(o, "{head}\n{rule}");
    for f in figures {
        let mut row = format!("| {} |", title(f.bench, args));
        for p in peers {
            match f.medians.get(p) {
                Some(&x) => {
                    let _ = write!(row, " {} |", fmt_value(f.bench, x));
                }
                None => row.push_str(" n/a |"),
            }
        }
        if let Some(&z) = f.medians.get(&Peer::Zgreen) {
            for p in &others {
                match f.medians.get(p) {
                    Some(&x) => {
                        let _ = write!(row, " {} |", fmt_ratio(f.bench, z, x));
                    }
                    None => row.push_str(" n/a |"),
                }
            }
            let (t, label) = target(f.bench);
            let verdict = if z <= t { "**met**" } else { "**not met**" };
            let _ = write!(row, " {label}: {verdict} |");
        } else if peers.contains(&Peer::Zgreen) {
            for _ in &others {
                row.push_str(" n/a |");
            }
            row.push_str(" n/a |");
        }
        let _ = writeln!(o, "{row}");
    }
    let _ = writeln!(
        o,
        "\nRatios are peer ÷ zgreen: above 1 zgreen is better, below 1 the peer is.\n"
    );

    let _ = writeln!(o, "### Every run (in run order)\n");
    let _ = writeln!(o, "| figure | impl | runs | min – max |\n|---|---|---|---|");
    for f in figures {
        for &p in peers {
            let xs = res.values(f.bench, p, f.bench.key());
            let list: Vec<String> = xs.iter().map(|&x| fmt_value(f.bench, x)).collect();
            let (lo, hi) = xs.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
                (a.min(x), b.max(x))
            });
            let spread = if xs.is_empty() {
                "n/a".to_string()
            } else {
                format!("{} – {}", fmt_value(f.bench, lo), fmt_value(f.bench, hi))
            };
            let list = if list.is_empty() {
                "none".to_string()
            } else {
                list.join(", ")
            };
            let _ = writeln!(o, "| {} | {} | {list} | {spread} |", f.bench.name(), p.name());
        }
    }
    // Detail figures that help to read the medians.
    let _ = writeln!(o, "\n### Details (medians)\n");
    for f in figures {
        for &p in peers {
            let detail: Vec<String> = match f.bench {
                Bench::Spawn => ["first_batch_ns_per_op", "later_batches_ns_per_op"]
                    .iter()
                    .filter_map(|k| median(&res.values(f.bench, p, k)).map(|x| format!("{k} = {x:.0}")))
                    .collect(),
                Bench::Rss => {
                    let whole = [
                        "count",
                        "live_greenlets",
                        "stack_bytes",
                        "maps_after",
                        "stack_mappings",
                    ];
                    let frac = [
                        "stack_pages_resident_mean",
                        "stack_lowest_page_resident",
                        "stack_highest_page_resident",
                    ];
                    let med = |k: &&str| median(&res.values(f.bench, p, k));
                    let whole = whole
                        .iter()
                        .filter_map(|k| med(k).map(|x| format!("{k} = {x:.0}")));
                    let frac = frac
                        .iter()
                        .filter_map(|k| med(k).map(|x| format!("{k} = {x:.2}")));
                    whole.chain(frac).collect()
                }
                _ => Vec::new(),
            };
            let detail: Vec<String> = match (p, median(&res.values(f.bench, p, "pool_capacity"))) {
                (Peer::May, Some(c)) => detail
                    .into_iter()
                    .chain([format!("pool_capacity = {c:.0}")])
                    .collect(),
                _ => detail,
            };
            if !detail.is_empty() {
                let _ = writeln!(o, "- {} {}: {}", f.bench.name(), p.name(), detail.join(", "));
            }
        }
    }
    if !res.failures.is_empty() {
        let _ = writeln!(o, "\n### Failures\n");
        for ((b, p), es) in &res.failures {
            for e in es {
                let _ = writeln!(o, "- {} {}: {e}", b.name(), p.name());
            }
        }
    }
    o
}

/// The `may` version from the workspace's Cargo.lock.
fn may_version() -> Option<String> {
    lock_version("may")
}

/// A crate's version from the workspace's Cargo.lock.
pub fn lock_version(name: &str) -> Option<String> {
    let lock = std::fs::read_to_string(crate::repo_root().join("Cargo.lock")).ok()?;
    let mut lines = lock.lines();
    let want = format!("name = \"{name}\"");
    while let Some(l) = lines.next() {
        if l.trim() == want {
            let v = lines.next()?;
            return v
                .trim()
                .strip_prefix("version = \"")?
                .strip_suffix('"')
                .map(str::to_string);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[f64::NAN]), None);
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn ratio_says_which_side_is_better() {
        assert_eq!(fmt_ratio(Bench::Spawn, 1.0, 2.0), "2.00 (zgreen 2.00× faster)");
        assert_eq!(fmt_ratio(Bench::Yield, 2.0, 1.0), "0.50 (zgreen 2.00× slower)");
        assert_eq!(fmt_ratio(Bench::Rss, 4.0, 2.0), "0.50 (zgreen 2.00× more memory)");
    }
}
