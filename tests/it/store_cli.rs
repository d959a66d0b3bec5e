//! The store as every command addresses it (`--store`, `daemon.store`): a file, `sqlite:FILE`
//! or `postgres://…`; passwords kept out of URLs; `store migrate` and `store copy`; the demo's
//! history on PostgreSQL reported exactly as on SQLite.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::fixture::{stderr, stdout};
use crate::store::{PgDatabase, pg_server};

const SECRET: &str = "s3cret-Pw-9f2";
const TOKEN: &str = "0123456789abcdef0123456789abcdef";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `reachcheck ARGS` in the repository root (the demo's reachcheck.toml), with `env` added and
/// no PGPASSWORD unless given.
fn demo(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_reachcheck"));
    cmd.current_dir(root())
        .args(args)
        .env("REACHCHECK_API_TOKENS", format!("demo:{TOKEN}"))
        .env_remove("PGPASSWORD");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn assert_refused_without_the_secret(o: &Output, what: &str, host: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "{what}: {err}");
    assert!(err.contains("carries a password"), "{what}: {err}");
    assert!(err.contains(host), "{what} names the host: {err}");
    assert!(!err.contains(SECRET), "{what} shows the password: {err}");
    assert!(!stdout(o).contains(SECRET), "{what}");
}

#[test]
fn a_password_in_a_store_url_is_refused_by_every_command_without_showing_it() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("postgres://reachcheck:{SECRET}@db.example.no:5432/reachcheck");
    let query = format!("postgres://reachcheck@db.example.no/reachcheck?password={SECRET}");
    let file = dir.path().join("r.db");
    let file = file.to_str().unwrap();
    for u in [&url, &query] {
        for args in [
            vec!["report", "--store", u],
            vec!["messages", "--store", u],
            vec!["serve", "--once", "--store", u],
            vec!["onboard", "--status", "--store", u],
            vec!["store", "migrate", "--store", u],
            vec!["store", "copy", "--from", file, "--to", u],
            vec![
                "precheck",
                "--sender",
                "974760673",
                "--message-type",
                "bekymringsmelding",
                "--recipient",
                "964338531",
                "--store",
                u,
            ],
        ] {
            let o = demo(&args, &[]);
            assert_refused_without_the_secret(&o, &args.join(" "), "db.example.no");
        }
    }
    // In the config: refused with the file and the line, before anything starts.
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        format!(
            "policies = {:?}\n\n[daemon]\nlisten = \"127.0.0.1:0\"\nstore = \"{url}\"\n",
            root().join("policies")
        ),
    )
    .unwrap();
    for args in [
        vec!["report", "--config", config.to_str().unwrap()],
        vec!["store", "migrate", "--config", config.to_str().unwrap()],
    ] {
        let o = demo(&args, &[]);
        assert_refused_without_the_secret(&o, &args.join(" "), "db.example.no");
        let err = stderr(&o);
        assert!(err.contains("c.toml") && err.contains("line 5"), "{err}");
        assert!(err.contains("daemon.store"), "{err}");
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "nothing made beside the config"
    );
}

#[test]
fn an_unreachable_postgres_store_exits_2_before_anything_starts_naming_the_host() {
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    let url = "postgres://reachcheck@127.0.0.1:1/reachcheck";
    for args in [
        vec!["report", "--store", url],
        vec!["serve", "--once", "--store", url],
        vec!["store", "migrate", "--store", url],
        vec!["messages", "--store", url],
    ] {
        let o = demo(&args, &[("PGPASSWORD", SECRET)]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("127.0.0.1:1"),
            "{args:?} names host and port: {err}"
        );
        assert!(!err.contains(SECRET), "{args:?}: {err}");
        assert!(stdout(&o).is_empty() || args[0] == "store", "{args:?}");
    }
    // A scheme that is neither is named, with what to write instead.
    let o = demo(&["report", "--store", "mysql://u@h/d"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("`mysql://` is not a store"),
        "{}",
        stderr(&o)
    );
}

/// The report's JSON (it carries no time of writing, so two stores with one history give
/// equal documents).
fn report_json(store: &str, env: &[(&str, &str)]) -> Value {
    let o = demo(&["report", "--format", "json", "--store", store], env);
    assert_eq!(
        o.status.code(),
        Some(0),
        "report on {store}: {}",
        stderr(&o)
    );
    serde_json::from_str(&stdout(&o)).unwrap()
}

fn password_file(dir: &Path) -> PathBuf {
    std::fs::read_to_string(std::env::var("REACHCHECK_TEST_POSTGRES_PASSWORD_FILE").unwrap())
        .map(|p| {
            let file = dir.join("pg-password");
            std::fs::write(&file, p).unwrap();
            file
        })
        .unwrap()
}

#[test]
fn the_demo_on_postgres_reports_exactly_as_on_sqlite_directly_and_after_a_copy() {
    let Some(server) = pg_server() else { return };
    let dir = tempfile::tempdir().unwrap();
    let sqlite = dir.path().join("demo.db");
    let sqlite = format!("sqlite:{}", sqlite.display());
    let password = std::fs::read_to_string(password_file(dir.path())).unwrap();
    let pw = [("PGPASSWORD", password.trim_end())];
    // A config that gives only the store's password file: `store migrate` needs no more.
    let config = dir.path().join("store.toml");
    std::fs::write(
        &config,
        format!(
            "[daemon]\nstore_password_file = {:?}\n",
            password_file(dir.path())
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();

    // The first sweep of the demo, into SQLite.
    let o = demo(&["serve", "--once", "--store", &sqlite], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let first_sqlite = report_json(&sqlite, &[]);

    // The same sweep straight into PostgreSQL: refused until the schema is there.
    let direct = PgDatabase::new(server.clone());
    let url = direct.url();
    let o = demo(&["serve", "--once", "--store", &url], &pw);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("reachcheck store migrate"),
        "{}",
        stderr(&o)
    );
    let o = demo(&["store", "migrate", "--store", &url], &[]);
    assert_eq!(o.status.code(), Some(2), "no password: {}", stderr(&o));
    assert!(stderr(&o).contains("127.0.0.1"), "{}", stderr(&o));
    let o = demo(
        &["store", "migrate", "--config", config, "--store", &url],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("migrated from version 0 to"),
        "{}",
        stdout(&o)
    );
    let o = demo(&["store", "migrate", "--store", &url], &pw);
    assert!(stdout(&o).contains("nothing to do"), "{}", stdout(&o));
    let o = demo(&["serve", "--once", "--store", &url], &pw);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        report_json(&url, &pw),
        first_sqlite,
        "the daemon writing to PostgreSQL reports what it reports from SQLite"
    );

    // Two days later, on SQLite; then the whole history copied to a new database.
    let o = demo(
        &[
            "serve",
            "--once",
            "--now",
            "2026-11-23T06:00:00Z",
            "--max-data-age",
            "72h",
            "--store",
            &sqlite,
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let second_sqlite = report_json(&sqlite, &[]);
    assert_ne!(
        second_sqlite, first_sqlite,
        "the second sweep changed the report"
    );
    let copy = PgDatabase::new(server);
    let o = demo(
        &["store", "copy", "--from", &sqlite, "--to", &copy.url()],
        &pw,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("sweeps") && out.contains("messages"), "{out}");
    assert_eq!(report_json(&copy.url(), &pw), second_sqlite);
    // Once only: the copy refuses a destination with a history.
    let o = demo(
        &["store", "copy", "--from", &sqlite, "--to", &copy.url()],
        &pw,
    );
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(stderr(&o).contains("not empty"), "{}", stderr(&o));
    assert_eq!(
        report_json(&copy.url(), &pw),
        second_sqlite,
        "left as it was"
    );
}
