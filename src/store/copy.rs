//! Copying a whole history from one store into another — SQLite into PostgreSQL to move a
//! daemon onto a shared database, or back (`reachcheck store copy`). Every table is copied
//! row for row with its ids, in one transaction on the destination, which must be empty;
//! the source is read in one snapshot. On PostgreSQL the identity sequences are then set
//! past the copied ids, so the next sweep, finding or suppression gets a fresh one.
//!
//! Owns the list of tables and their columns as copied (a table added by a migration is
//! added here, in an order that satisfies the foreign keys). Does not own the schema: both
//! stores are open, so both are at this build's version.

use super::sql::{Backend, Db, DbResult, Param, Value, params};
use super::{Store, StoreError};

/// A table as copied: its name, its columns, the order its rows are read in, and its
/// identity column (PostgreSQL's sequence to move past the copied ids), if any.
struct Table {
    name: &'static str,
    columns: &'static [&'static str],
    order: &'static str,
    identity: Option<&'static str>,
}

/// Every table, parents before the tables that refer to them.
const TABLES: &[Table] = &[
    Table {
        name: "sweeps",
        columns: &[
            "id",
            "started_at",
            "finished_at",
            "source",
            "status",
            "error",
            "taken_at",
            "routes",
            "readable",
            "not_readable",
            "unknown",
            "changed",
        ],
        order: "id",
        identity: Some("id"),
    },
    Table {
        name: "routes",
        columns: &["id", "sender", "message_type", "recipient"],
        order: "id",
        identity: Some("id"),
    },
    Table {
        name: "verdicts",
        columns: &[
            "route_id", "since", "until", "verdict", "readers", "tier", "findings",
        ],
        order: "route_id, since",
        identity: None,
    },
    Table {
        name: "findings",
        columns: &[
            "id",
            "route_id",
            "code",
            "severity",
            "state",
            "first_seen_at",
            "first_sweep",
            "last_seen_at",
            "last_sweep",
            "resolved_at",
            "reopened",
            "reopened_at",
            "detail",
        ],
        order: "id",
        identity: Some("id"),
    },
    Table {
        name: "finding_events",
        columns: &["rowid", "finding_id", "sweep_id", "at", "event"],
        order: "rowid",
        identity: Some("rowid"),
    },
    Table {
        name: "suppressions",
        columns: &[
            "id",
            "recipient",
            "code",
            "sender",
            "message_type",
            "justification",
            "created_by",
            "created_at",
            "expires_at",
            "lapsed_at",
        ],
        order: "id",
        identity: Some("id"),
    },
    Table {
        name: "audit",
        columns: &[
            "id",
            "at",
            "caller",
            "sender",
            "message_type",
            "recipient",
            "verdict",
            "readers",
        ],
        order: "id",
        identity: Some("id"),
    },
    Table {
        name: "answers",
        columns: &["id", "sweep", "body"],
        order: "id",
        identity: None,
    },
    Table {
        name: "history_due",
        columns: &["sweep"],
        order: "sweep",
        identity: None,
    },
    Table {
        name: "messages",
        columns: &[
            "id",
            "resource",
            "sender",
            "message_type",
            "recipient",
            "unrouted",
            "senders_reference",
            "requested_us",
            "published_us",
            "read_us",
            "confirmed_us",
            "due_us",
            "confirmation_needed",
            "notification",
            "failed",
            "problem",
            "predicted",
            "first_seen_us",
            "checked_us",
            "final",
            "alerted_unread_us",
            "alerted_notification_us",
        ],
        order: "id",
        identity: None,
    },
    Table {
        name: "message_polls",
        columns: &[
            "id",
            "at_us",
            "source",
            "listed",
            "fetched",
            "stored",
            "unusable",
            "unrouted",
            "incomplete",
        ],
        order: "id",
        identity: Some("id"),
    },
    Table {
        name: "onboarding_requests",
        columns: &[
            "org",
            "state",
            "status",
            "since",
            "request_id",
            "confirm_url",
            "created",
            "checked_at",
            "error",
            "recipients",
        ],
        order: "org",
        identity: None,
    },
    Table {
        name: "organisation_names",
        columns: &["org", "name", "seen_at"],
        order: "org",
        identity: None,
    },
];

/// Bound values per `INSERT` at most (SQLite allows 32,766, PostgreSQL 65,535).
const MAX_VALUES: usize = 30_000;
/// Rows per `INSERT` at most.
const MAX_ROWS: usize = 1_000;

/// What a copy moved: rows per table, in the order copied.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CopyCounts {
    /// Each table's name and the rows copied into it.
    pub tables: Vec<(&'static str, u64)>,
}

impl CopyCounts {
    /// The rows copied into `table` (0 for a table not copied).
    pub fn get(&self, table: &str) -> u64 {
        self.tables
            .iter()
            .find(|(t, _)| *t == table)
            .map_or(0, |(_, n)| *n)
    }

    /// All rows copied.
    pub fn total(&self) -> u64 {
        self.tables.iter().map(|(_, n)| n).sum()
    }
}

impl Store {
    /// Copies this store's whole history into `to`, which must be empty (it holds no row in
    /// any table: nothing is merged), in one transaction on `to`: ids are kept, and on
    /// PostgreSQL the identity sequences are set past them. Works either way between the
    /// backends.
    ///
    /// # Errors
    /// `to` is not empty, or either database failed (then `to` is left as it was).
    pub fn copy_into(&self, to: &mut Store) -> Result<CopyCounts, StoreError> {
        self.copy_into_with(to, &mut |_, _| {})
    }

    /// As [`Store::copy_into`], telling `progress` each table's name and the rows copied
    /// into it so far, as it goes.
    ///
    /// # Errors
    /// As [`Store::copy_into`].
    pub fn copy_into_with(
        &self,
        to: &mut Store,
        progress: &mut dyn FnMut(&str, u64),
    ) -> Result<CopyCounts, StoreError> {
        for t in TABLES {
            let filled = to
                .db
                .query_row(
                    &format!("SELECT EXISTS (SELECT 1 FROM {})", t.name),
                    params![],
                    |r| r.bool(0),
                )
                .map_err(|e| to.err(e))?;
            if filled {
                return Err(to.err(format!(
                    "the destination is not empty (table `{}` has rows): copy only into a new store",
                    t.name
                )));
            }
        }
        let snapshot = match self.db.backend() {
            Backend::Sqlite => "BEGIN",
            Backend::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
        };
        self.db.batch(snapshot).map_err(|e| self.err(e))?;
        let copied = copy_tables(&self.db, &to.db, progress);
        if let Err(e) = self.db.batch("ROLLBACK") {
            tracing::warn!(error = %e, "store: ending the copy's read transaction failed");
        }
        copied.map_err(|(side, e)| match side {
            Side::From => self.err(format!("copying from: {e}")),
            Side::To => to.err(format!("copying into: {e}")),
        })
    }
}

/// Which store a copy failed on.
enum Side {
    From,
    To,
}

fn copy_tables(
    from: &Db,
    to: &Db,
    progress: &mut dyn FnMut(&str, u64),
) -> std::result::Result<CopyCounts, (Side, super::sql::DbError)> {
    let tx = to.begin().map_err(|e| (Side::To, e))?;
    let mut counts = CopyCounts::default();
    for t in TABLES {
        let n = copy_table(from, to, t, progress)?;
        counts.tables.push((t.name, n));
        if let (Some(col), Backend::Postgres) = (t.identity, to.backend()) {
            to.batch(&format!(
                "SELECT setval(pg_get_serial_sequence('{0}', '{col}'),
                               coalesce((SELECT max({col}) FROM {0}), 0) + 1, false)",
                t.name
            ))
            .map_err(|e| (Side::To, e))?;
        }
    }
    tx.commit().map_err(|e| (Side::To, e))?;
    Ok(counts)
}

fn copy_table(
    from: &Db,
    to: &Db,
    t: &Table,
    progress: &mut dyn FnMut(&str, u64),
) -> std::result::Result<u64, (Side, super::sql::DbError)> {
    let width = t.columns.len();
    let per_insert = (MAX_VALUES / width).clamp(1, MAX_ROWS);
    let columns = t.columns.join(", ");
    let insert = |rows: usize| -> String {
        let mut sql = format!("INSERT INTO {} ({columns}) VALUES ", t.name);
        for r in 0..rows {
            if r > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for c in 0..width {
                if c > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!("?{}", r * width + c + 1));
            }
            sql.push(')');
        }
        sql
    };
    let full = insert(per_insert);
    let mut buffer: Vec<Value> = Vec::with_capacity(per_insert * width);
    let mut copied = 0u64;
    let mut failed_on_to: Option<super::sql::DbError> = None;
    let flush = |buffer: &mut Vec<Value>, copied: &mut u64| -> DbResult<()> {
        let rows = buffer.len() / width;
        if rows == 0 {
            return Ok(());
        }
        let args: Vec<&dyn Param> = buffer.iter().map(|v| v as &dyn Param).collect();
        if rows == per_insert {
            to.prepare_cached(&full)?.execute(&args)?;
        } else {
            to.prepare(&insert(rows))?.execute(&args)?;
        }
        *copied += rows as u64;
        buffer.clear();
        Ok(())
    };
    let read = from
        .prepare(&format!(
            "SELECT {columns} FROM {} ORDER BY {}",
            t.name, t.order
        ))
        .and_then(|mut st| {
            st.for_each(params![], |r| {
                for c in 0..width {
                    buffer.push(r.value(c)?);
                }
                if buffer.len() == per_insert * width {
                    if let Err(e) = flush(&mut buffer, &mut copied) {
                        let reason = super::sql::DbError::Corrupt(String::new());
                        failed_on_to = Some(e);
                        return Err(reason);
                    }
                    progress(t.name, copied);
                }
                Ok(())
            })
        });
    if let Some(e) = failed_on_to {
        return Err((Side::To, e));
    }
    read.map_err(|e| (Side::From, e))?;
    flush(&mut buffer, &mut copied).map_err(|e| (Side::To, e))?;
    progress(t.name, copied);
    Ok(copied)
}
