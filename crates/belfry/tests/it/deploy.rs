//! What an operator meets running the built binary: stdout that a log shipper can parse (JSON
//! on every line with `--log-format json`; no colour codes in a pipe), the admin secret shown
//! once, private files, and the systemd unit in `packaging/`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::binary::Proc;

/// Starts the binary on `data` (no admin key in the environment, so it prints the credential
/// lines) with `extra` arguments, and waits until it listens.
fn start(data: &Path, extra: &[&str]) -> Proc {
    let mut args = vec![
        "serve",
        "--data-dir",
        data.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ];
    args.extend_from_slice(extra);
    let mut p = Proc::start(&args, &[]);
    p.wait_for("belfry listening");
    p
}

/// The value of the `export NAME=` line already read.
fn export(p: &Proc, name: &str) -> String {
    let prefix = format!("export {name}=");
    p.seen()
        .iter()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {prefix} in {:#?}", p.seen()))
        .to_owned()
}

/// SIGTERM, then every stdout line up to the last one.
fn stop(mut p: Proc) -> Vec<String> {
    p.signal_term();
    p.wait_for("belfry stopped");
    p.seen().to_vec()
}

/// A request, so that a request log line is among the lines.
async fn call(endpoint: &str) {
    let health = reqwest::get(format!("{endpoint}/health")).await.unwrap();
    assert_eq!(health.status(), 200);
    // Unsigned: answered with an AWS error, and logged.
    let refused = reqwest::get(format!("{endpoint}/app-instances"))
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
}

#[tokio::test]
async fn with_json_logs_every_stdout_line_is_json_the_banner_too() {
    let dir = tempfile::tempdir().unwrap();
    let p = start(&dir.path().join("data"), &["--log-format", "json"]);
    let listening: serde_json::Value = serde_json::from_str(p.seen().last().unwrap()).unwrap();
    call(&format!("http://{}", listening["addr"].as_str().unwrap())).await;
    let lines = stop(p);
    let parsed: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let export = |name: &str| {
        parsed
            .iter()
            .find_map(|v| v["export"].as_str()?.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no export of {name} in {lines:#?}"))
            .to_owned()
    };
    assert!(export("AWS_ACCESS_KEY_ID").starts_with("AKIA"));
    assert_eq!(export("AWS_SECRET_ACCESS_KEY").len(), 40);
    assert!(export("AWS_ENDPOINT_URL").starts_with("http://127.0.0.1:"));
    assert!(export("NODE_EXTRA_CA_CERTS").ends_with("ca.pem"));
    assert!(parsed.iter().any(|v| v["message"]
        .as_str()
        .unwrap_or("")
        .starts_with("Generated an admin credential")));
    assert!(parsed
        .iter()
        .any(|v| v["message"] == "request" && v["status"] == 403));
    for v in &parsed {
        assert!(v["level"].is_string() && v["timestamp"].is_string(), "{v}");
    }
}

#[tokio::test]
async fn piped_human_output_has_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = start(&dir.path().join("data"), &[]);
    let endpoint = export(&p, "AWS_ENDPOINT_URL");
    call(&endpoint).await;
    p.wait_for("request");
    let lines = stop(p);
    assert!(
        lines.iter().any(|l| l.contains("belfry listening")),
        "{lines:#?}"
    );
    for l in &lines {
        assert!(!l.contains('\u{1b}'), "an escape code in a pipe: {l:?}");
    }
}

#[tokio::test]
async fn the_admin_secret_is_printed_only_when_it_is_generated() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let p = start(&data, &[]);
    let key = export(&p, "AWS_ACCESS_KEY_ID");
    let secret = export(&p, "AWS_SECRET_ACCESS_KEY");
    stop(p);

    let p = start(&data, &[]);
    assert_eq!(export(&p, "AWS_ACCESS_KEY_ID"), key);
    let lines = stop(p);
    assert!(
        !lines
            .iter()
            .any(|l| l.contains(&secret) || l.contains("AWS_SECRET_ACCESS_KEY=")),
        "the secret again: {lines:#?}"
    );
    let kept = data.join("belfry.db");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("AWS_SECRET_ACCESS_KEY") && l.contains(kept.to_str().unwrap())),
        "where it is kept: {lines:#?}"
    );
    // In JSON too.
    let p = start(&data, &["--log-format", "json"]);
    let lines = stop(p);
    assert!(!lines.iter().any(|l| l.contains(&secret)), "{lines:#?}");
}

#[cfg(unix)]
#[tokio::test]
async fn the_data_directory_and_its_files_are_private_but_the_ca_certificate() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // One that exists already, as `mkdir` makes it, is tightened.
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let p = start(&data, &[]);
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("tls")), 0o700);
    assert_eq!(mode(&data.join("tls/ca.pem")), 0o644);
    for f in [
        "belfry.db",
        "belfry.db-wal",
        "belfry.db-shm",
        "tls/ca-key.pem",
        "tls/server.pem",
        "tls/server-key.pem",
    ] {
        assert_eq!(mode(&data.join(f)), 0o600, "{f}");
    }
    stop(p);
}

/// `packaging/belfry.service`, as `key -> values` (a key may repeat).
fn unit() -> (String, HashMap<String, Vec<String>>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packaging/belfry.service");
    let text = std::fs::read_to_string(path).unwrap();
    let mut keys: HashMap<String, Vec<String>> = HashMap::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with('[') {
            continue;
        }
        let (k, v) = line.split_once('=').unwrap_or_else(|| panic!("{line:?}"));
        keys.entry(k.to_owned()).or_default().push(v.to_owned());
    }
    (text, keys)
}

#[test]
fn the_systemd_unit_is_hardened_and_runs_belfry_serve_on_its_state_directory() {
    let (text, keys) = unit();
    let one = |k: &str| -> &str {
        match keys.get(k).map(Vec::as_slice) {
            Some([v]) => v,
            other => panic!("{k}: {other:?}"),
        }
    };
    assert_eq!(
        one("ExecStart"),
        "/usr/local/bin/belfry serve --data-dir /var/lib/belfry"
    );
    for (k, v) in [
        ("DynamicUser", "yes"),
        ("StateDirectory", "belfry"),
        ("StateDirectoryMode", "0700"),
        ("ProtectSystem", "strict"),
        ("NoNewPrivileges", "yes"),
        ("Restart", "on-failure"),
        ("KillSignal", "SIGTERM"),
    ] {
        assert_eq!(one(k), v, "{k}");
    }
    assert!(one("LimitNOFILE").parse::<u64>().unwrap() >= 65_536);

    // ExecStart's arguments are ones the binary takes: it starts with them (its data
    // directory swapped for a temporary one) and listens.
    let exec: Vec<&str> = one("ExecStart").split_whitespace().collect();
    assert_eq!(&exec[1..3], ["serve", "--data-dir"]);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("var-lib-belfry");
    let mut args = exec[1..3].to_vec();
    args.extend([data.to_str().unwrap(), "--listen", "127.0.0.1:0"]);
    let mut p = Proc::start(&args, &[]);
    p.wait_for("belfry listening");
    assert_eq!(p.terminate(), 0);
    let help = Command::new(env!("CARGO_BIN_EXE_belfry"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("--data-dir <DATA_DIR>"));

    // systemd's own checks, on the unit pointed at the built binary (`verify` requires
    // ExecStart's file to exist and be executable).
    let analyze = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    let Some(analyze) = analyze else {
        // Debian's `systemd` package brings it; .ci/run installs it. Without it the checks
        // above still ran.
        eprintln!("systemd-analyze not installed: systemd's own checks not run");
        return;
    };
    let built = text.replace("/usr/local/bin/belfry", env!("CARGO_BIN_EXE_belfry"));
    let unit_path = dir.path().join("belfry.service");
    std::fs::write(&unit_path, built).unwrap();
    let verify = Command::new(&analyze)
        .arg("verify")
        .arg(&unit_path)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&verify.stderr);
    assert!(
        verify.status.success() && said.trim().is_empty(),
        "systemd-analyze verify: {said}"
    );
    // Exposure 0 (locked down) to 10 (unprotected), times ten: a unit that lost its
    // sandboxing would score well above.
    let security = Command::new(&analyze)
        .args(["security", "--offline=true", "--threshold=25"])
        .arg(&unit_path)
        .output()
        .unwrap();
    assert!(
        security.status.success(),
        "systemd-analyze security: {}",
        String::from_utf8_lossy(&security.stdout)
    );
}
