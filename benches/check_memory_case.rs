//! Writes the input of `benches/check_memory.sh`: the demo scaled up to a routing table of
//! `--routes` rows (1,000,000 by default) and a snapshot directory with evidence for every
//! recipient, so that `reachcheck check` runs as a whole process on a national-scale input.
//!
//! ```text
//! cargo run --release --example check-memory-case -- --out DIR [--routes N]
//! ```
//!
//! How: the demo's snapshot (`examples/demo/snapshot`) is copied as many times as needed,
//! each copy with every organisation number of the demo replaced by a synthetic one of its
//! own (bodies from 40000000 upwards), in file names and file contents alike; the files that
//! belong to no organisation (the resource registry, the manifest) are copied once, and the
//! access list's members are the members of every copy. Each copy's recipients receive the
//! demo's message types from all twelve police districts, so every route is a distinct
//! (sender, message type, recipient) triple and every copy judges like the demo. Written
//! into `DIR/routes.csv` and `DIR/snapshot/`; `DIR` must not exist yet. All data is as
//! SYNTHETIC as the demo's.

// A measurement's setup, not a product path: a failure should stop it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use reachcheck::OrgNumber;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every file under `dir`, as paths relative to `dir`, sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

/// The nine-digit numbers in `s` (whole digit runs only).
fn nine_digit_runs(s: &str) -> Vec<(usize, usize)> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i - start == 9 {
                out.push((start, i));
            }
        } else {
            i += 1;
        }
    }
    out
}

/// `s` with every organisation number in `map` replaced.
fn remap(s: &str, map: &BTreeMap<&str, String>) -> String {
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    for (a, b) in nine_digit_runs(s) {
        if let Some(to) = map.get(&s[a..b]) {
            out.push_str(&s[last..a]);
            out.push_str(to);
            last = b;
        }
    }
    out.push_str(&s[last..]);
    out
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut out, mut routes) = (None, 1_000_000usize);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--out" => out = args.next().map(PathBuf::from),
            "--routes" => {
                routes = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("--routes N")
            }
            other => panic!("unknown argument `{other}`: use --out DIR [--routes N]"),
        }
    }
    let out = out.expect("--out DIR");
    assert!(!out.exists(), "`{}` exists already", out.display());
    let demo = root().join("examples/demo");
    let snapshot = demo.join("snapshot");

    // The demo's routes, recipients in order of first appearance, and the senders.
    let text = std::fs::read_to_string(demo.join("routes.csv")).unwrap();
    let mut senders: Vec<String> = Vec::new();
    let mut recipients: Vec<(String, Vec<String>)> = Vec::new();
    for line in text.lines().skip(1) {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        if !senders.iter().any(|s| s == f[0]) {
            senders.push(f[0].to_owned());
        }
        match recipients.iter_mut().find(|(r, _)| r == f[2]) {
            Some((_, types)) if !types.iter().any(|t| t == f[1]) => types.push(f[1].to_owned()),
            Some(_) => {}
            None => recipients.push((f[2].to_owned(), vec![f[1].to_owned()])),
        }
    }
    let per_copy: usize = recipients.iter().map(|(_, t)| t.len()).sum::<usize>() * senders.len();
    let copies = routes.div_ceil(per_copy);

    // Every organisation number the demo's per-organisation files are named after, and the
    // recipients (one has no file: `no_data`).
    let all = files(&snapshot);
    let mut orgs: BTreeSet<String> = recipients.iter().map(|(r, _)| r.clone()).collect();
    for f in &all {
        let s = f.to_string_lossy();
        for (a, b) in nine_digit_runs(&s) {
            if OrgNumber::parse(&s[a..b]).is_ok() {
                orgs.insert(s[a..b].to_owned());
            }
        }
    }
    let orgs: Vec<&str> = orgs.iter().map(String::as_str).collect();
    let mut pool = (40_000_000u32..).filter_map(OrgNumber::from_body);
    let maps: Vec<BTreeMap<&str, String>> = (0..copies)
        .map(|_| {
            orgs.iter()
                .map(|&o| (o, pool.next().unwrap().to_string()))
                .collect()
        })
        .collect();

    let dst = out.join("snapshot");
    std::fs::create_dir_all(&dst).unwrap();
    let mut written = 0usize;
    for f in &all {
        let rel = f.to_string_lossy();
        if rel == "README.md" {
            continue;
        }
        let body = std::fs::read_to_string(snapshot.join(f)).unwrap();
        let per_org = nine_digit_runs(&rel)
            .iter()
            .any(|&(a, b)| maps[0].contains_key(&rel[a..b]));
        let targets: Vec<(String, String)> = if per_org {
            maps.iter()
                .map(|m| (remap(&rel, m), remap(&body, m)))
                .collect()
        } else if f.ends_with("members.json") {
            // The list's members: those of every copy.
            let mut v: serde_json::Value = serde_json::from_str(&body).unwrap();
            let data = v["data"].as_array().unwrap().clone();
            let mut all_members = Vec::with_capacity(data.len() * copies);
            for m in &maps {
                for e in &data {
                    let s = remap(&e.to_string(), m);
                    all_members.push(serde_json::from_str::<serde_json::Value>(&s).unwrap());
                }
            }
            v["data"] = serde_json::Value::Array(all_members);
            vec![(rel.into_owned(), serde_json::to_string_pretty(&v).unwrap())]
        } else {
            vec![(rel.into_owned(), body)]
        };
        for (path, body) in targets {
            let path = dst.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, body).unwrap();
            written += 1;
        }
    }

    let mut csv = String::with_capacity(routes * 42);
    csv.push_str("sender,message_type,recipient\n");
    let mut n = 0;
    'copies: for m in &maps {
        for (r, types) in &recipients {
            for t in types {
                for s in &senders {
                    if n == routes {
                        break 'copies;
                    }
                    writeln!(csv, "{s},{t},{}", m[r.as_str()]).unwrap();
                    n += 1;
                }
            }
        }
    }
    std::fs::write(out.join("routes.csv"), csv).unwrap();
    println!(
        "{n} routes to {} recipients ({copies} copies of the demo's {}), {written} snapshot files in {}",
        copies * recipients.len(),
        recipients.len(),
        dst.display()
    );
}
