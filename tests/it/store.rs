//! The store's behaviour, on both backends: every test here runs once on SQLite
//! (`store::sqlite::…`) and once on PostgreSQL (`store::postgresql::…`, each in a fresh
//! database of its own, dropped at the end). PostgreSQL is the server
//! `REACHCHECK_TEST_POSTGRES` names (`scripts/test-postgres start DIR` prints it), with the
//! password in `REACHCHECK_TEST_POSTGRES_PASSWORD_FILE`. Without it the PostgreSQL half says
//! it skipped and passes — unless `CI` is set: CI never silently skips PostgreSQL.
//!
//! Then what only PostgreSQL has: the explicit migration (missing, older and newer schemas,
//! migrating twice), connection errors, and copying a daemon's SQLite history into it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use jiff::{SignedDuration, Timestamp};
use reachcheck::engine::{DEFAULT_MAX_DATA_AGE, Evaluation};
use reachcheck::model::{FindingCode, MessageTypeId, OrgNumber, ResourceId, Route, Verdict};
use reachcheck::onboarding::{OnboardingRecord, OnboardingRun, OnboardingState, RequestStatus};
use reachcheck::outcome::{
    CorrespondenceId, Ingest, Message, NotificationOutcome, Placement, Recipient,
};
use reachcheck::store::{
    AuditEntry, Change, FindingFilter, FindingState, Ingested, MessageFilter, NewSuppression,
    PollRecord, Store, SweepOutcome, SweepStatus,
};
use reachcheck::{Policies, RoutingTable, SnapshotDir};

use crate::fixture::{BAD, GOOD, SENDER, World, bad_gets_a_reader, route};

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn org(s: &str) -> OrgNumber {
    OrgNumber::parse(s).unwrap()
}

fn r(recipient: &str) -> Route {
    Route::new(
        org(SENDER),
        MessageTypeId::parse("bekymringsmelding").unwrap(),
        org(recipient),
    )
}

// ---------------------------------------------------------------------------------------
// The two backends.

/// The PostgreSQL server of the tests, if there is one.
pub(crate) fn pg_server() -> Option<postgres::Config> {
    let Ok(url) = std::env::var("REACHCHECK_TEST_POSTGRES") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but REACHCHECK_TEST_POSTGRES is not: CI runs the store's tests on PostgreSQL too (scripts/test-postgres start DIR)"
        );
        eprintln!("skipped on PostgreSQL: REACHCHECK_TEST_POSTGRES is not set");
        return None;
    };
    let mut config: postgres::Config = url.parse().expect("REACHCHECK_TEST_POSTGRES: a URL");
    if let Ok(file) = std::env::var("REACHCHECK_TEST_POSTGRES_PASSWORD_FILE") {
        let password = std::fs::read_to_string(&file).expect("the password file");
        config.password(password.trim_end_matches(['\n', '\r']));
    }
    Some(config)
}

/// A PostgreSQL database of one test's own, dropped with it.
pub(crate) struct PgDatabase {
    server: postgres::Config,
    pub(crate) name: String,
    pub(crate) config: postgres::Config,
}

impl PgDatabase {
    pub(crate) fn new(server: postgres::Config) -> PgDatabase {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "reachcheck_test_{}_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed),
            Timestamp::now().as_microsecond() % 1_000_000
        );
        let mut admin = server.connect(postgres::NoTls).unwrap();
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        let mut config = server.clone();
        config.dbname(&name);
        PgDatabase {
            server,
            name,
            config,
        }
    }

    /// The database's URL as `--store` takes it: the server's from REACHCHECK_TEST_POSTGRES,
    /// this database's name, no password.
    pub(crate) fn url(&self) -> String {
        let server = std::env::var("REACHCHECK_TEST_POSTGRES").unwrap();
        let (base, _) = server.rsplit_once('/').unwrap();
        format!("{base}/{}", self.name)
    }

    /// The URL as shown in errors: no password.
    pub(crate) fn shown(&self) -> String {
        format!("postgres://reachcheck@127.0.0.1/{}", self.name)
    }

    fn client(&self) -> postgres::Client {
        self.config.connect(postgres::NoTls).unwrap()
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if let Ok(mut admin) = self.server.connect(postgres::NoTls) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// Where a test's store lives.
enum Backend {
    Sqlite(tempfile::TempDir),
    Postgres(Box<PgDatabase>),
}

impl Backend {
    fn sqlite() -> Backend {
        Backend::Sqlite(tempfile::tempdir().unwrap())
    }

    /// A fresh, migrated PostgreSQL database; `None` when there is no server (skipped).
    fn postgres() -> Option<Backend> {
        let db = PgDatabase::new(pg_server()?);
        Store::migrate_postgres(&db.config, &db.shown()).unwrap();
        Some(Backend::Postgres(Box::new(db)))
    }

    fn sqlite_path(dir: &tempfile::TempDir) -> PathBuf {
        dir.path().join("store.db")
    }

    /// Opens the store (again), as the daemon does.
    fn open(&self) -> Store {
        match self {
            Backend::Sqlite(dir) => Store::open(&Backend::sqlite_path(dir)).unwrap(),
            Backend::Postgres(db) => Store::open_postgres(&db.config, &db.shown()).unwrap(),
        }
    }

    /// Opens the store for reading, as `report` does.
    fn open_existing(&self) -> Store {
        match self {
            Backend::Sqlite(dir) => Store::open_existing(&Backend::sqlite_path(dir)).unwrap(),
            Backend::Postgres(db) => {
                Store::open_postgres_existing(&db.config, &db.shown()).unwrap()
            }
        }
    }

    /// Runs SQL beside the store, to damage or inspect what it holds.
    fn raw(&self, sql: &str) {
        match self {
            Backend::Sqlite(dir) => rusqlite::Connection::open(Backend::sqlite_path(dir))
                .unwrap()
                .execute_batch(sql)
                .unwrap(),
            Backend::Postgres(db) => db.client().batch_execute(sql).unwrap(),
        }
    }

    /// One text value read beside the store.
    fn raw_text(&self, sql: &str) -> String {
        match self {
            Backend::Sqlite(dir) => rusqlite::Connection::open(Backend::sqlite_path(dir))
                .unwrap()
                .query_row(sql, [], |r| r.get(0))
                .unwrap(),
            Backend::Postgres(db) => db.client().query_one(sql, &[]).unwrap().get(0),
        }
    }
}

/// Each test, once per backend.
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(#[test]
            fn $name() {
                super::$name(&super::Backend::sqlite());
            })+
        }
        mod postgresql {
            $(#[test]
            fn $name() {
                if let Some(b) = super::Backend::postgres() {
                    super::$name(&b);
                }
            })+
        }
    };
}

on_both_backends!(
    a_sweep_begins_records_or_fails_and_one_left_running_is_aborted_on_reopen,
    the_verdict_history_keeps_changes_only_and_answers_as_of_any_sweep,
    findings_open_resolve_reopen_and_retire,
    a_store_that_recorded_the_last_sweep_keeps_its_state_and_reads_it_again_when_it_may_be_stale,
    a_history_not_written_with_its_sweep_is_written_from_the_answers_as_it_would_have_been,
    an_instance_that_follows_applies_each_sweeps_changes_and_answers_as_if_it_read_them_whole,
    one_instance_holds_the_sweeper_lease_and_a_deposed_one_cannot_write,
    suppressions_cover_their_findings_and_lapse_once,
    the_audit_trail_appends_in_batches,
    onboarding_runs_are_kept_and_the_next_run_replaces_them,
    names_are_kept_replaced_and_read_back,
    retention_forgets_old_sweeps_and_ended_verdicts_but_keeps_the_latest_answers,
    the_answers_blob_agrees_with_the_history_and_a_broken_one_is_not_trusted,
    a_poll_is_written_whole_and_a_later_one_updates_without_forgetting_a_read,
    unusable_details_keep_what_was_known_and_are_given_up_after_the_poll_window,
    alerts_are_recorded_once_and_a_message_carries_the_verdict_it_was_sent_under,
    a_history_copied_to_sqlite_and_back_reads_the_same,
    a_copy_into_a_store_that_holds_a_history_is_refused,
);

// ---------------------------------------------------------------------------------------
// Sweeps, judged from a small world (fixture.rs).

/// The world's routes judged from its snapshot at `now`.
fn judge(w: &World, now: Timestamp) -> Evaluation {
    let policies = Policies::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("policies")).unwrap();
    let routes = RoutingTable::load(&w.routes(), &policies).unwrap();
    let gathered = SnapshotDir::new(w.snapshot())
        .gathered(
            routes.routes().map(|r| r.recipient),
            &policies.resource_ids(),
        )
        .unwrap();
    reachcheck::sweep::judge(gathered, policies, &routes, now, DEFAULT_MAX_DATA_AGE).evaluation
}

/// Records a sweep of the world at `at`.
fn sweep(s: &mut Store, w: &World, at: &str) -> (i64, SweepOutcome) {
    let at = t(at);
    let id = s.begin_sweep(at, "test").unwrap();
    let evaluation = judge(w, at);
    let finished = at.checked_add(SignedDuration::from_secs(1)).unwrap();
    let outcome = s
        .record_sweep(id, finished, t("2026-11-21T05:00:00Z"), &evaluation)
        .unwrap();
    (id, outcome)
}

fn changes(o: &SweepOutcome, c: Change) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = o
        .changes
        .iter()
        .filter(|x| x.change == c)
        .map(|x| (x.route.recipient.to_string(), x.code.as_str().to_owned()))
        .collect();
    v.sort();
    v
}

fn two_routes() -> World {
    World::new(&[
        &route("bekymringsmelding", BAD),
        &route("bekymringsmelding", GOOD),
    ])
}

fn a_sweep_begins_records_or_fails_and_one_left_running_is_aborted_on_reopen(b: &Backend) {
    let w = two_routes();
    let mut s = b.open();
    assert!(s.last_sweep().unwrap().is_none());
    assert!(
        s.latest().unwrap().is_none(),
        "nothing before the first sweep"
    );
    let (first, outcome) = sweep(&mut s, &w, "2026-11-21T06:00:00Z");
    assert_eq!(outcome.counts.routes, 2);
    assert_eq!(outcome.counts.readable + outcome.counts.not_readable, 2);
    let failed = s.begin_sweep(t("2026-11-21T07:00:00Z"), "test").unwrap();
    assert!(failed > first, "ids ascend");
    s.fail_sweep(failed, t("2026-11-21T07:00:05Z"), "the snapshot is gone")
        .unwrap();
    let running = s.begin_sweep(t("2026-11-21T08:00:00Z"), "test").unwrap();
    assert_eq!(
        s.last_sweep().unwrap().unwrap().status,
        SweepStatus::Running
    );
    // Reading while it runs leaves it running; reopening as the daemon does ends it on
    // SQLite (one daemon). On PostgreSQL another instance may be running it: opening
    // leaves it, and the instance that takes the sweeper's lease ends it.
    drop(s);
    assert_eq!(
        b.open_existing().last_sweep().unwrap().unwrap().status,
        SweepStatus::Running
    );
    let s = b.open();
    if let Backend::Postgres(_) = b {
        assert_eq!(
            s.last_sweep().unwrap().unwrap().status,
            SweepStatus::Running,
            "an instance that starts leaves the holder's sweep alone"
        );
        s.abort_running().unwrap();
    }
    let all = s.sweeps(10).unwrap();
    let ids: Vec<i64> = all.iter().map(|x| x.id).collect();
    assert_eq!(ids, [running, failed, first], "newest first");
    assert_eq!(all[0].status, SweepStatus::Aborted);
    assert_eq!(
        all[0].error.as_deref(),
        Some("the process ended during the sweep")
    );
    assert_eq!(all[1].status, SweepStatus::Failed);
    assert_eq!(all[1].error.as_deref(), Some("the snapshot is gone"));
    assert_eq!(all[1].finished_at, Some(t("2026-11-21T07:00:05Z")));
    assert!(all[1].counts.is_none());
    let ok = &all[2];
    assert_eq!(ok.status, SweepStatus::Ok);
    assert_eq!(ok.counts.unwrap().routes, 2);
    assert_eq!(ok.changed, Some(2));
    assert_eq!(ok.taken_at, Some(t("2026-11-21T05:00:00Z")));
    assert_eq!(s.sweeps(1).unwrap().len(), 1, "the limit holds");
    // The latest is the last sweep that ended ok.
    let latest = s.latest().unwrap().unwrap();
    assert_eq!(latest.sweep.id, first);
    assert_eq!(latest.verdicts.len(), 2);
    s.integrity_check().unwrap();
}

fn the_verdict_history_keeps_changes_only_and_answers_as_of_any_sweep(b: &Backend) {
    let w = two_routes();
    let mut s = b.open();
    let (s1, o1) = sweep(&mut s, &w, "2026-11-21T06:00:00Z");
    assert_eq!(o1.changed, 2, "the first sweep writes every route");
    let (s2, o2) = sweep(&mut s, &w, "2026-11-21T07:00:00Z");
    assert_eq!(o2.changed, 0, "nothing changed: nothing written");
    bad_gets_a_reader(&w, true);
    let (s3, o3) = sweep(&mut s, &w, "2026-11-21T08:00:00Z");
    assert_eq!(o3.changed, 1);
    w.set_routes(&[&route("bekymringsmelding", GOOD)]);
    let (s4, o4) = sweep(&mut s, &w, "2026-11-21T09:00:00Z");
    assert_eq!(o4.changed, 1, "a route that leaves ends its verdict");
    assert_eq!(s.verdict_rows().unwrap(), 3);

    let bad = r(BAD);
    assert_eq!(s.verdict_at(&bad, s1).unwrap(), Some(Verdict::NotReadable));
    assert_eq!(s.verdict_at(&bad, s2).unwrap(), Some(Verdict::NotReadable));
    assert_eq!(s.verdict_at(&bad, s3).unwrap(), Some(Verdict::Readable));
    assert_eq!(s.verdict_at(&bad, s4).unwrap(), None);
    assert_eq!(s.verdict_at(&r(GOOD), s4).unwrap(), Some(Verdict::Readable));
    let at3 = s.verdicts_at(s3).unwrap();
    assert_eq!(at3.len(), 2);
    assert!(at3.iter().all(|v| v.verdict == Verdict::Readable));
    assert!(at3.iter().all(|v| v.readers >= 2), "{at3:?}");
    let at1 = s.verdicts_at(s1).unwrap();
    let bad_at1 = at1.iter().find(|v| v.route == bad).unwrap();
    assert_eq!(bad_at1.readers, 0);
    assert!(
        bad_at1
            .findings
            .iter()
            .any(|f| f.code() == FindingCode::NoReader),
        "{bad_at1:?}"
    );
    assert_eq!(s.verdicts_at(s4).unwrap().len(), 1);
    assert!(s.has_sender(org(SENDER)).unwrap());
    assert!(!s.has_sender(org(GOOD)).unwrap());
    let between = s
        .ok_sweeps_between(t("2026-11-21T06:30:00Z"), t("2026-11-21T08:30:00Z"))
        .unwrap();
    assert_eq!(
        between.iter().map(|x| x.id).collect::<Vec<_>>(),
        [s2, s3],
        "oldest first, the bounds kept"
    );
}

fn findings_open_resolve_reopen_and_retire(b: &Backend) {
    let w = two_routes();
    let mut s = b.open();
    let no_reader = (BAD.to_owned(), "no_reader".to_owned());
    let (_, o1) = sweep(&mut s, &w, "2026-11-21T06:00:00Z");
    assert!(changes(&o1, Change::Opened).contains(&no_reader));
    assert!(
        o1.by_code
            .iter()
            .any(|(c, n)| *c == FindingCode::NoReader && *n == 1)
    );
    let (_, o2) = sweep(&mut s, &w, "2026-11-21T07:00:00Z");
    assert!(o2.changes.is_empty(), "{:?}", o2.changes);
    bad_gets_a_reader(&w, true);
    let (_, o3) = sweep(&mut s, &w, "2026-11-21T08:00:00Z");
    assert_eq!(changes(&o3, Change::Resolved), vec![no_reader.clone()]);
    let resolved = s
        .findings(
            &FindingFilter {
                state: Some(FindingState::Resolved),
                limit: 10,
                ..FindingFilter::default()
            },
            t("2026-11-21T08:00:00Z"),
        )
        .unwrap();
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0].resolved_at, Some(t("2026-11-21T08:00:01Z")));
    bad_gets_a_reader(&w, false);
    let (_, o4) = sweep(&mut s, &w, "2026-11-21T09:00:00Z");
    assert_eq!(changes(&o4, Change::Reopened), vec![no_reader.clone()]);
    assert!(changes(&o4, Change::Opened).is_empty(), "the same finding");
    w.set_routes(&[&route("bekymringsmelding", GOOD)]);
    let (_, o5) = sweep(&mut s, &w, "2026-11-21T10:00:00Z");
    assert!(changes(&o5, Change::Retired).contains(&no_reader));

    let now = t("2026-11-21T10:00:00Z");
    let of_bad = s
        .findings(
            &FindingFilter {
                recipient: Some(org(BAD)),
                sender: Some(org(SENDER)),
                message_type: Some(MessageTypeId::parse("bekymringsmelding").unwrap()),
                limit: 100,
                ..FindingFilter::default()
            },
            now,
        )
        .unwrap();
    let f = of_bad
        .iter()
        .find(|f| f.code == FindingCode::NoReader)
        .unwrap();
    assert_eq!(f.state, FindingState::Retired);
    assert_eq!(f.reopened, 1);
    assert_eq!(f.first_seen_at, t("2026-11-21T06:00:01Z"));
    assert_eq!(f.last_seen_at, t("2026-11-21T09:00:01Z"));
    assert_eq!(f.resolved_at, Some(t("2026-11-21T10:00:01Z")));
    assert_eq!(f.detail.code(), FindingCode::NoReader);
    let events: Vec<Change> = s
        .finding_events()
        .unwrap()
        .into_iter()
        .filter(|e| e.finding == f.id)
        .map(|e| e.change)
        .collect();
    assert_eq!(
        events,
        [
            Change::Opened,
            Change::Resolved,
            Change::Reopened,
            Change::Retired
        ],
        "in the order they happened"
    );
    let all = s.all_findings(now).unwrap();
    assert!(all.windows(2).all(|p| p[0].id < p[1].id), "oldest first");
    assert!(all.iter().any(|x| x.id == f.id));
    let limited = s
        .findings(
            &FindingFilter {
                limit: 1,
                ..FindingFilter::default()
            },
            now,
        )
        .unwrap();
    assert_eq!(limited.len(), 1);
    let none = s
        .findings(
            &FindingFilter {
                severity: Some(reachcheck::model::Severity::Info),
                recipient: Some(org(BAD)),
                state: Some(FindingState::Open),
                limit: 10,
                ..FindingFilter::default()
            },
            now,
        )
        .unwrap();
    assert!(none.iter().all(|x| x.state == FindingState::Open));
}

/// The open findings as `findings` lists them: (recipient, code, last seen).
fn open_findings(s: &Store, now: &str) -> Vec<(String, String, Timestamp)> {
    let mut v: Vec<_> = s
        .findings(
            &FindingFilter {
                state: Some(FindingState::Open),
                limit: 100,
                ..FindingFilter::default()
            },
            t(now),
        )
        .unwrap()
        .into_iter()
        .map(|f| {
            (
                f.route.recipient.to_string(),
                f.code.as_str().to_owned(),
                f.last_seen_at,
            )
        })
        .collect();
    v.sort();
    v
}

/// A store keeps what the sweep it recorded left (routes, current verdicts, open findings)
/// for its next sweep. That state must be read again whenever it may differ from the
/// database: after another store (another process, another instance) recorded a sweep,
/// and after a transaction that failed half-way (its changes were rolled back, the
/// state's were not).
fn a_store_that_recorded_the_last_sweep_keeps_its_state_and_reads_it_again_when_it_may_be_stale(
    b: &Backend,
) {
    let w = two_routes();
    let no_reader = (BAD.to_owned(), "no_reader".to_owned());
    let mut a = b.open();
    let mut other = b.open();
    let (_, o1) = sweep(&mut a, &w, "2026-11-21T06:00:00Z");
    assert!(changes(&o1, Change::Opened).contains(&no_reader));
    // Open findings were last seen by the latest sweep, however long ago they opened.
    let (id2, o2) = sweep(&mut a, &w, "2026-11-21T07:00:00Z");
    assert_eq!(o2.changed, 0, "{o2:?}");
    // The answers did not change: the blob is kept and now names this sweep.
    let latest = a.latest().unwrap().unwrap();
    assert_eq!(latest.sweep.id, id2);
    assert_eq!(latest.verdicts, a.verdicts_at(id2).unwrap());
    // A blob gone from under the store is written again, not assumed.
    b.raw("DELETE FROM answers");
    let (id2b, _) = sweep(&mut a, &w, "2026-11-21T07:30:00Z");
    assert_eq!(
        b.raw_text(
            "SELECT CAST(count(*) AS TEXT) FROM answers WHERE sweep = (SELECT max(id) FROM sweeps)"
        ),
        "1"
    );
    assert_eq!(a.latest().unwrap().unwrap().sweep.id, id2b);
    assert!(
        open_findings(&a, "2026-11-21T07:30:00Z")
            .iter()
            .all(|(_, _, seen)| *seen == t("2026-11-21T07:30:01Z"))
    );

    // Another store records a sweep in which BAD is readable: `a`'s state is stale.
    bad_gets_a_reader(&w, true);
    let (_, o3) = sweep(&mut other, &w, "2026-11-21T08:00:00Z");
    assert_eq!(changes(&o3, Change::Resolved), vec![no_reader.clone()]);
    bad_gets_a_reader(&w, false);
    let (_, o4) = sweep(&mut a, &w, "2026-11-21T09:00:00Z");
    assert_eq!(
        changes(&o4, Change::Reopened),
        vec![no_reader.clone()],
        "`a` read what the other store recorded"
    );
    assert_eq!(o4.changed, 1, "BAD's verdict changed back: {o4:?}");

    // A sweep whose transaction fails after the state was worked on: nothing of it stays,
    // in the database or in the state the next sweep starts from.
    refuse_inserts_into(b, "answers");
    b.raw("INSERT INTO boom VALUES (1)");
    bad_gets_a_reader(&w, true);
    let at = t("2026-11-21T10:00:00Z");
    let id = a.begin_sweep(at, "test").unwrap();
    let failed = a.record_sweep(id, t("2026-11-21T10:00:01Z"), at, &judge(&w, at));
    assert!(failed.is_err(), "the trigger refused the answers");
    a.fail_sweep(id, at, "boom").unwrap();
    b.raw("DELETE FROM boom");
    bad_gets_a_reader(&w, false);
    let (_, o5) = sweep(&mut a, &w, "2026-11-21T11:00:00Z");
    assert_eq!(o5.changed, 0, "as after the 09:00 sweep: {o5:?}");
    assert!(o5.changes.is_empty(), "{:?}", o5.changes);
    assert_eq!(
        open_findings(&a, "2026-11-21T11:00:00Z"),
        open_findings(&b.open(), "2026-11-21T11:00:00Z"),
        "a store that just opened reads the same"
    );
    assert!(
        open_findings(&a, "2026-11-21T11:00:00Z")
            .iter()
            .any(|(r, c, seen)| (r, c) == (&no_reader.0, &no_reader.1)
                && *seen == t("2026-11-21T11:00:01Z"))
    );
}

/// Makes the store refuse every insert into `table` while the table `boom` has a row (a
/// database that refuses a write half-way through a transaction).
fn refuse_inserts_into(b: &Backend, table: &str) {
    match b {
        Backend::Sqlite(_) => b.raw(&format!(
            "CREATE TABLE boom (x INTEGER);
             CREATE TRIGGER boom_{table} BEFORE INSERT ON {table}
             WHEN EXISTS (SELECT 1 FROM boom) BEGIN SELECT RAISE(ABORT, 'boom'); END;"
        )),
        Backend::Postgres(_) => b.raw(&format!(
            "CREATE TABLE boom (x INTEGER);
             CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN IF EXISTS (SELECT 1 FROM boom) THEN RAISE EXCEPTION 'boom'; END IF;
             RETURN NEW; END $$;
             CREATE TRIGGER boom_{table} BEFORE INSERT ON {table}
             FOR EACH ROW EXECUTE FUNCTION boom();"
        )),
    }
}

/// Another store of the same backend, empty.
fn another(b: &Backend) -> Backend {
    match b {
        Backend::Sqlite(_) => Backend::sqlite(),
        Backend::Postgres(_) => Backend::postgres().expect("a server"),
    }
}

/// Records only the answers of a sweep of the world at `at` (its history left due, as a
/// process that ended between the two steps leaves it).
fn answers_only(s: &mut Store, w: &World, at: &str) -> i64 {
    let at = t(at);
    let id = s.begin_sweep(at, "test").unwrap();
    let finished = at.checked_add(SignedDuration::from_secs(1)).unwrap();
    s.record_answers(id, finished, t("2026-11-21T05:00:00Z"), &judge(w, at))
        .unwrap();
    id
}

/// A sweep is recorded in two steps: its answers, then its history. A history left due
/// (the process ended, another process wrote it, the database refused it) is written
/// later from the stored answers, exactly as it would have been from the evaluation; one
/// whose answers are gone or malformed is written with the next sweep's, never guessed; a
/// history due for a sweep that did not end `ok` is refused, not read around.
fn a_history_not_written_with_its_sweep_is_written_from_the_answers_as_it_would_have_been(
    b: &Backend,
) {
    let w = two_routes();
    let no_reader = (BAD.to_owned(), "no_reader".to_owned());
    let reference = another(b);
    let mut r = reference.open();
    let mut s = b.open();
    // 06:00 both whole; 07:00 BAD gets readers (its finding resolved), 08:00 loses them.
    let (id1, _) = sweep(&mut r, &w, "2026-11-21T06:00:00Z");
    assert_eq!(sweep(&mut s, &w, "2026-11-21T06:00:00Z").0, id1);
    bad_gets_a_reader(&w, true);
    let (_, r2) = sweep(&mut r, &w, "2026-11-21T07:00:00Z");
    let id2 = answers_only(&mut s, &w, "2026-11-21T07:00:00Z");
    // The process ends here. Reopened, the sweep is served from its answers at once.
    drop(s);
    let mut s = b.open();
    let latest = s.latest().unwrap().unwrap();
    assert_eq!(latest.sweep.id, id2);
    assert_eq!(latest.verdicts, r.verdicts_at(id2).unwrap());
    assert_eq!(s.last_sweep().unwrap().unwrap().status, SweepStatus::Ok);
    let (due, s2) = s.write_history(None).unwrap().expect("a history was due");
    assert_eq!(due, id2);
    assert_eq!(changes(&s2, Change::Resolved), vec![no_reader.clone()]);
    assert_eq!(
        (
            s2.changed,
            s2.changes.clone(),
            s2.counts,
            s2.by_code.clone()
        ),
        (
            r2.changed,
            r2.changes.clone(),
            r2.counts,
            r2.by_code.clone()
        )
    );
    assert!(s.write_history(None).unwrap().is_none(), "written once");

    // 08:00: the history is written by another store reading it first (another process);
    // this one then finds nothing due, and its kept state is read again.
    bad_gets_a_reader(&w, false);
    sweep(&mut r, &w, "2026-11-21T08:00:00Z");
    let at = t("2026-11-21T08:00:00Z");
    let id3 = s.begin_sweep(at, "test").unwrap();
    let e3 = judge(&w, at);
    s.record_answers(
        id3,
        t("2026-11-21T08:00:01Z"),
        t("2026-11-21T05:00:00Z"),
        &e3,
    )
    .unwrap();
    assert_eq!(
        open_findings(&b.open_existing(), "2026-11-21T08:00:00Z"),
        open_findings(&r, "2026-11-21T08:00:00Z"),
        "a reader sees the history whole"
    );
    assert!(s.write_history(Some((id3, &e3))).unwrap().is_none());
    assert_eq!(
        reads(&s),
        reads(&r),
        "the same history as written in one go"
    );

    // Refused: the database refuses the history; the sweep stands and is served, its
    // history stays due and is written once the database takes it.
    refuse_inserts_into(b, "finding_events");
    b.raw("INSERT INTO boom VALUES (1)");
    bad_gets_a_reader(&w, true);
    let (_, r4) = sweep(&mut r, &w, "2026-11-21T09:00:00Z");
    let at = t("2026-11-21T09:00:00Z");
    let id4 = s.begin_sweep(at, "test").unwrap();
    let e4 = judge(&w, at);
    assert!(
        s.record_sweep(
            id4,
            t("2026-11-21T09:00:01Z"),
            t("2026-11-21T05:00:00Z"),
            &e4
        )
        .unwrap_err()
        .reason
        .contains("boom")
    );
    assert_eq!(s.latest().unwrap().unwrap().sweep.id, id4, "served");
    assert!(
        s.findings(&FindingFilter::default(), at).is_err(),
        "not read around"
    );
    b.raw("DELETE FROM boom");
    let (due, s4) = s.write_history(None).unwrap().unwrap();
    assert_eq!((due, s4.changes), (id4, r4.changes));
    assert_eq!(reads(&s), reads(&r));

    // Missing, then malformed: the answers a history is due from are gone, or do not
    // decode. Nothing is written for that sweep (`changed` stays unknown); the next
    // sweep's history shows the change.
    for (i, damage) in [
        "DELETE FROM answers",
        match b {
            Backend::Sqlite(_) => "UPDATE answers SET body = substr(body, 1, 30)",
            Backend::Postgres(_) => "UPDATE answers SET body = substring(body from 1 for 30)",
        },
    ]
    .into_iter()
    .enumerate()
    {
        let (first, second) = if i == 0 { ("10", "11") } else { ("12", "13") };
        // BAD loses its readers (its finding reopens), then has them again (resolved).
        bad_gets_a_reader(&w, i == 1);
        let ours = answers_only(&mut s, &w, &format!("2026-11-21T{first}:00:00Z"));
        b.raw(damage);
        let (due, lost) = s.write_history(None).unwrap().unwrap();
        assert_eq!(due, ours);
        assert!(lost.changes.is_empty(), "{:?}", lost.changes);
        let sweeps = s.sweeps(1).unwrap();
        assert_eq!((sweeps[0].id, sweeps[0].changed), (ours, None));
        let (_, next) = sweep(&mut s, &w, &format!("2026-11-21T{second}:00:00Z"));
        let expected = if i == 0 {
            Change::Reopened
        } else {
            Change::Resolved
        };
        assert_eq!(
            changes(&next, expected),
            vec![no_reader.clone()],
            "{next:?}"
        );
    }

    // Contradictory: a history due for a sweep that did not end `ok` (a hand edit).
    let bad = s.begin_sweep(t("2026-11-21T14:00:00Z"), "test").unwrap();
    b.raw(&format!(
        "UPDATE sweeps SET status = 'failed' WHERE id = {bad}; INSERT INTO history_due (sweep) VALUES ({bad});"
    ));
    let e = s.write_history(None).unwrap_err().to_string();
    assert!(e.contains("did not end `ok`"), "{e}");
    assert!(
        s.verdict_rows().is_err(),
        "the history is not read around it"
    );
}

/// The sweeper's lease: one holder at a time, timed by the database's clock. A takeover
/// makes the token one more, and a deposed holder's writes are refused inside their own
/// transactions (a sweep's answers and history, onboarding, alert marks, pruning), leaving
/// nothing of them.
/// Issue 21: an instance that does not sweep applies the changes from the answers it holds
/// to the latest, and then answers every check exactly as the answers read whole would.
fn an_instance_that_follows_applies_each_sweeps_changes_and_answers_as_if_it_read_them_whole(
    b: &Backend,
) {
    use reachcheck::Verifier;
    let policies = std::sync::Arc::new(
        Policies::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("policies")).unwrap(),
    );
    let whole = |s: &Store| {
        Verifier::from_store(
            std::sync::Arc::clone(&policies),
            &s.latest().unwrap().unwrap(),
            DEFAULT_MAX_DATA_AGE,
        )
    };
    let er_only = crate::fixture::ER_ONLY;
    let w = World::new(&[
        &route("bekymringsmelding", BAD),
        &route("bekymringsmelding", GOOD),
        &route("ordinaer-post", er_only),
    ]);
    // Every route either sweep judged, and one neither did; checked soon after the sweep
    // and once the evidence is too old.
    let asked: Vec<Route> = [
        ("bekymringsmelding", BAD),
        ("bekymringsmelding", GOOD),
        ("ordinaer-post", er_only),
        ("ordinaer-post", GOOD),
        ("ordinaer-post", BAD),
        ("bekymringsmelding", er_only),
    ]
    .iter()
    .map(|(t, r)| Route::new(org(SENDER), MessageTypeId::parse(t).unwrap(), org(r)))
    .collect();
    let same = |follower: &Verifier, reference: &Verifier| {
        for now in ["2026-11-21T09:00:00Z", "2026-11-30T09:00:00Z"] {
            for r in &asked {
                assert_eq!(
                    follower.check_at(r, t(now)),
                    reference.check_at(r, t(now)),
                    "{r} at {now}"
                );
            }
        }
        assert_eq!(follower.sweep(), reference.sweep());
        assert_eq!(follower.taken_at(), reference.taken_at());
    };
    let rows = |b: &Backend| b.raw_text("SELECT CAST(count(*) AS TEXT) FROM answer_changes");

    let mut s = b.open();
    let (first, _) = sweep(&mut s, &w, "2026-11-21T06:00:00Z");
    // Missing: the first answers this store records have nothing to change from.
    assert_eq!(rows(b), "0");
    assert!(s.answer_changes(first).unwrap().is_none());
    let follower = whole(&s);

    // BAD gains readers, GOOD's route leaves the table, ordinaer-post to GOOD and
    // bekymringsmelding to ER_ONLY join it.
    bad_gets_a_reader(&w, true);
    w.set_routes(&[
        &route("bekymringsmelding", BAD),
        &route("ordinaer-post", er_only),
        &route("ordinaer-post", GOOD),
        &route("bekymringsmelding", er_only),
    ]);
    let (second, _) = sweep(&mut s, &w, "2026-11-21T07:00:00Z");
    let c = s
        .answer_changes(first)
        .unwrap()
        .expect("the changes since the first");
    assert_eq!((c.base, c.sweep.id), (first, second));
    let pairs = |c: &reachcheck::store::AnswerChanges| {
        let mut v: Vec<(String, String, Option<Verdict>)> = c
            .changes
            .iter()
            .map(|x| {
                (
                    x.message_type.to_string(),
                    x.recipient.to_string(),
                    x.answer.as_ref().map(|a| a.verdict),
                )
            })
            .collect();
        v.sort();
        v
    };
    let mut expected: Vec<(String, String, Option<Verdict>)> = vec![
        (
            "bekymringsmelding".into(),
            BAD.into(),
            Some(Verdict::Readable),
        ),
        ("bekymringsmelding".into(), GOOD.into(), None),
        ("ordinaer-post".into(), GOOD.into(), Some(Verdict::Readable)),
        (
            "bekymringsmelding".into(),
            er_only.into(),
            Some(Verdict::Unknown),
        ),
    ];
    expected.sort();
    assert_eq!(
        pairs(&c),
        expected,
        "only what changed: ordinaer-post to {er_only} is the same"
    );
    // The findings on the sweep's routes, by code, come along (for the metrics).
    let mut by_code = c.by_code.clone();
    by_code.sort();
    let mut counted: BTreeMap<FindingCode, u64> = BTreeMap::new();
    for v in s.latest().unwrap().unwrap().verdicts {
        for f in v.findings.iter() {
            *counted.entry(f.code()).or_default() += 1;
        }
    }
    assert!(!counted.is_empty());
    assert_eq!(by_code, counted.into_iter().collect::<Vec<_>>());
    assert!(
        s.answer_changes(second).unwrap().is_none(),
        "none after the latest"
    );
    assert!(follower.apply_changes(&c));
    same(&follower, &whole(&s));
    // Changes are applied only to the answers they start from.
    assert!(
        !follower.apply_changes(&c),
        "held: the second sweep's answers now"
    );
    let judged_here = Verifier::new(
        reachcheck::Engine::new(
            std::sync::Arc::clone(&policies),
            std::sync::Arc::new(
                SnapshotDir::new(w.snapshot())
                    .load([org(BAD)], &policies.resource_ids())
                    .unwrap(),
            ),
            DEFAULT_MAX_DATA_AGE,
        ),
        None,
    );
    assert!(
        !judged_here.apply_changes(&c),
        "a verifier with an engine judges for itself"
    );

    // A quiet sweep: nothing changed but when the evidence was taken, which ages every
    // answer held.
    let at = t("2026-11-21T08:00:00Z");
    let third = s.begin_sweep(at, "test").unwrap();
    s.record_sweep(third, at, t("2026-11-21T07:30:00Z"), &judge(&w, at))
        .unwrap();
    let c = s.answer_changes(second).unwrap().unwrap();
    assert!(c.changes.is_empty(), "{:?}", c.changes);
    assert!(follower.apply_changes(&c));
    same(&follower, &whole(&s));

    // Missing: a recorder that holds no earlier answers (another instance took over)
    // leaves no changes: the instances that follow read the answers whole.
    let mut other = b.open();
    let (fourth, _) = sweep(&mut other, &w, "2026-11-21T09:00:00Z");
    assert_eq!(rows(b), "0");
    assert!(other.answer_changes(third).unwrap().is_none());
    // Malformed: changes that do not decode are not applied.
    let (fifth, _) = sweep(&mut other, &w, "2026-11-21T10:00:00Z");
    assert!(other.answer_changes(fourth).unwrap().is_some());
    match b {
        Backend::Sqlite(_) => b.raw("UPDATE answer_changes SET body = x'5243433100'"),
        Backend::Postgres(_) => b.raw("UPDATE answer_changes SET body = '\\x5243433100'::bytea"),
    }
    assert!(other.answer_changes(fourth).unwrap().is_none());
    // Contradictory: changes leading to a sweep that did not end `ok`.
    let (sixth, _) = sweep(&mut other, &w, "2026-11-21T11:00:00Z");
    assert!(other.answer_changes(fifth).unwrap().is_some());
    b.raw(&format!(
        "UPDATE sweeps SET status = 'failed' WHERE id = {sixth}"
    ));
    assert!(other.answer_changes(fifth).unwrap().is_none());
    // Refused: a store that cannot be read says so; it does not say "no changes".
    b.raw("DROP TABLE answer_changes");
    assert!(other.answer_changes(fifth).is_err());
}

fn one_instance_holds_the_sweeper_lease_and_a_deposed_one_cannot_write(b: &Backend) {
    use std::time::Duration;
    let w = two_routes();
    let mut a = b.open();
    let mut other = b.open();
    assert_eq!(a.lease().unwrap(), None, "nobody claimed it yet");
    let short = Duration::from_millis(500);
    let held = a.claim_lease("a", short).unwrap();
    assert_eq!((held.holder.as_str(), held.token), ("a", 1));
    assert!(held.live());
    // Another instance cannot take it while it lives; its holder renews it, token kept.
    let seen = other.claim_lease("b", short).unwrap();
    assert_eq!((seen.holder.as_str(), seen.token), ("a", 1));
    let renewed = a.claim_lease("a", short).unwrap();
    assert_eq!(renewed.token, 1);
    assert!(renewed.expires_ms >= held.expires_ms);
    a.set_fence(Some(held.fence()));
    let (id1, _) = sweep(&mut a, &w, "2026-11-21T06:00:00Z");

    // `a` is paused past its lease; `b` takes it over.
    std::thread::sleep(Duration::from_millis(700));
    let took = other.claim_lease("b", Duration::from_secs(60)).unwrap();
    assert_eq!((took.holder.as_str(), took.token), ("b", 2));
    other.set_fence(Some(took.fence()));
    // `a` resumes: each of its writes is refused, and nothing of them stays.
    bad_gets_a_reader(&w, true);
    let at = t("2026-11-21T07:00:00Z");
    let id = a.begin_sweep(at, "test").unwrap();
    let e = a
        .record_sweep(id, t("2026-11-21T07:00:01Z"), at, &judge(&w, at))
        .unwrap_err();
    assert!(e.is_fenced(), "{e}");
    assert!(e.to_string().contains("`b` holds it with token 2"), "{e}");
    assert_eq!(
        a.latest().unwrap().unwrap().sweep.id,
        id1,
        "still the sweep before"
    );
    let mut rec = OnboardingRecord::never_asked(org(BAD));
    rec.recipients = vec![org(BAD)];
    let run = OnboardingRun {
        at,
        system_id: "310000019_reachcheck".to_owned(),
        organisations: vec![rec],
        created: 0,
        other_system_users: vec![],
        remind_after: reachcheck::onboarding::DEFAULT_REMIND_AFTER,
    };
    assert!(a.record_onboarding(&run).unwrap_err().is_fenced());
    assert!(a.onboarding().unwrap().is_empty());
    assert!(a.mark_alerted(&[], at).unwrap_err().is_fenced());
    assert!(a.prune(at).unwrap_err().is_fenced());
    // A history left due is written by the holder, not by the deposed one.
    let (_, o) = sweep(&mut other, &w, "2026-11-21T08:00:00Z");
    assert_eq!(changes(&o, Change::Resolved).len(), 1, "{o:?}");
    other.record_onboarding(&run).unwrap();
    // Renewing, `a` learns it is not the holder.
    assert_eq!(
        a.claim_lease("a", short).unwrap().holder,
        "b",
        "b's lease lives"
    );
    // Released at shutdown, the lease is taken at once, the token one more; the old
    // holder's release changes nothing.
    assert!(!a.release_lease(&held.fence()).unwrap());
    assert!(other.release_lease(&took.fence()).unwrap());
    let again = a.claim_lease("a", short).unwrap();
    assert_eq!((again.holder.as_str(), again.token), ("a", 3));
    // Unfenced (a command, or a daemon alone on its store): nothing is checked.
    let mut plain = b.open();
    sweep(&mut plain, &w, "2026-11-21T09:00:00Z");
}

fn suppressions_cover_their_findings_and_lapse_once(b: &Backend) {
    let w = two_routes();
    let mut s = b.open();
    let now = t("2026-11-21T05:30:00Z");
    let mut new = NewSuppression {
        recipient: org(BAD),
        code: FindingCode::NoReader,
        sender: Some(org(SENDER)),
        message_type: Some(MessageTypeId::parse("bekymringsmelding").unwrap()),
        justification: "  the municipality reads it on paper  ".to_owned(),
        expires_at: t("2026-11-21T06:30:00Z"),
    };
    let id = s.add_suppression(&new, "ops", now).unwrap();
    new.sender = None;
    new.message_type = None;
    new.expires_at = t("2026-12-21T00:00:00Z");
    let whole = s.add_suppression(&new, "ops", now).unwrap();
    assert!(whole > id);
    new.justification = " ".to_owned();
    let e = s.add_suppression(&new, "ops", now).unwrap_err().to_string();
    assert!(e.contains("`justification`"), "{e}");
    let all = s.suppressions().unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].justification, "the municipality reads it on paper");
    assert_eq!(all[0].created_by, "ops");
    assert_eq!(all[0].created_at, now);
    assert_eq!(all[1].sender, None);

    let (_, o) = sweep(&mut s, &w, "2026-11-21T06:00:00Z");
    let opened = o
        .changes
        .iter()
        .find(|c| c.code == FindingCode::NoReader)
        .unwrap();
    assert!(opened.suppressed, "an active suppression covers it");
    let f = s
        .findings(
            &FindingFilter {
                recipient: Some(org(BAD)),
                limit: 10,
                ..FindingFilter::default()
            },
            t("2026-11-21T06:00:00Z"),
        )
        .unwrap();
    let f = f.iter().find(|f| f.code == FindingCode::NoReader).unwrap();
    assert_eq!(f.suppressed_by, Some(id), "the first one that covers it");
    assert_eq!(
        f.state,
        FindingState::Open,
        "a suppression never changes it"
    );

    let later = t("2026-11-21T07:00:00Z");
    let lapsed = s.lapse_suppressions(later).unwrap();
    assert_eq!(lapsed.iter().map(|x| x.id).collect::<Vec<_>>(), [id]);
    assert!(
        s.lapse_suppressions(later).unwrap().is_empty(),
        "noticed once"
    );
    assert_eq!(s.suppressions().unwrap()[0].lapsed_at, Some(later));
}

fn the_audit_trail_appends_in_batches(b: &Backend) {
    let mut s = b.open();
    assert_eq!(s.audit_count().unwrap(), 0);
    let entry = |n: u32| AuditEntry {
        at: t("2026-11-21T06:00:00Z"),
        caller: "sender-system".into(),
        route: r(BAD),
        verdict: Verdict::NotReadable,
        readers: n,
    };
    s.audit(&[entry(0), entry(1)]).unwrap();
    s.audit(&[]).unwrap();
    s.audit(&[entry(2)]).unwrap();
    assert_eq!(s.audit_count().unwrap(), 3);
}

fn onboarding_runs_are_kept_and_the_next_run_replaces_them(b: &Backend) {
    let mut store = b.open();
    let main = org("964338531");
    let sub = org("974760673");
    let mut rec = OnboardingRecord::never_asked(main);
    rec.state = OnboardingState::Pending;
    rec.status = Some(RequestStatus::New);
    rec.request_id = Some("r1".to_owned());
    rec.approval_link = Some("https://am.ui.example/x?id=r1".to_owned());
    rec.since = Some(t("2026-11-01T00:00:00Z"));
    rec.recipients = vec![main, sub];
    let mut run = OnboardingRun {
        at: t("2026-11-01T00:00:00Z"),
        system_id: "310000019_reachcheck".to_owned(),
        organisations: vec![rec.clone()],
        created: 1,
        other_system_users: vec![],
        remind_after: reachcheck::onboarding::DEFAULT_REMIND_AFTER,
    };
    store.record_onboarding(&run).unwrap();
    assert_eq!(store.onboarding().unwrap()[&main], rec);
    assert_eq!(store.onboarding_of(sub).unwrap(), Some(rec.clone()));
    assert_eq!(store.onboarding_of(org("958935420")).unwrap(), None);
    rec.state = OnboardingState::Approved;
    rec.status = Some(RequestStatus::Accepted);
    rec.approval_link = None;
    run.organisations = vec![rec.clone()];
    store.record_onboarding(&run).unwrap();
    let all = store.onboarding().unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[&main], rec);
}

fn names_are_kept_replaced_and_read_back(b: &Backend) {
    let mut store = b.open();
    assert!(store.names().unwrap().is_empty());
    let (bergen, oslo) = (org("964338531"), org("958935420"));
    let at = t("2026-11-21T06:00:00Z");
    store
        .record_names(
            &[
                (bergen, "BERGEN KOMMUNE".to_owned()),
                (oslo, "OSLO KOMMUNE".to_owned()),
            ],
            at,
        )
        .unwrap();
    store
        .record_names(&[(bergen, "BERGEN KOMMUNE (NY)".to_owned())], at)
        .unwrap();
    let names = store.names().unwrap();
    assert_eq!(names[&bergen], "BERGEN KOMMUNE (NY)");
    assert_eq!(names[&oslo], "OSLO KOMMUNE", "a name not seen again stays");
    // An unchanged name is not rewritten: it keeps the time it was first seen.
    store
        .record_names(
            &[(oslo, "OSLO KOMMUNE".to_owned())],
            t("2026-11-22T06:00:00Z"),
        )
        .unwrap();
    let seen = b.raw_text(&format!(
        "SELECT seen_at FROM organisation_names WHERE org = {}",
        oslo.get()
    ));
    assert!(seen.starts_with("2026-11-21T06:00:00"), "{seen}");
}

fn retention_forgets_old_sweeps_and_ended_verdicts_but_keeps_the_latest_answers(b: &Backend) {
    let w = World::new(&[&route("bekymringsmelding", BAD)]);
    let mut s = b.open();
    let (s1, _) = sweep(&mut s, &w, "2026-11-21T06:00:00Z");
    bad_gets_a_reader(&w, true);
    let (s2, _) = sweep(&mut s, &w, "2026-11-21T07:00:00Z");
    let (s3, _) = sweep(&mut s, &w, "2026-11-21T08:00:00Z");
    s.audit(&[AuditEntry {
        at: t("2026-11-21T06:30:00Z"),
        caller: "x".into(),
        route: r(BAD),
        verdict: Verdict::NotReadable,
        readers: 0,
    }])
    .unwrap();
    assert_eq!(s.verdict_rows().unwrap(), 2);
    let pruned = s.prune(t("2026-11-22T00:00:00Z")).unwrap();
    // Sweep 1's verdict ended at sweep 2: forgotten, with sweep 1; sweep 2 still holds the
    // current verdict (since), and sweep 3 is the latest.
    assert_eq!(pruned.verdicts, 1);
    assert_eq!(pruned.audit, 1);
    assert_eq!(s.verdict_rows().unwrap(), 1);
    assert_eq!(s.audit_count().unwrap(), 0);
    let left: Vec<i64> = s.sweeps(10).unwrap().iter().map(|x| x.id).collect();
    assert!(
        left.contains(&s3) && left.contains(&s2) && !left.contains(&s1),
        "{left:?} ({pruned:?})"
    );
    let latest = s.latest().unwrap().unwrap();
    assert_eq!(latest.sweep.id, s3);
    assert_eq!(latest.verdicts.len(), 1);
    assert_eq!(latest.verdicts[0].verdict, Verdict::Readable);
    let f = s.all_findings(t("2026-11-22T00:00:00Z")).unwrap();
    assert_eq!(
        f[0].first_seen_at,
        t("2026-11-21T06:00:01Z"),
        "the summary stays"
    );
}

fn the_answers_blob_agrees_with_the_history_and_a_broken_one_is_not_trusted(b: &Backend) {
    let w = World::new(&[
        &route("bekymringsmelding", BAD),
        &route("bekymringsmelding", GOOD),
        &route("ordinaer-post", crate::fixture::ER_ONLY),
    ]);
    let mut s = b.open();
    sweep(&mut s, &w, "2026-11-21T06:00:00Z");
    bad_gets_a_reader(&w, true);
    let (last, _) = sweep(&mut s, &w, "2026-11-21T07:00:00Z");
    let sorted = |mut v: Vec<reachcheck::store::StoredVerdict>| {
        v.sort_by_key(|x| x.route.to_string());
        v
    };
    let from_blob = sorted(s.latest().unwrap().unwrap().verdicts);
    let from_history = sorted(s.verdicts_at(last).unwrap());
    assert_eq!(from_blob.len(), 3);
    assert_eq!(from_blob, from_history);
    drop(s);
    // A damaged blob: the answers come from the history, the same.
    match b {
        Backend::Sqlite(_) => b.raw("UPDATE answers SET body = x'5243413100'"),
        Backend::Postgres(_) => b.raw("UPDATE answers SET body = '\\x5243413100'::bytea"),
    }
    let s = b.open();
    assert_eq!(sorted(s.latest().unwrap().unwrap().verdicts), from_history);
    // No blob at all: the same.
    b.raw("DELETE FROM answers");
    assert_eq!(sorted(s.latest().unwrap().unwrap().verdicts), from_history);
}

// ---------------------------------------------------------------------------------------
// Sent messages and polls.

fn message(n: u128, read: Option<&str>) -> Message {
    Message {
        id: CorrespondenceId::from_u128(n),
        resource: ResourceId::parse("politi-bekymringsmelding").unwrap(),
        sender: Some(org(SENDER)),
        recipient: Recipient::Organisation(org(BAD)),
        senders_reference: Some("sak 1".into()),
        requested_publish: Some(t("2026-11-20T08:00:00.000001Z")),
        published: Some(t("2026-11-20T08:00:01Z")),
        read: read.map(t),
        confirmed: None,
        confirmation_needed: false,
        due: None,
        notification: NotificationOutcome::Delivered,
        notifications_settled: true,
        failed: false,
    }
}

fn routed(m: Message) -> Ingest {
    Ingest::Message {
        message: m,
        placement: Placement::Routed(r(BAD)),
        is_final: false,
    }
}

const POLL_FOR: SignedDuration = SignedDuration::from_hours(24 * 90);

fn a_poll_is_written_whole_and_a_later_one_updates_without_forgetting_a_read(b: &Backend) {
    let mut s = b.open();
    let now = t("2026-11-20T09:00:00Z");
    let got = s
        .ingest(
            &[
                routed(message(1, Some("2026-11-20T08:30:00Z"))),
                routed(message(2, None)),
            ],
            now,
            POLL_FOR,
        )
        .unwrap();
    assert_eq!(got, Ingested { stored: 2, new: 2 });
    // A later answer without the read (it never goes away): the first read is kept.
    let later = t("2026-11-20T10:00:00Z");
    let got = s
        .ingest(
            &[routed(message(1, None)), routed(message(3, None))],
            later,
            POLL_FOR,
        )
        .unwrap();
    assert_eq!(got, Ingested { stored: 2, new: 1 });
    let all = s.messages(&MessageFilter::default()).unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(s.message_count().unwrap(), 3);
    let one = all.iter().find(|m| m.id.as_u128() == 1).unwrap();
    assert_eq!(one.read, Some(t("2026-11-20T08:30:00Z")));
    assert_eq!(one.first_seen, now);
    assert_eq!(one.checked, later);
    assert_eq!(one.route(), Some(r(BAD)));
    assert_eq!(one.senders_reference.as_deref(), Some("sak 1"));
    assert_eq!(
        one.requested_publish.unwrap().to_string(),
        "2026-11-20T08:00:00.000001Z",
        "kept to the microsecond, for the pager"
    );
    let unread = s
        .messages(&MessageFilter {
            unread: true,
            ..MessageFilter::default()
        })
        .unwrap();
    let mut ids: Vec<u128> = unread.iter().map(|m| m.id.as_u128()).collect();
    ids.sort_unstable();
    assert_eq!(ids, [2, 3]);
    let filtered = s
        .messages(&MessageFilter {
            recipients: vec![org(BAD), org(GOOD)],
            senders: vec![org(SENDER)],
            message_types: vec![MessageTypeId::parse("bekymringsmelding").unwrap()],
            from: Some(t("2026-11-20T08:00:00Z")),
            to: Some(t("2026-11-20T09:00:00Z")),
            ..MessageFilter::default()
        })
        .unwrap();
    assert_eq!(filtered.len(), 3);
    let none = s
        .messages(&MessageFilter {
            recipients: vec![org(GOOD)],
            ..MessageFilter::default()
        })
        .unwrap();
    assert!(none.is_empty());
    let known = s.known_messages().unwrap();
    assert_eq!(known.len(), 3);
    assert!(!known[&CorrespondenceId::from_u128(1)].is_final);
}

fn unusable_details_keep_what_was_known_and_are_given_up_after_the_poll_window(b: &Backend) {
    let mut s = b.open();
    let now = t("2026-11-20T09:00:00Z");
    s.ingest(&[routed(message(1, None))], now, POLL_FOR)
        .unwrap();
    let bad = |n: u128| Ingest::Unusable {
        id: CorrespondenceId::from_u128(n),
        resource: None,
        problem: "malformed details (cut off) at line 1 column 9".into(),
    };
    let got = s
        .ingest(&[bad(1), bad(2)], t("2026-11-20T09:10:00Z"), POLL_FOR)
        .unwrap();
    assert_eq!(got, Ingested { stored: 2, new: 1 });
    let all = s
        .messages(&MessageFilter {
            unrouted: true,
            ..MessageFilter::default()
        })
        .unwrap();
    let one = all.iter().find(|m| m.id.as_u128() == 1).unwrap();
    assert_eq!(one.route(), Some(r(BAD)), "what was known stays");
    assert!(one.read.is_none() && one.problem.is_some());
    let two = all.iter().find(|m| m.id.as_u128() == 2).unwrap();
    assert!(two.resource.is_none() && two.route().is_none() && !two.is_final);
    // Usable again: the problem is gone.
    s.ingest(
        &[routed(message(1, Some("2026-11-20T09:30:00Z")))],
        now,
        POLL_FOR,
    )
    .unwrap();
    let all = s.messages(&MessageFilter::default()).unwrap();
    assert!(
        all.iter()
            .find(|m| m.id.as_u128() == 1)
            .unwrap()
            .problem
            .is_none()
    );
    // Still unusable 90 days later: final, not polled again.
    s.ingest(&[bad(2)], t("2027-03-01T00:00:00Z"), POLL_FOR)
        .unwrap();
    assert!(s.known_messages().unwrap()[&CorrespondenceId::from_u128(2)].is_final);
}

fn alerts_are_recorded_once_and_a_message_carries_the_verdict_it_was_sent_under(b: &Backend) {
    let w = World::new(&[&route("bekymringsmelding", BAD)]);
    let mut s = b.open();
    // A sweep that judged the route before the message was published.
    let (judged, _) = sweep(&mut s, &w, "2026-11-20T07:00:00Z");
    s.ingest(
        &[routed(message(1, None))],
        t("2026-11-21T09:00:00Z"),
        POLL_FOR,
    )
    .unwrap();
    let m = &s.alert_candidates().unwrap()[0];
    assert!(m.predicted.is_some(), "judged before it was sent");
    assert_eq!(m.predicted, s.verdict_at(&r(BAD), judged).unwrap());
    s.mark_alerted(
        &[(m.id, FindingCode::UnreadPastDeadline)],
        t("2026-11-21T09:00:01Z"),
    )
    .unwrap();
    assert!(s.alert_candidates().unwrap().is_empty());
    let stored = &s.messages(&MessageFilter::default()).unwrap()[0];
    assert_eq!(stored.alerted_unread, Some(t("2026-11-21T09:00:01Z")));
    assert_eq!(stored.alerted_notification, None);
    assert!(s.last_poll().unwrap().is_none());
    let poll = PollRecord {
        at: Some(t("2026-11-21T09:00:00Z")),
        source: "x".into(),
        listed: 3,
        fetched: 2,
        stored: 1,
        unusable: 1,
        unrouted: 0,
        incomplete: vec![(m.resource.clone().unwrap(), "why".into())],
    };
    s.record_poll(&poll).unwrap();
    assert_eq!(s.last_poll().unwrap(), Some(poll));
}

// ---------------------------------------------------------------------------------------
// Copying a history.

/// Everything a store answers through its public reads, for comparing two stores.
fn reads(s: &Store) -> String {
    let now = t("2026-11-21T12:00:00Z");
    let mut out = String::new();
    let mut put = |what: &str, v: String| out.push_str(&format!("{what}: {v}\n"));
    let sweeps = s.sweeps(u32::MAX).unwrap();
    put("sweeps", format!("{sweeps:?}"));
    put("last_sweep", format!("{:?}", s.last_sweep().unwrap()));
    let latest = s.latest().unwrap();
    put(
        "latest",
        format!("{:?}", latest.map(|l| (l.sweep, l.taken_at, l.verdicts))),
    );
    for sw in &sweeps {
        put(
            &format!("verdicts_at {}", sw.id),
            format!("{:?}", s.verdicts_at(sw.id).unwrap()),
        );
        for route in [r(BAD), r(GOOD)] {
            put(
                &format!("verdict_at {route} {}", sw.id),
                format!("{:?}", s.verdict_at(&route, sw.id).unwrap()),
            );
        }
    }
    put(
        "ok_sweeps_between",
        format!(
            "{:?}",
            s.ok_sweeps_between(t("2026-01-01T00:00:00Z"), now).unwrap()
        ),
    );
    put(
        "has_sender",
        format!("{:?}", s.has_sender(org(SENDER)).unwrap()),
    );
    put("verdict_rows", format!("{:?}", s.verdict_rows().unwrap()));
    put(
        "all_findings",
        format!("{:?}", s.all_findings(now).unwrap()),
    );
    put(
        "findings",
        format!(
            "{:?}",
            s.findings(
                &FindingFilter {
                    limit: 1000,
                    ..FindingFilter::default()
                },
                now
            )
            .unwrap()
        ),
    );
    put(
        "finding_events",
        format!("{:?}", s.finding_events().unwrap()),
    );
    put("suppressions", format!("{:?}", s.suppressions().unwrap()));
    put("audit_count", format!("{:?}", s.audit_count().unwrap()));
    put("onboarding", format!("{:?}", s.onboarding().unwrap()));
    put("names", format!("{:?}", s.names().unwrap()));
    let known: BTreeMap<String, String> = s
        .known_messages()
        .unwrap()
        .into_iter()
        .map(|(k, v)| (k.to_string(), format!("{v:?}")))
        .collect();
    put("known_messages", format!("{known:?}"));
    put(
        "messages",
        format!(
            "{:?}",
            s.messages(&MessageFilter {
                unrouted: true,
                ..MessageFilter::default()
            })
            .unwrap()
        ),
    );
    put(
        "alert_candidates",
        format!("{:?}", s.alert_candidates().unwrap()),
    );
    put("message_count", format!("{:?}", s.message_count().unwrap()));
    put("last_poll", format!("{:?}", s.last_poll().unwrap()));
    out
}

/// A history with something in every table.
fn fill(s: &mut Store) {
    let w = two_routes();
    s.add_suppression(
        &NewSuppression {
            recipient: org(BAD),
            code: FindingCode::NoReader,
            sender: None,
            message_type: None,
            justification: "accepted".to_owned(),
            expires_at: t("2027-01-01T00:00:00Z"),
        },
        "ops",
        t("2026-11-21T05:00:00Z"),
    )
    .unwrap();
    sweep(s, &w, "2026-11-21T06:00:00Z");
    bad_gets_a_reader(&w, true);
    sweep(s, &w, "2026-11-21T07:00:00Z");
    bad_gets_a_reader(&w, false);
    sweep(s, &w, "2026-11-21T08:00:00Z");
    let failed = s.begin_sweep(t("2026-11-21T09:00:00Z"), "test").unwrap();
    s.fail_sweep(failed, t("2026-11-21T09:00:01Z"), "gone")
        .unwrap();
    s.audit(&[AuditEntry {
        at: t("2026-11-21T08:30:00Z"),
        caller: "x".into(),
        route: r(BAD),
        verdict: Verdict::NotReadable,
        readers: 0,
    }])
    .unwrap();
    s.ingest(
        &[
            routed(message(1, Some("2026-11-21T08:40:00Z"))),
            routed(message(2, None)),
            Ingest::Unusable {
                id: CorrespondenceId::from_u128(3),
                resource: None,
                problem: "cut off".into(),
            },
        ],
        t("2026-11-21T09:00:00Z"),
        POLL_FOR,
    )
    .unwrap();
    s.record_poll(&PollRecord {
        at: Some(t("2026-11-21T09:00:00Z")),
        source: "x".into(),
        listed: 3,
        ..PollRecord::default()
    })
    .unwrap();
    s.record_names(
        &[(org(BAD), "BERGEN KOMMUNE".into())],
        t("2026-11-21T06:00:00Z"),
    )
    .unwrap();
    let mut rec = OnboardingRecord::never_asked(org(BAD));
    rec.recipients = vec![org(BAD)];
    s.record_onboarding(&OnboardingRun {
        at: t("2026-11-21T06:00:00Z"),
        system_id: "310000019_reachcheck".to_owned(),
        organisations: vec![rec],
        created: 0,
        other_system_users: vec![],
        remind_after: reachcheck::onboarding::DEFAULT_REMIND_AFTER,
    })
    .unwrap();
}

fn a_history_copied_to_sqlite_and_back_reads_the_same(b: &Backend) {
    let mut s = b.open();
    fill(&mut s);
    let before = reads(&s);
    let there = Backend::sqlite();
    let mut copy = there.open();
    let counts = s.copy_into(&mut copy).unwrap();
    assert_eq!(counts.get("sweeps"), 4);
    assert_eq!(counts.get("messages"), 3);
    // Every table but the histories due (written by the time the history was read).
    assert!(
        counts
            .tables
            .iter()
            .all(|(t, n)| *n > 0 || *t == "history_due"),
        "{counts:?}"
    );
    assert_eq!(reads(&copy), before);
    // And back into a fresh store of this backend.
    let back = match b {
        Backend::Sqlite(_) => Backend::sqlite(),
        Backend::Postgres(_) => Backend::postgres().unwrap(),
    };
    let mut again = back.open();
    let mut seen: Vec<(String, u64)> = Vec::new();
    copy.copy_into_with(&mut again, &mut |table, n| seen.push((table.to_owned(), n)))
        .unwrap();
    assert!(seen.iter().any(|(t, n)| t == "finding_events" && *n > 0));
    assert_eq!(reads(&again), before);
    // New rows get fresh ids after the copied ones.
    let next = again
        .begin_sweep(t("2026-11-21T10:00:00Z"), "test")
        .unwrap();
    assert_eq!(next, 5);
}

fn a_copy_into_a_store_that_holds_a_history_is_refused(b: &Backend) {
    let w = two_routes();
    let mut from = Backend::sqlite().open();
    sweep(&mut from, &w, "2026-11-21T06:00:00Z");
    let mut to = b.open();
    sweep(&mut to, &w, "2026-11-21T07:00:00Z");
    let before = reads(&to);
    let e = from.copy_into(&mut to).unwrap_err().to_string();
    assert!(e.contains("not empty") && e.contains("`sweeps`"), "{e}");
    assert_eq!(reads(&to), before, "left as it was");
}

// ---------------------------------------------------------------------------------------
// PostgreSQL only: the explicit migration, connection errors, a daemon's history moved.

#[test]
fn postgres_a_missing_or_older_schema_is_refused_until_migrated_and_migrating_twice_does_nothing() {
    let Some(server) = pg_server() else { return };
    let db = PgDatabase::new(server);
    let e = Store::open_postgres(&db.config, &db.shown())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("no reachcheck schema")
            && e.contains(&format!(
                "run `reachcheck store migrate --store {}`",
                db.shown()
            )),
        "{e}"
    );
    // An older schema: the first version, as an earlier build would have left it.
    let mut c = db.client();
    c.batch_execute(
        "CREATE TABLE reachcheck_schema (version BIGINT NOT NULL);
         INSERT INTO reachcheck_schema VALUES (0);",
    )
    .unwrap();
    drop(c);
    let first = Store::migrate_postgres(&db.config, &db.shown()).unwrap();
    assert_eq!(first.from, 0);
    let mut c = db.client();
    let newest = first.to as i64;
    // Back to version 1: drop what the later migrations made.
    c.batch_execute(
        "DROP TABLE answer_changes, sweeper_lease, history_due, answers, messages, message_polls, onboarding_requests, organisation_names;
         UPDATE reachcheck_schema SET version = 1;",
    )
    .unwrap();
    c.execute(
        "INSERT INTO sweeps (started_at, source, status) VALUES ('2026-11-01T00:00:00Z', 'x', 'ok')",
        &[],
    )
    .unwrap();
    drop(c);
    let e = Store::open_postgres(&db.config, &db.shown())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&format!(
            "schema version 1 is older than this reachcheck's ({newest})"
        )) && e.contains("reachcheck store migrate"),
        "{e}"
    );
    let m = Store::migrate_postgres(&db.config, &db.shown()).unwrap();
    assert_eq!((m.from, m.to), (1, first.to));
    let again = Store::migrate_postgres(&db.config, &db.shown()).unwrap();
    assert_eq!((again.from, again.to), (first.to, first.to), "a no-op");
    let s = Store::open_postgres(&db.config, &db.shown()).unwrap();
    assert_eq!(s.sweeps(10).unwrap().len(), 1, "data kept");
    assert!(s.is_postgres());
}

#[test]
fn postgres_two_instances_migrating_at_once_both_succeed() {
    let Some(server) = pg_server() else { return };
    let db = PgDatabase::new(server);
    let (config, shown) = (db.config.clone(), db.shown());
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let (config, shown) = (config.clone(), shown.clone());
            std::thread::spawn(move || Store::migrate_postgres(&config, &shown))
        })
        .collect();
    let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    for r in &results {
        assert!(r.is_ok(), "{r:?}");
    }
    let from: Vec<u32> = results.iter().map(|r| r.as_ref().unwrap().from).collect();
    assert!(from.contains(&0), "one of them made the schema: {from:?}");
    Store::open_postgres(&db.config, &db.shown()).unwrap();
}

#[test]
fn postgres_a_newer_schema_is_refused() {
    let Some(server) = pg_server() else { return };
    let db = PgDatabase::new(server);
    let m = Store::migrate_postgres(&db.config, &db.shown()).unwrap();
    db.client()
        .execute(
            "UPDATE reachcheck_schema SET version = $1",
            &[&(i64::from(m.to) + 1)],
        )
        .unwrap();
    for e in [
        Store::open_postgres(&db.config, &db.shown())
            .unwrap_err()
            .to_string(),
        Store::open_postgres_existing(&db.config, &db.shown())
            .unwrap_err()
            .to_string(),
        Store::migrate_postgres(&db.config, &db.shown())
            .unwrap_err()
            .to_string(),
    ] {
        assert!(
            e.contains("is newer than this reachcheck knows") && e.contains(&db.shown()),
            "{e}"
        );
    }
}

#[test]
fn postgres_a_wrong_password_or_an_unreachable_host_names_host_and_port_never_the_password() {
    let Some(server) = pg_server() else { return };
    let port = server.get_ports().first().copied().unwrap_or(5432);
    let mut wrong = server.clone();
    wrong.password("not-the-password-5f3a");
    let shown = "postgres://reachcheck@127.0.0.1/reachcheck";
    let e = Store::open_postgres(&wrong, shown).unwrap_err().to_string();
    assert!(e.contains(&format!("127.0.0.1:{port}")), "{e}");
    assert!(e.contains("password authentication failed"), "{e}");
    assert!(!e.contains("not-the-password-5f3a"), "{e}");
    // A port nobody listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let free = listener.local_addr().unwrap().port();
    drop(listener);
    let mut nowhere = postgres::Config::new();
    nowhere
        .host("127.0.0.1")
        .port(free)
        .user("reachcheck")
        .dbname("reachcheck");
    let e = Store::migrate_postgres(&nowhere, shown)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&format!("cannot connect to PostgreSQL at 127.0.0.1:{free}")),
        "{e}"
    );
    let password = std::env::var("REACHCHECK_TEST_POSTGRES_PASSWORD_FILE")
        .ok()
        .and_then(|f| std::fs::read_to_string(f).ok())
        .unwrap_or_default();
    if !password.trim().is_empty() {
        assert!(!e.contains(password.trim()), "{e}");
    }
}

#[test]
fn postgres_a_daemons_sqlite_history_copied_into_postgresql_reads_the_same() {
    use reachcheck::daemon::Daemon;
    let Some(server) = pg_server() else { return };
    let w = crate::daemon::daemon_world(&[
        &route("bekymringsmelding", BAD),
        &route("bekymringsmelding", GOOD),
        &route("ordinaer-post", crate::fixture::ER_ONLY),
    ]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let d = Daemon::start(crate::daemon::overrides(&w)).unwrap();
    rt.block_on(d.sweep_once()).unwrap();
    bad_gets_a_reader(&w, true);
    rt.block_on(d.sweep_once()).unwrap();
    bad_gets_a_reader(&w, false);
    rt.block_on(d.sweep_once()).unwrap();
    drop(d);
    let from = Store::open_existing(&w.path().join("store.db")).unwrap();
    assert!(from.sweeps(10).unwrap().len() >= 3);
    let db = PgDatabase::new(server);
    Store::migrate_postgres(&db.config, &db.shown()).unwrap();
    let mut to = Store::open_postgres(&db.config, &db.shown()).unwrap();
    let counts = from.copy_into(&mut to).unwrap();
    assert!(counts.get("verdicts") > 0 && counts.get("finding_events") > 0);
    assert_eq!(reads(&to), reads(&from));
    // A second copy finds it full.
    let e = from.copy_into(&mut to).unwrap_err().to_string();
    assert!(e.contains("not empty"), "{e}");
}

#[test]
fn postgres_a_connection_the_server_closed_fails_one_call_and_the_next_connects_again() {
    let Some(server) = pg_server() else { return };
    let db = PgDatabase::new(server);
    Store::migrate_postgres(&db.config, &db.shown()).unwrap();
    let mut s = Store::open_postgres(&db.config, &db.shown()).unwrap();
    assert_eq!(s.audit_count().unwrap(), 0);
    let kill = || {
        db.client()
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE datname = $1 AND pid <> pg_backend_pid()",
                &[&db.name],
            )
            .unwrap();
    };
    kill();
    let e = s.audit_count().unwrap_err().to_string();
    assert!(e.contains(&db.shown()), "{e}");
    assert_eq!(s.audit_count().unwrap(), 0, "connected again");
    // A write that finds the connection closed fails whole (the store never carries a
    // transaction over to a new connection), and the next one goes through.
    let entry = AuditEntry {
        at: t("2026-11-21T06:00:00Z"),
        caller: "x".into(),
        route: r(BAD),
        verdict: Verdict::NotReadable,
        readers: 0,
    };
    kill();
    assert!(s.audit(std::slice::from_ref(&entry)).is_err());
    s.audit(std::slice::from_ref(&entry)).unwrap();
    assert_eq!(s.audit_count().unwrap(), 1);
}
