//! Runs the real `digital-id` binary on an ephemeral port with a fresh data
//! directory, waits until it listens, and kills it on drop.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

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

    /// A server on an existing data directory (restart tests).
    pub fn start_in(data_dir: &Path) -> Self {
        let mut child = Command::new(BIN)
            .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
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
