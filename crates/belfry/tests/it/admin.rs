//! `belfry admin …` run as its own process against a running `belfry serve`, `belfry
//! --version`, and revocation closing the sessions a key opened.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use aws_sdk_chimesdkmessaging::types::{ChannelMode, ChannelPrivacy, SortOrder};

use crate::binary::{client, Proc};
use crate::harness::*;
use crate::memberships::make_channel;
use crate::messages::send;
use crate::multinode::admin_call;
use crate::ws::{Signing, Ws};

/// The admin credential and endpoint a server printed.
struct Creds {
    key: String,
    secret: String,
    endpoint: String,
}

impl Creds {
    /// The secret is printed only by the start that generated it; otherwise it is empty here
    /// and the test supplies the one it knows.
    fn of(p: &mut Proc) -> Creds {
        let key = p.export("AWS_ACCESS_KEY_ID");
        let endpoint = p.export("AWS_ENDPOINT_URL");
        let secret = p
            .seen()
            .iter()
            .find_map(|l| l.strip_prefix("export AWS_SECRET_ACCESS_KEY="))
            .unwrap_or_default()
            .to_string();
        Creds {
            key,
            secret,
            endpoint,
        }
    }

    /// The same, with the secret the test knows.
    fn knowing(self, secret: &str) -> Creds {
        Creds {
            secret: secret.to_string(),
            ..self
        }
    }
}

/// Runs `belfry admin <args>` with the banner's lines as its environment.
fn admin(c: &Creds, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_belfry"));
    cmd.arg("admin").args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_") || k.starts_with("BELFRY_") || k == "NODE_EXTRA_CA_CERTS" {
            cmd.env_remove(k);
        }
    }
    cmd.env("AWS_ACCESS_KEY_ID", &c.key)
        .env("AWS_SECRET_ACCESS_KEY", &c.secret)
        .env("AWS_ENDPOINT_URL", &c.endpoint)
        .env("AWS_REGION", REGION)
        .env("RUST_BACKTRACE", "0");
    cmd.output().unwrap()
}

/// Its stdout, failing the test if it did not succeed.
fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "belfry admin failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Starts `belfry serve` on `data` and waits until it answers (and so handles SIGTERM).
async fn serve(data: &Path) -> (Proc, Creds) {
    let mut p = Proc::start(
        &[
            "serve",
            "--data-dir",
            data.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
        &[],
    );
    let c = Creds::of(&mut p);
    p.wait_for("import");
    let health = reqwest::get(format!("{}/health", c.endpoint))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    (p, c)
}

#[test]
fn version_prints_the_package_version() {
    let out = Command::new(env!("CARGO_BIN_EXE_belfry"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        format!("belfry {}", env!("CARGO_PKG_VERSION"))
    );
}

#[tokio::test]
async fn keys_are_created_listed_and_revoked_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let (p, c) = serve(&dir.path().join("data")).await;
    let w = World::with_client(&client(&c.endpoint, &c.key, &c.secret, REGION), &["ann"]).await;

    // `export` lines, as the banner prints them.
    let made = ok(admin(&c, &["keys", "create", "--bearer", w.user(0)]));
    let line = |name: &str| -> String {
        made.lines()
            .find_map(|l| l.strip_prefix(&format!("export {name}=")))
            .unwrap_or_else(|| panic!("no {name} in {made}"))
            .to_string()
    };
    let (id, secret) = (line("AWS_ACCESS_KEY_ID"), line("AWS_SECRET_ACCESS_KEY"));
    assert_eq!(made.lines().count(), 2, "{made}");
    // The key works as its bearer, and only as it.
    let server = TestServer::external(
        c.endpoint.trim_start_matches("http://").parse().unwrap(),
        dir.path().join("data/tls/ca.pem"),
    );
    let as_ann = server.messaging_with(&id, &secret, REGION, None);
    as_ann
        .list_channel_memberships_for_app_instance_user()
        .chime_bearer(w.user(0))
        .send()
        .await
        .unwrap();

    let json: serde_json::Value = serde_json::from_str(&ok(admin(
        &c,
        &[
            "keys", "create", "--json", "--bearer", "a*", "--bearer", "b*",
        ],
    )))
    .unwrap();
    let second = json["AccessKeyId"].as_str().unwrap().to_string();
    assert_eq!(json["Bearers"], serde_json::json!(["a*", "b*"]));
    assert_eq!(json["SecretAccessKey"].as_str().unwrap().len(), 40);

    let listed = ok(admin(&c, &["keys", "list"]));
    assert!(listed.contains(&format!("{id}\t{}", w.user(0))), "{listed}");
    assert!(listed.contains(&format!("{second}\ta* b*")), "{listed}");
    assert!(!listed.contains(&secret), "no secret is listed");
    let listed: serde_json::Value =
        serde_json::from_str(&ok(admin(&c, &["keys", "list", "--json"]))).unwrap();
    assert_eq!(listed["AccessKeys"].as_array().unwrap().len(), 2);

    assert_eq!(
        ok(admin(&c, &["keys", "revoke", &id])).trim(),
        format!("Revoked {id}.")
    );
    let refused = as_ann
        .list_channel_memberships_for_app_instance_user()
        .chime_bearer(w.user(0))
        .send()
        .await;
    assert_eq!(code(refused), "UnrecognizedClientException");
    let listed = ok(admin(&c, &["keys", "list"]));
    assert!(
        !listed.contains(&id) && listed.contains(&second),
        "{listed}"
    );
    // Revoking it again, or with a key that is not an admin key, fails and says why.
    let again = admin(&c, &["keys", "revoke", &id]);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("404"),
        "{again:?}"
    );
    let scoped = Creds {
        key: second.clone(),
        secret: json["SecretAccessKey"].as_str().unwrap().into(),
        endpoint: c.endpoint.clone(),
    };
    let refused = admin(&scoped, &["keys", "list"]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("not an admin key"),
        "{refused:?}"
    );
    // Over https, trusting the server's development CA.
    let https = Creds {
        key: c.key.clone(),
        secret: c.secret.clone(),
        endpoint: c.endpoint.replace("http://", "https://"),
    };
    let ca = dir.path().join("data/tls/ca.pem");
    let listed = ok(admin(
        &https,
        &["--ca", ca.to_str().unwrap(), "keys", "list"],
    ));
    assert!(listed.contains(&second), "{listed}");
    let no_ca = admin(&https, &["keys", "list"]);
    assert!(
        String::from_utf8_lossy(&no_ca.stderr).contains("--ca"),
        "{no_ca:?}"
    );
    assert_eq!(p.terminate(), 0);
}

#[tokio::test]
async fn bootstrap_creates_the_app_instance_its_users_and_admins() {
    let dir = tempfile::tempdir().unwrap();
    let (p, c) = serve(&dir.path().join("data")).await;
    let out: serde_json::Value = serde_json::from_str(&ok(admin(
        &c,
        &[
            "bootstrap",
            "--name",
            "Chat",
            "--admin",
            "ops",
            "--user",
            "ann",
            "--user",
            "bob",
            "--json",
        ],
    )))
    .unwrap();
    let app = out["AppInstanceArn"].as_str().unwrap();
    let id = client(&c.endpoint, &c.key, &c.secret, REGION);
    let described = id
        .describe_app_instance()
        .app_instance_arn(app)
        .send()
        .await
        .unwrap();
    assert_eq!(
        described.app_instance.unwrap().name.as_deref(),
        Some("Chat")
    );
    let users = id
        .list_app_instance_users()
        .app_instance_arn(app)
        .send()
        .await
        .unwrap();
    let mut arns: Vec<String> = users
        .app_instance_users()
        .iter()
        .map(|u| u.app_instance_user_arn().unwrap().to_string())
        .collect();
    arns.sort();
    let mut printed: Vec<String> = ["ann", "bob", "ops"]
        .iter()
        .map(|u| out["AppInstanceUsers"][u].as_str().unwrap().to_string())
        .collect();
    printed.sort();
    assert_eq!(arns, printed);
    let admins = id
        .list_app_instance_admins()
        .app_instance_arn(app)
        .send()
        .await
        .unwrap();
    let admins: Vec<&str> = admins
        .app_instance_admins()
        .iter()
        .map(|a| a.admin().unwrap().arn().unwrap())
        .collect();
    assert_eq!(admins, [out["AppInstanceUsers"]["ops"].as_str().unwrap()]);
    assert_eq!(out["AppInstanceAdmins"], serde_json::json!(admins));

    // The plain form: one line per ARN.
    let text = ok(admin(&c, &["bootstrap", "--name", "Two", "--admin", "a"]));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].starts_with("AppInstance arn:aws:chime:"), "{text}");
    assert!(
        lines[1].starts_with("admin a arn:") && lines[1].ends_with("/user/a"),
        "{text}"
    );
    assert_eq!(p.terminate(), 0);
}

#[tokio::test]
async fn a_backup_taken_while_serving_restores_messages_credential_and_next_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let (p, c) = serve(&dir.path().join("data")).await;
    let id = client(&c.endpoint, &c.key, &c.secret, REGION);
    let w = World::with_client(&id, &["ann"]).await;
    let server = TestServer::external(
        c.endpoint.trim_start_matches("http://").parse().unwrap(),
        dir.path().join("data/tls/ca.pem"),
    );
    let m = server.messaging_with(&c.key, &c.secret, REGION, None);
    let ch = make_channel(
        &m,
        &w,
        w.user(0),
        ChannelMode::Unrestricted,
        ChannelPrivacy::Private,
    )
    .await;
    for i in 0..10 {
        send(&m, &ch, w.user(0), &format!("m{i}"))
            .send()
            .await
            .unwrap();
    }
    let first = m
        .list_channel_messages()
        .channel_arn(&ch)
        .chime_bearer(w.user(0))
        .sort_order(SortOrder::Ascending)
        .max_results(4)
        .send()
        .await
        .unwrap();
    let token = first.next_token.clone().unwrap();
    let page = |out: &aws_sdk_chimesdkmessaging::operation::list_channel_messages::ListChannelMessagesOutput| -> Vec<String> {
        out.channel_messages()
            .iter()
            .map(|m| m.content().unwrap().to_string())
            .collect()
    };
    assert_eq!(page(&first), ["m0", "m1", "m2", "m3"]);

    // Sends keep going while the backup is made.
    let busy = {
        let (m, ch, who) = (m.clone(), ch.clone(), w.user(0).to_string());
        tokio::spawn(async move {
            for i in 0..100 {
                send(&m, &ch, &who, &format!("later{i}"))
                    .send()
                    .await
                    .unwrap();
            }
        })
    };
    let out_file = dir.path().join("copy.db");
    let said = {
        let c = Creds {
            key: c.key.clone(),
            secret: c.secret.clone(),
            endpoint: c.endpoint.clone(),
        };
        let out = out_file.clone();
        tokio::task::spawn_blocking(move || {
            ok(admin(&c, &["backup", "--out", out.to_str().unwrap()]))
        })
        .await
        .unwrap()
    };
    busy.await.unwrap();
    assert!(
        said.starts_with(&format!("Wrote {}", out_file.display())),
        "{said}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // Still serving after it.
    send(&m, &ch, w.user(0), "after").send().await.unwrap();

    let restored = dir.path().join("restored");
    std::fs::create_dir(&restored).unwrap();
    std::fs::copy(&out_file, restored.join("belfry.db")).unwrap();
    let (q, rc) = serve(&restored).await;
    assert_eq!(
        rc.key, c.key,
        "the generated admin credential travels with the backup"
    );
    assert!(
        rc.secret.is_empty(),
        "found, not generated: not printed again"
    );
    let rc = rc.knowing(&c.secret);
    assert!(
        !q.seen().iter().any(|l| l.contains("Generated an admin")),
        "{:?}",
        q.seen()
    );
    let r = TestServer::external(
        rc.endpoint.trim_start_matches("http://").parse().unwrap(),
        restored.join("tls/ca.pem"),
    )
    .messaging_with(&c.key, &c.secret, REGION, None);
    // The old server's NextToken pages on the restored one.
    let next = r
        .list_channel_messages()
        .channel_arn(&ch)
        .chime_bearer(w.user(0))
        .sort_order(SortOrder::Ascending)
        .max_results(4)
        .next_token(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(page(&next), ["m4", "m5", "m6", "m7"]);
    // Everything sent before the backup is there, then a prefix of what raced it; nothing
    // sent after it.
    let mut all = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = r
            .list_channel_messages()
            .channel_arn(&ch)
            .chime_bearer(w.user(0))
            .sort_order(SortOrder::Ascending)
            .max_results(50)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        all.extend(page(&out));
        token = out.next_token;
        if token.is_none() {
            break;
        }
    }
    let before: Vec<String> = (0..10).map(|i| format!("m{i}")).collect();
    assert_eq!(all[..10], before[..]);
    let raced: Vec<String> = (0..all.len() - 10).map(|i| format!("later{i}")).collect();
    assert_eq!(all[10..], raced[..]);
    assert!(!all.contains(&"after".to_string()));
    assert_eq!(q.terminate(), 0);
    assert_eq!(p.terminate(), 0);
}

#[tokio::test]
async fn a_data_directory_from_before_keeps_its_credential_and_next_token_key_files() {
    const CRED: &str =
        "access_key_id = \"AKIAOLDFILE000000000\"\nsecret_access_key = \"old-secret-from-the-file\"\n";
    let dir = tempfile::tempdir().unwrap();
    // Two such directories with the same files: a NextToken one issues pages on the other
    // only if both signed with the key from the file.
    let (data, twin) = (dir.path().join("data"), dir.path().join("twin"));
    for d in [&data, &twin] {
        std::fs::create_dir(d).unwrap();
        std::fs::write(d.join("admin-credentials.toml"), CRED).unwrap();
        std::fs::write(d.join("page-token.key"), "ab".repeat(32)).unwrap();
    }
    let (p, c) = serve(&data).await;
    assert_eq!(c.key, "AKIAOLDFILE000000000");
    assert!(c.secret.is_empty(), "imported, not generated: not printed");
    let c = c.knowing("old-secret-from-the-file");
    assert!(!p.seen().iter().any(|l| l.contains("Generated an admin")));
    let (q, tc) = serve(&twin).await;
    let tc = tc.knowing("old-secret-from-the-file");
    let mut tokens = Vec::new();
    for creds in [&c, &tc] {
        let id = client(&creds.endpoint, &creds.key, &creds.secret, REGION);
        for name in ["one", "two"] {
            id.create_app_instance()
                .name(name)
                .client_request_token(uuid())
                .send()
                .await
                .unwrap();
        }
        let first = id.list_app_instances().max_results(1).send().await.unwrap();
        tokens.push((id, first.next_token.unwrap()));
    }
    let page = tokens[1]
        .0
        .list_app_instances()
        .max_results(1)
        .next_token(&tokens[0].1)
        .send()
        .await
        .unwrap();
    assert_eq!(page.app_instances().len(), 1);
    assert_eq!(q.terminate(), 0);
    assert_eq!(p.terminate(), 0);

    // Imported once: the store's copy wins from then on, and the files stay.
    std::fs::write(
        data.join("admin-credentials.toml"),
        "access_key_id = \"AKIACHANGEDFILE00000\"\nsecret_access_key = \"x\"\n",
    )
    .unwrap();
    std::fs::write(data.join("page-token.key"), "cd".repeat(32)).unwrap();
    let (p, c) = serve(&data).await;
    assert_eq!(c.key, "AKIAOLDFILE000000000");
    let c = c.knowing("old-secret-from-the-file");
    let id = client(&c.endpoint, &c.key, &c.secret, REGION);
    id.list_app_instances()
        .max_results(1)
        .next_token(&tokens[0].1)
        .send()
        .await
        .unwrap();
    assert_eq!(p.terminate(), 0);
}

#[tokio::test]
async fn backups_of_a_postgresql_store_are_refused_naming_pg_dump() {
    let db = crate::multinode::cluster::Db::create().await;
    let url = db.url.clone();
    let s = TestServer::configured(move |cfg| {
        cfg.store = belfry::config::StoreKind::Postgres(url);
    })
    .await;
    let c = Creds {
        key: ADMIN_KEY.into(),
        secret: ADMIN_SECRET.into(),
        endpoint: s.endpoint.clone(),
    };
    let out_file = tempfile::tempdir().unwrap();
    let out = tokio::task::spawn_blocking(move || {
        let path = out_file.path().join("x.db");
        let out = admin(&c, &["backup", "--out", path.to_str().unwrap()]);
        assert!(!path.exists());
        out
    })
    .await
    .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("400") && err.contains("pg_dump"), "{err}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_key_closes_its_sessions_with_4401_and_refuses_its_next_connect() {
    let s = TestServer::start().await;
    let w = World::new(&s, &["ann", "bob"]).await;
    let (status, made) = admin_call(
        &s,
        "POST",
        "/admin/keys",
        &format!("{{\"Bearers\":[\"{}\"]}}", w.user(0)),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    let id = made["AccessKeyId"].as_str().unwrap();
    let signing = Signing {
        key: id,
        secret: made["SecretAccessKey"].as_str().unwrap(),
        ..Signing::default()
    };
    let mut ann = Ws::connect_signed(&s, w.user(0), "1", &[], &signing).await;
    ann.expect("SESSION_ESTABLISHED").await;
    // A session another key opened stays.
    let mut bob = Ws::established(&s, w.user(1), "1").await;

    let (status, _) = admin_call(&s, "DELETE", &format!("/admin/keys/{id}"), "").await;
    assert_eq!(status, 204);
    assert_eq!(ann.closed().await, 4401);
    let mut again = Ws::connect_signed(&s, w.user(0), "2", &[], &signing).await;
    assert_eq!(again.closed().await, 4401);
    assert!(
        tokio::time::timeout(Duration::from_millis(300), bob.next())
            .await
            .is_err(),
        "the admin key's session got something"
    );
    s.stop().await;
}
