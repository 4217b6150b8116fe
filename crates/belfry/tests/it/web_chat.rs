//! The web chat example (`examples/web-chat/`) end to end in headless Chromium: the built binary,
//! the example's own Node server (which bootstraps the demo users with the admin key and hands
//! each signed-in page a key scoped to its user), and `test/e2e.mjs`, which drives Debian's
//! Chromium with playwright-core: alice, bob and carol in three browser contexts; in one channel
//! every change alice makes (send, edit, redact) shown live on bob's page, bob's typing on
//! alice's, carol's list gaining the channel when alice adds her; then unread marks, paging back,
//! and the stored read marker.
//!
//! Chromium trusts the server's development CA through an NSS database in a temporary HOME
//! (certutil, from libnss3-tools), as a person's browser would; certificate errors are not
//! ignored. Needs Node 20 or newer, `/usr/bin/chromium` and `certutil`; the npm packages are
//! installed here (`npm ci`) when missing or older than the lock file. Screenshots of every step
//! go to `<target dir>/web-chat-artifacts/`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::binary::Proc;
use crate::harness::{ADMIN_KEY, ADMIN_SECRET, REGION};

const CHROMIUM: &str = "/usr/bin/chromium";
/// The whole browser script; each of its waits is 15 s on its own.
const E2E_LIMIT: Duration = Duration::from_secs(150);

fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/web-chat")
}

/// `<target dir>/web-chat-artifacts`, wherever CARGO_TARGET_DIR puts the target directory.
fn artifacts_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).join("web-chat-artifacts")
}

/// Node 20 or newer, Chromium and certutil, or a failure that says what to install.
fn prerequisites() {
    crate::node::require_node_20("the web chat test");
    assert!(
        Path::new(CHROMIUM).is_file(),
        "{CHROMIUM} is missing: the web chat test drives Debian's Chromium; \
         apt-get install chromium libnss3-tools"
    );
    assert!(
        Command::new("certutil")
            .arg("-H")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok(),
        "`certutil` is not on PATH: Chromium is made to trust the development CA through NSS; \
         apt-get install chromium libnss3-tools"
    );
}

/// Runs a command to completion; fails with its output unless it succeeds.
fn run(cmd: &mut Command, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("could not run {what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A Node process with its stdout lines on a channel and its stderr kept for failure messages;
/// killed when dropped.
struct Node {
    child: Child,
    lines: mpsc::Receiver<String>,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Node {
    fn spawn(dir: &Path, script: &str, env: &[(&str, String)]) -> Node {
        let mut cmd = Command::new("node");
        cmd.arg(script).current_dir(dir);
        for (k, _) in std::env::vars() {
            if k.starts_with("AWS_") || k.starts_with("BELFRY_") {
                cmd.env_remove(k);
            }
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start node {script}: {e}"));
        let (lines, stderr) = crate::node::pipe_lines(&mut child);
        Node {
            child,
            lines,
            stderr,
        }
    }

    fn stderr_tail(&self) -> String {
        let err = self.stderr.lock().unwrap();
        err[err.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn web_chat_in_headless_chromium() {
    let started = Instant::now();
    prerequisites();
    let dir = example_dir();
    crate::node::npm_ci_if_stale(&dir);
    run(
        Command::new("node").arg("build.mjs").current_dir(&dir),
        "node build.mjs (the page's bundle)",
    );
    let installed = started.elapsed();

    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().join("data");
    let mut belfry = Proc::start(
        &[
            "serve",
            "--data-dir",
            data_dir.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
        ],
        &[
            ("BELFRY_ACCESS_KEY_ID", ADMIN_KEY),
            ("BELFRY_SECRET_ACCESS_KEY", ADMIN_SECRET),
        ],
    );
    let line = belfry.wait_for("belfry listening");
    let log: Value = serde_json::from_str(&line).unwrap();
    let addr = log["addr"].as_str().unwrap().to_string();
    let ca = data_dir.join("tls/ca.pem");
    assert!(ca.is_file(), "no development CA at {}", ca.display());
    // The page reaches Belfry over https (and wss) from its own origin.
    let endpoint = format!("https://{addr}");
    let ca_s = ca.to_str().unwrap().to_string();

    // The example's server, as its README runs it: the admin key only here, never in a page.
    let app = Node::spawn(
        &dir,
        "server/main.mjs",
        &[
            ("BELFRY_ENDPOINT", endpoint.clone()),
            ("NODE_EXTRA_CA_CERTS", ca_s.clone()),
            ("AWS_ACCESS_KEY_ID", ADMIN_KEY.into()),
            ("AWS_SECRET_ACCESS_KEY", ADMIN_SECRET.into()),
            ("AWS_REGION", REGION.into()),
            ("HOST", "127.0.0.1".into()),
            ("PORT", "0".into()),
        ],
    );
    let app_url = match app.lines.recv_timeout(Duration::from_secs(30)) {
        Ok(line) => serde_json::from_str::<Value>(&line)
            .ok()
            .and_then(|v| v["listening"].as_str().map(String::from))
            .unwrap_or_else(|| {
                panic!(
                    "the example server printed {line:?}, not its address\n{}",
                    app.stderr_tail()
                )
            }),
        Err(_) => panic!(
            "the example server did not start within 30 s\n--- its stderr ---\n{}",
            app.stderr_tail()
        ),
    };

    let artifacts = artifacts_dir();
    println!(
        "web_chat: screenshots of each step go to {}",
        artifacts.display()
    );
    let mut e2e = Node::spawn(
        &dir,
        "test/e2e.mjs",
        &[
            ("APP_URL", app_url),
            ("BELFRY_ENDPOINT", endpoint),
            ("CA_PEM", ca_s),
            ("ARTIFACTS", artifacts.to_str().unwrap().to_string()),
            // Checked never to reach a page.
            ("ADMIN_KEY_ID", ADMIN_KEY.into()),
            ("ADMIN_SECRET", ADMIN_SECRET.into()),
        ],
    );
    let deadline = Instant::now() + E2E_LIMIT;
    let mut transcript = Vec::new();
    let status = loop {
        while let Ok(line) = e2e.lines.try_recv() {
            println!("e2e: {line}");
            transcript.push(line);
        }
        if let Some(status) = e2e.child.try_wait().unwrap() {
            // What was printed just before the exit.
            while let Ok(line) = e2e.lines.recv_timeout(Duration::from_millis(200)) {
                println!("e2e: {line}");
                transcript.push(line);
            }
            break Some(status);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let context = format!(
        "\n--- e2e.mjs ---\n{}\n--- e2e.mjs stderr ---\n{}\n--- example server stderr ---\n{}\n\
         screenshots: {}",
        transcript.join("\n"),
        e2e.stderr_tail(),
        app.stderr_tail(),
        artifacts.display()
    );
    let status =
        status.unwrap_or_else(|| panic!("e2e.mjs did not finish within {E2E_LIMIT:?}{context}"));
    assert!(status.success(), "e2e.mjs: {status}{context}");
    assert!(
        transcript.iter().any(|l| l.starts_with("passed in")),
        "e2e.mjs exited 0 without its closing line{context}"
    );
    println!(
        "web_chat: passed in {:?} ({:?} of it npm ci and the bundle); screenshots in {}",
        started.elapsed(),
        installed,
        artifacts.display()
    );
    drop(app);
    assert_eq!(belfry.terminate(), 0);
}
