//! The built `belfry` binary: first start, credentials, configuration precedence, JSON logs,
//! and graceful shutdown on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use aws_sdk_chimesdkidentity as identity;

/// A running binary and its stdout lines.
pub struct Proc {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Proc {
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Proc {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_belfry"));
        cmd.args(args);
        Self::spawn(cmd, env)
    }

    /// Starts the binary with its open-file limit (soft and hard) at `nofile`, as a service
    /// manager would, so the server cannot raise it.
    pub fn start_with_nofile(nofile: u64, args: &[&str], env: &[(&str, &str)]) -> Proc {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!("ulimit -n {nofile} && exec \"$0\" \"$@\""))
            .arg(env!("CARGO_BIN_EXE_belfry"))
            .args(args);
        Self::spawn(cmd, env)
    }

    fn spawn(mut cmd: Command, env: &[(&str, &str)]) -> Proc {
        cmd.stdout(Stdio::piped()).stderr(Stdio::null());
        for (k, _) in std::env::vars() {
            if k.starts_with("BELFRY_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("RUST_LOG", "info");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Proc {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a stdout line containing `needle` and returns it.
    pub fn wait_for(&mut self, needle: &str) -> String {
        loop {
            match self.lines.recv_timeout(Duration::from_secs(20)) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!("no line with {needle:?}; saw {:#?}", self.seen),
            }
        }
    }

    /// The stdout lines read so far.
    pub fn seen(&self) -> &[String] {
        &self.seen
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn export(&mut self, name: &str) -> String {
        let line = self.wait_for(&format!("export {name}="));
        line.split_once('=').unwrap().1.to_string()
    }

    /// Sends SIGTERM and returns at once.
    pub fn signal_term(&self) {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// The exit code, if the process exits within `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let deadline = std::time::Instant::now() + limit;
        while std::time::Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status.code().unwrap_or(-1));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// SIGTERM, then the exit code.
    pub fn terminate(mut self) -> i32 {
        self.signal_term();
        let code = self.child.wait().unwrap().code().unwrap_or(-1);
        // Drain what is left, so the reader thread ends.
        while self.lines.recv_timeout(Duration::from_millis(100)).is_ok() {}
        code
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn client(endpoint: &str, key: &str, secret: &str, region: &str) -> identity::Client {
    let conf = identity::Config::builder()
        .behavior_version(identity::config::BehaviorVersion::latest())
        .region(identity::config::Region::new(region.to_string()))
        .endpoint_url(endpoint)
        .credentials_provider(identity::config::Credentials::new(
            key, secret, None, None, "bin",
        ))
        .build();
    identity::Client::from_conf(conf)
}

#[tokio::test]
async fn first_start_generates_a_credential_and_sigterm_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_s = data.to_str().unwrap();
    let mut p = Proc::start(
        &["serve", "--data-dir", data_s, "--listen", "127.0.0.1:0"],
        &[],
    );
    p.wait_for("Generated an admin credential");
    let key = p.export("AWS_ACCESS_KEY_ID");
    let secret = p.export("AWS_SECRET_ACCESS_KEY");
    let endpoint = p.export("AWS_ENDPOINT_URL");
    assert!(endpoint.starts_with("http://"), "{endpoint}");
    // TLS on the same port from a development CA, and the line that makes Node trust it.
    p.wait_for("Generated a development certificate authority");
    let ca = p.export("NODE_EXTRA_CA_CERTS");
    let ca_path = std::path::Path::new(&ca);
    assert!(ca_path.is_absolute(), "{ca}");
    assert_eq!(ca_path, data.join("tls/ca.pem").canonicalize().unwrap());
    let ca_pem = std::fs::read(ca_path).unwrap();
    p.wait_for("import");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Kept in the store, which only its owner reads.
        assert!(!data.join("admin-credentials.toml").exists());
        let mode = std::fs::metadata(data.join("belfry.db"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let health = reqwest::get(format!("{endpoint}/health")).await.unwrap();
    assert_eq!(health.status(), 200);
    let c = client(&endpoint, &key, &secret, "us-east-1");
    let arn = c
        .create_app_instance()
        .name("kept")
        .client_request_token("token-1")
        .send()
        .await
        .unwrap()
        .app_instance_arn
        .unwrap();
    assert_eq!(p.terminate(), 0, "SIGTERM exits 0");

    // A restart on the same directory keeps the credential and the data.
    let mut p = Proc::start(
        &["serve", "--data-dir", data_s, "--listen", "127.0.0.1:0"],
        &[],
    );
    assert_eq!(p.export("AWS_ACCESS_KEY_ID"), key);
    let endpoint = p.export("AWS_ENDPOINT_URL");
    assert_eq!(
        std::fs::read(p.export("NODE_EXTRA_CA_CERTS")).unwrap(),
        ca_pem
    );
    assert!(
        !p.seen.iter().any(|l| l.contains("Generated")),
        "no new credential or CA on restart"
    );
    let c = client(&endpoint, &key, &secret, "us-east-1");
    let a = c
        .describe_app_instance()
        .app_instance_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(a.app_instance.unwrap().name.as_deref(), Some("kept"));
    assert_eq!(p.terminate(), 0);
}

#[tokio::test]
async fn flags_beat_env_beat_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("belfry.toml");
    std::fs::write(
        &file,
        format!(
            "listen = \"127.0.0.1:0\"\nregion = \"eu-west-1\"\naccount_id = \"111122223333\"\ndata_dir = \"{}\"\n",
            dir.path().join("d").display()
        ),
    )
    .unwrap();
    let file_s = file.to_str().unwrap();
    let creds = [
        ("BELFRY_ACCESS_KEY_ID", "AKIDFROMENV000000001"),
        ("BELFRY_SECRET_ACCESS_KEY", "env-secret"),
    ];
    let cases: &[(&[&str], &[(&str, &str)], &str)] = &[
        (
            &["--region", "ap-south-1"],
            &[("BELFRY_REGION", "eu-central-1")],
            "ap-south-1",
        ),
        (&[], &[("BELFRY_REGION", "eu-central-1")], "eu-central-1"),
        (&[], &[], "eu-west-1"),
    ];
    for (flags, env, want) in cases {
        let mut args = vec!["serve", "--config", file_s, "--log-format", "json"];
        args.extend_from_slice(flags);
        let mut all_env: Vec<(&str, &str)> = creds.to_vec();
        all_env.extend_from_slice(env);
        let mut p = Proc::start(&args, &all_env);
        let listening = p.wait_for("belfry listening");
        let log: serde_json::Value = serde_json::from_str(&listening).expect("JSON log line");
        let addr = log["addr"].as_str().unwrap().to_string();
        let c = client(&format!("http://{addr}"), creds[0].1, creds[1].1, want);
        let arn = c
            .create_app_instance()
            .name("x")
            .client_request_token("token-2")
            .send()
            .await
            .unwrap()
            .app_instance_arn
            .unwrap();
        assert!(
            arn.starts_with(&format!("arn:aws:chime:{want}:111122223333:app-instance/")),
            "{arn}"
        );
        // One JSON line per request, with operation, status, latency and request id.
        let line = p.wait_for("\"operation\":\"CreateAppInstance\"");
        let req: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(req["status"], 201);
        assert!(
            req["latency_us"].is_u64() && req["request_id"].is_string(),
            "{line}"
        );
        assert_eq!(p.terminate(), 0);
    }
}

#[test]
fn bad_configuration_is_refused_at_start() {
    let out = Command::new(env!("CARGO_BIN_EXE_belfry"))
        .args([
            "serve",
            "--account-id",
            "12",
            "--data-dir",
            "/nonexistent/never-created",
        ])
        .env_remove("BELFRY_ACCESS_KEY_ID")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("12 digits"));
}
