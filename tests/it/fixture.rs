#![allow(dead_code)] // a shared fixture: not every test uses every helper
//! Runs the real `digital-id` binary on an ephemeral port with a fresh data
//! directory, waits until it listens, and kills it on drop.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use digital_id::app::{StartError, build_state};
use digital_id::clock::ManualClock;
use digital_id::config::{ServeArgs, Settings, StoreSpec};
use digital_id::http::AppState;

use crate::pg;

pub const BIN: &str = env!("CARGO_BIN_EXE_digital-id");

pub struct Server {
    child: Child,
    pub base: String,
    _data: Option<tempfile::TempDir>,
}

impl Server {
    /// A server on a fresh data directory.
    pub fn start() -> Self {
        let data = tempfile::tempdir().unwrap();
        let dir = data.path().to_owned();
        let mut s = Self::start_in(&dir);
        s._data = Some(data);
        s
    }

    /// A server on an existing data directory (restart tests), in demo
    /// mode.
    pub fn start_in(data_dir: &Path) -> Self {
        Self::start_in_mode(data_dir, Mode::default())
    }

    /// A server on an existing data directory in `mode`.
    pub fn start_in_mode(data_dir: &Path, mode: Mode) -> Self {
        let mut cmd = Command::new(BIN);
        cmd.args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .arg("--registry")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/registry"))
            .args(["--api-key", API_KEY])
            .env_remove("VC_DEMO");
        if mode.demo {
            cmd.arg("--demo");
        }
        Self::spawn(cmd)
    }

    /// Runs `cmd` (a `serve` command line ending in `--bind 127.0.0.1:0`
    /// or similar) and waits until it listens.
    pub fn spawn(mut cmd: Command) -> Self {
        let mut child = cmd
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start digital-id");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("digital-id listening on ") {
                    let _ = tx.send(url.to_owned());
                }
            }
        });
        let base = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                panic!("digital-id did not start listening within 20 s");
            }
        };
        Server {
            child,
            base,
            _data: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `kill -9`: no shutdown, no flush (crash tests).
    pub fn sigkill(mut self) {
        // std's `Child::kill` sends SIGKILL on Unix.
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP agent that returns 4xx/5xx responses instead of errors.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// A server started in this process on `127.0.0.1:0`, with a clock the test
/// moves. It listens on a real socket like the binary does.
pub struct InProc {
    pub base: String,
    pub clock: Arc<ManualClock>,
    pub state: Arc<AppState>,
    handle: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
    _data: tempfile::TempDir,
    /// Dropped after the server stopped (fields drop after `Drop::drop`).
    _schema: Option<pg::Schema>,
}

/// How a test server runs.
#[derive(Debug, Clone, Copy)]
pub struct Mode {
    /// `--demo`: the demo login (so the authorization-code flow, with the
    /// built-in demo wallet client), `/demo/*` and the demo CA. On unless
    /// a test is about running without it.
    pub demo: bool,
}

impl Default for Mode {
    fn default() -> Self {
        Mode { demo: true }
    }
}

impl Mode {
    /// A production-like server: no `--demo`.
    pub const PRODUCTION: Mode = Mode { demo: false };
}

/// The fixed start time of in-process servers (2026-11-26T00:00:00Z).
pub const T0: i64 = 1_795_651_200;

impl InProc {
    pub fn start() -> Self {
        Self::start_with(|_| {})
    }

    /// Starts with settings adjusted by `tweak` (public URL is set to the
    /// bound address afterwards unless `tweak` set one).
    pub fn start_with(tweak: impl FnOnce(&mut Settings)) -> Self {
        Self::start_mode(Mode::default(), tweak)
    }

    /// As [`InProc::start_with`], in `mode`.
    pub fn start_mode(mode: Mode, tweak: impl FnOnce(&mut Settings)) -> Self {
        Self::try_start_mode(mode, tweak)
            .unwrap_or_else(|e| panic!("the server did not start: {e}"))
    }

    /// As [`InProc::start_mode`], or why the server refused to start.
    pub fn try_start_mode(
        mode: Mode,
        tweak: impl FnOnce(&mut Settings),
    ) -> Result<Self, StartError> {
        let data = tempfile::tempdir().unwrap();
        // Bound here and handed to the server, so no other test can take
        // the port between choosing it and serving on it.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let args = ServeArgs {
            bind: Some(addr),
            data_dir: Some(data.path().to_owned()),
            registry: Some(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/registry").into()),
            api_key: Some(API_KEY.into()),
            demo: mode.demo,
            ..ServeArgs::default()
        };
        let mut settings = Settings::load(&args).unwrap();
        // The PostgreSQL leg of the matrix: a schema of its own (a test
        // that sets its own store in `tweak` keeps it).
        let schema = (it_store() == ItStore::Postgres).then(pg::Schema::new);
        if let Some(schema) = &schema {
            settings.store = StoreSpec::Postgres(schema.store_url());
        }
        tweak(&mut settings);
        let clock = Arc::new(ManualClock::new(T0));
        let state = Arc::new(build_state(settings, clock.clone(), |_| {})?);
        let (tx, rx) = mpsc::channel();
        let st = state.clone();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let (server, bound) = digital_id::http::serve(st, listener).unwrap();
                tx.send((server.handle(), bound)).unwrap();
                let _ = server.await;
            });
        });
        let (handle, bound) = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("in-process server did not start");
        Ok(InProc {
            base: format!("http://{bound}"),
            clock,
            state,
            handle,
            thread: Some(thread),
            _data: data,
            _schema: schema,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `Authorization: Bearer <API key>` for back-office calls.
    pub fn bearer(&self) -> String {
        format!("Bearer {API_KEY}")
    }
}

impl Drop for InProc {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        let _ = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(handle.stop(false));
        })
        .join();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The store the integration suite runs on: `DIGITAL_ID_IT_STORE=redb`
/// (the default) or `postgres` (a schema per in-process server in the
/// database at `DATABASE_URL`; `scripts/test` runs the suite both ways).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItStore {
    Redb,
    Postgres,
}

pub fn it_store() -> ItStore {
    match std::env::var("DIGITAL_ID_IT_STORE").as_deref() {
        Err(_) | Ok("" | "redb") => ItStore::Redb,
        Ok("postgres") => ItStore::Postgres,
        Ok(other) => panic!("DIGITAL_ID_IT_STORE must be redb or postgres, not {other:?}"),
    }
}

/// The back-office key of in-process servers.
pub const API_KEY: &str = "test-api-key-0123456789";
