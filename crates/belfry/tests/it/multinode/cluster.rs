//! A cluster of `belfry` processes on 127.0.0.1 sharing one PostgreSQL database (made for the
//! test, dropped after it) and the NATS server (on a subject of the test's own). Without
//! PostgreSQL or NATS the tests fail saying what to install: a skipped multi-node test would
//! pass a deployment nobody checked.

use std::net::SocketAddr;
use std::time::Duration;

use crate::binary::Proc;
use crate::harness::{TestServer, ADMIN_KEY, ADMIN_SECRET};

/// Where the tests find PostgreSQL (a database they may create others from) and NATS.
fn postgres_admin_url() -> String {
    std::env::var("BELFRY_TEST_POSTGRES_ADMIN")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub const NATS_URL: &str = "nats://127.0.0.1:4222";

/// A database of the test's own, dropped (with its connections) when the test ends.
pub struct Db {
    pub url: String,
    name: String,
}

async fn pg_admin() -> tokio_postgres::Client {
    let url = postgres_admin_url();
    match tokio_postgres::connect(&url, tokio_postgres::NoTls).await {
        Ok((client, conn)) => {
            tokio::spawn(conn);
            client
        }
        Err(e) => panic!(
            "the multi-node tests need PostgreSQL ≥ 13 on 127.0.0.1:5432 with trust auth \
             (Debian: apt-get install postgresql), or BELFRY_TEST_POSTGRES_ADMIN set to a URL \
             that may CREATE DATABASE; {url} answered: {e}"
        ),
    }
}

impl Db {
    pub async fn create() -> Db {
        let name = format!("belfry_mn_{}", rand::random::<u64>());
        pg_admin()
            .await
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        let admin = postgres_admin_url();
        let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
        Db {
            url: format!("{base}/{name}"),
            name,
        }
    }

    /// A direct connection, for checks the API cannot make.
    pub async fn client(&self) -> tokio_postgres::Client {
        let (client, conn) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        client
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                let _ = pg_admin()
                    .await
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await;
            });
        })
        .join();
    }
}

fn check_nats() {
    if std::net::TcpStream::connect_timeout(
        &"127.0.0.1:4222".parse().unwrap(),
        Duration::from_secs(2),
    )
    .is_err()
    {
        panic!(
            "the multi-node tests need a NATS server on 127.0.0.1:4222 (Debian: apt-get install \
             nats-server; run nats-server -a 127.0.0.1 -p 4222)"
        );
    }
}

/// One `belfry serve` process.
pub struct Node {
    pub proc: Proc,
    /// How the clients reach it.
    pub server: TestServer,
    _dir: tempfile::TempDir,
}

impl Node {
    /// Kills the process at once (SIGKILL): nothing it held in memory survives.
    pub fn kill9(&mut self) {
        let status = std::process::Command::new("kill")
            .arg("-9")
            .arg(self.proc.pid().to_string())
            .status()
            .unwrap();
        assert!(status.success());
        assert!(self.proc.wait_exit(Duration::from_secs(10)).is_some());
    }
}

/// Nodes sharing a database and a NATS subject.
pub struct Cluster {
    pub db: Db,
    pub subject: String,
}

impl Cluster {
    pub async fn new() -> Cluster {
        check_nats();
        Cluster {
            db: Db::create().await,
            subject: format!("belfry-test.{}", rand::random::<u64>()),
        }
    }

    /// Starts a node with extra environment, and waits until it listens.
    pub fn node_with(&self, env: &[(&str, &str)]) -> Node {
        let mut all = vec![
            ("BELFRY_ACCESS_KEY_ID", ADMIN_KEY),
            ("BELFRY_SECRET_ACCESS_KEY", ADMIN_SECRET),
        ];
        all.extend_from_slice(env);
        self.node_env(&all)
    }

    /// Starts a node with no admin credential in its environment (the cluster makes one).
    pub fn node_without_credentials(&self) -> Node {
        self.node_env(&[])
    }

    fn node_env(&self, env: &[(&str, &str)]) -> Node {
        self.node_on_bus(NATS_URL, env)
    }

    /// Starts a node (with the admin key) whose bus is reached at `bus`.
    pub fn node_via(&self, bus: &str) -> Node {
        self.node_on_bus(
            bus,
            &[
                ("BELFRY_ACCESS_KEY_ID", ADMIN_KEY),
                ("BELFRY_SECRET_ACCESS_KEY", ADMIN_SECRET),
            ],
        )
    }

    fn node_on_bus(&self, bus: &str, env: &[(&str, &str)]) -> Node {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().to_str().unwrap().to_string();
        let mut all = vec![("BELFRY_BUS_SUBJECT", self.subject.as_str())];
        all.extend_from_slice(env);
        let mut proc = Proc::start(
            &[
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--data-dir",
                &data,
                "--store",
                &self.db.url,
                "--bus",
                bus,
                "--log-format",
                "json",
            ],
            &all,
        );
        let line = proc.wait_for("belfry listening");
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        let addr: SocketAddr = v["addr"].as_str().unwrap().parse().unwrap();
        let server = TestServer::external(addr, dir.path().join("tls").join("ca.pem"));
        Node {
            proc,
            server,
            _dir: dir,
        }
    }

    pub fn node(&self) -> Node {
        self.node_with(&[])
    }
}
