//! Several instances on one PostgreSQL store (issue 21 targets): the time from a sweep of
//! 1,000,000 routes recorded to an instance that does not sweep answering from it (≤ 1 s),
//! and the time from the sweeper killed with SIGKILL to another instance holding the lease
//! (≤ `daemon.lease` + 5 s, with the default lease of 30 s); and the pre-send throughput of
//! three instances answering from one sweep, against one (no target).
//!
//! Needs `REACHCHECK_TEST_POSTGRES` (`scripts/test-postgres start DIR`; the password in
//! `REACHCHECK_TEST_POSTGRES_PASSWORD_FILE`); skipped without it. A database is made for the
//! run and dropped after. The synthetic nation of `benches/engine.rs` (1,000,000 routes) is
//! judged in this process and its first sweep recorded (both steps, timed). Following: this
//! process takes the sweeper's lease itself, so that the instance it starts (`reachcheck
//! serve` on the same store, its routes and an empty snapshot, `--interval 87600h`) only
//! follows; it then records `RUNS` sweeps (`Store::record_answers`, then the history), each
//! with the verdict of one (message type, recipient) pair in a hundred turned, and polls the
//! instance's `/readyz` every 5 ms from the commit of each sweep's answers until it answers
//! from that sweep (told by `LISTEN`, it applies the sweep's changes to the answers it
//! holds), on a thread of its own while this process writes the sweep's history. Takeover: this
//! process gives the lease up, the instance takes it; a second instance starts; the first
//! is killed with SIGKILL, and `/readyz` of the second is polled every 20 ms until it holds
//! the lease.
//!
//! Pre-send throughput: the instance that took the lease over and two more started on the
//! same store (which only follow), once all three `/readyz` name the last sweep recorded.
//! For each connection count, the closed-loop load generator of `http_api`
//! (`common::closed_loop`: keep-alive HTTP/1.1 connections, one request at a time, bodies
//! serialised beforehand) spreads its connections round-robin over the three; then the
//! same load goes to the lease holder alone, for comparison. The bodies are 100,000 routes
//! picked at random from the recorded routing table, so every answer is a verdict from
//! memory. Each row gives requests per second, p50/p99/max latency, errors (any status but
//! 200, any failed request, any sampled body without a boolean `decision`), requests per
//! instance, how long after the row's end the audit table held every check answered
//! (each instance queues its audit rows and inserts them in batches; the next row waits
//! for them), the checks answered (warm-up included) per second from the row's start until
//! then (the lower of the request rate and the rate the audit writers insert at: what the
//! instances would sustain once their audit queues are full), and the CPU cores the
//! servers, this process, PostgreSQL and the whole machine used in the measured window
//! (what the machine used beyond the first three is other work). After the rows: the
//! verdicts of the sampled answers beside the sweep's (a `not_swept` among them would be a
//! route the sweep did not judge).
//!
//! Run with `REACHCHECK_TEST_POSTGRES=… cargo bench --bench ha`. Options through the
//! environment: `ROUTES` (1,000,000), `RUNS` (5), and for the throughput phase
//! `CONNECTIONS` (`16,32,64` in all; empty skips the phase), `DURATION_SECS` (10, per
//! row), `WARMUP_SECS` (2, per row), `CLIENT_THREADS` (the load generator's tokio worker
//! threads, 1).

mod common;

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{
    Load, Percentiles, PgDatabase, TOKEN, env_list, env_or, get, human, load_average, ts,
    wait_ready,
};
use jiff::Timestamp;
use reachcheck::engine::{DEFAULT_MAX_DATA_AGE, Summary};
use reachcheck::model::Verdict;
use reachcheck::{Engine, evaluate};

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
        ready_at(self.addr)
    }
}

/// `/readyz` of the instance at `addr`: the sweep answered from, and whether it holds the
/// lease.
fn ready_at(addr: SocketAddr) -> (Option<i64>, bool) {
    let Some((_, body)) = get(addr, "/readyz") else {
        return (None, false);
    };
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    (v["sweep_id"].as_i64(), v["lease"]["held"] == true)
}

/// From `committed`, polls the instance at `addr` every 5 ms until it answers from sweep
/// `id` (on a thread of its own, while the sweep's history is being written); the time.
fn time_following(
    addr: SocketAddr,
    id: i64,
    committed: Instant,
) -> std::thread::JoinHandle<Duration> {
    std::thread::spawn(move || {
        while ready_at(addr).0 != Some(id) {
            assert!(
                committed.elapsed() < Duration::from_secs(60),
                "not followed within a minute"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        committed.elapsed()
    })
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// One row of the throughput phase.
fn row(
    instances: usize,
    connections: usize,
    duration: Duration,
    load: &Load,
    (lag, audited_per_second): (Duration, f64),
) {
    let mut all = load.all();
    let p = Percentiles::of(&mut all.latencies);
    let per_instance: Vec<String> = load
        .per_target
        .iter()
        .map(|s| s.latencies.len().to_string())
        .collect();
    println!(
        "{instances:>9} {connections:>5} {:>10} {:>8.0} {:>9} {:>9} {:>9} {:>6} {:>7.1} s {audited_per_second:>9.0}  {:<26} {:.2} / {:.2} / {:.2} / {:.2}",
        p.n,
        p.n as f64 / duration.as_secs_f64(),
        human(p.p50),
        human(p.p99),
        human(p.max),
        all.errors(),
        lag.as_secs_f64(),
        per_instance.join(" / "),
        load.cores(load.watched_cpu[0]),
        load.cores(load.client_cpu),
        load.cores(load.watched_cpu[1]),
        load.cores(load.machine_cpu),
    );
}

/// The throughput phase: `instances` answering from `sweep`, the first of them alone for
/// comparison.
fn throughput(db: &PgDatabase, instances: &[&Instance], sweep: i64, csv: &str, judged: Summary) {
    let counts = env_list("CONNECTIONS", "16,32,64");
    if counts.is_empty() {
        return;
    }
    let duration = Duration::from_secs(env_or("DURATION_SECS", 10).max(1));
    let warmup = Duration::from_secs(env_or("WARMUP_SECS", 2));
    let threads = env_or("CLIENT_THREADS", 1).max(1) as usize;
    let begun = Instant::now();
    while instances.iter().any(|i| i.ready().0 != Some(sweep)) {
        assert!(
            begun.elapsed() < Duration::from_secs(60),
            "the instances did not all answer from sweep {sweep} within a minute"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let bodies = Arc::new(common::evaluation_bodies(csv, Some(100_000)));
    let store = db.open();
    let audited = store.audit_count().unwrap_or_else(|e| panic!("{e}"));
    let rt = common::client_runtime(threads);
    let all: Vec<SocketAddr> = instances.iter().map(|i| i.addr).collect();
    let pids: Vec<u32> = instances.iter().map(|i| i.child.id()).collect();
    println!(
        "ha: pre-send throughput, POST /access/v1/evaluation, {} instances on one PostgreSQL \
         store (one holds the lease) against the lease holder alone, all answering from \
         sweep {sweep}; {} bodies from its routes, {threads} client thread(s), {} s warm-up, \
         {} s measured per row; load average {}",
        instances.len(),
        bodies.len(),
        warmup.as_secs(),
        duration.as_secs(),
        load_average()
    );
    println!(
        "{:>9} {:>5} {:>10} {:>8} {:>9} {:>9} {:>9} {:>6} {:>9} {:>9}  {:<26} CPU cores: servers / client / PostgreSQL / machine",
        "instances",
        "conns",
        "requests",
        "req/s",
        "p50",
        "p99",
        "max",
        "errors",
        "audit lag",
        "audited/s",
        "requests per instance",
    );
    // Every answered check is an audit row, which each instance's audit writer inserts in
    // batches; its queue holds what PostgreSQL has not taken yet. A row starts once the
    // last one's checks are all written, so that one row's backlog does not slow the next,
    // and says how long after its end that took.
    let written = || store.audit_count().unwrap_or_else(|e| panic!("{e}")) - audited;
    let catch_up = |answered: u64| {
        let ended = Instant::now();
        while written() < answered && ended.elapsed() < Duration::from_secs(120) {
            std::thread::sleep(Duration::from_millis(50));
        }
        ended.elapsed()
    };
    let mut seen = common::Seen::default();
    for &c in &counts {
        for (addrs, pids) in [(&all[..], &pids[..]), (&all[..1], &pids[..1])] {
            let postgres = db.server_processes();
            let watched: [&[u32]; 2] = [pids, &postgres];
            let begun = Instant::now();
            let load = common::closed_loop(&rt, addrs, &watched, &bodies, c, warmup, duration);
            let got = load.all();
            seen.add(&got);
            let lag = catch_up(seen.answered);
            let rate = got.answered as f64 / begun.elapsed().as_secs_f64();
            row(addrs.len(), c, duration, &load, (lag, rate));
        }
    }
    drop(rt);
    let [readable, not_readable, unknown] = seen.verdicts;
    let share = |n: usize| n as f64 * 100.0 / judged.routes.max(1) as f64;
    println!(
        "ha: sampled answers: {} ({readable} readable, {not_readable} not readable, {unknown} \
         unknown; {} not swept; the sweep judged {:.0} % readable, {:.0} % not readable, \
         {:.0} % unknown); errors {} ({} not 200, {} failed, {} bad bodies)",
        seen.sampled,
        seen.not_swept,
        share(judged.readable),
        share(judged.not_readable),
        share(judged.unknown),
        seen.errors(),
        seen.non_200,
        seen.failed,
        seen.bad_body,
    );
    println!(
        "ha: audit rows written: {} of {} checks answered (warm-ups included); load average \
         after: {}",
        written(),
        seen.answered,
        load_average()
    );
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
    std::fs::write(dir.path().join("routes.csv"), &csv).unwrap_or_else(|e| panic!("{e}"));
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
    // Records a sweep in its two steps; `follower`, when given, is timed from the first
    // step's commit to answering from the sweep, while the second is written.
    let mut record = |evaluation: &reachcheck::engine::Evaluation, follower: Option<SocketAddr>| {
        let id = store
            .begin_sweep(Timestamp::now(), "bench")
            .unwrap_or_else(|e| panic!("{e}"));
        let t = Instant::now();
        store
            .record_answers(id, Timestamp::now(), taken_at, evaluation)
            .unwrap_or_else(|e| panic!("{e}"));
        let (committed, answers) = (Instant::now(), t.elapsed());
        let timer = follower.map(|addr| time_following(addr, id, committed));
        let t = Instant::now();
        store
            .write_history(Some((id, evaluation)))
            .unwrap_or_else(|e| panic!("{e}"));
        let history = t.elapsed();
        let followed = timer.map(|t| t.join().unwrap_or_else(|_| panic!("not followed")));
        (id, followed, answers, history)
    };
    let (_, _, answers, history) = record(&evaluation, None);
    println!(
        "ha: {routes} routes: first sweep recorded in {:.2} s, its history in {:.2} s",
        answers.as_secs_f64(),
        history.as_secs_f64()
    );
    let follower = Instance::start(&db, dir.path(), "follower");
    let mut followed = Vec::new();
    let mut changed = 0;
    let mut last = 0;
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
        let (id, took, _, _) = record(&next, Some(follower.addr));
        last = id;
        followed.extend(took);
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

    // Three instances answering: the one that took the lease over and two that follow.
    let third = Instance::start(&db, dir.path(), "third");
    let fourth = Instance::start(&db, dir.path(), "fourth");
    throughput(
        &db,
        &[&second, &third, &fourth],
        last,
        &csv,
        evaluation.summary(),
    );
}
