//! Several daemons on one PostgreSQL store (issue 21), as processes. Three instances of
//! `reachcheck serve` on the demo: one holds the sweeper's lease and sweeps, every one
//! answers from the latest sweep soon after its recording; the sweeper paused (SIGSTOP)
//! past its lease in the middle of a sweep, another takes over, and when the paused one
//! resumes (SIGCONT) its write is refused; the sweeper killed with SIGKILL, another takes
//! over within the lease and the store stays whole. Two instances under a stream of checks
//! while their PostgreSQL server is stopped and started: every check answered, sweeps
//! resume, no audit row lost.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use reachcheck::store::{Store, SweepRecord, SweepStatus};
use serde_json::Value;

use crate::daemon::TOKEN;
use crate::fixture::{Proc, start};
use crate::store::{PgDatabase, pg_server};

/// The lease the instances take (short, so that the test waits seconds, not half minutes).
const LEASE_S: u64 = 3;
/// How long each sweep waits between judging and recording (the test-only delay), so that
/// the sweeper can be paused in the middle of a sweep.
const RECORD_DELAY_MS: u64 = 2500;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The demo's configuration with the store `url` and instance `name`.
fn config(dir: &Path, url: &str, password_file: &Path, name: &str) -> PathBuf {
    let r = root();
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(
        &file,
        format!(
            "policies = {:?}\nroutes = {:?}\nsnapshot = {:?}\nnow = \"2026-11-21T06:00:00Z\"\n\
             max_data_age = \"24h\"\n\n[daemon]\nstore = {url:?}\nstore_password_file = {:?}\n\
             interval = \"1s\"\ninstance = {name:?}\nlease = \"{LEASE_S}s\"\n",
            r.join("policies"),
            r.join("examples/demo/routes.csv"),
            r.join("examples/demo/snapshot"),
            password_file,
        ),
    )
    .unwrap();
    file
}

fn instance(dir: &Path, config: &Path, name: &str) -> Proc {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_reachcheck"));
    cmd.current_dir(dir)
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(config)
        .env("REACHCHECK_API_TOKENS", format!("tests:{TOKEN}"))
        .env("REACHCHECK_LOG", "info")
        .env(
            reachcheck::daemon::RECORD_DELAY_ENV,
            RECORD_DELAY_MS.to_string(),
        )
        .env("NO_COLOR", "1");
    start(cmd, dir.join(format!("{name}.log")))
}

/// `/readyz` of an instance, whatever its status (`None`: it does not answer).
async fn ready(c: &reqwest::Client, p: &Proc) -> Option<Value> {
    c.get(format!("{}/readyz", p.base))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()
}

/// The store's latest sweeps, newest first (read on a blocking thread: the client blocks).
async fn sweeps_now(db: &PgDatabase) -> Vec<SweepRecord> {
    let (config, shown) = (db.config.clone(), db.shown());
    tokio::task::spawn_blocking(move || {
        Store::open_postgres_existing(&config, &shown)
            .unwrap()
            .sweeps(50)
            .unwrap()
    })
    .await
    .unwrap()
}

/// Waits until `p` is in the middle of a sweep (judged, waiting to record: the test-only
/// delay), and returns that sweep's id.
async fn mid_sweep(db: &PgDatabase, p: &Proc) -> i64 {
    let marker = "test delay before recording";
    let seen = p.log().matches(marker).count();
    until(Duration::from_secs(20), "the sweeper judging", || {
        let n = p.log().matches(marker).count();
        async move { n > seen }
    })
    .await;
    sweeps_now(db)
        .await
        .iter()
        .find(|s| s.status == SweepStatus::Running)
        .map(|s| s.id)
        .expect("the sweeper's sweep, running")
}

/// A metric's value on an instance.
async fn metric(p: &Proc, name: &str) -> f64 {
    let text = crate::fixture::metrics(&p.base).await;
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

/// Waits until `f` holds, polling every 50 ms; the time it took.
async fn until<F, Fut>(within: Duration, what: &str, mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let begun = Instant::now();
    while !f().await {
        assert!(begun.elapsed() < within, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    begun.elapsed()
}

/// The indexes of the instances that say they hold the lease, and the sweep each answers
/// from.
async fn states(c: &reqwest::Client, all: &[&Proc]) -> (Vec<usize>, Vec<Option<i64>>) {
    let mut held = Vec::new();
    let mut sweeps = Vec::new();
    for (i, p) in all.iter().enumerate() {
        let r = ready(c, p).await;
        if r.as_ref().is_some_and(|r| r["lease"]["held"] == true) {
            held.push(i);
        }
        sweeps.push(r.and_then(|r| r["sweep_id"].as_i64()));
    }
    (held, sweeps)
}

/// A new database with the schema, on the tests' server (`None`: no server to test on).
fn migrated() -> Option<PgDatabase> {
    let db = PgDatabase::new(pg_server()?);
    Store::migrate_postgres(&db.config, &db.shown()).unwrap();
    Some(db)
}

/// Runs `test` on a runtime of its own. The PostgreSQL client blocks: the database is made,
/// read and dropped outside that runtime.
fn drive<T>(test: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(test)
}

#[test]
fn three_instances_one_sweeper_every_one_answers_and_a_deposed_sweeper_cannot_write() {
    let Some(db) = migrated() else { return };
    drive(three_instances(&db));
    // The store is whole: every sweep ended (or was refused, or cut by the kill), each
    // history written, and the current verdicts are the latest sweep's.
    let store = Store::open_postgres_existing(&db.config, &db.shown()).unwrap();
    let sweeps = store.sweeps(u32::MAX).unwrap();
    assert!(
        sweeps.iter().any(|s| s.status == SweepStatus::Failed
            && s.error
                .as_deref()
                .is_some_and(|e| e.contains("no longer holds the sweeper's lease"))),
        "the refused sweep is recorded as failed: {sweeps:?}"
    );
    let latest = store.latest().unwrap().unwrap();
    assert_eq!(
        latest.verdicts,
        store.verdicts_at(latest.sweep.id).unwrap(),
        "the answers are the history's"
    );
    assert!(
        sweeps
            .iter()
            .filter(|s| s.status == SweepStatus::Ok)
            .all(|s| s.changed.is_some()),
        "every history written: {sweeps:?}"
    );
}

async fn three_instances(db: &PgDatabase) {
    let dir = tempfile::tempdir().unwrap();
    let password = dir.path().join("pg-password");
    std::fs::write(
        &password,
        std::fs::read_to_string(std::env::var("REACHCHECK_TEST_POSTGRES_PASSWORD_FILE").unwrap())
            .unwrap(),
    )
    .unwrap();
    let url = db.url();
    let names = ["a", "b", "c"];
    let mut procs: Vec<Option<Proc>> = names
        .iter()
        .map(|n| {
            Some(instance(
                dir.path(),
                &config(dir.path(), &url, &password, n),
                n,
            ))
        })
        .collect();
    let c = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let live = |procs: &[Option<Proc>]| -> Vec<usize> {
        (0..procs.len()).filter(|i| procs[*i].is_some()).collect()
    };

    // One sweeper; every instance ready, answering from a sweep.
    until(
        Duration::from_secs(60),
        "one sweeper and everyone ready",
        || {
            let all: Vec<&Proc> = procs.iter().flatten().collect();
            let c = &c;
            async move {
                let (held, sweeps) = states(c, &all).await;
                held.len() == 1 && sweeps.iter().all(Option::is_some)
            }
        },
    )
    .await;
    let all: Vec<&Proc> = procs.iter().flatten().collect();
    let (held, _) = states(&c, &all).await;
    let sweeper = held[0];
    for p in &all {
        let r = ready(&c, p).await.unwrap();
        assert_eq!(r["lease"]["holder"], names[sweeper], "{r}");
    }
    // A sweep recorded is answered from by every instance within a second (polled every
    // 50 ms: the bound includes that).
    let mut worst = Duration::ZERO;
    for _ in 0..3 {
        let (_, before) = states(&c, &all).await;
        let was = before[sweeper];
        until(Duration::from_secs(20), "a new sweep", || {
            let p = all[sweeper];
            let c = &c;
            async move { ready(c, p).await.and_then(|r| r["sweep_id"].as_i64()) > was }
        })
        .await;
        let now = ready(&c, all[sweeper]).await.unwrap()["sweep_id"].as_i64();
        let took = until(
            Duration::from_secs(5),
            "every instance on the new sweep",
            || {
                let all = &all;
                let c = &c;
                async move { states(c, all).await.1.iter().all(|s| *s >= now) }
            },
        )
        .await;
        worst = worst.max(took);
    }
    // The ≤ 1 s target is measured by `benches/ha.rs`; here, on a machine running other
    // tests at once, only a bound that load cannot break.
    eprintln!("every instance on a new sweep within {worst:?} (worst of three)");
    assert!(worst <= Duration::from_secs(5), "followed in {worst:?}");
    // The sweeper's later sweeps reached the others as changes to the answers they held,
    // not as every answer read again.
    for (i, p) in all.iter().enumerate().filter(|(i, _)| *i != sweeper) {
        let applied = metric(p, "reachcheck_sweeps_followed_total{how=\"changes\"}").await;
        assert!(
            applied >= 2.0,
            "instance {}: {applied} sweeps followed by their changes",
            names[i]
        );
        // Told of them by PostgreSQL (LISTEN/NOTIFY), not only by looking.
        let heard = metric(p, "reachcheck_sweep_notices_total").await;
        assert!(heard >= 3.0, "instance {}: {heard} notices heard", names[i]);
    }

    // An instance that starts while the sweeper is in the middle of a sweep leaves that
    // sweep alone: only the instance that takes the lease over ends a sweep left running.
    let running = mid_sweep(db, all[sweeper]).await;
    let late = instance(dir.path(), &config(dir.path(), &url, &password, "d"), "d");
    until(Duration::from_secs(30), "the late instance ready", || {
        let (c, late) = (&c, &late);
        async move { ready(c, late).await.is_some_and(|r| r["ready"] == true) }
    })
    .await;
    let status = |all: &[SweepRecord]| all.iter().find(|s| s.id == running).map(|s| s.status);
    let now = status(&sweeps_now(db).await);
    assert!(
        matches!(now, Some(SweepStatus::Running | SweepStatus::Ok)),
        "the sweeper's sweep {running} after another instance started: {now:?}"
    );
    until(Duration::from_secs(20), "the sweep recorded", || {
        let p = all[sweeper];
        let c = &c;
        async move { ready(c, p).await.and_then(|r| r["sweep_id"].as_i64()) >= Some(running) }
    })
    .await;
    assert_eq!(status(&sweeps_now(db).await), Some(SweepStatus::Ok));
    drop(late);
    drop(all);

    // The sweeper paused in the middle of a sweep, past its lease: another takes over;
    // resumed, its write is refused.
    let paused = sweeper;
    mid_sweep(db, procs[paused].as_ref().unwrap()).await;
    procs[paused].as_ref().unwrap().signal(Signal::SIGSTOP);
    let others: Vec<usize> = live(&procs).into_iter().filter(|i| *i != paused).collect();
    let took = until(
        Duration::from_secs(LEASE_S + 5),
        "another instance takes over",
        || {
            let ps: Vec<&Proc> = others.iter().map(|i| procs[*i].as_ref().unwrap()).collect();
            let c = &c;
            async move { states(c, &ps).await.0.len() == 1 }
        },
    )
    .await;
    assert!(took <= Duration::from_secs(LEASE_S + 5), "{took:?}");
    procs[paused].as_ref().unwrap().signal(Signal::SIGCONT);
    let resumed = procs[paused].as_ref().unwrap();
    until(
        Duration::from_secs(15),
        "the late write refused",
        || async { metric(resumed, "reachcheck_fenced_writes_total").await >= 1.0 },
    )
    .await;
    assert!(
        resumed
            .log()
            .contains("another instance took the sweeper's lease over"),
        "{}",
        resumed.log()
    );
    assert_eq!(metric(resumed, "reachcheck_lease_held").await, 0.0);
    let all: Vec<&Proc> = procs.iter().flatten().collect();
    let (held, _) = states(&c, &all).await;
    assert_eq!(held.len(), 1, "one sweeper after the resume");
    let sweeper = held[0];
    assert_ne!(sweeper, paused);
    drop(all);

    // The sweeper killed: another takes over within the lease (and five seconds), sweeps,
    // and every instance left answers from its sweeps.
    let killed = sweeper;
    let cut = mid_sweep(db, procs[killed].as_ref().unwrap()).await;
    procs[killed].as_ref().unwrap().signal(Signal::SIGKILL);
    procs[killed] = None;
    let left = live(&procs);
    let took = until(
        Duration::from_secs(LEASE_S + 5),
        "a takeover after SIGKILL",
        || {
            let ps: Vec<&Proc> = left.iter().map(|i| procs[*i].as_ref().unwrap()).collect();
            let c = &c;
            async move { states(c, &ps).await.0.len() == 1 }
        },
    )
    .await;
    eprintln!("takeover after SIGKILL in {took:?}");
    let ps: Vec<&Proc> = left.iter().map(|i| procs[*i].as_ref().unwrap()).collect();
    let (_, before) = states(&c, &ps).await;
    let top = before.iter().flatten().max().copied();
    until(
        Duration::from_secs(30),
        "both answer from a newer sweep",
        || {
            let ps = &ps;
            let c = &c;
            async move { states(c, ps).await.1.iter().all(|s| *s > top) }
        },
    )
    .await;
    // The sweep the killed one was running was ended by the one that took over.
    let ended = sweeps_now(db)
        .await
        .into_iter()
        .find(|s| s.id == cut)
        .unwrap();
    assert_eq!(ended.status, SweepStatus::Aborted, "{ended:?}");
    assert_eq!(
        ended.error.as_deref(),
        Some("the process ended during the sweep")
    );
    drop(ps);
    for p in procs.iter_mut().flatten() {
        p.signal(Signal::SIGTERM);
        p.wait_exit(Duration::from_secs(30));
    }
}

/// A PostgreSQL server of this test's own (`scripts/test-postgres`), to stop and start.
struct OwnServer {
    dir: tempfile::TempDir,
    url: String,
    password_file: PathBuf,
}

impl OwnServer {
    fn script(&self, what: &str) -> Vec<(String, String)> {
        let o = Command::new(root().join("scripts/test-postgres"))
            .args([what, self.dir.path().to_str().unwrap()])
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "test-postgres {what}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout)
            .unwrap()
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    fn start() -> OwnServer {
        let mut s = OwnServer {
            dir: tempfile::tempdir().unwrap(),
            url: String::new(),
            password_file: PathBuf::new(),
        };
        for (k, v) in s.script("start") {
            match k.as_str() {
                "REACHCHECK_TEST_POSTGRES" => s.url = v,
                "REACHCHECK_TEST_POSTGRES_PASSWORD_FILE" => s.password_file = v.into(),
                _ => {}
            }
        }
        s
    }

    fn config(&self) -> postgres::Config {
        let mut c: postgres::Config = self.url.parse().unwrap();
        let password = std::fs::read_to_string(&self.password_file).unwrap();
        c.password(password.trim_end());
        c
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        let _ = Command::new(root().join("scripts/test-postgres"))
            .args(["stop", self.dir.path().to_str().unwrap()])
            .output();
    }
}

#[test]
fn postgresql_stopped_and_started_under_load_checks_go_on_writes_resume_no_audit_row_lost() {
    if pg_server().is_none() {
        return; // no PostgreSQL here (CI always has one)
    }
    let server = OwnServer::start();
    Store::migrate_postgres(&server.config(), &server.url).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let answered = drive(under_load(&server, dir.path()));
    // Every check answered has its audit row (the instances were stopped after the rows
    // were written; see `under_load`).
    let store = Store::open_postgres_existing(&server.config(), &server.url).unwrap();
    assert_eq!(store.audit_count().unwrap(), answered);
}

/// Two instances under a stream of pre-send checks; PostgreSQL stopped for six seconds and
/// started again. Returns how many checks were answered.
async fn under_load(server: &OwnServer, dir: &Path) -> u64 {
    let procs: Vec<Proc> = ["a", "b"]
        .iter()
        .map(|n| instance(dir, &config(dir, &server.url, &server.password_file, n), n))
        .collect();
    let c = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    until(Duration::from_secs(60), "one sweeper, both ready", || {
        let ps: Vec<&Proc> = procs.iter().collect();
        let c = &c;
        async move {
            let (held, sweeps) = states(c, &ps).await;
            held.len() == 1 && sweeps.iter().all(Option::is_some)
        }
    })
    .await;
    // A check every 20 ms to each instance, counted; every one must be answered.
    let stop = tokio_util::sync::CancellationToken::new();
    let load: Vec<_> = procs
        .iter()
        .map(|p| {
            let (c, base, stop) = (c.clone(), p.base.clone(), stop.clone());
            tokio::spawn(async move {
                let body = serde_json::json!({
                    "subject": {"type": "organization", "id": "310000019"},
                    "action": {"name": "send", "properties": {"message_type": "bekymringsmelding"}},
                    "resource": {"type": "organization", "id": "964977402"}});
                let mut n = 0u64;
                while !stop.is_cancelled() {
                    let r = c
                        .post(format!("{base}/access/v1/evaluation"))
                        .bearer_auth(TOKEN)
                        .json(&body)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), 200, "a check refused");
                    let v: Value = r.json().await.unwrap();
                    assert_eq!(v["context"]["verdict"], "not_readable", "{v}");
                    n += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                n
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = states(&c, &procs.iter().collect::<Vec<_>>()).await.1;
    server.script("stop");
    tokio::time::sleep(Duration::from_secs(6)).await;
    // Still answering from memory while the store is gone.
    for p in &procs {
        assert!(ready(&c, p).await.is_some(), "{} stopped answering", p.base);
    }
    server.script("start");
    // Writes resume: a new sweep recorded and followed.
    let top = before.iter().flatten().max().copied();
    until(Duration::from_secs(60), "a sweep after the restart", || {
        let ps: Vec<&Proc> = procs.iter().collect();
        let c = &c;
        async move {
            let (held, sweeps) = states(c, &ps).await;
            held.len() == 1 && sweeps.iter().all(|s| *s > top)
        }
    })
    .await;
    stop.cancel();
    let mut answered = 0;
    for l in load {
        answered += l.await.unwrap();
    }
    // The audit writers retry with backoff (at most 30 s apart): wait for every row.
    let (config, url) = (server.config(), server.url.clone());
    let counted = until(Duration::from_secs(60), "every audit row written", || {
        let (config, url) = (config.clone(), url.clone());
        async move {
            tokio::task::spawn_blocking(move || {
                Store::open_postgres_existing(&config, &url)
                    .and_then(|s| s.audit_count())
                    .is_ok_and(|n| n >= answered)
            })
            .await
            .unwrap()
        }
    })
    .await;
    eprintln!("{answered} checks answered; every audit row written {counted:?} after the load");
    for mut p in procs {
        p.signal(Signal::SIGTERM);
        p.wait_exit(Duration::from_secs(30));
    }
    answered
}

/// Issue 21: any instance takes Altinn Events pushes and stores each message once, however
/// many instances are pushed the same event; only the sweeper alerts, also for what another
/// instance stored (told by `NOTIFY`), and at once, not at its next poll.
#[test]
fn any_instance_takes_events_each_message_is_stored_once_and_only_the_sweeper_alerts() {
    let Some(db) = migrated() else { return };
    drive(events_on_two(&db));
}

/// A one-number query on the store (on a blocking thread: the client blocks).
async fn pg_count(db: &PgDatabase, sql: &str) -> i64 {
    let (config, sql) = (db.config.clone(), sql.to_owned());
    tokio::task::spawn_blocking(move || {
        let mut c = config.connect(postgres::NoTls).unwrap();
        c.query_one(&sql, &[]).unwrap().get::<_, i64>(0)
    })
    .await
    .unwrap()
}

async fn events_on_two(db: &PgDatabase) {
    use crate::events::{alert_hook, bind, event, events_config, metric, metrics, post, start};
    use crate::fixture::{BAD, GOOD, World, route};
    use crate::outcomes::{RESOURCE, SCOPE, ids_of, letter, stand};
    const PUBLISHED: &str = "no.altinn.correspondence.correspondencepublished";
    const NEVER_READ: &str = "no.altinn.correspondence.correspondencereceiverneverread";

    let w = World::new(&[
        &route("bekymringsmelding", BAD),
        &route("bekymringsmelding", GOOD),
    ]);
    let s = stand(
        &w,
        &["--reading", &format!("default=prompt:5m,{BAD}=never")],
    );
    let (alerts_url, got) = alert_hook().await;
    let live = events_config(
        &w,
        &s,
        "",
        &format!(
            "\n[alerts]\nwebhook_url = \"{alerts_url}\"\nallow_http = true\nbackoff = \"10ms\"\n"
        ),
    );
    let password = w.path().join("pg-password");
    std::fs::write(
        &password,
        std::fs::read_to_string(std::env::var("REACHCHECK_TEST_POSTGRES_PASSWORD_FILE").unwrap())
            .unwrap(),
    )
    .unwrap();
    let text = std::fs::read_to_string(&live).unwrap();
    let config = |name: &str| {
        let file = w.path().join(format!("{name}.toml"));
        let store = format!(
            "store = {:?}\nstore_password_file = {password:?}\ninstance = {name:?}\nlease = \"{LEASE_S}s\"",
            db.url()
        );
        assert!(text.contains("store = \"store.db\""));
        std::fs::write(&file, text.replace("store = \"store.db\"", &store)).unwrap();
        file
    };
    let ready_at = |base: String| async move {
        reqwest::get(format!("{base}/readyz"))
            .await
            .ok()?
            .json::<Value>()
            .await
            .ok()
    };
    // Opening a PostgreSQL store blocks: not on the runtime's threads.
    let start = |config: PathBuf, listener| async move {
        tokio::task::spawn_blocking(move || start(config, listener))
            .await
            .unwrap()
    };
    let (listener, a) = bind().await;
    let first = start(config("a"), listener).await;
    until(Duration::from_secs(30), "a sweeps", || {
        let a = a.clone();
        async move {
            ready_at(a)
                .await
                .is_some_and(|r| r["lease"]["held"] == true && r["sweep_id"].is_i64())
        }
    })
    .await;
    let (listener, b) = bind().await;
    let second = start(config("b"), listener).await;
    until(Duration::from_secs(30), "b answers", || {
        let b = b.clone();
        async move {
            ready_at(b)
                .await
                .is_some_and(|r| r["lease"]["held"] == false && r["sweep_id"].is_i64())
        }
    })
    .await;

    // Sent after the sweeper's first poll: only the events bring it in.
    let token = s.token(SCOPE).await;
    let now: Value = reqwest::get(s.url("/_sim/clock"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let now: jiff::Timestamp = now["now"].as_str().unwrap().parse().unwrap();
    let mut to_bad = letter(&[format!("0192:{BAD}")], "sak 2026/50", None);
    to_bad["correspondence"]["dueDateTime"] =
        serde_json::json!((now + jiff::SignedDuration::from_hours(24)).to_string());
    let (_, sent) = s.publish(&token, &to_bad).await;
    let id = ids_of(&sent)[0].clone();
    let messages = "SELECT count(*) FROM messages";
    assert_eq!(pg_count(db, messages).await, 0);

    // The same push reaches both instances, and one of them twice: every one is taken,
    // and the message is stored once.
    let published = event("p-1", PUBLISHED, RESOURCE, &id).to_string();
    for base in [&b, &a, &b] {
        let (status, body) = post(&format!("{base}/altinn/events"), published.clone()).await;
        assert_eq!(status, 200, "{body}");
    }
    let stored = "reachcheck_event_push_to_store_seconds_count";
    until(
        Duration::from_secs(10),
        "both re-fetched and stored it",
        || {
            let (a, b) = (a.clone(), b.clone());
            async move {
                metric(&metrics(&a).await, stored) >= 1.0
                    && metric(&metrics(&b).await, stored) >= 1.0
            }
        },
    )
    .await;
    assert_eq!(pg_count(db, messages).await, 1, "stored once");

    // Never read by its deadline: the push reaches the instance that does not sweep only.
    // It stores what the re-fetch says and tells the sweeper, which alerts, once.
    s.advance("24h").await;
    let never = event("n-1", NEVER_READ, RESOURCE, &id).to_string();
    let (status, body) = post(&format!("{b}/altinn/events"), never).await;
    assert_eq!(status, 200, "{body}");
    let at_risk = |got: &std::sync::Mutex<Vec<Value>>| {
        got.lock()
            .unwrap()
            .iter()
            .filter(|x| x["kind"] == "messages_at_risk")
            .cloned()
            .collect::<Vec<Value>>()
    };
    let took = until(Duration::from_secs(10), "the sweeper's alert", || {
        let n = at_risk(&got).len();
        async move { n >= 1 }
    })
    .await;
    eprintln!("alerted {took:?} after the push to the instance that does not sweep");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let sent = at_risk(&got);
    assert_eq!(sent.len(), 1, "alerted once: {sent:?}");
    assert_eq!(sent[0]["messages"][0]["id"], id.as_str());
    assert_eq!(sent[0]["messages"][0]["code"], "unread_past_deadline");
    assert_eq!(
        pg_count(
            db,
            "SELECT count(*) FROM messages WHERE alerted_unread_us IS NOT NULL"
        )
        .await,
        1,
        "and recorded as alerted"
    );
    second.stop().await;
    first.stop().await;
}
