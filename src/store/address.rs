//! Where the store is: a SQLite file (a bare path or `sqlite:PATH`) or a PostgreSQL database
//! (`postgres://USER@HOST:PORT/DB`). The same text is accepted by `--store` in every command
//! and by `daemon.store`.
//!
//! A PostgreSQL URL never carries a password: one in the URL (or in its query) is refused,
//! because command lines and config files are read by others and end up in logs. The password
//! comes from `daemon.store_password_file` or the `PGPASSWORD` environment variable, and
//! neither this type's `Display` nor its `Debug` shows it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr as _;

/// A store's address, as given to `--store` or `daemon.store`.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreAddress {
    /// A SQLite file (created when missing by the commands that write).
    Sqlite(PathBuf),
    /// A PostgreSQL database (boxed: its connection settings are large).
    Postgres(Box<PostgresAddress>),
}

/// A PostgreSQL database: the URL as given (without a password: refused there) and the
/// connection settings parsed from it, to which a password from elsewhere may be added.
#[derive(Clone)]
pub struct PostgresAddress {
    url: String,
    config: postgres::Config,
    has_password: bool,
}

impl PartialEq for PostgresAddress {
    fn eq(&self, other: &Self) -> bool {
        self.url == other.url
    }
}

impl Eq for PostgresAddress {}

impl PostgresAddress {
    /// The URL as given (never with a password).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `HOST:PORT` of the (first) server, as errors name it.
    pub fn host(&self) -> String {
        let host = match self.config.get_hosts().first() {
            Some(postgres::config::Host::Tcp(h)) => h.clone(),
            #[cfg(unix)]
            Some(postgres::config::Host::Unix(p)) => p.display().to_string(),
            None => "localhost".to_owned(),
        };
        let port = self.config.get_ports().first().copied().unwrap_or(5432);
        format!("{host}:{port}")
    }

    /// The connection settings, with the password when one was added.
    pub fn config(&self) -> &postgres::Config {
        &self.config
    }

    /// Whether a password was added (from a file or `PGPASSWORD`).
    pub fn has_password(&self) -> bool {
        self.has_password
    }

    /// Adds the password from `file` (its first line), else from the `PGPASSWORD`
    /// environment variable, else none (the server may not ask for one).
    pub fn with_password_from(mut self: Box<Self>, file: Option<&Path>) -> Result<Self, String> {
        let password = match file {
            Some(file) => Some(read_password_file(file)?),
            None => std::env::var("PGPASSWORD").ok().filter(|p| !p.is_empty()),
        };
        if let Some(p) = password {
            self.config.password(p);
            self.has_password = true;
        }
        Ok(*self)
    }
}

fn read_password_file(file: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        format!(
            "`daemon.store_password_file` `{}` cannot be read: {e}",
            file.display()
        )
    })?;
    let password = text.lines().next().unwrap_or("").trim_end_matches('\r');
    if password.is_empty() {
        return Err(format!(
            "`daemon.store_password_file` `{}` is empty: its first line is the store's password",
            file.display()
        ));
    }
    if super::readable_by_others(file) {
        tracing::warn!(
            file = %file.display(),
            "the store's password file can be read by other users: `chmod 600` it"
        );
    }
    Ok(password.to_owned())
}

impl fmt::Debug for PostgresAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresAddress")
            .field("url", &self.url)
            .field("has_password", &self.has_password)
            .finish()
    }
}

impl StoreAddress {
    /// Reads `--store` / `daemon.store`: `postgres://…` or `postgresql://…` is a PostgreSQL
    /// database, `sqlite:PATH` or anything else a SQLite file. Relative paths are kept as
    /// given (the caller resolves them).
    pub fn parse(text: &str) -> Result<StoreAddress, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("the store is empty: give a file (`reachcheck.db`, `sqlite:FILE`) or `postgres://USER@HOST:PORT/DATABASE`".to_owned());
        }
        let lower = text.to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            return parse_postgres(text).map(|p| StoreAddress::Postgres(Box::new(p)));
        }
        if lower.starts_with("postgres:") || lower.starts_with("postgresql:") {
            return Err(format!(
                "`{}` is not a PostgreSQL URL: write `postgres://USER@HOST:PORT/DATABASE`",
                text.split(['@', '?']).next().unwrap_or(text)
            ));
        }
        let path = match text.strip_prefix("sqlite:") {
            Some(p) => p.strip_prefix("//").unwrap_or(p),
            None => text,
        };
        if path.is_empty() {
            return Err("`sqlite:` names no file: write `sqlite:FILE`".to_owned());
        }
        if path.contains("://") {
            let scheme = path.split("://").next().unwrap_or("");
            return Err(format!(
                "`{scheme}://` is not a store reachcheck knows: give a file (`sqlite:FILE`) or `postgres://USER@HOST:PORT/DATABASE`"
            ));
        }
        Ok(StoreAddress::Sqlite(PathBuf::from(path)))
    }

    /// The SQLite file, when this is one.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            StoreAddress::Sqlite(p) => Some(p),
            StoreAddress::Postgres(_) => None,
        }
    }

    /// Resolves a relative SQLite path against `base` (a config file's folder).
    pub fn relative_to(self, base: &Path) -> StoreAddress {
        match self {
            StoreAddress::Sqlite(p) if p.is_relative() && !base.as_os_str().is_empty() => {
                StoreAddress::Sqlite(base.join(p))
            }
            other => other,
        }
    }

    /// Whether there is a store there to read: a SQLite file that exists, or any PostgreSQL
    /// database (whether it holds a store is known only once connected).
    pub fn may_exist(&self) -> bool {
        match self {
            StoreAddress::Sqlite(p) => p.is_file(),
            StoreAddress::Postgres(_) => true,
        }
    }

    /// Adds the PostgreSQL password (see [`PostgresAddress::with_password_from`]); a SQLite
    /// address is returned as it is.
    pub fn with_password_from(self, file: Option<&Path>) -> Result<StoreAddress, String> {
        match self {
            StoreAddress::Postgres(p) => p
                .with_password_from(file)
                .map(|p| StoreAddress::Postgres(Box::new(p))),
            sqlite => Ok(sqlite),
        }
    }
}

fn parse_postgres(url: &str) -> Result<PostgresAddress, String> {
    // What an error may show of the URL: its scheme and host part, never what precedes `@`.
    let visible = match url.split_once("://") {
        Some((scheme, rest)) => {
            let after_user = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
            let host = after_user.split(['/', '?']).next().unwrap_or("");
            format!("{scheme}://…@{host}")
        }
        None => "the URL".to_owned(),
    };
    let mut config = postgres::Config::from_str(url).map_err(|e| {
        let reason = e.to_string();
        // The parser's messages name the part that is wrong, never a password; keep them
        // only when they cannot echo the URL.
        if reason.contains(url) {
            format!("`{visible}` is not a PostgreSQL URL")
        } else {
            format!("`{visible}` is not a PostgreSQL URL: {reason}")
        }
    })?;
    if config.get_password().is_some() {
        return Err(format!(
            "the store URL for `{visible}` carries a password: remove it from the URL and put it in the file `daemon.store_password_file` names, or in the PGPASSWORD environment variable"
        ));
    }
    if config.get_hosts().is_empty() {
        return Err(format!(
            "`{visible}` names no host: write `postgres://USER@HOST:PORT/DATABASE`"
        ));
    }
    if config.get_dbname().is_none() {
        return Err(format!(
            "`{visible}` names no database: write `postgres://USER@HOST:PORT/DATABASE`"
        ));
    }
    if config.get_application_name().is_none() {
        config.application_name("reachcheck");
    }
    Ok(PostgresAddress {
        url: url.to_owned(),
        config,
        has_password: false,
    })
}

impl fmt::Display for StoreAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreAddress::Sqlite(p) => write!(f, "{}", p.display()),
            StoreAddress::Postgres(p) => f.write_str(&p.url),
        }
    }
}

impl fmt::Debug for StoreAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreAddress::Sqlite(p) => f.debug_tuple("Sqlite").field(p).finish(),
            StoreAddress::Postgres(p) => f.debug_tuple("Postgres").field(p).finish(),
        }
    }
}

impl std::str::FromStr for StoreAddress {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        StoreAddress::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn paths_and_sqlite_urls_are_files() {
        for (given, path) in [
            ("reachcheck.db", "reachcheck.db"),
            ("/var/lib/reachcheck/r.db", "/var/lib/reachcheck/r.db"),
            ("sqlite:r.db", "r.db"),
            ("sqlite:/var/r.db", "/var/r.db"),
            ("sqlite:///var/r.db", "/var/r.db"),
            ("  r.db ", "r.db"),
        ] {
            let a = StoreAddress::parse(given).unwrap();
            assert_eq!(a.sqlite_path(), Some(Path::new(path)), "{given}");
        }
        assert_eq!(
            StoreAddress::parse("r.db")
                .unwrap()
                .relative_to(Path::new("etc"))
                .sqlite_path(),
            Some(Path::new("etc/r.db"))
        );
        assert_eq!(
            StoreAddress::parse("/r.db")
                .unwrap()
                .relative_to(Path::new("etc"))
                .sqlite_path(),
            Some(Path::new("/r.db"))
        );
    }

    #[test]
    fn a_postgres_url_is_parsed_and_shown_as_given() {
        let a = StoreAddress::parse("postgres://reachcheck@db.example.no:5433/reach").unwrap();
        let StoreAddress::Postgres(p) = &a else {
            panic!("{a:?}")
        };
        assert_eq!(p.host(), "db.example.no:5433");
        assert_eq!(p.config().get_dbname(), Some("reach"));
        assert_eq!(p.config().get_user(), Some("reachcheck"));
        assert_eq!(
            a.to_string(),
            "postgres://reachcheck@db.example.no:5433/reach"
        );
        assert!(a.may_exist());
        let b = StoreAddress::parse("postgresql://u@h/d?connect_timeout=3").unwrap();
        let StoreAddress::Postgres(p) = &b else {
            panic!()
        };
        assert_eq!(p.host(), "h:5432");
        assert_eq!(
            p.config().get_connect_timeout(),
            Some(&Duration::from_secs(3))
        );
    }

    #[test]
    fn a_password_in_the_url_is_refused_without_showing_it() {
        for url in [
            "postgres://reachcheck:s3cret-pw@db.example.no:5432/reach",
            "postgres://reachcheck@db.example.no/reach?password=s3cret-pw",
            "postgresql://:s3cret-pw@db.example.no/reach",
        ] {
            let e = StoreAddress::parse(url).unwrap_err();
            assert!(e.contains("carries a password"), "{e}");
            assert!(e.contains("db.example.no"), "names the host: {e}");
            assert!(
                e.contains("store_password_file") && e.contains("PGPASSWORD"),
                "{e}"
            );
            assert!(!e.contains("s3cret"), "shows the password: {e}");
        }
    }

    #[test]
    fn bad_addresses_say_what_to_write() {
        for (given, expected) in [
            ("", "the store is empty"),
            ("sqlite:", "names no file"),
            ("mysql://u@h/d", "`mysql://` is not a store"),
            ("postgres:u@h/d", "is not a PostgreSQL URL"),
            ("postgres://u@h", "names no database"),
            ("postgres://u@h:notaport/d", "is not a PostgreSQL URL"),
        ] {
            let e = StoreAddress::parse(given).unwrap_err();
            assert!(e.contains(expected), "{given}: {e}");
        }
    }

    #[test]
    fn the_password_comes_from_a_file_and_is_never_shown() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "f1le-secret\nignored\n").unwrap();
        let a = StoreAddress::parse("postgres://u@h/d")
            .unwrap()
            .with_password_from(Some(&file))
            .unwrap();
        let StoreAddress::Postgres(p) = &a else {
            panic!()
        };
        assert!(p.has_password());
        assert_eq!(p.config().get_password(), Some(&b"f1le-secret"[..]));
        for shown in [a.to_string(), format!("{a:?}"), format!("{p:?}")] {
            assert!(!shown.contains("f1le-secret"), "{shown}");
        }
        std::fs::write(&file, "\n").unwrap();
        let e = StoreAddress::parse("postgres://u@h/d")
            .unwrap()
            .with_password_from(Some(&file))
            .unwrap_err();
        assert!(e.contains("is empty"), "{e}");
        let e = StoreAddress::parse("postgres://u@h/d")
            .unwrap()
            .with_password_from(Some(&dir.path().join("missing")))
            .unwrap_err();
        assert!(e.contains("cannot be read"), "{e}");
        // A SQLite store needs no password and is unchanged.
        let s = StoreAddress::parse("r.db")
            .unwrap()
            .with_password_from(Some(&dir.path().join("missing")))
            .unwrap();
        assert_eq!(s.sqlite_path(), Some(Path::new("r.db")));
    }
}
