//! What the tests that run Node share: the Node version check, installing the pinned npm
//! packages when stale, and reading a child's output lines.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{mpsc, Arc, Mutex};

/// Fails unless `node` 20 or newer is on PATH; `who` names the test that needs it.
pub fn require_node_20(who: &str) {
    let version = Command::new("node")
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| {
            panic!("`node` is not on PATH: {who} needs Node 20 or newer; install Node and run the tests again")
        });
    let major: u32 = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    assert!(major >= 20, "Node 20 or newer is needed, found {version}");
}

/// `npm ci` in `dir` when its node_modules is missing or older than its lock file.
pub fn npm_ci_if_stale(dir: &Path) {
    let mtime = |p: PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    // npm writes node_modules/.package-lock.json at the end of every install.
    let installed = mtime(dir.join("node_modules/.package-lock.json"));
    let locked = mtime(dir.join("package-lock.json"));
    if installed.is_some() && installed >= locked {
        return;
    }
    let out = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--ignore-scripts"])
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("could not run npm (it comes with Node): {e}"));
    assert!(
        out.status.success(),
        "`npm ci` in {} failed:\n{}{}",
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The child's stdout lines on a channel, and its stderr lines kept for failure messages
/// (both piped by the caller).
pub fn pipe_lines(child: &mut Child) -> (mpsc::Receiver<String>, Arc<Mutex<Vec<String>>>) {
    let (tx, lines) = mpsc::channel();
    let stdout = child.stdout.take().expect("stdout piped");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let stderr = Arc::new(Mutex::new(Vec::new()));
    let sink = stderr.clone();
    let err = child.stderr.take().expect("stderr piped");
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    (lines, stderr)
}
