//! The store's schema and its migrations, in one place, one history per backend: SQLite's
//! ([`MIGRATIONS`], the version in SQLite's `user_version`) and PostgreSQL's
//! ([`PG_MIGRATIONS`], the version in the one-row table `reachcheck_schema`). Each migration
//! runs in its own transaction and moves the version up by one, so a crash during a
//! migration leaves the previous version intact. The two lists hold the same tables, step
//! by step: a migration added to one is added to the other.
//!
//! SQLite is migrated when a store is opened. PostgreSQL only on request
//! ([`migrate_postgres`], for `reachcheck store migrate`), under an advisory lock so that
//! two instances migrating at once take turns; opening a database whose schema is missing
//! or older is refused ([`check_postgres`]).

use rusqlite::Connection;

/// The migrations, in order; `MIGRATIONS[i]` takes the schema from version `i` to `i + 1`.
/// Never edit one that has shipped: add a new one.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: sweeps, routes, verdict history, finding lifecycle, suppressions, audit.
    r#"
    CREATE TABLE sweeps (
        id            INTEGER PRIMARY KEY,
        started_at    TEXT NOT NULL,              -- RFC 3339
        finished_at   TEXT,
        source        TEXT NOT NULL,              -- where the evidence came from
        status        TEXT NOT NULL CHECK (status IN ('running', 'ok', 'failed', 'aborted')),
        error         TEXT,
        taken_at      TEXT,                       -- when the evidence was taken
        routes        INTEGER,
        readable      INTEGER,
        not_readable  INTEGER,
        unknown       INTEGER,
        changed       INTEGER                     -- verdict rows written (changes only)
    );

    -- Every route ever judged. Organisation numbers as integers.
    CREATE TABLE routes (
        id            INTEGER PRIMARY KEY,
        sender        INTEGER NOT NULL,
        message_type  TEXT NOT NULL,
        recipient     INTEGER NOT NULL,
        UNIQUE (sender, message_type, recipient)
    );

    -- A route's verdict from sweep `since` until the sweep `until` that changed it
    -- (exclusive; NULL while current). A sweep that changes nothing writes nothing.
    CREATE TABLE verdicts (
        route_id      INTEGER NOT NULL REFERENCES routes (id),
        since         INTEGER NOT NULL REFERENCES sweeps (id),
        until         INTEGER REFERENCES sweeps (id),
        verdict       TEXT NOT NULL CHECK (verdict IN ('readable', 'not_readable', 'unknown')),
        readers       INTEGER NOT NULL,
        tier          TEXT NOT NULL,
        findings      TEXT,                       -- JSON array of findings, NULL if none
        PRIMARY KEY (route_id, since)
    ) WITHOUT ROWID;
    CREATE INDEX verdicts_current ON verdicts (route_id) WHERE until IS NULL;
    CREATE INDEX verdicts_until ON verdicts (until);

    -- One row per (route, finding code): its lifecycle.
    CREATE TABLE findings (
        id              INTEGER PRIMARY KEY,
        route_id        INTEGER NOT NULL REFERENCES routes (id),
        code            TEXT NOT NULL,
        severity        TEXT NOT NULL,
        state           TEXT NOT NULL CHECK (state IN ('open', 'resolved', 'retired')),
        first_seen_at   TEXT NOT NULL,
        first_sweep     INTEGER NOT NULL,
        last_seen_at    TEXT NOT NULL,
        last_sweep      INTEGER NOT NULL,
        resolved_at     TEXT,
        reopened        INTEGER NOT NULL DEFAULT 0,
        reopened_at     TEXT,
        detail          TEXT NOT NULL,            -- the latest finding, as JSON
        UNIQUE (route_id, code)
    );
    CREATE INDEX findings_state ON findings (state);

    -- What happened to each finding, sweep by sweep: opened, resolved, reopened, retired.
    CREATE TABLE finding_events (
        finding_id    INTEGER NOT NULL REFERENCES findings (id),
        sweep_id      INTEGER NOT NULL REFERENCES sweeps (id),
        at            TEXT NOT NULL,
        event         TEXT NOT NULL CHECK (event IN ('opened', 'resolved', 'reopened', 'retired'))
    );
    CREATE INDEX finding_events_finding ON finding_events (finding_id);

    -- Accepted findings: a route (sender and message type given) or a whole recipient.
    CREATE TABLE suppressions (
        id             INTEGER PRIMARY KEY,
        recipient      INTEGER NOT NULL,
        code           TEXT NOT NULL,
        sender         INTEGER,
        message_type   TEXT,
        justification  TEXT NOT NULL CHECK (length(trim(justification)) > 0),
        created_by     TEXT NOT NULL,
        created_at     TEXT NOT NULL,
        expires_at     TEXT NOT NULL,
        lapsed_at      TEXT,                      -- when its expiry was noticed and alerted
        CHECK ((sender IS NULL) = (message_type IS NULL))
    );

    -- Every pre-send check answered.
    CREATE TABLE audit (
        id            INTEGER PRIMARY KEY,
        at            TEXT NOT NULL,
        caller        TEXT NOT NULL,
        sender        INTEGER NOT NULL,
        message_type  TEXT NOT NULL,
        recipient     INTEGER NOT NULL,
        verdict       TEXT NOT NULL,
        readers       INTEGER NOT NULL
    );
    CREATE INDEX audit_at ON audit (at);
    "#,
    // 2: the latest sweep's answers in one blob, so a restart reads them in one go.
    r#"
    CREATE TABLE answers (
        id     INTEGER PRIMARY KEY CHECK (id = 1),
        sweep  INTEGER NOT NULL REFERENCES sweeps (id),
        body   BLOB NOT NULL
    );
    "#,
    // 3: sent messages and what happened to them; polls of Altinn Correspondence.
    // Times in microseconds since the epoch (the list is paged to the microsecond).
    r#"
    CREATE TABLE messages (
        id                       TEXT PRIMARY KEY,      -- correspondence id (UUID, lower case)
        resource                 TEXT,                  -- NULL while its details were never usable
        sender                   INTEGER,
        message_type             TEXT,
        recipient                INTEGER,               -- only for a message on a route
        unrouted                 TEXT,                  -- why it has no route
        senders_reference        TEXT,                  -- identity numbers masked
        requested_us             INTEGER,               -- requestedPublishTime
        published_us             INTEGER,
        read_us                  INTEGER,               -- first opened
        confirmed_us             INTEGER,
        due_us                   INTEGER,               -- the sender's dueDateTime
        confirmation_needed      INTEGER NOT NULL DEFAULT 0,
        notification             TEXT CHECK (notification IN ('none', 'pending', 'delivered', 'failed')),
        failed                   INTEGER NOT NULL DEFAULT 0,
        problem                  TEXT,                  -- why the latest details were unusable
        predicted                TEXT CHECK (predicted IN ('readable', 'not_readable', 'unknown')),
        first_seen_us            INTEGER NOT NULL,
        checked_us               INTEGER NOT NULL,
        final                    INTEGER NOT NULL DEFAULT 0,
        alerted_unread_us        INTEGER,
        alerted_notification_us  INTEGER,
        CHECK (recipient IS NULL OR unrouted IS NULL)
    ) WITHOUT ROWID;
    CREATE INDEX messages_route ON messages (recipient, sender, message_type);

    CREATE TABLE message_polls (
        id          INTEGER PRIMARY KEY,
        at_us       INTEGER,
        source      TEXT NOT NULL,
        listed      INTEGER NOT NULL,
        fetched     INTEGER NOT NULL,
        stored      INTEGER NOT NULL,
        unusable    INTEGER NOT NULL,
        unrouted    INTEGER NOT NULL,
        incomplete  TEXT NOT NULL                       -- JSON [[resource, reason], ...]
    );
    "#,
    // 4: onboarding: the vendor system-user request of each organisation asked
    // (`reachcheck onboard`), its status and approval link, and the recipients it stands for.
    r#"
    CREATE TABLE onboarding_requests (
        org           INTEGER PRIMARY KEY,        -- the organisation asked (a main unit)
        state         TEXT NOT NULL CHECK (state IN ('approved', 'pending', 'refused', 'expired', 'never_asked')),
        status        TEXT CHECK (status IN ('New', 'Accepted', 'Rejected', 'Denied', 'Timedout')),
        since         TEXT,                       -- RFC 3339: in this state since
        request_id    TEXT,
        confirm_url   TEXT,                       -- its own approval link, while pending
        created       TEXT,
        checked_at    TEXT,
        error         TEXT,                       -- the last attempt's failure
        recipients    TEXT NOT NULL               -- JSON [orgnr, ...] of the routing table
    );
    "#,
    // 5: the registered name of each organisation on the routes, from Enhetsregisteret as a
    // sweep saw it (public; a sole proprietorship's name, a person's, is never kept), so that
    // reports and letters name organisations beside their numbers.
    r#"
    CREATE TABLE organisation_names (
        org      INTEGER PRIMARY KEY,
        name     TEXT NOT NULL,
        seen_at  TEXT NOT NULL                    -- RFC 3339: the sweep that saw it
    );
    "#,
    // 6: a sweep is recorded in two steps: its answers (the `answers` blob and the sweep
    // row) in one short transaction, then its history (routes, verdicts, findings, finding
    // events) written from those answers. A sweep whose history is still to be written has
    // a row here until it is.
    r#"
    CREATE TABLE history_due (
        sweep  INTEGER PRIMARY KEY REFERENCES sweeps (id)
    );
    "#,
    // 7: the sweeper's lease: which of several daemons sweeps, alerts and refreshes
    // onboarding, until when (the database's clock), and the fencing token its writes
    // carry (one more at every change of holder).
    r#"
    CREATE TABLE sweeper_lease (
        id          INTEGER PRIMARY KEY CHECK (id = 1),
        holder      TEXT NOT NULL,
        token       INTEGER NOT NULL,
        expires_ms  INTEGER NOT NULL             -- milliseconds since the epoch
    );
    "#,
    // 8: what changed between the answers of sweep `base` and those of `sweep` (the latest
    // recorded), by (message type, recipient): what an instance that follows applies to
    // the answers it holds instead of reading all of them again.
    r#"
    CREATE TABLE answer_changes (
        id     INTEGER PRIMARY KEY CHECK (id = 1),
        sweep  INTEGER NOT NULL REFERENCES sweeps (id),
        base   INTEGER NOT NULL,
        body   BLOB NOT NULL
    );
    "#,
];

/// The schema version this build writes.
pub(super) const VERSION: u32 = MIGRATIONS.len() as u32;

/// The PostgreSQL migrations, in order, step for step the same tables as [`MIGRATIONS`]:
/// `BIGINT` for SQLite's `INTEGER` (PostgreSQL's `INTEGER` is 32 bits), an identity column
/// for SQLite's `INTEGER PRIMARY KEY`, `BYTEA` for `BLOB`. `finding_events` has SQLite's
/// implicit `rowid` as a column of that name, so the events read back in the order they
/// were written with the same query. Foreign keys are checked at commit (`DEFERRABLE
/// INITIALLY DEFERRED`), so a sweep's rows may be sent in batches in any order. Never edit
/// one that has shipped: add a new one.
pub(super) const PG_MIGRATIONS: &[&str] = &[
    // 1: sweeps, routes, verdict history, finding lifecycle, suppressions, audit.
    r#"
    CREATE TABLE sweeps (
        id            BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        started_at    TEXT NOT NULL,
        finished_at   TEXT,
        source        TEXT NOT NULL,
        status        TEXT NOT NULL CHECK (status IN ('running', 'ok', 'failed', 'aborted')),
        error         TEXT,
        taken_at      TEXT,
        routes        BIGINT,
        readable      BIGINT,
        not_readable  BIGINT,
        unknown       BIGINT,
        changed       BIGINT
    );

    CREATE TABLE routes (
        id            BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        sender        BIGINT NOT NULL,
        message_type  TEXT NOT NULL,
        recipient     BIGINT NOT NULL,
        UNIQUE (sender, message_type, recipient)
    );

    CREATE TABLE verdicts (
        route_id      BIGINT NOT NULL REFERENCES routes (id) DEFERRABLE INITIALLY DEFERRED,
        since         BIGINT NOT NULL REFERENCES sweeps (id) DEFERRABLE INITIALLY DEFERRED,
        until         BIGINT REFERENCES sweeps (id) DEFERRABLE INITIALLY DEFERRED,
        verdict       TEXT NOT NULL CHECK (verdict IN ('readable', 'not_readable', 'unknown')),
        readers       BIGINT NOT NULL,
        tier          TEXT NOT NULL,
        findings      TEXT,
        PRIMARY KEY (route_id, since)
    );
    CREATE INDEX verdicts_current ON verdicts (route_id) WHERE until IS NULL;
    CREATE INDEX verdicts_until ON verdicts (until);

    CREATE TABLE findings (
        id              BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        route_id        BIGINT NOT NULL REFERENCES routes (id) DEFERRABLE INITIALLY DEFERRED,
        code            TEXT NOT NULL,
        severity        TEXT NOT NULL,
        state           TEXT NOT NULL CHECK (state IN ('open', 'resolved', 'retired')),
        first_seen_at   TEXT NOT NULL,
        first_sweep     BIGINT NOT NULL,
        last_seen_at    TEXT NOT NULL,
        last_sweep      BIGINT NOT NULL,
        resolved_at     TEXT,
        reopened        BIGINT NOT NULL DEFAULT 0,
        reopened_at     TEXT,
        detail          TEXT NOT NULL,
        UNIQUE (route_id, code)
    );
    CREATE INDEX findings_state ON findings (state);

    CREATE TABLE finding_events (
        rowid         BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        finding_id    BIGINT NOT NULL REFERENCES findings (id) DEFERRABLE INITIALLY DEFERRED,
        sweep_id      BIGINT NOT NULL REFERENCES sweeps (id) DEFERRABLE INITIALLY DEFERRED,
        at            TEXT NOT NULL,
        event         TEXT NOT NULL CHECK (event IN ('opened', 'resolved', 'reopened', 'retired'))
    );
    CREATE INDEX finding_events_finding ON finding_events (finding_id);

    CREATE TABLE suppressions (
        id             BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        recipient      BIGINT NOT NULL,
        code           TEXT NOT NULL,
        sender         BIGINT,
        message_type   TEXT,
        justification  TEXT NOT NULL CHECK (length(trim(justification)) > 0),
        created_by     TEXT NOT NULL,
        created_at     TEXT NOT NULL,
        expires_at     TEXT NOT NULL,
        lapsed_at      TEXT,
        CHECK ((sender IS NULL) = (message_type IS NULL))
    );

    CREATE TABLE audit (
        id            BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        at            TEXT NOT NULL,
        caller        TEXT NOT NULL,
        sender        BIGINT NOT NULL,
        message_type  TEXT NOT NULL,
        recipient     BIGINT NOT NULL,
        verdict       TEXT NOT NULL,
        readers       BIGINT NOT NULL
    );
    CREATE INDEX audit_at ON audit (at);
    "#,
    // 2: the latest sweep's answers in one blob.
    r#"
    CREATE TABLE answers (
        id     BIGINT PRIMARY KEY CHECK (id = 1),
        sweep  BIGINT NOT NULL REFERENCES sweeps (id) DEFERRABLE INITIALLY DEFERRED,
        body   BYTEA NOT NULL
    );
    "#,
    // 3: sent messages and what happened to them; polls of Altinn Correspondence.
    r#"
    CREATE TABLE messages (
        id                       TEXT PRIMARY KEY,
        resource                 TEXT,
        sender                   BIGINT,
        message_type             TEXT,
        recipient                BIGINT,
        unrouted                 TEXT,
        senders_reference        TEXT,
        requested_us             BIGINT,
        published_us             BIGINT,
        read_us                  BIGINT,
        confirmed_us             BIGINT,
        due_us                   BIGINT,
        confirmation_needed      BIGINT NOT NULL DEFAULT 0,
        notification             TEXT CHECK (notification IN ('none', 'pending', 'delivered', 'failed')),
        failed                   BIGINT NOT NULL DEFAULT 0,
        problem                  TEXT,
        predicted                TEXT CHECK (predicted IN ('readable', 'not_readable', 'unknown')),
        first_seen_us            BIGINT NOT NULL,
        checked_us               BIGINT NOT NULL,
        final                    BIGINT NOT NULL DEFAULT 0,
        alerted_unread_us        BIGINT,
        alerted_notification_us  BIGINT,
        CHECK (recipient IS NULL OR unrouted IS NULL)
    );
    CREATE INDEX messages_route ON messages (recipient, sender, message_type);

    CREATE TABLE message_polls (
        id          BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        at_us       BIGINT,
        source      TEXT NOT NULL,
        listed      BIGINT NOT NULL,
        fetched     BIGINT NOT NULL,
        stored      BIGINT NOT NULL,
        unusable    BIGINT NOT NULL,
        unrouted    BIGINT NOT NULL,
        incomplete  TEXT NOT NULL
    );
    "#,
    // 4: onboarding requests.
    r#"
    CREATE TABLE onboarding_requests (
        org           BIGINT PRIMARY KEY,
        state         TEXT NOT NULL CHECK (state IN ('approved', 'pending', 'refused', 'expired', 'never_asked')),
        status        TEXT CHECK (status IN ('New', 'Accepted', 'Rejected', 'Denied', 'Timedout')),
        since         TEXT,
        request_id    TEXT,
        confirm_url   TEXT,
        created       TEXT,
        checked_at    TEXT,
        error         TEXT,
        recipients    TEXT NOT NULL
    );
    "#,
    // 5: the registered name of each organisation on the routes.
    r#"
    CREATE TABLE organisation_names (
        org      BIGINT PRIMARY KEY,
        name     TEXT NOT NULL,
        seen_at  TEXT NOT NULL
    );
    "#,
    // 6: sweeps whose history is still to be written from their answers.
    r#"
    CREATE TABLE history_due (
        sweep  BIGINT PRIMARY KEY REFERENCES sweeps (id) DEFERRABLE INITIALLY DEFERRED
    );
    "#,
    // 7: the sweeper's lease.
    r#"
    CREATE TABLE sweeper_lease (
        id          BIGINT PRIMARY KEY CHECK (id = 1),
        holder      TEXT NOT NULL,
        token       BIGINT NOT NULL,
        expires_ms  BIGINT NOT NULL
    );
    "#,
    // 8: the changes from one sweep's answers to the next.
    r#"
    CREATE TABLE answer_changes (
        id     BIGINT PRIMARY KEY CHECK (id = 1),
        sweep  BIGINT NOT NULL REFERENCES sweeps (id) DEFERRABLE INITIALLY DEFERRED,
        base   BIGINT NOT NULL,
        body   BYTEA NOT NULL
    );
    "#,
];

/// The PostgreSQL schema version this build writes.
pub(super) const PG_VERSION: u32 = PG_MIGRATIONS.len() as u32;

/// The advisory lock migrations of a PostgreSQL database hold (`reachcheck` in ASCII).
const PG_MIGRATION_LOCK: i64 = 0x0072_6561_6368_636b;

/// The schema version of a PostgreSQL database: 0 when it has no reachcheck schema.
fn pg_version(client: &mut postgres::Client) -> Result<u32, postgres::Error> {
    let exists: bool = client
        .query_one("SELECT to_regclass('reachcheck_schema') IS NOT NULL", &[])?
        .get(0);
    if !exists {
        return Ok(0);
    }
    let version: Option<i64> = client
        .query_opt("SELECT max(version) FROM reachcheck_schema", &[])?
        .and_then(|r| r.get(0));
    Ok(version.unwrap_or(0).clamp(0, i64::from(u32::MAX)) as u32)
}

/// Checks that a PostgreSQL database holds this build's schema: a missing or older one is
/// to be migrated explicitly (`shown` names the database in the advice), a newer one is
/// refused.
pub(super) fn check_postgres(
    client: &mut postgres::Client,
    shown: &str,
) -> Result<(), MigrateError> {
    match pg_version(client)? {
        0 => Err(MigrateError::Missing {
            shown: shown.to_owned(),
        }),
        v if v < PG_VERSION => Err(MigrateError::Older {
            found: v,
            known: PG_VERSION,
            shown: shown.to_owned(),
        }),
        v if v > PG_VERSION => Err(MigrateError::Newer {
            found: v,
            known: PG_VERSION,
        }),
        _ => Ok(()),
    }
}

/// Brings a PostgreSQL database's schema up to [`PG_VERSION`], each step in its own
/// transaction, holding an advisory lock throughout so that a second instance migrating at
/// the same time waits and then finds nothing to do. Refuses a schema written by a newer
/// build. Returns the version found and the version now.
pub(super) fn migrate_postgres(client: &mut postgres::Client) -> Result<(u32, u32), MigrateError> {
    client.execute("SELECT pg_advisory_lock($1)", &[&PG_MIGRATION_LOCK])?;
    let result = migrate_postgres_locked(client);
    let unlocked = client.execute("SELECT pg_advisory_unlock($1)", &[&PG_MIGRATION_LOCK]);
    let versions = result?;
    unlocked?;
    Ok(versions)
}

fn migrate_postgres_locked(client: &mut postgres::Client) -> Result<(u32, u32), MigrateError> {
    let found = pg_version(client)?;
    if found > PG_VERSION {
        return Err(MigrateError::Newer {
            found,
            known: PG_VERSION,
        });
    }
    for (i, sql) in PG_MIGRATIONS.iter().enumerate().skip(found as usize) {
        let mut tx = client.transaction()?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS reachcheck_schema (version BIGINT NOT NULL)")?;
        tx.batch_execute(sql)?;
        tx.execute("DELETE FROM reachcheck_schema", &[])?;
        tx.execute(
            "INSERT INTO reachcheck_schema (version) VALUES ($1)",
            &[&(i as i64 + 1)],
        )?;
        tx.commit()?;
        tracing::info!(version = i + 1, "store schema migrated");
    }
    Ok((found, PG_VERSION))
}

/// Brings the schema up to [`VERSION`]. Refuses a store written by a newer build.
pub(super) fn migrate(conn: &mut Connection) -> Result<u32, MigrateError> {
    let current: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current > VERSION {
        return Err(MigrateError::Newer {
            found: current,
            known: VERSION,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as u32 + 1)?;
        tx.commit()?;
        tracing::info!(version = i + 1, "store schema migrated");
    }
    Ok(VERSION)
}

/// A migration could not run.
#[derive(Debug, thiserror::Error)]
pub(super) enum MigrateError {
    /// The file was written by a newer reachcheck.
    #[error(
        "schema version {found} is newer than this reachcheck knows ({known}): upgrade reachcheck"
    )]
    Newer { found: u32, known: u32 },
    /// A PostgreSQL database without reachcheck's schema (it is never made implicitly).
    #[error(
        "the database has no reachcheck schema: run `reachcheck store migrate --store {shown}`"
    )]
    Missing { shown: String },
    /// A PostgreSQL database of an older schema (it is never migrated implicitly).
    #[error(
        "schema version {found} is older than this reachcheck's ({known}): run `reachcheck store migrate --store {shown}`"
    )]
    Older {
        found: u32,
        known: u32,
        shown: String,
    },
    /// SQLite refused.
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL refused.
    #[error("{}", super::sql::pg_reason(.0))]
    Postgres(#[from] postgres::Error),
}
