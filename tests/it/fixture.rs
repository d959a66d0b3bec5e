//! A small synthetic world written to a temporary directory: the project's policies, a
//! routing table and a snapshot, for tests that run the binary; and the processes that
//! serve HTTP (`reachcheck serve`, the `altinn-sim` stand-in), started and killed.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// A synthetic national identity number that must never appear in any output.
pub(crate) const SECRET_FNR: &str = "01017012345";

pub(crate) const SENDER: &str = "310000019";
/// A municipality with complete connections: two confidential readers.
pub(crate) const GOOD: &str = "958935420";
/// A municipality with complete connections and nobody holding confidential post.
pub(crate) const BAD: &str = "964338531";
/// A municipality with only Enhetsregisteret roles.
pub(crate) const ER_ONLY: &str = "944496394";

pub(crate) struct World {
    pub(crate) dir: tempfile::TempDir,
}

fn write(path: &Path, value: &Value) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, serde_json::to_string_pretty(value).unwrap()).unwrap();
}

pub(crate) fn unit(org: &str, name: &str) -> Value {
    json!({"organisasjonsnummer": org, "navn": name, "organisasjonsform": {"kode": "KOMM", "beskrivelse": "Kommune"}})
}

pub(crate) fn person(id: &str, name: &str, packages: &[&str], roles: &[&str]) -> Value {
    json!({
        "party": {"id": id, "name": name, "type": "Person", "variant": "Person", "personIdentifier": SECRET_FNR, "dateOfBirth": "1970-01-01"},
        "roles": roles.iter().map(|r| json!({"code": r, "urn": r})).collect::<Vec<_>>(),
        "packages": packages.iter().map(|p| json!({"id": "p", "urn": format!("urn:altinn:accesspackage:{p}")})).collect::<Vec<_>>(),
        "resources": []
    })
}

pub(crate) fn connections(data: Vec<Value>) -> Value {
    json!({"links": {"next": null}, "data": data})
}

pub(crate) fn roles(holders: &[(&str, &str, &str)]) -> Value {
    let roller: Vec<Value> = holders
        .iter()
        .map(|(code, first, last)| {
            json!({"type": {"kode": code, "beskrivelse": code},
                   "person": {"fodselsdato": "1970-01-01", "navn": {"fornavn": first, "etternavn": last}, "erDoed": false},
                   "fratraadt": false})
        })
        .collect();
    json!({"rollegrupper": [{"type": {"kode": "X"}, "roller": roller}]})
}

/// The resources of the project's policies (`policies/message-types.toml`).
pub(crate) const RESOURCES: [&str; 5] = [
    "politi-bekymringsmelding",
    "politi-melding-kriseteam",
    "politi-ordinaer-post",
    "politi-straffesak-filvedlegg",
    "politi-straffesak-forsendelse",
];

/// A resource-registry entry without access lists.
pub(crate) fn resource(id: &str) -> Value {
    json!({"identifier": id, "title": {"nb": id}, "resourceType": "CorrespondenceService",
           "accessListMode": "Disabled",
           "hasCompetentAuthority": {"organization": SENDER, "orgcode": "politiet", "name": {"nb": "Politiet"}}})
}

pub(crate) fn addresses(org: &str, n: usize) -> Value {
    let list: Vec<Value> = (0..n)
        .map(|i| json!({"notificationAddressId": i, "email": format!("post{i}@example.no"), "countryCode": null, "phone": null}))
        .collect();
    json!({"organizationNumber": org, "notificationAddresses": list})
}

impl World {
    /// Three municipalities; `routes` are CSV rows after the header.
    pub(crate) fn new(routes: &[&str]) -> World {
        let dir = tempfile::tempdir().unwrap();
        let w = World { dir };
        let s = w.snapshot();
        write(
            &s.join("manifest.json"),
            &json!({"taken_at": "2026-11-21T05:00:00Z"}),
        );
        let conf = "post-til-virksomheten-med-taushetsbelagt-innhold";
        for (org, name) in [
            (GOOD, "OSLO KOMMUNE"),
            (BAD, "BERGEN KOMMUNE"),
            (ER_ONLY, "EIGERSUND KOMMUNE"),
        ] {
            write(
                &s.join(format!("enhetsregisteret/enheter/{org}.json")),
                &unit(org, name),
            );
            write(
                &s.join(format!("profile/notificationaddresses/{org}.json")),
                &addresses(org, 1),
            );
        }
        write(
            &s.join(format!("accessmanagement/connections/{GOOD}.json")),
            &connections(vec![
                person(
                    "a0000000-0000-0000-0000-000000000001",
                    "Kari Nordmann",
                    &[conf],
                    &[],
                ),
                person(
                    "a0000000-0000-0000-0000-000000000002",
                    "Ola Hansen",
                    &[conf, "ordinaer-post-til-virksomheten"],
                    &[],
                ),
            ]),
        );
        write(
            &s.join(format!("accessmanagement/connections/{BAD}.json")),
            &connections(vec![person(
                "b0000000-0000-0000-0000-000000000001",
                "Per Olsen",
                &[],
                &["urn:altinn:external-role:ccr:daglig-leder"],
            )]),
        );
        write(
            &s.join(format!("enhetsregisteret/roller/{ER_ONLY}.json")),
            &roles(&[("DAGL", "Anne", "Berg")]),
        );
        for r in RESOURCES {
            write(
                &s.join(format!("resourceregistry/{r}/resource.json")),
                &resource(r),
            );
        }
        w.set_routes(routes);
        w
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn snapshot(&self) -> PathBuf {
        self.dir.path().join("snapshot")
    }

    pub(crate) fn routes(&self) -> PathBuf {
        self.dir.path().join("routes.csv")
    }

    pub(crate) fn set_routes(&self, rows: &[&str]) {
        let mut text = String::from("sender,message_type,recipient\n");
        for r in rows {
            text.push_str(r);
            text.push('\n');
        }
        std::fs::write(self.routes(), text).unwrap();
    }

    /// Runs `reachcheck` with `args`, then the world's inputs, from the world's directory.
    pub(crate) fn run(&self, args: &[&str]) -> Output {
        let policies = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_reachcheck"));
        cmd.current_dir(self.path()).args(args);
        if args.first().is_some_and(|a| *a != "precheck") {
            cmd.args(["--routes", "routes.csv"]);
        }
        cmd.args(["--snapshot", "snapshot", "--now", "2026-11-21T06:00:00Z"])
            .arg("--policies")
            .arg(policies)
            .env_remove("NO_COLOR");
        cmd.output().unwrap()
    }
}

pub(crate) fn route(t: &str, recipient: &str) -> String {
    format!("{SENDER},{t},{recipient}")
}

pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

/// A running `reachcheck serve` or `altinn-sim`, killed when dropped.
pub(crate) struct Proc {
    child: Child,
    /// `http://HOST:PORT`, from the first line it printed.
    pub(crate) base: String,
    log: PathBuf,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    /// What it wrote to stderr so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends a signal (`nix`, not the `kill` program: a bare machine may not have it).
    pub(crate) fn signal(&self, signal: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).unwrap());
        nix::sys::signal::kill(pid, signal).unwrap();
    }

    /// Waits for the process to end by itself; its exit code.
    pub(crate) fn wait_exit(&mut self, within: Duration) -> Option<i32> {
        let until = Instant::now() + within;
        while Instant::now() < until {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("did not exit within {within:?}:\n{}", self.log());
    }
}

/// Starts `cmd` with its stderr in `log` and reads `listening on URL` from its first stdout
/// line.
pub(crate) fn start(mut cmd: Command, log: PathBuf) -> Proc {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let base = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "unexpected first line {first:?}; log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        })
        .to_owned();
    Proc { child, base, log }
}

/// Starts the `altinn-sim` binary, from the repository root, on a free loopback port
/// (`--listen 127.0.0.1:0`) with `args`; its stderr goes to `log`. Tests never run the
/// stand-in in-process: it is a binary, not part of the library.
pub(crate) fn altinn_sim(args: &[&str], log: PathBuf) -> Proc {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_altinn-sim"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["--listen", "127.0.0.1:0"])
        .args(args);
    start(cmd, log)
}

/// Gives BAD (nobody reading confidential post) two readers, or takes them away again.
pub(crate) fn bad_gets_a_reader(w: &World, yes: bool) {
    let mut people = vec![person(
        "b0000000-0000-0000-0000-000000000001",
        "Per Olsen",
        &[],
        &["urn:altinn:external-role:ccr:daglig-leder"],
    )];
    if yes {
        for (i, name) in ["Siri Dahl", "Tor Lie"].iter().enumerate() {
            people.push(person(
                &format!("b0000000-0000-0000-0000-00000000000{}", i + 2),
                name,
                &["post-til-virksomheten-med-taushetsbelagt-innhold"],
                &[],
            ));
        }
    }
    std::fs::write(
        w.snapshot()
            .join(format!("accessmanagement/connections/{BAD}.json")),
        serde_json::to_string(&connections(people)).unwrap(),
    )
    .unwrap();
}

/// The Prometheus text of a daemon's `/metrics` at `base` (with the tests' API token).
pub(crate) async fn metrics(base: &str) -> String {
    reqwest::Client::new()
        .get(format!("{base}/metrics"))
        .bearer_auth(crate::daemon::TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}
