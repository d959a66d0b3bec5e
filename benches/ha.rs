//! Several instances on one PostgreSQL store (issue 21 targets): the time from a sweep of
//! 1,000,000 routes recorded to an instance that does not sweep answering from it (≤ 1 s),
//! and the time from the sweeper killed with SIGKILL to another instance holding the lease
//! (≤ `daemon.lease` + 5 s, with the default lease of 30 s).
//!
//! Needs `REACHCHECK_TEST_POSTGRES` (`scripts/test-postgres start DIR`; the password in
//! `REACHCHECK_TEST_POSTGRES_PASSWORD_FILE`); skipped without it. A database is made for the
//! run and dropped after. The synthetic nation of `benches/engine.rs` (1,000,000 routes) is
//! judged in this process and its first sweep recorded (both steps, timed). Following: this
//! process takes the sweeper's lease itself, so that the instance it starts (`reachcheck
//! serve` on the same store, its routes and an empty snapshot, `--interval 87600h`) only
//! follows; it then records `RUNS` sweeps (`Store::record_answers`, then the history), each
//! with the verdict of one (message type, recipient) pair in a hundred turned, and polls the
//! instance's `/readyz` every 5 ms from each commit until it answers from that sweep (told
//! by `LISTEN`, it applies the sweep's changes to the answers it holds). Takeover: this process gives the lease up, the instance takes it; a second
//! instance starts; the first is killed with SIGKILL, and `/readyz` of the second is polled
//! every 20 ms until it holds the lease.
//!
//! Run with `REACHCHECK_TEST_POSTGRES=… cargo bench --bench ha`. Options through the
//! environment: `ROUTES` (1,000,000), `RUNS` (5).

mod common;

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{PgDatabase, env_or, get, load_average, ts, wait_ready};
use jiff::Timestamp;
use reachcheck::engine::DEFAULT_MAX_DATA_AGE;
use reachcheck::model::Verdict;
use reachcheck::{Engine, evaluate};

const TOKEN: &str = "bench-token-0123456789abcdef";

/// A `reachcheck serve` on the store, killed when dropped.
struct Instance {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Instance {
    fn start(db: &PgDatabase, dir: &std::path::Path, name: &str) -> Instance {
        let log = std::fs::File::create(dir.join(format!("{name}.log")))
            .unwrap_or_else(|e| panic!("{e}"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_reachcheck"))
            .current_dir(dir)
            .env("REACHCHECK_API_TOKENS", format!("bench:{TOKEN}"))
            .env("PGPASSWORD", &db.password)
            .arg("serve")
            .arg("--policies")
            .arg(common::root().join("policies"))
            .arg("--routes")
            .arg(dir.join("routes.csv"))
            .arg("--snapshot")
            .arg(dir.join("snapshot"))
            .args(["--store", &db.url, "--listen", "127.0.0.1:0"])
            .args(["--now", common::NOW, "--interval", "87600h"])
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("reachcheck serve: {e}"));
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap_or_else(|| panic!("no stdout")))
            .read_line(&mut first)
            .unwrap_or_else(|e| panic!("{e}"));
        let addr = first
            .trim()
            .strip_prefix("listening on http://")
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line `{}`", first.trim()));
        wait_ready(
            addr,
            &mut child,
            Duration::from_millis(5),
            Duration::from_secs(120),
        );
        Instance { child, addr }
    }

    /// `/readyz`: the sweep answered from, and whether this instance holds the lease.
    fn ready(&self) -> (Option<i64>, bool) {
        let Some((_, body)) = get(self.addr, "/readyz") else {
            return (None, false);
        };
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        (v["sweep_id"].as_i64(), v["lease"]["held"] == true)
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let Some(db) = PgDatabase::new("ha") else {
        println!("ha: skipped (REACHCHECK_TEST_POSTGRES is not set)");
        return;
    };
    let routes = env_or("ROUTES", 1_000_000) as usize;
    let runs = env_or("RUNS", 5).max(1) as usize;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let policies = common::policies();
    let (snapshot, orgs) = common::national(common::units_for(&policies, routes));
    let (csv, table) = common::national_routes(&policies, &orgs, routes);
    std::fs::write(dir.path().join("routes.csv"), csv).unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir_all(dir.path().join("snapshot")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        dir.path().join("snapshot/manifest.json"),
        format!("{{\"taken_at\": \"{}\"}}\n", common::TAKEN_AT),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let taken_at = snapshot.taken_at;
    let engine = Engine::new(policies, Arc::new(snapshot), DEFAULT_MAX_DATA_AGE);
    let evaluation = evaluate(&engine, &table, ts(common::NOW));
    let mut store = db.open();
    // This process sweeps: the instances it starts only follow.
    let mine = store
        .claim_lease("bench", Duration::from_secs(3600))
        .unwrap_or_else(|e| panic!("{e}"));
    store.set_fence(Some(mine.fence()));
    let mut record = |evaluation: &reachcheck::engine::Evaluation| {
        let id = store
            .begin_sweep(Timestamp::now(), "bench")
            .unwrap_or_else(|e| panic!("{e}"));
        let t = Instant::now();
        store
            .record_answers(id, Timestamp::now(), taken_at, evaluation)
            .unwrap_or_else(|e| panic!("{e}"));
        let (committed, answers) = (Instant::now(), t.elapsed());
        let t = Instant::now();
        store
            .write_history(Some((id, evaluation)))
            .unwrap_or_else(|e| panic!("{e}"));
        (id, committed, answers, t.elapsed())
    };
    let (_, _, answers, history) = record(&evaluation);
    println!(
        "ha: {routes} routes: first sweep recorded in {:.2} s, its history in {:.2} s",
        answers.as_secs_f64(),
        history.as_secs_f64()
    );
    let follower = Instance::start(&db, dir.path(), "follower");
    let mut followed = Vec::new();
    let mut changed = 0;
    for run in 0..runs {
        // Each sweep turns the verdict of one (message type, recipient) pair in a hundred,
        // a different hundredth each time.
        let mut next = evaluation.clone();
        for a in next.assessments.iter_mut().skip(run % 100).step_by(100) {
            a.verdict = match a.verdict {
                Verdict::Readable => Verdict::NotReadable,
                _ => Verdict::Readable,
            };
            changed += 1;
        }
        let (id, committed, _, _) = record(&next);
        // The history is written after the commit: the follower is timed from the commit.
        while follower.ready().0 != Some(id) {
            assert!(
                committed.elapsed() < Duration::from_secs(60),
                "not followed within a minute"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        followed.push(committed.elapsed());
    }
    println!(
        "ha: a sweep recorded to the other instance answering from it: median {:.0} ms, \
         worst {:.0} ms over {runs}, each changing {} of {} pairs (target ≤ 1 s; load {})",
        median(followed.clone()).as_secs_f64() * 1e3,
        followed.iter().max().map_or(0.0, |d| d.as_secs_f64() * 1e3),
        changed / runs,
        evaluation.assessments.len(),
        load_average()
    );

    // Takeover: the follower takes the lease this process gives up; a second instance
    // starts; the first is killed.
    store
        .release_lease(&mine.fence())
        .unwrap_or_else(|e| panic!("{e}"));
    let begun = Instant::now();
    while !follower.ready().1 {
        assert!(
            begun.elapsed() < Duration::from_secs(60),
            "nobody took the lease"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let second = Instance::start(&db, dir.path(), "second");
    let mut killed = follower;
    let _ = killed.child.kill();
    let _ = killed.child.wait();
    let begun = Instant::now();
    while !second.ready().1 {
        assert!(
            begun.elapsed() < Duration::from_secs(120),
            "no takeover within two minutes"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    println!(
        "ha: takeover after SIGKILL of the sweeper: {:.1} s (lease 30 s; target ≤ 35 s)",
        begun.elapsed().as_secs_f64()
    );
    drop(killed);
}
