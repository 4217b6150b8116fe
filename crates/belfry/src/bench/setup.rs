//! The load generator's own world: an AppInstance, users, channels with every user a member,
//! and (for the read scenarios) messages already in the channels.

use std::sync::Arc;

use anyhow::{bail, Context};
use serde_json::{json, Value};

use super::client::{label, Call, Connection};

/// What the scenarios work on.
pub struct Fixture {
    /// Channel ARNs.
    pub channels: Vec<String>,
    /// User ARNs (all members of every channel).
    pub users: Vec<String>,
    /// Some message ids per channel (for GetChannelMessage).
    pub messages: Vec<Vec<String>>,
}

pub(super) fn token() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub(super) async fn post(
    conn: &mut Connection,
    path: String,
    query: &str,
    bearer: Option<&str>,
    body: Value,
) -> anyhow::Result<Value> {
    let call = Call {
        method: "POST",
        path,
        query: query.to_string(),
        bearer: bearer.map(str::to_string),
        body: body.to_string().into_bytes(),
    };
    let answer = conn.call(&call).await?;
    if !(200..300).contains(&answer.status) {
        bail!(
            "setup call {} failed: {} {}",
            call.path,
            answer.status,
            String::from_utf8_lossy(&answer.body)
        );
    }
    Ok(serde_json::from_slice(&answer.body)?)
}

/// The SendChannelMessage call for one message.
pub fn send_call(channel: &str, sender: &str, content: &str) -> Call {
    Call {
        method: "POST",
        path: format!("/channels/{}/messages", label(channel)),
        query: String::new(),
        bearer: Some(sender.to_string()),
        body: json!({
            "Content": content,
            "Type": "STANDARD",
            "Persistence": "PERSISTENT",
            "ClientRequestToken": token(),
        })
        .to_string()
        .into_bytes(),
    }
}

/// Creates the world over `conns` (the first does the setup; all preload in parallel).
pub async fn build(
    mut conns: Vec<Connection>,
    users: usize,
    channels: usize,
    preload: usize,
    content: &str,
) -> anyhow::Result<(Fixture, Vec<Connection>)> {
    let first = conns.first_mut().context("no connection")?;
    let app = post(
        first,
        "/app-instances".into(),
        "",
        None,
        json!({"Name": "belfry-bench", "ClientRequestToken": token()}),
    )
    .await?["AppInstanceArn"]
        .as_str()
        .context("no AppInstanceArn")?
        .to_string();
    let mut user_arns = Vec::new();
    for i in 0..users.max(1) {
        let v = post(
            first,
            "/app-instance-users".into(),
            "",
            None,
            json!({"AppInstanceArn": app, "AppInstanceUserId": format!("bench-{i}"), "Name": format!("Bench {i}"), "ClientRequestToken": token()}),
        )
        .await?;
        user_arns.push(
            v["AppInstanceUserArn"]
                .as_str()
                .context("no user ARN")?
                .to_string(),
        );
    }
    let mut channel_arns = Vec::new();
    for i in 0..channels.max(1) {
        let v = post(
            first,
            "/channels".into(),
            "",
            Some(&user_arns[0]),
            json!({"AppInstanceArn": app, "Name": format!("bench {i}"), "ClientRequestToken": token()}),
        )
        .await?;
        let ch = v["ChannelArn"]
            .as_str()
            .context("no ChannelArn")?
            .to_string();
        // The creator (user 0) is a member already.
        for chunk in user_arns[1..].chunks(100) {
            post(
                first,
                format!("/channels/{}/memberships", label(&ch)),
                "operation=batch-create",
                Some(&user_arns[0]),
                json!({"MemberArns": chunk}),
            )
            .await?;
        }
        channel_arns.push(ch);
    }
    // Preload with every connection at once; keep up to 1000 ids per channel for GETs.
    let users_arc = Arc::new(user_arns.clone());
    let mut messages: Vec<Vec<String>> = vec![Vec::new(); channel_arns.len()];
    for (ci, ch) in channel_arns.iter().enumerate() {
        let per_conn = preload.div_ceil(conns.len());
        let mut tasks = Vec::new();
        for (k, mut conn) in conns.drain(..).enumerate() {
            let (ch, users, content) = (ch.clone(), users_arc.clone(), content.to_string());
            let count = per_conn.min(preload.saturating_sub(k * per_conn));
            tasks.push(tokio::spawn(async move {
                let mut ids = Vec::new();
                for n in 0..count {
                    let sender = &users[(k + n) % users.len()];
                    let a = conn.call(&send_call(&ch, sender, &content)).await?;
                    if a.status != 201 {
                        bail!(
                            "preload send failed: {} {}",
                            a.status,
                            String::from_utf8_lossy(&a.body)
                        );
                    }
                    if ids.len() < 1000 {
                        let v: Value = serde_json::from_slice(&a.body)?;
                        ids.push(v["MessageId"].as_str().unwrap_or_default().to_string());
                    }
                }
                Ok::<_, anyhow::Error>((conn, ids))
            }));
        }
        for t in tasks {
            let (conn, ids) = t.await??;
            conns.push(conn);
            messages[ci].extend(ids);
        }
        if preload > 0 {
            eprintln!(
                "preloaded {preload} messages into channel {}/{}",
                ci + 1,
                channel_arns.len()
            );
        }
    }
    Ok((
        Fixture {
            channels: channel_arns,
            users: user_arns,
            messages,
        },
        conns,
    ))
}
