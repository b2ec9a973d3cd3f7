//! TLS to PostgreSQL with libpq's settings in the store URL, against a
//! throw-away cluster of the test's own with `ssl=on` and a server
//! certificate (for `localhost` and 127.0.0.1) from a CA the test makes:
//! `verify-full` with that CA starts a node that serves store-backed
//! requests over TLS (`pg_stat_ssl` says so); another CA, or another host
//! name, is refused at start with a clear error; `require` encrypts without
//! checking; a server that stalls the handshake is a timeout, not a hang.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::certs::{certificate, key};
use crate::fixture::{InProc, Mode};
use crate::issuer::wallet;
use digital_id::config::StoreSpec;
use digital_id::store::postgres::{ConnectError, PostgresStore};

/// The directory of `initdb` and `pg_ctl` (the newest installed PostgreSQL).
fn pg_bin() -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|d| d.join("initdb").is_file())
        .collect();
    dirs.sort_by_key(|d| {
        d.parent()
            .and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok())
            .unwrap_or(0)
    });
    dirs.pop().expect(
        "no initdb under /usr/lib/postgresql/*/bin: the TLS test starts a PostgreSQL cluster \
         of its own; scripts/test installs Debian's postgresql package",
    )
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// `postgres`'s uid and gid (PostgreSQL refuses to run as root).
fn postgres_ids() -> (u32, u32) {
    let id = |flag: &str| {
        let out = Command::new("id")
            .args([flag, "postgres"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "no postgres user to run the cluster as"
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    (id("-u"), id("-g"))
}

/// A PostgreSQL cluster with TLS on, in a temporary directory, on a free
/// port of 127.0.0.1; stopped and removed on drop.
struct TlsCluster {
    bin: PathBuf,
    dir: tempfile::TempDir,
    owner: Option<(u32, u32)>,
    port: u16,
    /// The CA that signed the server certificate (PEM file).
    ca: PathBuf,
    /// An unrelated CA (PEM file).
    other_ca: PathBuf,
}

impl TlsCluster {
    fn start() -> Self {
        let bin = pg_bin();
        let dir = tempfile::tempdir().unwrap();
        let owner = is_root().then(postgres_ids);
        let chown = |p: &Path| {
            if let Some((uid, gid)) = owner {
                std::os::unix::fs::chown(p, Some(uid), Some(gid)).unwrap();
            }
        };
        chown(dir.path());
        let data = dir.path().join("data");
        let mut cluster = TlsCluster {
            bin,
            owner,
            port: 0,
            ca: dir.path().join("ca.pem"),
            other_ca: dir.path().join("other-ca.pem"),
            dir,
        };
        cluster.run(
            "initdb",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-U".as_ref(),
                "postgres".as_ref(),
                "-A".as_ref(),
                "trust".as_ref(),
                "-E".as_ref(),
                "UTF8".as_ref(),
                "--no-sync".as_ref(),
            ],
        );

        let (ca_key, server_key, other_key) = (key(), key(), key());
        let ca = certificate("digital-id test CA", &ca_key, None);
        let server = certificate("localhost", &server_key, Some((&ca, &ca_key)));
        let other = certificate("digital-id test CA", &other_key, None);
        std::fs::write(&cluster.ca, ca.to_pem().unwrap()).unwrap();
        // Same subject as the real CA, another key: a look-alike.
        std::fs::write(&cluster.other_ca, other.to_pem().unwrap()).unwrap();
        let (crt, key_file) = (data.join("server.crt"), data.join("server.key"));
        std::fs::write(&crt, server.to_pem().unwrap()).unwrap();
        std::fs::write(&key_file, server_key.private_key_to_pem_pkcs8().unwrap()).unwrap();
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        chown(&crt);
        chown(&key_file);

        cluster.port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c ssl=on -c ssl_cert_file=server.crt \
             -c ssl_key_file=server.key -c fsync=off",
            cluster.port,
            cluster.dir.path().display()
        );
        let log = cluster.dir.path().join("server.log");
        cluster.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-l".as_ref(),
                log.as_os_str(),
                "-w".as_ref(),
                "-o".as_ref(),
                options.as_ref(),
                "start".as_ref(),
            ],
        );
        cluster
    }

    /// Runs a PostgreSQL program (as `postgres` when the test runs as root).
    fn run(&self, program: &str, args: &[&std::ffi::OsStr]) {
        let exe = self.bin.join(program);
        let mut cmd = if self.owner.is_some() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let out = cmd.args(args).output().unwrap();
        let log = std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
        assert!(
            out.status.success(),
            "{program} failed: {}{}\n{log}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A store URL for this cluster's `postgres` database; `params` after
    /// the `?`.
    fn url(&self, host: &str, params: &str) -> String {
        format!(
            "postgres://postgres:pw-not-in-messages@{host}:{}/postgres?{params}",
            self.port
        )
    }

    /// `(connections, of which over TLS)` of `application_name`, seen from
    /// a plain administrative connection.
    fn ssl_connections(&self, application_name: &str) -> (i64, i64) {
        let url = format!(
            "postgres://postgres@127.0.0.1:{}/postgres?sslmode=disable",
            self.port
        );
        let rows = crate::pg::query(
            &url,
            &format!(
                "SELECT count(*), count(*) FILTER (WHERE s.ssl) FROM pg_stat_activity a \
                 JOIN pg_stat_ssl s USING (pid) WHERE a.application_name = '{application_name}'"
            ),
        );
        (rows[0].get(0), rows[0].get(1))
    }
}

impl Drop for TlsCluster {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let exe = self.bin.join("pg_ctl");
        let mut cmd = if self.owner.is_some() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let _ = cmd
            .arg("-D")
            .arg(&data)
            .args(["-m", "immediate", "stop"])
            .output();
    }
}

/// A node on `url`, or why it refused to start.
fn node(url: String) -> Result<InProc, String> {
    InProc::try_start_mode(Mode::default(), move |s| s.store = StoreSpec::Postgres(url))
        .map_err(|e| e.to_string())
}

/// A store-backed request: `POST /issuer/offers`.
fn new_offer(server: &InProc) -> wallet::Reply {
    wallet::post_json(
        server,
        "/issuer/offers",
        Some(&server.bearer()),
        &serde_json::json!({"subject_id": "ivanov-ivan", "credential_configuration_ids": ["ru.passport"]}),
    )
}

fn offer_created(server: &InProc) -> bool {
    new_offer(server).status == 201
}

/// Holds an exclusive lock on the store's table from an administrative
/// connection until the returned sender is dropped (at most 60 s).
fn lock_the_table(cluster: &TlsCluster) -> std::sync::mpsc::Sender<()> {
    let url = format!(
        "postgres://postgres@127.0.0.1:{}/postgres?sslmode=disable",
        cluster.port
    );
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        crate::pg::block_on(async move {
            let (mut client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(conn);
            let tx = client.transaction().await.unwrap();
            tx.batch_execute("LOCK TABLE digital_id_entries IN ACCESS EXCLUSIVE MODE")
                .await
                .unwrap();
            locked_tx.send(()).unwrap();
            let _ = tokio::task::spawn_blocking(move || {
                release_rx.recv_timeout(std::time::Duration::from_secs(60))
            })
            .await;
            tx.rollback().await.unwrap();
        })
    });
    locked_rx.recv().unwrap();
    release_tx
}

fn assert_refused(url: String, needles: &[&str]) {
    let e = node(url).err().expect("the node started");
    for needle in needles {
        assert!(e.contains(needle), "{e:?} should say {needle:?}");
    }
    assert!(
        !e.contains("pw-not-in-messages") && !e.contains("postgres://"),
        "{e}"
    );
}

#[test]
fn tls_to_postgres_is_verified_as_libpq_does() {
    let cluster = TlsCluster::start();
    let ca = cluster.ca.display().to_string();
    let other_ca = cluster.other_ca.display().to_string();

    // verify-full: chain and host name (DNS name and IP address).
    for (host, app) in [("localhost", "tls_full_dns"), ("127.0.0.1", "tls_full_ip")] {
        let server = node(cluster.url(
            host,
            &format!("sslmode=verify-full&sslrootcert={ca}&application_name={app}"),
        ))
        .unwrap();
        assert!(offer_created(&server), "{host}");
        let (all, tls) = cluster.ssl_connections(app);
        assert!(all >= 1 && tls == all, "{host}: {tls} of {all} over TLS");
    }

    // The statement timeout holds on TLS connections: a write stuck behind
    // a lock is cancelled by the server (10 s) and answered 503, instead
    // of hanging until the lock goes (60 s, then it would be a 201).
    let server = node(cluster.url(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={ca}&application_name=tls_timeout"),
    ))
    .unwrap();
    let lock = lock_the_table(&cluster);
    let r = new_offer(&server);
    assert_eq!(
        (r.status, r.error()),
        (503, "temporarily_unavailable"),
        "{:?}",
        r.body
    );
    drop(lock);
    assert!(offer_created(&server));
    drop(server);

    // Another CA (a look-alike with the same name): refused at start.
    assert_refused(
        cluster.url(
            "localhost",
            &format!("sslmode=verify-full&sslrootcert={other_ca}"),
        ),
        &["TLS", "certificate verify failed"],
    );
    assert_refused(
        cluster.url(
            "localhost",
            &format!("sslmode=verify-ca&sslrootcert={other_ca}"),
        ),
        &["TLS", "certificate verify failed"],
    );

    // The right CA, another host name (the address is still 127.0.0.1):
    // verify-full refuses, verify-ca (chain only) accepts.
    let renamed = |mode: &str, app: &str| {
        cluster.url(
            "db.invalid",
            &format!("hostaddr=127.0.0.1&sslmode={mode}&sslrootcert={ca}&application_name={app}"),
        )
    };
    assert_refused(renamed("verify-full", "x"), &["TLS", "hostname mismatch"]);
    let server = node(renamed("verify-ca", "tls_ca")).unwrap();
    assert!(offer_created(&server));
    let (all, tls) = cluster.ssl_connections("tls_ca");
    assert!(all >= 1 && tls == all, "{tls} of {all} over TLS");

    // require: encrypted, nothing checked (as libpq without a CA file).
    let server =
        node(cluster.url("localhost", "sslmode=require&application_name=tls_req")).unwrap();
    assert!(offer_created(&server));
    let (all, tls) = cluster.ssl_connections("tls_req");
    assert!(all >= 1 && tls == all, "{tls} of {all} over TLS");

    // disable: really plain.
    let server = node(cluster.url("127.0.0.1", "sslmode=disable&application_name=plain")).unwrap();
    assert!(offer_created(&server));
    assert_eq!(cluster.ssl_connections("plain").1, 0);

    // A CA file that is not one: a start-up error naming the file.
    let bogus = cluster.dir.path().join("bogus.pem");
    std::fs::write(&bogus, "not a certificate").unwrap();
    assert_refused(
        cluster.url(
            "localhost",
            &format!("sslmode=verify-full&sslrootcert={}", bogus.display()),
        ),
        &["bogus.pem", "no PEM certificate"],
    );
}

/// A "server" that accepts TLS (answers `S` to the SSLRequest) and then
/// says nothing: the pool's connect timeout covers the handshake, so the
/// start fails with a timeout instead of hanging.
#[test]
fn a_stalled_tls_handshake_times_out() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let stall = std::thread::spawn(move || {
        let mut held = Vec::new();
        // The pool's first connection attempt, and any retry.
        listener.set_nonblocking(false).unwrap();
        for stream in listener.incoming().take(1) {
            let mut s = stream.unwrap();
            let mut request = [0u8; 8];
            s.read_exact(&mut request).unwrap();
            s.write_all(b"S").unwrap();
            held.push(s);
        }
        std::thread::sleep(std::time::Duration::from_secs(10));
        drop(held);
    });
    let e = PostgresStore::connect(
        &format!("postgres://postgres@127.0.0.1:{port}/x?sslmode=require"),
        1,
    )
    .expect_err("connected to a silent server");
    assert!(matches!(e, ConnectError::Unreachable(_)), "{e}");
    assert!(e.to_string().contains("no connection within"), "{e}");
    drop(stall);
}
