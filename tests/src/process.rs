//! Running the real `sangam` binary from tests.

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Output, Stdio},
    sync::{Arc, Mutex, OnceLock, mpsc},
    time::Duration,
};

/// `target/<profile>/sangam`, next to the test binary's `deps/` directory. Test runners build
/// test targets only, so the binary is built here (a no-op when it is up to date).
/// `SANGAM_BIN` names another build instead: the benches that run as ignored tests use it to
/// drive a release server from the debug test build (a release build of the tests takes long).
pub fn sangam() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            if let Some(bin) = std::env::var_os("SANGAM_BIN") {
                let bin = PathBuf::from(bin);
                assert!(bin.exists(), "SANGAM_BIN {} does not exist", bin.display());
                return bin;
            }
            let exe = std::env::current_exe().expect("test path");
            let dir = exe
                .parent()
                .and_then(|deps| deps.parent())
                .expect("target dir");
            let release = dir.file_name().is_some_and(|n| n == "release");
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
            let mut build = Command::new(cargo);
            build.args(["build", "--quiet", "-p", "api", "--bin", "sangam"]);
            // This process carries the variables cargo sets for the `tests` crate
            // (`CARGO_PKG_NAME`, …). ring's build script reruns when they change, so passing
            // them on rebuilt ring and everything above it (rustls, reqwest, api) here, and
            // again at the next `cargo test`: minutes on each run of a binary test.
            for (name, _) in std::env::vars_os() {
                let Some(name) = name.to_str() else { continue };
                if name.starts_with("CARGO_PKG_")
                    || name.starts_with("CARGO_MANIFEST_")
                    || name.starts_with("CARGO_BIN_EXE_")
                    || matches!(
                        name,
                        "CARGO_CRATE_NAME" | "CARGO_PRIMARY_PACKAGE" | "CARGO_TARGET_TMPDIR"
                    )
                {
                    build.env_remove(name);
                }
            }
            if release {
                build.arg("--release");
            }
            let status = build.status().expect("run cargo build");
            assert!(status.success(), "building sangam failed");
            let bin = dir.join(format!("sangam{}", std::env::consts::EXE_SUFFIX));
            assert!(bin.exists(), "{} is missing after the build", bin.display());
            bin
        })
        .clone()
}

/// Runs `sangam ARGS` to completion.
pub fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(sangam());
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run sangam")
}

/// A running `sangam serve`; killed when dropped.
pub struct Server {
    pub child: Child,
    pub base: String,
    /// Everything it has written to stderr so far.
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// The first log line containing `needle`.
    pub fn log_line(&self, needle: &str) -> Option<String> {
        self.log
            .lock()
            .ok()?
            .iter()
            .find(|l| l.contains(needle))
            .cloned()
    }
}

/// Starts `sangam serve --listen 127.0.0.1:0 ARGS` and waits until it listens.
pub fn serve(args: &[&str], env: &[(&str, &str)]) -> Server {
    let mut cmd = Command::new(sangam());
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sangam");
    let stderr = child.stderr.take().expect("stderr");
    let log = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = mpsc::channel();
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(start) = line.find("listening on http://") {
                let url = &line[start + "listening on ".len()..];
                let end = url.find("/graphql").unwrap_or(url.len());
                let _ = tx.send(url[..end].to_owned());
            }
            if let Ok(mut l) = sink.lock() {
                l.push(line);
            }
        }
    });
    let Ok(base) = rx.recv_timeout(Duration::from_secs(180)) else {
        let _ = child.kill();
        let lines = log.lock().map(|l| l.join("\n")).unwrap_or_default();
        panic!("sangam did not start listening:\n{lines}");
    };
    Server { child, base, log }
}
