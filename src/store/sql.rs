//! The one way the store talks SQL, to either backend: [`Db`] is a SQLite connection or a
//! PostgreSQL client, and every query is written once, in the dialect both accept, with
//! numbered placeholders `?1`, `?2`, … (rewritten to `$1`, `$2`, … for PostgreSQL).
//! Statements are prepared through the connection's cache on both ([`Db::prepare_cached`]);
//! [`Db::begin`] opens a transaction that rolls back unless committed; [`Row`] reads a
//! column whichever backend it came from (an integer of any width, a boolean as 0 or 1), so
//! that `EXISTS (…)` or `a = b` read alike although PostgreSQL answers them with booleans.
//!
//! Owns the connection, placeholders, statement caching, transactions, the [`Param`] and
//! [`Value`] types both drivers take, and turning each driver's errors into one sentence
//! ([`DbError`]). Does not own any query or table: those stay in the file of their table.

use std::cell::RefCell;
use std::collections::HashMap;

use postgres::fallible_iterator::FallibleIterator as _;
use postgres::types::{IsNull, ToSql as PgToSql, Type};
use smallvec::SmallVec;

/// What went wrong talking to the database, or a row this build would not have written.
#[derive(Debug)]
pub(super) enum DbError {
    /// SQLite refused.
    Sqlite(rusqlite::Error),
    /// PostgreSQL (or the connection to it) refused.
    Postgres(postgres::Error),
    /// A stored value this build would not have written.
    Corrupt(String),
    /// The connection was being closed.
    Closed,
    /// A write of the sweeper's refused: the lease no longer carries its token (`lease.rs`).
    Fenced(String),
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DbError::Sqlite(e) => write!(f, "{e}"),
            DbError::Postgres(e) => f.write_str(&pg_reason(e)),
            DbError::Corrupt(s) => f.write_str(s),
            DbError::Closed => f.write_str("the connection to the store was closed"),
            DbError::Fenced(s) => f.write_str(s),
        }
    }
}

impl std::error::Error for DbError {}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        DbError::Sqlite(e)
    }
}

impl From<postgres::Error> for DbError {
    fn from(e: postgres::Error) -> Self {
        DbError::Postgres(e)
    }
}

/// A PostgreSQL error in one sentence: the server's own message (and detail) when it
/// answered, else the driver's with its cause. Neither ever holds the password.
pub(super) fn pg_reason(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut s = db.message().to_owned();
        if let Some(d) = db.detail() {
            s.push_str(": ");
            s.push_str(d);
        }
        return s;
    }
    let mut s = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let text = c.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        cause = c.source();
    }
    s
}

pub(super) type DbResult<T> = std::result::Result<T, DbError>;

/// A value given to a query: anything both drivers can bind (integers as `i64`, text,
/// bytes, and `Option`s of them; never `u32` or `bool`, which PostgreSQL binds as other
/// types than the `BIGINT` columns hold).
pub(super) trait Param: Sync {
    /// For SQLite.
    fn sqlite(&self) -> &dyn rusqlite::ToSql;
    /// For PostgreSQL.
    fn pg(&self) -> &(dyn PgToSql + Sync);
}

impl<T: rusqlite::ToSql + PgToSql + Sync> Param for T {
    fn sqlite(&self) -> &dyn rusqlite::ToSql {
        self
    }
    fn pg(&self) -> &(dyn PgToSql + Sync) {
        self
    }
}

/// Parameters for a query, as `&[&dyn Param]`.
macro_rules! params {
    () => { &[] as &[&dyn $crate::store::sql::Param] };
    ($($p:expr),+ $(,)?) => { &[$(&$p as &dyn $crate::store::sql::Param),+] as &[&dyn $crate::store::sql::Param] };
}
pub(super) use params;

/// A column's value of any type, for queries built at run time and for copying rows
/// between backends.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Value {
    /// SQL NULL.
    Null,
    /// An integer (PostgreSQL `BIGINT`, or a boolean read as 0 or 1).
    Int(i64),
    /// Text.
    Text(String),
    /// Bytes (SQLite `BLOB`, PostgreSQL `BYTEA`).
    Blob(Vec<u8>),
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Int(n)
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Text(s)
    }
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(n) => ValueRef::Integer(*n),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

impl PgToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(n) => match *ty {
                Type::INT4 => i32::try_from(*n)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*n)?.to_sql(ty, out),
                Type::BOOL => (*n != 0).to_sql(ty, out),
                _ => n.to_sql(ty, out),
            },
            Value::Text(s) => s.to_sql(ty, out),
            Value::Blob(b) => b.to_sql(ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        [
            Type::INT8,
            Type::INT4,
            Type::INT2,
            Type::BOOL,
            Type::TEXT,
            Type::VARCHAR,
            Type::BYTEA,
        ]
        .contains(ty)
    }

    postgres::types::to_sql_checked!();
}

/// A connection to one of the two backends.
pub(super) enum Db {
    /// An embedded SQLite file.
    Sqlite(rusqlite::Connection),
    /// A PostgreSQL server (boxed: its client is larger than a SQLite connection).
    Postgres(Box<Pg>),
}

/// A PostgreSQL client with its statement cache. The sync client needs `&mut` for every
/// query while the store reads through `&self`: a [`Store`](super::Store) is one
/// connection used by one thread at a time, so a `RefCell` is enough.
///
/// A connection the server closed (a restart, a fail-over) fails the call that finds it
/// closed; the next call outside a transaction connects again. Never inside one: its
/// earlier statements are gone with the old connection, and the rest must not commit alone.
pub(super) struct Pg {
    client: RefCell<Client>,
    cache: RefCell<HashMap<String, postgres::Statement>>,
    config: postgres::Config,
    in_transaction: std::cell::Cell<bool>,
}

/// The sync client, closed safely wherever it is dropped. `postgres::Client` closes its
/// connection by blocking on a runtime of its own, which panics on a thread that drives
/// async tasks — where the daemon's tasks drop the last handle to their store at shutdown.
/// There it is closed on a thread of its own.
pub(super) struct Client {
    client: Option<postgres::Client>,
    /// A call failed below SQL (the socket, the protocol): the connection is not to be
    /// trusted, even before the client itself has seen it close.
    broken: bool,
}

impl Client {
    /// The client; none only while it is being dropped.
    fn new(client: postgres::Client) -> Client {
        Client {
            client: Some(client),
            broken: false,
        }
    }

    fn get(&mut self) -> DbResult<&mut postgres::Client> {
        self.client.as_mut().ok_or(DbError::Closed)
    }

    fn is_closed(&self) -> bool {
        self.broken || self.client.as_ref().is_none_or(postgres::Client::is_closed)
    }

    /// `result`, noting a failure of the connection itself so that the next call outside a
    /// transaction connects again: any error PostgreSQL did not answer with (a reset socket
    /// can fail a call before the client has marked itself closed), and any it answered
    /// with `FATAL` or `PANIC`, after which it closes the session (an administrator ended
    /// it, the server is shutting down) — the next call on that socket would find it reset.
    fn settle<T>(&mut self, result: DbResult<T>) -> DbResult<T> {
        use postgres::error::Severity;
        if let Err(DbError::Postgres(e)) = &result
            && e.as_db_error().is_none_or(|d| {
                matches!(d.parsed_severity(), Some(Severity::Fatal | Severity::Panic))
            })
        {
            self.broken = true;
        }
        result
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let Some(client) = self.client.take() else {
            return;
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            let closing = std::thread::Builder::new()
                .name("store-close".to_owned())
                .spawn(move || drop(client));
            if let Err(e) = closing {
                // No thread to close it on: let the server see the socket close instead.
                tracing::warn!(error = %e, "store: PostgreSQL connection dropped without closing");
            }
        }
    }
}

impl Pg {
    pub(super) fn new(client: postgres::Client, config: postgres::Config) -> Pg {
        Pg {
            client: RefCell::new(Client::new(client)),
            cache: RefCell::new(HashMap::new()),
            config,
            in_transaction: std::cell::Cell::new(false),
        }
    }

    /// Connects again if the server closed the connection, outside a transaction.
    fn ready(&self) -> DbResult<()> {
        if self.in_transaction.get() || !self.client.borrow().is_closed() {
            return Ok(());
        }
        let client = self.config.connect(postgres::NoTls)?;
        *self.client.borrow_mut() = Client::new(client);
        self.cache.borrow_mut().clear();
        tracing::warn!("store: the connection to PostgreSQL was closed: connected again");
        Ok(())
    }

    fn prepare(&self, sql: &str, cached: bool) -> DbResult<postgres::Statement> {
        self.ready()?;
        if cached && let Some(st) = self.cache.borrow().get(sql) {
            return Ok(st.clone());
        }
        let mut c = self.client.borrow_mut();
        let r = c
            .get()
            .and_then(|c| Ok(c.prepare(&dollar_placeholders(sql))?));
        let st = c.settle(r)?;
        drop(c);
        if cached {
            self.cache.borrow_mut().insert(sql.to_owned(), st.clone());
        }
        Ok(st)
    }
}

/// `?N` placeholders as PostgreSQL writes them, `$N`. The store's queries hold no `?` in a
/// literal.
pub(super) fn dollar_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '?' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('$');
        } else {
            out.push(c);
        }
    }
    out
}

/// Which backend a [`Db`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Backend {
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

impl Db {
    pub(super) fn backend(&self) -> Backend {
        match self {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Whether the connection was opened for reading only (a SQLite file opened by a
    /// command that only reads).
    pub(super) fn read_only(&self) -> bool {
        match self {
            Db::Sqlite(c) => c.is_readonly(rusqlite::MAIN_DB).unwrap_or(false),
            Db::Postgres(_) => false,
        }
    }

    /// A statement from the connection's cache (prepared on first use).
    pub(super) fn prepare_cached(&self, sql: &str) -> DbResult<Stmt<'_>> {
        Ok(match self {
            Db::Sqlite(c) => Stmt::Sqlite(c.prepare_cached(sql)?, c),
            Db::Postgres(pg) => Stmt::Postgres(pg.prepare(sql, true)?, &pg.client),
        })
    }

    /// A statement prepared for one use: for SQL built at run time.
    pub(super) fn prepare(&self, sql: &str) -> DbResult<Stmt<'_>> {
        Ok(match self {
            Db::Sqlite(c) => Stmt::Sqlite(c.prepare_cached(sql)?, c),
            Db::Postgres(pg) => Stmt::Postgres(pg.prepare(sql, false)?, &pg.client),
        })
    }

    /// An `INSERT` whose [`Stmt::insert_id`] gives the new row's `id`.
    pub(super) fn prepare_insert(&self, sql: &str) -> DbResult<Stmt<'_>> {
        match self {
            Db::Sqlite(_) => self.prepare_cached(sql),
            Db::Postgres(_) => self.prepare_cached(&format!("{sql} RETURNING id")),
        }
    }

    /// Runs one statement; the rows it changed.
    pub(super) fn execute(&self, sql: &str, params: &[&dyn Param]) -> DbResult<u64> {
        match self {
            Db::Sqlite(c) => Ok(c.execute(sql, sqlite_params(params))? as u64),
            Db::Postgres(_) => self.prepare_cached(sql)?.execute(params),
        }
    }

    /// Runs statements separated by `;`, without parameters.
    pub(super) fn batch(&self, sql: &str) -> DbResult<()> {
        match self {
            Db::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Db::Postgres(pg) => {
                pg.ready()?;
                let mut c = pg.client.borrow_mut();
                let r = c.get().and_then(|c| Ok(c.batch_execute(sql)?));
                c.settle(r)
            }
        }
    }

    fn in_transaction(&self, yes: bool) {
        if let Db::Postgres(pg) = self {
            pg.in_transaction.set(yes);
        }
    }

    /// The first row's `f`, if there is a row.
    pub(super) fn query_opt<T>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        f: impl FnOnce(&Row<'_>) -> DbResult<T>,
    ) -> DbResult<Option<T>> {
        self.prepare_cached(sql)?.query_opt(params, f)
    }

    /// The first row's `f`; no row is an error.
    pub(super) fn query_row<T>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        f: impl FnOnce(&Row<'_>) -> DbResult<T>,
    ) -> DbResult<T> {
        self.prepare_cached(sql)?.query_row(params, f)
    }

    /// `f` of every row.
    pub(super) fn query_map<T>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        f: impl FnMut(&Row<'_>) -> DbResult<T>,
    ) -> DbResult<Vec<T>> {
        self.prepare_cached(sql)?.query_map(params, f)
    }

    /// Starts a transaction: rolled back when the [`Tx`] is dropped uncommitted.
    pub(super) fn begin(&self) -> DbResult<Tx<'_>> {
        self.batch("BEGIN")?;
        self.in_transaction(true);
        Ok(Tx {
            db: self,
            done: false,
        })
    }
}

/// An open transaction; statements run on the [`Db`] it came from.
pub(super) struct Tx<'a> {
    db: &'a Db,
    done: bool,
}

impl Tx<'_> {
    /// Makes the transaction's writes durable.
    pub(super) fn commit(mut self) -> DbResult<()> {
        self.done = true;
        let committed = self.db.batch("COMMIT");
        self.db.in_transaction(false);
        committed
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if !self.done
            && let Err(e) = self.db.batch("ROLLBACK")
        {
            tracing::warn!(error = %e, "store: rolling back a transaction failed");
        }
        self.db.in_transaction(false);
    }
}

fn sqlite_params<'p>(
    params: &'p [&'p dyn Param],
) -> rusqlite::ParamsFromIter<impl Iterator<Item = &'p dyn rusqlite::ToSql>> {
    rusqlite::params_from_iter(params.iter().map(|p| p.sqlite()))
}

fn pg_params<'p>(params: &'p [&'p dyn Param]) -> SmallVec<[&'p (dyn PgToSql + Sync); 24]> {
    params.iter().map(|p| p.pg()).collect()
}

/// A prepared statement of either backend.
pub(super) enum Stmt<'a> {
    /// SQLite's, from its cache, with its connection (for the last row id).
    Sqlite(rusqlite::CachedStatement<'a>, &'a rusqlite::Connection),
    /// PostgreSQL's, with the client that runs it.
    Postgres(postgres::Statement, &'a RefCell<Client>),
}

impl Stmt<'_> {
    /// Runs it; the rows it changed.
    pub(super) fn execute(&mut self, params: &[&dyn Param]) -> DbResult<u64> {
        match self {
            Stmt::Sqlite(st, _) => Ok(st.execute(sqlite_params(params))? as u64),
            Stmt::Postgres(st, client) => {
                let mut c = client.borrow_mut();
                let r = c.get().and_then(|c| Ok(c.execute(st, &pg_params(params))?));
                c.settle(r)
            }
        }
    }

    /// Runs an `INSERT` from [`Db::prepare_insert`]; the new row's `id`.
    pub(super) fn insert_id(&mut self, params: &[&dyn Param]) -> DbResult<i64> {
        match self {
            Stmt::Sqlite(st, conn) => {
                st.execute(sqlite_params(params))?;
                Ok(conn.last_insert_rowid())
            }
            Stmt::Postgres(..) => self.query_row(params, |r| r.i64(0)),
        }
    }

    /// Calls `f` with each row, in order.
    pub(super) fn for_each(
        &mut self,
        params: &[&dyn Param],
        mut f: impl FnMut(&Row<'_>) -> DbResult<()>,
    ) -> DbResult<()> {
        match self {
            Stmt::Sqlite(st, _) => {
                let mut rows = st.query(sqlite_params(params))?;
                while let Some(r) = rows.next()? {
                    f(&Row::Sqlite(r))?;
                }
            }
            Stmt::Postgres(st, client) => {
                let mut c = client.borrow_mut();
                let r = c.get().and_then(|c| {
                    let mut rows = c.query_raw(&*st, pg_params(params))?;
                    while let Some(r) = rows.next()? {
                        f(&Row::Postgres(&r))?;
                    }
                    Ok(())
                });
                c.settle(r)?;
            }
        }
        Ok(())
    }

    /// `f` of every row.
    pub(super) fn query_map<T>(
        &mut self,
        params: &[&dyn Param],
        mut f: impl FnMut(&Row<'_>) -> DbResult<T>,
    ) -> DbResult<Vec<T>> {
        let mut out = Vec::new();
        self.for_each(params, |r| {
            out.push(f(r)?);
            Ok(())
        })?;
        Ok(out)
    }

    /// The first row's `f`, if there is a row.
    pub(super) fn query_opt<T>(
        &mut self,
        params: &[&dyn Param],
        f: impl FnOnce(&Row<'_>) -> DbResult<T>,
    ) -> DbResult<Option<T>> {
        match self {
            Stmt::Sqlite(st, _) => {
                let mut rows = st.query(sqlite_params(params))?;
                match rows.next()? {
                    Some(r) => Ok(Some(f(&Row::Sqlite(r))?)),
                    None => Ok(None),
                }
            }
            Stmt::Postgres(st, client) => {
                let mut c = client.borrow_mut();
                let r = c.get().and_then(|c| Ok(c.query(&*st, &pg_params(params))?));
                let rows = c.settle(r)?;
                rows.first().map(|r| f(&Row::Postgres(r))).transpose()
            }
        }
    }

    /// The first row's `f`; no row is an error.
    pub(super) fn query_row<T>(
        &mut self,
        params: &[&dyn Param],
        f: impl FnOnce(&Row<'_>) -> DbResult<T>,
    ) -> DbResult<T> {
        self.query_opt(params, f)?
            .ok_or(DbError::Sqlite(rusqlite::Error::QueryReturnedNoRows))
    }
}

/// Rows for one table, from the hot loop of recording a sweep: on SQLite each is inserted
/// at once through a cached statement (as ever); on PostgreSQL they are buffered in
/// `COPY`'s text format and sent with `COPY … FROM STDIN` (several times faster than
/// multi-row `INSERT`s, which the server parses and plans), and new ids are drawn from the
/// table's sequence in blocks, rather than paying a round trip per row. A row is in the
/// table only once [`flush`](Self::flush)ed; PostgreSQL's foreign keys are checked at
/// commit (the schema's are `DEFERRABLE INITIALLY DEFERRED`), so tables may be flushed in
/// any order.
pub(super) struct Inserter<'a> {
    db: &'a Db,
    table: &'static str,
    columns: &'static [&'static str],
    /// The identity column [`push_id`](Self::push_id) returns.
    id: Option<&'static str>,
    /// SQLite's statement.
    sqlite: Option<Stmt<'a>>,
    /// PostgreSQL's rows not yet sent, as `COPY` text (the id first, if any).
    buffer: Vec<u8>,
    /// PostgreSQL's ids drawn and not yet used, last first.
    ids: Vec<i64>,
    /// How many ids the next draw takes.
    draw: usize,
}

/// Bytes of `COPY` text sent at a time at most.
const COPY_BYTES: usize = 4 << 20;

impl<'a> Inserter<'a> {
    /// Rows of `columns` for `table`; `id` names its identity column when new rows' ids
    /// are wanted.
    pub(super) fn new(
        db: &'a Db,
        table: &'static str,
        columns: &'static [&'static str],
        id: Option<&'static str>,
    ) -> DbResult<Inserter<'a>> {
        let sqlite = match db {
            Db::Sqlite(_) => {
                let marks: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
                Some(db.prepare_cached(&format!(
                    "INSERT INTO {table} ({}) VALUES ({})",
                    columns.join(", "),
                    marks.join(", ")
                ))?)
            }
            Db::Postgres(_) => None,
        };
        Ok(Inserter {
            db,
            table,
            columns,
            id,
            sqlite,
            buffer: Vec::new(),
            ids: Vec::new(),
            draw: 64,
        })
    }

    /// Adds a row.
    pub(super) fn push(&mut self, params: &[&dyn Param]) -> DbResult<()> {
        match &mut self.sqlite {
            Some(st) => st.execute(params).map(drop),
            None => self.buffer_row(None, params),
        }
    }

    /// Adds a row; its new id.
    pub(super) fn push_id(&mut self, params: &[&dyn Param]) -> DbResult<i64> {
        match &mut self.sqlite {
            Some(st) => st.insert_id(params),
            None => {
                let Some(column) = self.id else {
                    return Err(DbError::Corrupt(format!(
                        "no id column given for `{}`",
                        self.table
                    )));
                };
                if self.ids.is_empty() {
                    let mut ids = self.db.query_map(
                        &format!(
                            "SELECT nextval(pg_get_serial_sequence('{}', '{column}')) FROM generate_series(1, CAST(?1 AS BIGINT))",
                            self.table
                        ),
                        params![self.draw as i64],
                        |r| r.i64(0),
                    )?;
                    ids.sort_unstable_by(|a, b| b.cmp(a));
                    self.ids = ids;
                    self.draw = (self.draw * 2).min(65_536);
                }
                let id = self
                    .ids
                    .pop()
                    .ok_or_else(|| DbError::Corrupt("the sequence gave no id".to_owned()))?;
                self.buffer_row(Some(id), params)?;
                Ok(id)
            }
        }
    }

    fn buffer_row(&mut self, id: Option<i64>, params: &[&dyn Param]) -> DbResult<()> {
        let mut first = true;
        if let Some(id) = id {
            copy_text(&mut self.buffer, &Value::Int(id));
            first = false;
        }
        for p in params {
            if !first {
                self.buffer.push(b'\t');
            }
            first = false;
            copy_text(&mut self.buffer, &value_of(*p)?);
        }
        self.buffer.push(b'\n');
        if self.buffer.len() >= COPY_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes the rows buffered so far.
    pub(super) fn flush(&mut self) -> DbResult<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let Db::Postgres(pg) = self.db else {
            return Ok(()); // SQLite's rows are in already
        };
        let mut sql = format!("COPY {} (", self.table);
        if let Some(id) = self.id {
            sql.push_str(id);
            sql.push_str(", ");
        }
        sql.push_str(&self.columns.join(", "));
        sql.push_str(") FROM STDIN");
        pg.ready()?;
        let mut c = pg.client.borrow_mut();
        let r = c.get().and_then(|c| {
            let mut writer = c.copy_in(sql.as_str())?;
            if std::io::Write::write_all(&mut writer, &self.buffer).is_err() {
                // The connection failed under the write: `finish` says how.
                writer.finish()?;
                return Err(DbError::Closed);
            }
            writer.finish()?;
            Ok(())
        });
        c.settle(r)?;
        self.buffer.clear();
        Ok(())
    }
}

/// `value` as a field of `COPY`'s text format: `\N` for NULL; backslash, tab, newline and
/// carriage return escaped; bytes as `bytea`'s hex (its backslash escaped too).
fn copy_text(out: &mut Vec<u8>, value: &Value) {
    use std::io::Write as _;
    match value {
        Value::Null => out.extend_from_slice(b"\\N"),
        Value::Int(n) => {
            let _ = write!(out, "{n}");
        }
        Value::Text(t) => {
            for &b in t.as_bytes() {
                match b {
                    b'\\' => out.extend_from_slice(b"\\\\"),
                    b'\t' => out.extend_from_slice(b"\\t"),
                    b'\n' => out.extend_from_slice(b"\\n"),
                    b'\r' => out.extend_from_slice(b"\\r"),
                    _ => out.push(b),
                }
            }
        }
        Value::Blob(bytes) => {
            out.extend_from_slice(b"\\\\x");
            for b in bytes {
                let _ = write!(out, "{b:02x}");
            }
        }
    }
}

/// A parameter's value, owned (for rows buffered for PostgreSQL).
fn value_of(p: &dyn Param) -> DbResult<Value> {
    use rusqlite::types::{ToSqlOutput, Value as V, ValueRef};
    let text = |t: &[u8]| -> DbResult<Value> {
        Ok(Value::Text(
            std::str::from_utf8(t)
                .map_err(|_| corrupt("text", "not UTF-8"))?
                .to_owned(),
        ))
    };
    match p.sqlite().to_sql()? {
        ToSqlOutput::Borrowed(ValueRef::Null) | ToSqlOutput::Owned(V::Null) => Ok(Value::Null),
        ToSqlOutput::Borrowed(ValueRef::Integer(n)) | ToSqlOutput::Owned(V::Integer(n)) => {
            Ok(Value::Int(n))
        }
        ToSqlOutput::Borrowed(ValueRef::Text(t)) => text(t),
        ToSqlOutput::Owned(V::Text(t)) => Ok(Value::Text(t)),
        ToSqlOutput::Borrowed(ValueRef::Blob(b)) => Ok(Value::Blob(b.to_vec())),
        ToSqlOutput::Owned(V::Blob(b)) => Ok(Value::Blob(b)),
        _ => Err(corrupt("parameter", "of a type the store does not write")),
    }
}

/// A row of either backend.
pub(super) enum Row<'a> {
    /// SQLite's.
    Sqlite(&'a rusqlite::Row<'a>),
    /// PostgreSQL's.
    Postgres(&'a postgres::Row),
}

impl Row<'_> {
    /// An integer column (any width; a boolean reads as 0 or 1), NULL as `None`.
    pub(super) fn opt_i64(&self, i: usize) -> DbResult<Option<i64>> {
        match self {
            Row::Sqlite(r) => Ok(r.get(i)?),
            Row::Postgres(r) => Ok(match *r.columns()[i].type_() {
                Type::INT4 => r.try_get::<_, Option<i32>>(i)?.map(i64::from),
                Type::INT2 => r.try_get::<_, Option<i16>>(i)?.map(i64::from),
                Type::BOOL => r.try_get::<_, Option<bool>>(i)?.map(i64::from),
                _ => r.try_get::<_, Option<i64>>(i)?,
            }),
        }
    }

    /// An integer column that is never NULL.
    pub(super) fn i64(&self, i: usize) -> DbResult<i64> {
        self.opt_i64(i)?
            .ok_or_else(|| DbError::Corrupt(format!("unexpected NULL in column {i}")))
    }

    /// An integer column holding a `u32`.
    pub(super) fn u32(&self, i: usize) -> DbResult<u32> {
        let n = self.i64(i)?;
        u32::try_from(n).map_err(|_| corrupt("count", n))
    }

    /// A boolean column (SQLite: an integer, non-zero is true).
    pub(super) fn bool(&self, i: usize) -> DbResult<bool> {
        Ok(self.i64(i)? != 0)
    }

    /// A text column, borrowed; NULL as `None`.
    pub(super) fn opt_str(&self, i: usize) -> DbResult<Option<&str>> {
        match self {
            Row::Sqlite(r) => Ok(r
                .get_ref(i)?
                .as_str_or_null()
                .map_err(|e| DbError::Sqlite(e.into()))?),
            Row::Postgres(r) => Ok(r.try_get::<_, Option<&str>>(i)?),
        }
    }

    /// A text column that is never NULL, borrowed.
    pub(super) fn str(&self, i: usize) -> DbResult<&str> {
        self.opt_str(i)?
            .ok_or_else(|| DbError::Corrupt(format!("unexpected NULL in column {i}")))
    }

    /// A text column, owned; NULL as `None`.
    pub(super) fn opt_string(&self, i: usize) -> DbResult<Option<String>> {
        Ok(self.opt_str(i)?.map(str::to_owned))
    }

    /// A text column that is never NULL, owned.
    pub(super) fn string(&self, i: usize) -> DbResult<String> {
        Ok(self.str(i)?.to_owned())
    }

    /// A bytes column that is never NULL.
    pub(super) fn blob(&self, i: usize) -> DbResult<Vec<u8>> {
        match self {
            Row::Sqlite(r) => Ok(r.get(i)?),
            Row::Postgres(r) => Ok(r.try_get(i)?),
        }
    }

    /// Any column, as a [`Value`].
    pub(super) fn value(&self, i: usize) -> DbResult<Value> {
        match self {
            Row::Sqlite(r) => {
                use rusqlite::types::ValueRef;
                Ok(match r.get_ref(i)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(n) => Value::Int(n),
                    ValueRef::Real(x) => return Err(corrupt("real number", x)),
                    ValueRef::Text(t) => Value::Text(
                        std::str::from_utf8(t)
                            .map_err(|_| corrupt("text", "not UTF-8"))?
                            .to_owned(),
                    ),
                    ValueRef::Blob(b) => Value::Blob(b.to_vec()),
                })
            }
            Row::Postgres(r) => {
                let ty = r.columns()[i].type_().clone();
                Ok(match ty {
                    Type::BYTEA => r
                        .try_get::<_, Option<Vec<u8>>>(i)?
                        .map_or(Value::Null, Value::Blob),
                    Type::TEXT | Type::VARCHAR => r
                        .try_get::<_, Option<String>>(i)?
                        .map_or(Value::Null, Value::Text),
                    _ => self.opt_i64(i)?.map_or(Value::Null, Value::Int),
                })
            }
        }
    }
}

/// A row that does not hold what this build wrote: the database was edited or is not ours.
pub(super) fn corrupt(what: &str, value: impl std::fmt::Display) -> DbError {
    DbError::Corrupt(format!("unexpected {what} `{value}`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_placeholders_become_dollars() {
        assert_eq!(
            dollar_placeholders("UPDATE t SET a = ?2 WHERE id = ?1 AND b = ?12"),
            "UPDATE t SET a = $2 WHERE id = $1 AND b = $12"
        );
        assert_eq!(dollar_placeholders("SELECT '?' || ?"), "SELECT '?' || ?");
    }

    #[test]
    fn copy_text_escapes_what_copy_would_read_as_syntax() {
        let field = |v: Value| {
            let mut out = Vec::new();
            copy_text(&mut out, &v);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(field(Value::Null), r"\N");
        assert_eq!(field(Value::Int(-42)), "-42");
        assert_eq!(
            field(Value::Text("a\tb\nc\rd\\e \"f\" æ".to_owned())),
            r#"a\tb\nc\rd\\e "f" æ"#
        );
        assert_eq!(
            field(Value::Text(r"\N".to_owned())),
            r"\\N",
            "text, not NULL"
        );
        assert_eq!(field(Value::Blob(vec![0, 0xab, 0x7f])), r"\\x00ab7f");
    }
}
