//! `belfry admin`: manage a running server through its signed admin API and the AWS API, with
//! the admin credential the server's banner prints (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_ENDPOINT_URL`). Nothing here opens the store's files: a live
//! server owns them.

mod client;

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use belfry_sigv4::{SecretKey, Signer};
use clap::{Args, Subcommand};
use http_body_util::BodyExt;
use serde_json::{json, Value};

use client::{Client, Endpoint};

/// How to reach the server, shared by every admin command.
#[derive(Debug, Clone, Args)]
pub struct Target {
    /// The server (http://host:port or https://host:port).
    #[arg(
        long,
        env = "AWS_ENDPOINT_URL",
        default_value = "http://127.0.0.1:7755",
        global = true
    )]
    pub endpoint: String,
    /// An admin access key id (the server's banner prints one).
    #[arg(long, env = "AWS_ACCESS_KEY_ID", global = true)]
    pub access_key_id: Option<String>,
    /// Its secret.
    #[arg(
        long,
        env = "AWS_SECRET_ACCESS_KEY",
        hide_env_values = true,
        global = true
    )]
    pub secret_access_key: Option<String>,
    /// The server's region.
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1", global = true)]
    pub region: String,
    /// For an https endpoint: the CA to trust (the server's <data-dir>/tls/ca.pem).
    #[arg(long, env = "NODE_EXTRA_CA_CERTS", global = true)]
    pub ca: Option<PathBuf>,
}

/// `belfry admin`.
#[derive(Debug, Clone, Args)]
pub struct AdminArgs {
    #[command(flatten)]
    target: Target,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Debug, Clone, Subcommand)]
enum AdminCommand {
    /// Access keys kept in the store (shared by every node).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Create an AppInstance, its users and its AppInstanceAdmins in one go, and print the ARNs.
    Bootstrap(BootstrapArgs),
    /// Copy the embedded (SQLite) database while the server keeps serving.
    Backup(BackupArgs),
}

#[derive(Debug, Clone, Subcommand)]
enum KeysCommand {
    /// Make a scoped key and print its id and secret (shown this once).
    Create {
        /// An AppInstanceUser ARN pattern the key may act as (`*` matches any run); repeat
        /// for more.
        #[arg(long = "bearer", required = true)]
        bearers: Vec<String>,
        /// Print the server's JSON answer instead of `export` lines.
        #[arg(long)]
        json: bool,
    },
    /// List stored keys (never their secrets).
    List {
        /// Print the server's JSON answer.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a stored key: its requests are refused and its sessions closed (4401) at once.
    Revoke {
        /// The access key id.
        id: String,
    },
}

#[derive(Debug, Clone, Args)]
struct BootstrapArgs {
    /// The AppInstance's name.
    #[arg(long)]
    name: String,
    /// A user id to create and make an AppInstanceAdmin; repeat for more.
    #[arg(long = "admin")]
    admins: Vec<String>,
    /// A user id to create; repeat for more.
    #[arg(long = "user")]
    users: Vec<String>,
    /// Print JSON instead of lines.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Args)]
struct BackupArgs {
    /// Where to write the copy (mode 0600). Start a server from it by putting it at
    /// <dir>/belfry.db and running `belfry serve --data-dir <dir>`.
    #[arg(long)]
    out: PathBuf,
}

/// Runs one admin command.
pub async fn run(args: AdminArgs) -> anyhow::Result<()> {
    let mut client = connect(&args.target).await?;
    let mut out = std::io::stdout().lock();
    match args.command {
        AdminCommand::Keys(KeysCommand::Create { bearers, json }) => {
            let body = json!({ "Bearers": bearers }).to_string();
            let v = client
                .call("POST", "/admin/keys", body.as_bytes())
                .await?
                .json("creating the key")?;
            if json {
                writeln!(out, "{v}")?;
            } else {
                writeln!(out, "export AWS_ACCESS_KEY_ID={}", text(&v, "AccessKeyId")?)?;
                writeln!(
                    out,
                    "export AWS_SECRET_ACCESS_KEY={}",
                    text(&v, "SecretAccessKey")?
                )?;
            }
        }
        AdminCommand::Keys(KeysCommand::List { json }) => {
            let v = client
                .call("GET", "/admin/keys", b"")
                .await?
                .json("listing keys")?;
            if json {
                writeln!(out, "{v}")?;
            } else {
                for k in v["AccessKeys"].as_array().into_iter().flatten() {
                    let bearers = match k["Bearers"].as_array() {
                        Some(b) => b
                            .iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(" "),
                        None => "(admin)".into(),
                    };
                    writeln!(out, "{}\t{bearers}", text(k, "AccessKeyId")?)?;
                }
            }
        }
        AdminCommand::Keys(KeysCommand::Revoke { id }) => {
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
                bail!("{id:?} is not an access key id");
            }
            client
                .call("DELETE", &format!("/admin/keys/{id}"), b"")
                .await?
                .json(&format!("revoking {id}"))?;
            writeln!(out, "Revoked {id}.")?;
        }
        AdminCommand::Bootstrap(b) => bootstrap(&mut client, b, &mut out).await?,
        AdminCommand::Backup(b) => {
            let size = backup(&mut client, &b.out).await?;
            writeln!(out, "Wrote {} ({size} bytes).", b.out.display())?;
        }
    }
    Ok(())
}

async fn connect(t: &Target) -> anyhow::Result<Client> {
    let (Some(id), Some(secret)) = (&t.access_key_id, &t.secret_access_key) else {
        bail!("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY to an admin key (the server's banner prints them)");
    };
    let endpoint = Endpoint::parse(&t.endpoint, t.ca.as_deref())?;
    let signer = Signer {
        access_key_id: id.clone(),
        secret: SecretKey::new(secret.clone()),
        region: t.region.clone(),
        service: "chime".into(),
    };
    Client::connect(&endpoint, signer).await
}

fn text<'a>(v: &'a Value, field: &str) -> anyhow::Result<&'a str> {
    v[field]
        .as_str()
        .with_context(|| format!("the answer has no {field}: {v}"))
}

fn token() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// CreateAppInstance, CreateAppInstanceUser for each user (admins first), then
/// CreateAppInstanceAdmin for each admin: restJson1 requests as the SDKs send them.
async fn bootstrap(
    client: &mut Client,
    b: BootstrapArgs,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let mut ids: Vec<&String> = Vec::new();
    for id in b.admins.iter().chain(&b.users) {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    let body = json!({"Name": b.name, "ClientRequestToken": token()}).to_string();
    let app = client
        .call("POST", "/app-instances", body.as_bytes())
        .await?
        .json("CreateAppInstance")?;
    let app = text(&app, "AppInstanceArn")?.to_string();
    let mut users = Vec::new();
    for id in ids {
        let body = json!({
            "AppInstanceArn": app,
            "AppInstanceUserId": id,
            "Name": id,
            "ClientRequestToken": token(),
        })
        .to_string();
        let v = client
            .call("POST", "/app-instance-users", body.as_bytes())
            .await?
            .json(&format!("CreateAppInstanceUser {id}"))?;
        users.push((id.clone(), text(&v, "AppInstanceUserArn")?.to_string()));
    }
    let mut admins = Vec::new();
    for id in &b.admins {
        let Some((_, arn)) = users.iter().find(|(u, _)| u == id) else {
            continue;
        };
        let body = json!({ "AppInstanceAdminArn": arn }).to_string();
        let path = format!("/app-instances/{}/admins", client::label(&app));
        client
            .call("POST", &path, body.as_bytes())
            .await?
            .json(&format!("CreateAppInstanceAdmin {id}"))?;
        admins.push(arn.clone());
    }
    if b.json {
        let users: serde_json::Map<String, Value> = users
            .into_iter()
            .map(|(id, arn)| (id, Value::String(arn)))
            .collect();
        let v =
            json!({"AppInstanceArn": app, "AppInstanceUsers": users, "AppInstanceAdmins": admins});
        writeln!(out, "{v}")?;
        return Ok(());
    }
    writeln!(out, "AppInstance {app}")?;
    for (id, arn) in &users {
        let role = if admins.contains(arn) {
            "admin"
        } else {
            "user"
        };
        writeln!(out, "{role} {id} {arn}")?;
    }
    Ok(())
}

/// Streams `POST /admin/backup` into `out` (mode 0600, written whole or not at all).
async fn backup(client: &mut Client, out: &Path) -> anyhow::Result<u64> {
    use tokio::io::AsyncWriteExt;
    let res = client.send("POST", "/admin/backup", b"").await?;
    let status = res.status().as_u16();
    let mut body = res.into_body();
    if status != 200 {
        let bytes = body.collect().await?.to_bytes();
        bail!(
            "backing up: HTTP {status} {}",
            String::from_utf8_lossy(&bytes)
        );
    }
    let tmp = out.with_extension("partial");
    let mut opts = tokio::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut file = opts
        .open(&tmp)
        .await
        .with_context(|| format!("writing {}", tmp.display()))?;
    let written = async {
        let mut size = 0u64;
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.context("reading the backup")?.into_data() {
                size += data.len() as u64;
                file.write_all(&data).await?;
            }
        }
        file.sync_all().await?;
        anyhow::Ok(size)
    }
    .await;
    let size = match written {
        Ok(size) => size,
        Err(e) => {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(e);
        }
    };
    #[cfg(unix)]
    {
        // A file that was there already keeps its mode through `create`.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
    }
    tokio::fs::rename(&tmp, out)
        .await
        .with_context(|| format!("renaming {} to {}", tmp.display(), out.display()))?;
    Ok(size)
}
