//! The store: an embedded SQLite file — or a PostgreSQL database — holding sweeps, each
//! route's verdict history (changes only), the lifecycle of every finding, suppressions,
//! the audit trail of pre-send checks, and the messages the sender sent with what happened
//! to them. Both backends sit behind the one [`Store`], with the same behaviour; each query
//! is written once (`sql.rs`).
//!
//! Owns: the schema (`schema.rs`, versioned, one history per backend, migrated in one
//! place), durability (SQLite in WAL; a sweep is recorded in two transactions, its answers
//! then its history, so a crash leaves the previous sweep whole or this one's history due), turning rows back into domain types, and
//! copying a history from one store to another. Does not own: deciding anything — the
//! engine judges, the daemon decides when to sweep and whom to alert — nor parsing a store
//! address (`--store`): the caller opens with [`Store::open`] (SQLite, migrated on open) or
//! [`Store::open_postgres`] (migrated only by [`Store::migrate_postgres`]).
//!
//! A [`Store`] is one connection and is not shared between threads; the daemon opens one
//! per task that writes (sweeps, audit); SQLite's WAL or PostgreSQL serialises the writers.
//!
//! One file per concern, each with the tables it writes; SQL stays in these files and the
//! rest of the crate sees domain types only:
//!
//! | file | owns |
//! |---|---|
//! | `mod.rs` | [`Store`]: opening either backend (migrating SQLite, checking PostgreSQL's schema), marking interrupted sweeps aborted, the integrity check, [`StoreError`] |
//! | `sql.rs` | the one way to run SQL on either backend: placeholders, statement caches, transactions, rows and values |
//! | `schema.rs` | the tables and their migrations, one history per backend |
//! | `copy.rs` | copying a whole history into an empty store, either way between the backends |
//! | `sweeps.rs` | sweeps, routes and the verdict history; recording a sweep: its answers ([`Store::record_answers`]), then its history ([`Store::write_history`]) |
//! | `findings.rs` | findings and their lifecycle (opened, resolved, reopened, retired), their half of that transaction |
//! | `answers.rs` | the latest sweep's answers as one blob, for a fast start, and what changed since the answers before |
//! | `follow.rs` | what an instance that follows reads: the changes to the answers it holds, and `LISTEN` for recorded sweeps |
//! | `suppressions.rs` | suppressions: added, listed, lapsed |
//! | `audit.rs` | the audit trail of pre-send checks |
//! | `messages.rs` | sent messages and what happened to them, and the polls of Altinn Correspondence |
//! | `onboarding.rs` | the onboarding request of each organisation asked, its state and approval link |
//! | `names.rs` | the registered name of each organisation on the routes, as the last sweep saw it |
//! | `retention.rs` | forgetting old history, across the tables |
//! | `lease.rs` | the sweeper's lease among several daemons, and the fence of the holder's writes |
//! | `codec.rs` | how values are written into and read from rows |

mod address;
mod answers;
mod audit;
mod codec;
mod copy;
mod findings;
mod follow;
mod lease;
mod messages;
mod names;
mod onboarding;
mod retention;
mod schema;
pub(crate) mod sql;
mod suppressions;
mod sweeps;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;
use sql::{Db, params};

pub use address::{PostgresAddress, StoreAddress};
pub use answers::{PairAnswer, PairChange};
pub use audit::AuditEntry;
pub use copy::CopyCounts;
pub use findings::{
    Change, FindingChange, FindingEvent, FindingFilter, FindingRecord, FindingState,
};
pub use follow::{AnswerChanges, Heard, SweepListener};
pub use lease::{FENCED, Fence, Lease};
pub use messages::{Ingested, KnownMessage, MessageFilter, MessageRecord, PollRecord};
pub use retention::Pruned;
pub use suppressions::{NewSuppression, Suppression};
pub use sweeps::{
    Latest, StoredVerdict, SweepId, SweepOutcome, SweepRecord, SweepStatus, VerdictCounts,
};

/// The store could not be used.
#[derive(Debug, thiserror::Error)]
#[error("store `{path}`: {reason}")]
pub struct StoreError {
    /// The database file, or the PostgreSQL URL without its password.
    pub path: String,
    /// What went wrong, in one sentence.
    pub reason: String,
}

/// The store, on SQLite or PostgreSQL.
pub struct Store {
    db: Db,
    /// The SQLite file, or the PostgreSQL URL as shown (no password).
    path: PathBuf,
    /// What the last sweep recorded through this store left (`sweeps.rs`).
    state: Option<Box<sweeps::SweepState>>,
    /// The answers this store last wrote: their sweep, the SHA-256 of the blob, and each
    /// (message type, recipient) pair's answer (to write the next sweep's changes).
    answers: Option<answers::Kept>,
    /// The sweeper's lease this store's sweeper writes are fenced with (`lease.rs`).
    fence: Option<Fence>,
}

/// What migrating a PostgreSQL database did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Migrated {
    /// The schema version found (0: none).
    pub from: u32,
    /// The schema version now.
    pub to: u32,
}

/// How long connecting to PostgreSQL may take when the configuration does not say.
const PG_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// `config` with a connect timeout if it has none.
fn pg_config(config: &postgres::Config) -> postgres::Config {
    let mut config = config.clone();
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(PG_CONNECT_TIMEOUT);
    }
    config
}

/// Connects to PostgreSQL; an error names the host and port (never the password).
fn pg_connect(config: &postgres::Config, shown: &str) -> Result<postgres::Client, StoreError> {
    let config = pg_config(config);
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let port = config
                .get_ports()
                .get(i)
                .or(config.get_ports().first())
                .copied()
                .unwrap_or(5432);
            match h {
                postgres::config::Host::Tcp(name) => format!("{name}:{port}"),
                #[cfg(unix)]
                postgres::config::Host::Unix(dir) => format!("{}:{port}", dir.display()),
            }
        })
        .collect();
    config.connect(postgres::NoTls).map_err(|e| StoreError {
        path: shown.to_owned(),
        reason: format!(
            "cannot connect to PostgreSQL at {}: {}",
            if hosts.is_empty() {
                "the default host".to_owned()
            } else {
                hosts.join(", ")
            },
            sql::pg_reason(&e)
        ),
    })
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

/// Creates an empty store file readable by its owner only (0600), whatever the umask, if
/// there is none: SQLite gives its `-wal` and `-shm` files the database file's mode, so the
/// audit trail is never readable by others. An existing file is left as it is.
fn create_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Whether users other than the owner may read `path` (always false where there are no
/// Unix permissions).
pub fn readable_by_others(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o044 != 0)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
}

impl Store {
    /// Opens (creating if needed) the store at `path`, migrates its schema, and marks any
    /// sweep left `running` by a process that died as `aborted`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let err = |reason: String| StoreError {
            path: path.display().to_string(),
            reason,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && !dir.is_dir()
        {
            return Err(err(format!("directory `{}` does not exist", dir.display())));
        }
        create_private(path).map_err(|e| err(format!("cannot create: {e}")))?;
        if readable_by_others(path) {
            tracing::warn!(
                path = %path.display(),
                "the store (and its audit trail) can be read by other users: `chmod 600` it and its -wal and -shm files"
            );
        }
        let mut conn = Connection::open(path).map_err(|e| err(format!("cannot open: {e}")))?;
        let setup = |c: &Connection| -> rusqlite::Result<()> {
            c.busy_timeout(Duration::from_secs(10))?;
            let mode: String = c.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
            if !mode.eq_ignore_ascii_case("wal") {
                tracing::warn!(mode, "store is not in WAL mode");
            }
            // In WAL mode NORMAL is safe against a crash of the process (and of the OS
            // it may lose the last transaction, never consistency).
            c.pragma_update(None, "synchronous", "NORMAL")?;
            c.pragma_update(None, "foreign_keys", "ON")?;
            // Room for every statement of a sweep's transaction (and the API's) at once.
            c.set_prepared_statement_cache_capacity(64);
            Ok(())
        };
        setup(&conn).map_err(|e| err(format!("not a usable SQLite database: {e}")))?;
        schema::migrate(&mut conn).map_err(|e| err(e.to_string()))?;
        let store = Store {
            db: Db::Sqlite(conn),
            path: path.to_owned(),
            state: None,
            answers: None,
            fence: None,
        };
        store.abort_running()?;
        Ok(store)
    }

    /// Marks any sweep left `running` by a process that died as `aborted`: on opening an
    /// SQLite store (one daemon), and on a PostgreSQL store by the instance that takes the
    /// sweeper's lease (only the holder sweeps, so a sweep still `running` then was cut
    /// off with its holder; an instance that merely starts must not mark the holder's).
    pub fn abort_running(&self) -> Result<(), StoreError> {
        let aborted = self
            .db
            .execute(
                "UPDATE sweeps SET status = 'aborted', error = 'the process ended during the sweep' WHERE status = 'running'",
                params![],
            )
            .map_err(|e| self.err(e))?;
        if aborted > 0 {
            tracing::warn!(
                aborted,
                "sweeps left running by an earlier process marked aborted"
            );
        }
        Ok(())
    }

    /// Opens the store in the PostgreSQL database `config` names. A sweep left `running`
    /// is left so (it may be another instance's; [`Store::abort_running`]). `shown` names the database in every
    /// error (the URL without its password). The schema is never made or migrated here: a
    /// database without it, or with an older one, is refused with the advice to run
    /// `reachcheck store migrate` ([`Store::migrate_postgres`]); a newer one is refused.
    ///
    /// # Errors
    /// Connecting failed (the error names the host and port, never the password), or the
    /// schema is not this build's.
    pub fn open_postgres(config: &postgres::Config, shown: &str) -> Result<Store, StoreError> {
        Store::open_postgres_existing(config, shown)
    }

    /// Opens the store in the PostgreSQL database `config` names for reading, as
    /// [`Store::open_existing`] does a file: nothing is made, migrated or marked (a sweep
    /// the daemon is running stays `running`). PostgreSQL has no read-only connection
    /// mode; the store simply writes nothing until asked to.
    ///
    /// # Errors
    /// As [`Store::open_postgres`].
    pub fn open_postgres_existing(
        config: &postgres::Config,
        shown: &str,
    ) -> Result<Store, StoreError> {
        let mut client = pg_connect(config, shown)?;
        schema::check_postgres(&mut client, shown).map_err(|e| StoreError {
            path: shown.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(Store {
            db: Db::Postgres(Box::new(sql::Pg::new(client, pg_config(config)))),
            path: PathBuf::from(shown),
            state: None,
            answers: None,
            fence: None,
        })
    }

    /// Makes or brings up to date reachcheck's schema in the PostgreSQL database `config`
    /// names (`reachcheck store migrate`): each step in its own transaction, under an
    /// advisory lock, so two instances migrating at once is safe; migrating a database
    /// that is up to date does nothing. A schema newer than this build's is refused.
    ///
    /// # Errors
    /// Connecting failed, a step failed (that step is rolled back; earlier ones stay), or
    /// the schema is newer than this build's.
    pub fn migrate_postgres(
        config: &postgres::Config,
        shown: &str,
    ) -> Result<Migrated, StoreError> {
        let mut client = pg_connect(config, shown)?;
        let (from, to) = schema::migrate_postgres(&mut client).map_err(|e| StoreError {
            path: shown.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(Migrated { from, to })
    }

    /// Opens the existing store at `path` for reading only: nothing is created, migrated or
    /// marked, so a file that is not a store (empty, not SQLite, a SQLite database without
    /// reachcheck's schema) is refused and left as it was, and a sweep the daemon is running
    /// stays `running`. A store of an older schema is migrated first, as [`Store::open`]
    /// would.
    pub fn open_existing(path: &Path) -> Result<Store, StoreError> {
        use std::io::Read as _;
        let err = |reason: String| StoreError {
            path: path.display().to_string(),
            reason,
        };
        const NOT_A_STORE: &str = "not a reachcheck store (`reachcheck serve` makes one)";
        let mut header = [0u8; 16];
        let mut file = std::fs::File::open(path).map_err(|e| err(format!("cannot open: {e}")))?;
        let n = file
            .read(&mut header)
            .map_err(|e| err(format!("cannot read: {e}")))?;
        if n == 0 {
            return Err(err(format!("the file is empty: {NOT_A_STORE}")));
        }
        if n < header.len() || &header != b"SQLite format 3\0" {
            return Err(err(format!(
                "the file is not a SQLite database: {NOT_A_STORE}"
            )));
        }
        drop(file);
        let conn = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| err(format!("cannot open: {e}")))?;
        let version = conn
            .busy_timeout(Duration::from_secs(10))
            .and_then(|()| conn.query_row("PRAGMA user_version", [], |r| r.get::<_, u32>(0)))
            .map_err(|e| err(format!("not a usable SQLite database: {e}")))?;
        if version == 0 {
            return Err(err(format!(
                "the SQLite database has no reachcheck schema: {NOT_A_STORE}"
            )));
        }
        if version > schema::VERSION {
            return Err(err(schema::MigrateError::Newer {
                found: version,
                known: schema::VERSION,
            }
            .to_string()));
        }
        if version < schema::VERSION {
            drop(conn);
            return Store::open(path);
        }
        let due: bool = conn
            .query_row("SELECT EXISTS (SELECT 1 FROM history_due)", [], |r| {
                r.get(0)
            })
            .map_err(|e| err(format!("not a usable SQLite database: {e}")))?;
        let conn = if due {
            // A sweep's history is still to be written (its daemon is writing it, or
            // ended before it could): written here first, so that what is read is whole.
            drop(conn);
            Connection::open_with_flags(
                path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .and_then(|c| {
                c.busy_timeout(Duration::from_secs(10))?;
                c.pragma_update(None, "foreign_keys", "ON")?;
                Ok(c)
            })
            .map_err(|e| err(format!("cannot open to write the history due: {e}")))?
        } else {
            conn
        };
        let store = Store {
            db: Db::Sqlite(conn),
            path: path.to_owned(),
            state: None,
            answers: None,
            fence: None,
        };
        store.settled()?;
        Ok(store)
    }

    /// Opens the store at `address` for writing: a SQLite file as [`Store::open`] does
    /// (created and migrated when needed); a PostgreSQL database that `reachcheck store
    /// migrate` has given this version's schema.
    pub fn open_at(address: &StoreAddress) -> Result<Store, StoreError> {
        match address {
            StoreAddress::Sqlite(path) => Store::open(path),
            StoreAddress::Postgres(pg) => Store::open_postgres(pg.config(), pg.url()),
        }
    }

    /// Brings the schema of the store at `address` to this version (`reachcheck store
    /// migrate`): a SQLite file is created when missing; a PostgreSQL database is migrated
    /// in transactions that a second instance migrating at once waits for. A newer schema
    /// is refused.
    pub fn migrate_at(address: &StoreAddress) -> Result<Migrated, StoreError> {
        match address {
            StoreAddress::Sqlite(path) => {
                let from = if path.is_file() {
                    Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                        .and_then(|c| {
                            c.query_row("PRAGMA user_version", [], |r| r.get::<_, u32>(0))
                        })
                        .map_err(|e| StoreError {
                            path: path.display().to_string(),
                            reason: format!("not a usable SQLite database: {e}"),
                        })?
                } else {
                    0
                };
                Store::open(path)?;
                Ok(Migrated {
                    from,
                    to: schema::VERSION,
                })
            }
            StoreAddress::Postgres(pg) => Store::migrate_postgres(pg.config(), pg.url()),
        }
    }

    /// Opens the existing store at `address` for reading: a SQLite file as
    /// [`Store::open_existing`] does; a PostgreSQL database as [`Store::open_at`].
    pub fn open_existing_at(address: &StoreAddress) -> Result<Store, StoreError> {
        match address {
            StoreAddress::Sqlite(path) => Store::open_existing(path),
            StoreAddress::Postgres(pg) => Store::open_postgres_existing(pg.config(), pg.url()),
        }
    }

    fn err(&self, e: impl std::fmt::Display) -> StoreError {
        StoreError {
            path: self.path.display().to_string(),
            reason: e.to_string(),
        }
    }

    /// The database file (for PostgreSQL: its URL as shown, without the password).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the store is in PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.db.backend() == sql::Backend::Postgres
    }

    /// Checks the database's integrity: SQLite's `PRAGMA integrity_check`; for PostgreSQL,
    /// which checks its own pages, that the server answers.
    pub fn integrity_check(&self) -> Result<(), StoreError> {
        let query = match self.db.backend() {
            sql::Backend::Sqlite => "PRAGMA integrity_check",
            sql::Backend::Postgres => "SELECT 'ok'",
        };
        let result: String = self
            .db
            .query_row(query, params![], |r| r.string(0))
            .map_err(|e| self.err(e))?;
        if result == "ok" {
            Ok(())
        } else {
            Err(self.err(format!("integrity check failed: {result}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_new_store_and_its_wal_are_private_to_their_owner() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        let mut store = Store::open(&path).unwrap();
        // A write makes SQLite create the -wal and -shm files.
        store
            .record_poll(&crate::store::PollRecord::default())
            .unwrap();
        for name in ["store.db", "store.db-wal", "store.db-shm"] {
            let mode = std::fs::metadata(dir.path().join(name))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{name}: {mode:o}");
        }
        assert!(!readable_by_others(&path));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(readable_by_others(&path));
    }

    #[test]
    fn an_older_store_is_migrated_in_place_and_a_newer_one_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            // A store as the first schema version left it, with a sweep in it.
            let c = Connection::open(&path).unwrap();
            c.execute_batch(schema::MIGRATIONS[0]).unwrap();
            c.pragma_update(None, "user_version", 1).unwrap();
            c.execute(
                "INSERT INTO sweeps (started_at, source, status) VALUES ('2026-11-01T00:00:00Z', 'x', 'ok')",
                [],
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        let Db::Sqlite(conn) = &store.db else {
            unreachable!("a file is SQLite")
        };
        let version: u32 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, schema::VERSION);
        let has_answers: bool = conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'answers')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(has_answers);
        assert_eq!(store.sweeps(10).unwrap().len(), 1, "data kept");
        drop(store);

        let c = Connection::open(&path).unwrap();
        c.pragma_update(None, "user_version", schema::VERSION + 1)
            .unwrap();
        drop(c);
        let e = Store::open(&path).unwrap_err().to_string();
        assert!(e.contains("newer than this reachcheck knows"), "{e}");
    }
}
