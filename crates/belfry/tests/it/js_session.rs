//! The unmodified amazon-chime-sdk-js `DefaultMessagingSession` (npm packages pinned in
//! `tests/js/package-lock.json`) runs in Node against the built binary: start →
//! SESSION_ESTABLISHED → a message sent with aws-sdk-js-v3 arrives → stop; with the admin key,
//! with a key scoped to one user, and across a server restart that the session survives by
//! reconnecting on its own.
//!
//! `tests/js/session.js` prints one JSON event per line and takes commands on stdin (`send
//! <content>`, `stop`); this file reads those lines and says when. Node 20 or newer must be on
//! PATH; the npm packages are installed here (`npm ci`) when missing, so `cargo test --workspace`
//! alone runs these tests.

use std::collections::VecDeque;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_sdk_chimesdkidentity as identity;
use aws_sdk_chimesdkmessaging as messaging;
use serde_json::Value;

use crate::binary::Proc;
use crate::harness::{uuid, ADMIN_KEY, ADMIN_SECRET, ALICE_KEY, ALICE_SECRET, REGION};

/// How long any one awaited event may take.
const WAIT: Duration = Duration::from_secs(20);

fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js")
}

/// Checks for Node and installs the pinned npm packages once per run, when they are missing or
/// older than the lock file.
fn npm_packages() {
    static READY: OnceLock<()> = OnceLock::new();
    READY.get_or_init(|| {
        crate::node::require_node_20("the js_session tests (amazon-chime-sdk-js in Node)");
        crate::node::npm_ci_if_stale(&js_dir());
    });
}

/// A Belfry binary with the admin key and a key scoped to users named `alice`.
struct Server {
    /// None only while restarting.
    proc_: Option<Proc>,
    addr: SocketAddr,
    data: PathBuf,
    config: PathBuf,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("belfry.toml");
        std::fs::write(
            &config,
            format!(
                "[[access_keys]]\nid = \"{ALICE_KEY}\"\nsecret = \"{ALICE_SECRET}\"\n\
                 bearers = [\"arn:aws:chime:{REGION}:000000000000:app-instance/*/user/alice\"]\n"
            ),
        )
        .unwrap();
        let data = dir.path().join("data");
        let (proc_, addr) = Self::spawn(&data, &config, "127.0.0.1:0");
        Server {
            proc_: Some(proc_),
            addr,
            data,
            config,
            _dir: dir,
        }
    }

    fn spawn(data: &Path, config: &Path, listen: &str) -> (Proc, SocketAddr) {
        let mut p = Proc::start(
            &[
                "serve",
                "--config",
                config.to_str().unwrap(),
                "--data-dir",
                data.to_str().unwrap(),
                "--listen",
                listen,
                "--log-format",
                "json",
            ],
            &[
                ("BELFRY_ACCESS_KEY_ID", ADMIN_KEY),
                ("BELFRY_SECRET_ACCESS_KEY", ADMIN_SECRET),
            ],
        );
        let line = p.wait_for("belfry listening");
        let log: Value = serde_json::from_str(&line).unwrap();
        let addr = log["addr"].as_str().unwrap().parse().unwrap();
        (p, addr)
    }

    /// SIGTERM (which must exit 0), then a new process on the same address and data directory.
    fn restart(&mut self) {
        let old = self.proc_.take().unwrap();
        assert_eq!(old.terminate(), 0, "SIGTERM with a session open exits 0");
        let (fresh, addr) = Self::spawn(&self.data, &self.config, &self.addr.to_string());
        assert_eq!(addr, self.addr);
        self.proc_ = Some(fresh);
    }

    fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The development CA the server generated on its first start.
    fn ca(&self) -> PathBuf {
        let ca = self.data.join("tls/ca.pem");
        assert!(
            ca.is_file(),
            "the server did not write its development CA at {}",
            ca.display()
        );
        ca
    }
}

/// An AppInstance with users `owner`, `alice` and `bob`, and a channel created by `owner` with
/// alice and bob as members, all made with the Rust SDK.
struct Chat {
    alice: String,
    bob: String,
    channel: String,
}

impl Chat {
    async fn new(endpoint: &str) -> Chat {
        let creds = identity::config::Credentials::new(ADMIN_KEY, ADMIN_SECRET, None, None, "js");
        let id = identity::Client::from_conf(
            identity::Config::builder()
                .behavior_version(identity::config::BehaviorVersion::latest())
                .region(identity::config::Region::new(REGION))
                .endpoint_url(endpoint)
                .credentials_provider(creds.clone())
                .build(),
        );
        let m = messaging::Client::from_conf(
            messaging::Config::builder()
                .behavior_version(messaging::config::BehaviorVersion::latest())
                .region(messaging::config::Region::new(REGION))
                .endpoint_url(endpoint)
                .credentials_provider(creds)
                .build(),
        );
        let app = id
            .create_app_instance()
            .name("js")
            .client_request_token(uuid())
            .send()
            .await
            .unwrap()
            .app_instance_arn
            .unwrap();
        let mut users = Vec::new();
        for n in ["owner", "alice", "bob"] {
            let arn = id
                .create_app_instance_user()
                .app_instance_arn(&app)
                .app_instance_user_id(n)
                .name(format!("{n} name"))
                .client_request_token(uuid())
                .send()
                .await
                .unwrap()
                .app_instance_user_arn
                .unwrap();
            users.push(arn);
        }
        let channel = m
            .create_channel()
            .app_instance_arn(&app)
            .name("js")
            .member_arns(&users[1])
            .member_arns(&users[2])
            .client_request_token(uuid())
            .chime_bearer(&users[0])
            .send()
            .await
            .unwrap()
            .channel_arn
            .unwrap();
        Chat {
            alice: users[1].clone(),
            bob: users[2].clone(),
            channel,
        }
    }
}

/// `node session.js`: its stdout events, its stdin, and its stderr kept for failure messages.
struct Session {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
    /// Events read but not yet asked for.
    pending: VecDeque<Value>,
    seen: Vec<String>,
    stderr: Arc<Mutex<Vec<String>>>,
    /// What GetMessagingSessionEndpoint must answer: the host:port the REST calls went to.
    endpoint: String,
}

/// Events after which session.js is done, unless the test expects them.
const TERMINAL: &[&str] = &["stopped", "start-failed", "timeout", "send-failed"];

impl Session {
    /// Starts a session for `user` signed with `key`; `send` posts to `channel` as `send_as`.
    fn start(
        server: &Server,
        key: (&str, &str),
        user: &str,
        channel: &str,
        send_as: &str,
    ) -> Session {
        npm_packages();
        let mut cmd = Command::new("node");
        cmd.arg("session.js").current_dir(js_dir());
        for (k, _) in std::env::vars() {
            if k.starts_with("AWS_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("NODE_EXTRA_CA_CERTS", server.ca())
            .env("CHIME_ENDPOINT", server.endpoint())
            .env("AWS_REGION", REGION)
            .env("AWS_ACCESS_KEY_ID", key.0)
            .env("AWS_SECRET_ACCESS_KEY", key.1)
            .env("USER_ARN", user)
            .env("CHANNEL_ARN", channel)
            .env("SEND_AS", send_as)
            .env("TIMEOUT_MS", "90000")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn node session.js");
        let stdin = child.stdin.take().unwrap();
        let (lines, stderr) = crate::node::pipe_lines(&mut child);
        Session {
            child,
            stdin,
            lines,
            pending: VecDeque::new(),
            seen: Vec::new(),
            stderr,
            endpoint: server.addr.to_string(),
        }
    }

    fn say(&mut self, command: &str) {
        writeln!(self.stdin, "{command}")
            .and_then(|_| self.stdin.flush())
            .unwrap_or_else(|e| panic!("session.js stopped reading ({e}){}", self.transcript()));
    }

    /// The first event `want` accepts, taken from the events read so far or waited for. Fails on
    /// a terminal event `want` does not accept, on session.js exiting, and after [`WAIT`].
    fn expect(&mut self, what: &str, want: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.pending.iter().position(&want) {
            return self.pending.remove(i).unwrap();
        }
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match self.lines.recv_timeout(left) {
                Ok(line) => line,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    panic!("{what}: not seen within {WAIT:?}{}", self.transcript())
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    panic!("{what}: session.js exited first{}", self.transcript())
                }
            };
            self.seen.push(line.clone());
            let Ok(event) = serde_json::from_str::<Value>(&line) else {
                panic!(
                    "session.js printed a line that is not JSON{}",
                    self.transcript()
                );
            };
            if want(&event) {
                return event;
            }
            if TERMINAL.contains(&event["ev"].as_str().unwrap_or_default()) {
                panic!("{what}: session.js ended with {line}{}", self.transcript());
            }
            self.pending.push_back(event);
        }
    }

    fn event(&mut self, ev: &str) -> Value {
        self.expect(&format!("event {ev}"), |v| v["ev"] == ev)
    }

    /// The next frame of type `ty` the observer received.
    fn frame(&mut self, ty: &str) -> Value {
        self.expect(&format!("a {ty} frame"), |v| {
            v["ev"] == "message" && v["type"] == ty
        })
    }

    /// The endpoint the library resolved, the observer's `messagingSessionDidStart`, then the
    /// SESSION_ESTABLISHED frame itself.
    fn established(&mut self) {
        let e = self.event("endpoint");
        assert_eq!(
            e["url"].as_str(),
            Some(self.endpoint.as_str()),
            "GetMessagingSessionEndpoint answers the host:port the request went to{}",
            self.transcript()
        );
        self.event("started");
        let f = self.frame("SESSION_ESTABLISHED");
        assert_eq!(
            f["headers"]["x-amz-chime-message-type"],
            "SYSTEM",
            "{f}{}",
            self.transcript()
        );
    }

    /// Sends `content` with aws-sdk-js-v3 and checks the CREATE_CHANNEL_MESSAGE frame the session
    /// receives for it.
    fn send_and_receive(&mut self, chat: &Chat, sender: &str, content: &str) {
        self.say(&format!("send {content}"));
        let sent = self.event("sent");
        let id = sent["id"].as_str().expect("MessageId").to_string();
        let f = self.expect(&format!("the CREATE_CHANNEL_MESSAGE frame of {id}"), |v| {
            v["type"] == "CREATE_CHANNEL_MESSAGE"
                && v["payload"]
                    .as_str()
                    .is_some_and(|p| p.contains(id.as_str()))
        });
        let context = self.transcript();
        check_message(&f, chat, &id, sender, content, &context);
    }

    /// `stop`: the observer's `messagingSessionDidStop` with a normal code, and exit 0.
    fn stop(mut self) {
        self.say("stop");
        let stopped = self.event("stopped");
        // stop() sends a close frame without a code; the server echoes it, so the library reports
        // 1005 (REALTIME.md §4). 1006 means the socket ended without the server's close frame.
        assert!(
            [1000, 1005].contains(&stopped["code"].as_i64().unwrap_or(0)),
            "stop() ends with a clean close handshake (1005, or 1000), not {stopped}{}",
            self.transcript()
        );
        let deadline = Instant::now() + WAIT;
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "session.js did not exit after stop{}",
                self.transcript()
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(
            status.success(),
            "session.js: {status}{}",
            self.transcript()
        );
    }

    /// What session.js printed, for failure messages.
    fn transcript(&self) -> String {
        let err = self.stderr.lock().unwrap();
        let tail = &err[err.len().saturating_sub(40)..];
        format!(
            "\n--- session.js stdout ---\n{}\n--- session.js stderr (last {} lines) ---\n{}",
            self.seen.join("\n"),
            tail.len(),
            tail.join("\n")
        )
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The frame carries the ChannelMessage as a JSON string, as AWS sends it.
fn check_message(f: &Value, chat: &Chat, id: &str, sender: &str, content: &str, context: &str) {
    assert_eq!(
        f["headers"]["x-amz-chime-event-type"], "CREATE_CHANNEL_MESSAGE",
        "{f}{context}"
    );
    assert_eq!(
        f["headers"]["x-amz-chime-message-type"], "STANDARD",
        "{f}{context}"
    );
    let payload = f["payload"]
        .as_str()
        .unwrap_or_else(|| panic!("Payload is a JSON string: {f}{context}"));
    let p: Value = serde_json::from_str(payload)
        .unwrap_or_else(|e| panic!("Payload is not JSON ({e}): {payload}{context}"));
    assert_eq!(p["ChannelArn"], chat.channel.as_str(), "{p}");
    assert_eq!(p["MessageId"], id, "{p}");
    assert_eq!(p["Content"], content, "{p}");
    assert_eq!(p["Type"], "STANDARD", "{p}");
    assert_eq!(p["Persistence"], "PERSISTENT", "{p}");
    assert_eq!(p["Sender"]["Arn"], sender, "{p}");
    let name = sender.rsplit('/').next().unwrap();
    assert_eq!(p["Sender"]["Name"], format!("{name} name"), "{p}");
    // Timestamps inside a payload are ISO-8601 strings with milliseconds, not epoch numbers.
    let created = p["CreatedTimestamp"].as_str().unwrap_or_default();
    assert!(
        created.len() == 24
            && created.ends_with('Z')
            && time::OffsetDateTime::parse(created, &time::format_description::well_known::Rfc3339)
                .is_ok(),
        "CreatedTimestamp like 2021-06-03T16:26:31.013Z: {p}"
    );
}

#[tokio::test]
async fn js_session_with_the_admin_key_receives_a_message() {
    let server = Server::start();
    let chat = Chat::new(&server.endpoint()).await;
    let mut s = Session::start(
        &server,
        (ADMIN_KEY, ADMIN_SECRET),
        &chat.bob,
        &chat.channel,
        &chat.alice,
    );
    s.established();
    s.send_and_receive(&chat, &chat.alice, "hello bob, from aws-sdk-js-v3");
    s.stop();
}

#[tokio::test]
async fn js_session_with_a_scoped_key_receives_a_message() {
    let server = Server::start();
    let chat = Chat::new(&server.endpoint()).await;
    let mut s = Session::start(
        &server,
        (ALICE_KEY, ALICE_SECRET),
        &chat.alice,
        &chat.channel,
        &chat.alice,
    );
    s.established();
    s.send_and_receive(&chat, &chat.alice, "alice's own message comes back");
    s.stop();

    // The same key may not act as bob: the upgrade completes, then 4003 ends start() for good.
    let mut denied = Session::start(
        &server,
        (ALICE_KEY, ALICE_SECRET),
        &chat.bob,
        &chat.channel,
        &chat.alice,
    );
    let failed = denied.event("start-failed");
    assert_eq!(failed["code"], 4003, "{failed}{}", denied.transcript());
}

#[tokio::test]
async fn js_session_reconnects_by_itself_across_a_server_restart() {
    let mut server = Server::start();
    let chat = Chat::new(&server.endpoint()).await;
    let mut s = Session::start(
        &server,
        (ADMIN_KEY, ADMIN_SECRET),
        &chat.bob,
        &chat.channel,
        &chat.alice,
    );
    s.established();
    s.send_and_receive(&chat, &chat.alice, "before the restart");

    server.restart();
    let closed = s.event("closed");
    assert_eq!(
        closed["code"],
        1001,
        "shutdown closes sessions with 1001: {closed}{}",
        s.transcript()
    );
    s.expect("the session reconnecting", |v| {
        v["ev"] == "connecting" && v["reconnecting"] == true
    });
    s.established();
    s.send_and_receive(&chat, &chat.alice, "after the restart");
    s.stop();
}
