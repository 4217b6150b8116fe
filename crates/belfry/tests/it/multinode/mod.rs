//! Several nodes, one PostgreSQL database, one NATS: what a session on one node sees of writes
//! made through the others, paging across nodes, keys across nodes, and a node killed (-9)
//! under load.

pub(crate) mod cluster;
mod proxy;

use std::time::Duration;

use aws_sdk_chimesdkmessaging::types::{ChannelPrivacy, SortOrder};
use aws_sdk_chimesdkmessaging::Client;

use crate::harness::*;
use crate::memberships::{add, make_channel};
use crate::messages::{send, Room};
use crate::ws::{Next, Signing, Ws};
use cluster::Cluster;

/// Every message of `ch` as `viewer` sees it, oldest first, paging `page` at a time with
/// each page asked of the next client in `clients` (a NextToken from one node used on another).
async fn history(clients: &[Client], ch: &str, viewer: &str, page: i32) -> Vec<String> {
    let mut ids = Vec::new();
    let mut token: Option<String> = None;
    for i in 0.. {
        let out = clients[i % clients.len()]
            .list_channel_messages()
            .channel_arn(ch)
            .chime_bearer(viewer)
            .sort_order(SortOrder::Ascending)
            .max_results(page)
            .set_next_token(token.clone())
            .send()
            .await
            .unwrap();
        ids.extend(
            out.channel_messages()
                .iter()
                .map(|m| m.message_id().unwrap().to_string()),
        );
        token = out.next_token;
        if token.is_none() {
            break;
        }
    }
    ids
}

/// The ids of the next `n` CREATE_CHANNEL_MESSAGE frames (other frames are skipped).
async fn next_messages(ws: &mut Ws, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    while ids.len() < n {
        match ws.next().await {
            Next::Frame(f) if f.event_type == "CREATE_CHANNEL_MESSAGE" => {
                ids.push(f.payload["MessageId"].as_str().unwrap().to_string())
            }
            Next::Frame(_) => {}
            Next::Closed(code) => panic!("closed with {code} after {} messages", ids.len()),
        }
    }
    ids
}

/// Reads frames until a message with `content`, returning the event types before it.
async fn until_content(ws: &mut Ws, content: &str) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        match ws.next().await {
            Next::Frame(f)
                if f.event_type == "CREATE_CHANNEL_MESSAGE" && f.payload["Content"] == content =>
            {
                return seen
            }
            Next::Frame(f) => seen.push(format!("{} {}", f.event_type, f.payload["Content"])),
            Next::Closed(code) => panic!("closed with {code} before {content:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_through_one_node_reaches_sessions_on_another_and_a_removal_stops_them() {
    let c = Cluster::new().await;
    let (a, b, cn) = (c.node(), c.node(), c.node());
    let r = Room::new(&a.server, &["owner", "ann", "bob"], ChannelPrivacy::Private).await;
    // A second channel ann stays in: its message fences "nothing more arrived".
    let ma = a.server.messaging();
    let other = make_channel(
        &ma,
        &r.w,
        r.user(0),
        aws_sdk_chimesdkmessaging::types::ChannelMode::Unrestricted,
        ChannelPrivacy::Private,
    )
    .await;
    add(
        &ma,
        &other,
        r.user(0),
        r.user(1),
        aws_sdk_chimesdkmessaging::types::ChannelMembershipType::Default,
    )
    .await
    .unwrap();
    let mut ann = Ws::established(&cn.server, r.user(1), "ann-c").await;
    let mut bob = Ws::established(&cn.server, r.user(2), "bob-c").await;

    send(&ma, &r.ch, r.user(0), "through A")
        .send()
        .await
        .unwrap();
    until_content(&mut ann, "through A").await;
    until_content(&mut bob, "through A").await;

    b.server
        .messaging()
        .delete_channel_membership()
        .channel_arn(&r.ch)
        .member_arn(r.user(1))
        .chime_bearer(r.user(0))
        .send()
        .await
        .unwrap();
    send(&ma, &r.ch, r.user(0), "after the removal")
        .send()
        .await
        .unwrap();
    until_content(&mut bob, "after the removal").await;
    send(&ma, &other, r.user(0), "fence").send().await.unwrap();
    let before_fence = until_content(&mut ann, "fence").await;
    assert!(
        !before_fence.iter().any(|s| s.contains("after the removal")),
        "a removed member was still delivered to: {before_fence:?}"
    );
    assert!(
        before_fence
            .iter()
            .any(|s| s.starts_with("DELETE_CHANNEL_MEMBERSHIP")),
        "the removal itself reaches the member: {before_fence:?}"
    );

    // Every node reports a ready store and bus.
    for n in [&a, &b, &cn] {
        let res = reqwest::get(format!("{}/health", n.server.endpoint))
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let v: serde_json::Value = serde_json::from_str(&res.text().await.unwrap()).unwrap();
        assert_eq!(v["checks"]["store"]["ready"], true, "{v}");
        assert_eq!(v["checks"]["bus"]["ready"], true, "{v}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sends_through_two_nodes_arrive_on_a_third_in_list_order() {
    let c = Cluster::new().await;
    let (a, b, cn) = (c.node(), c.node(), c.node());
    let r = Room::new(&a.server, &["owner", "ann", "bob"], ChannelPrivacy::Private).await;
    let mut ann = Ws::established(&cn.server, r.user(1), "ann-c").await;
    const PER_TASK: usize = 30;
    let mut tasks = Vec::new();
    for (i, node) in [&a, &b, &a, &b].into_iter().enumerate() {
        let m = node.server.messaging();
        let (ch, from) = (r.ch.clone(), r.user(i % 2 * 2).to_string());
        tasks.push(tokio::spawn(async move {
            for k in 0..PER_TASK {
                send(&m, &ch, &from, &format!("t{i} m{k}"))
                    .send()
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let live = next_messages(&mut ann, 4 * PER_TASK).await;
    // Pages of 7, asked alternately of A, B and C with each other's NextTokens.
    let clients = [
        a.server.messaging(),
        b.server.messaging(),
        cn.server.messaging(),
    ];
    let listed = history(&clients, &r.ch, r.user(1), 7).await;
    assert_eq!(listed.len(), 4 * PER_TASK);
    assert_eq!(
        live, listed,
        "the session saw the channel in another order than its history"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_added_or_revoked_through_one_node_hold_on_the_others_and_revoking_closes_sessions() {
    let c = Cluster::new().await;
    let (a, b, cn) = (c.node(), c.node(), c.node());
    let r = Room::new(&a.server, &["owner", "ann"], ChannelPrivacy::Private).await;
    let pattern = r.user(1).to_string();
    let (status, made) = admin_call(
        &a.server,
        "POST",
        "/admin/keys",
        &format!("{{\"Bearers\":[\"{pattern}\"]}}"),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    let id = made["AccessKeyId"].as_str().unwrap().to_string();
    let secret = made["SecretAccessKey"].as_str().unwrap().to_string();

    let on_b = b.server.messaging_with(&id, &secret, REGION, None);
    on_b.list_channel_memberships()
        .channel_arn(&r.ch)
        .chime_bearer(r.user(1))
        .send()
        .await
        .unwrap();
    // Scoped: it may not act as the owner.
    let refused = on_b
        .list_channel_memberships()
        .channel_arn(&r.ch)
        .chime_bearer(r.user(0))
        .send()
        .await;
    assert_eq!(code(refused), "ForbiddenException");

    let (status, listed) = admin_call(&b.server, "GET", "/admin/keys", "").await;
    assert_eq!(status, 200);
    assert_eq!(listed["AccessKeys"][0]["AccessKeyId"], id.as_str());
    assert!(
        listed.to_string().find(&secret).is_none(),
        "secrets are never listed again"
    );

    // A session on C opened with the key, as its bearer.
    let signing = Signing {
        key: &id,
        secret: &secret,
        ..Signing::default()
    };
    let mut on_c = Ws::connect_signed(&cn.server, r.user(1), "s1", &[], &signing).await;
    on_c.expect("SESSION_ESTABLISHED").await;

    let (status, _) = admin_call(&a.server, "DELETE", &format!("/admin/keys/{id}"), "").await;
    assert_eq!(status, 204);
    // Revoked through A: C closes the session at once, and refuses the key's next connect.
    assert_eq!(on_c.closed().await, 4401);
    let mut again = Ws::connect_signed(&cn.server, r.user(1), "s2", &[], &signing).await;
    assert_eq!(again.closed().await, 4401);
    let revoked = on_b
        .list_channel_memberships()
        .channel_arn(&r.ch)
        .chime_bearer(r.user(1))
        .send()
        .await;
    assert_eq!(code(revoked), "UnrecognizedClientException");
    let (status, _) = admin_call(&a.server, "DELETE", &format!("/admin/keys/{id}"), "").await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_node_makes_the_admin_credential_and_the_others_use_it() {
    let c = Cluster::new().await;
    let first = c.node_without_credentials();
    let second = c.node_without_credentials();
    // Printed before the node listens, so among the lines already read; JSON, as every line.
    let exported = |n: &cluster::Node, name: &str| -> Option<String> {
        let prefix = format!("{name}=");
        n.proc.seen().iter().find_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            v["export"]
                .as_str()?
                .strip_prefix(&prefix)
                .map(str::to_string)
        })
    };
    let id = exported(&first, "AWS_ACCESS_KEY_ID").expect("the key id");
    let secret = exported(&first, "AWS_SECRET_ACCESS_KEY").expect("the new secret");
    assert_eq!(exported(&second, "AWS_ACCESS_KEY_ID"), Some(id.clone()));
    // The secret is shown once, by the node that made it.
    assert_eq!(exported(&second, "AWS_SECRET_ACCESS_KEY"), None);
    assert!(!second.proc.seen().iter().any(|l| l.contains(&secret)));
    let seen: Vec<String> = first.proc.seen().to_vec();
    assert!(
        seen.iter()
            .any(|l| l.contains("Generated an admin credential")),
        "the first node says it made one: {seen:?}"
    );
    assert!(
        !second
            .proc
            .seen()
            .iter()
            .any(|l| l.contains("Generated an admin credential")),
        "the second node found it"
    );
    // The credential works on both.
    for n in [&first, &second] {
        crate::binary::client(&n.server.endpoint, &id, &secret, REGION)
            .list_app_instances()
            .send()
            .await
            .unwrap();
    }
}

/// A SigV4-signed call of Belfry's admin API with the admin key: the status, and the JSON
/// body (`Null` when empty).
pub(crate) async fn admin_call(
    s: &TestServer,
    method: &str,
    path: &str,
    body: &str,
) -> (u16, serde_json::Value) {
    let r = crate::raw::send(
        s,
        method,
        path,
        &[],
        body.as_bytes(),
        crate::raw::Signing::Admin,
    )
    .await;
    let value = if r.body.is_empty() {
        serde_json::Value::Null
    } else {
        r.json()
    };
    (r.status, value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_under_load_loses_no_acknowledged_message_and_no_event() {
    let c = Cluster::new().await;
    // Node A never relays its outbox: each of its commits is a commit whose node "died"
    // before publishing it. The other nodes' relays must publish them.
    let mut a = c.node_with(&[("BELFRY_FAULT_NO_RELAY", "1")]);
    let (b, cn) = (c.node(), c.node());
    let r = Room::new(&b.server, &["owner", "ann", "bob"], ChannelPrivacy::Private).await;
    let mut ann = Ws::established(&cn.server, r.user(1), "ann-c").await;
    let mut bob = Ws::established(&a.server, r.user(2), "bob-a").await;

    let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(usize, String)>::new()));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = Vec::new();
    for (i, node) in [&a, &a, &a, &b].into_iter().enumerate() {
        let m = node.server.messaging();
        let (ch, from) = (r.ch.clone(), r.user(0).to_string());
        let (acked, stop) = (acked.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut k = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                match send(&m, &ch, &from, &format!("w{i} m{k}")).send().await {
                    Ok(out) => acked.lock().unwrap().push((i, out.message_id.unwrap())),
                    // The node is gone: its writer stops.
                    Err(_) => break,
                }
                k += 1;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    a.kill9();
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    let through_a = acked.iter().filter(|(i, _)| *i < 3).count();
    assert!(
        through_a > 10 && acked.len() > through_a,
        "too little load: {through_a} of {} through A",
        acked.len()
    );
    let acked: Vec<String> = acked.into_iter().map(|(_, id)| id).collect();

    // Every acknowledged message is in the history read through another node ...
    let listed = history(&[b.server.messaging()], &r.ch, r.user(1), 50).await;
    let missing: Vec<&String> = acked.iter().filter(|id| !listed.contains(id)).collect();
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
    // ... and every committed one (acknowledged or not) reached the session on C, in order.
    let live = next_messages(&mut ann, listed.len()).await;
    assert_eq!(live, listed);

    // The killed node's session is gone; reconnected to another node it receives what follows.
    bob.ended().await;
    let mut bob = Ws::established(&b.server, r.user(2), "bob-a").await;
    send(&b.server.messaging(), &r.ch, r.user(0), "after the kill")
        .send()
        .await
        .unwrap();
    until_content(&mut bob, "after the kill").await;
    let db = c.db.client().await;
    let mut left = -1;
    for _ in 0..50 {
        left = db
            .query_one("SELECT count(*) FROM outbox", &[])
            .await
            .unwrap()
            .get::<_, i64>(0);
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(left, 0, "every outbox entry is relayed and removed");
}

/// What /health says of a node: its status code and body.
async fn health(s: &TestServer) -> (u16, serde_json::Value) {
    let res = reqwest::get(format!("{}/health", s.endpoint))
        .await
        .unwrap();
    let status = res.status().as_u16();
    (
        status,
        serde_json::from_str(&res.text().await.unwrap()).unwrap(),
    )
}

/// Polls /health until its status is `want` (the bus notices a loss within a ping or two).
async fn health_becomes(s: &TestServer, want: u16) -> serde_json::Value {
    for _ in 0..300 {
        let (status, body) = health(s).await;
        if status == want {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("/health never answered {want}: {:?}", health(s).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_loses_nats_keeps_serving_rest_and_closes_and_refuses_sessions_until_it_is_back(
) {
    let c = Cluster::new().await;
    let proxy = proxy::Proxy::to("127.0.0.1:4222").await;
    let a = c.node();
    let b = c.node_via(&format!("nats://{}", proxy.addr));
    health_becomes(&b.server, 200).await;
    let r = Room::new(&a.server, &["owner", "ann"], ChannelPrivacy::Private).await;
    let mut ann = Ws::established(&b.server, r.user(1), "ann-b").await;

    proxy.cut();
    assert_eq!(
        ann.closed().await,
        1013,
        "sessions of a node without its bus are closed, retryably"
    );
    let body = health_becomes(&b.server, 503).await;
    assert_eq!(body["checks"]["bus"]["ready"], false, "{body}");
    assert_eq!(body["checks"]["store"]["ready"], true, "{body}");
    // REST still works on that node.
    send(
        &b.server.messaging(),
        &r.ch,
        r.user(0),
        "while the bus is away",
    )
    .send()
    .await
    .unwrap();
    // New sessions are refused with the same retryable code.
    let mut refused = Ws::connect(&b.server, r.user(1), "ann-b2", &[]).await;
    assert_eq!(refused.closed().await, 1013);

    proxy.restore();
    health_becomes(&b.server, 200).await;
    let mut ann = Ws::established(&b.server, r.user(1), "ann-b3").await;
    send(&a.server.messaging(), &r.ch, r.user(0), "the bus is back")
        .send()
        .await
        .unwrap();
    until_content(&mut ann, "the bus is back").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_node_reports_its_bus_in_metrics() {
    use crate::observability::{scrape, value};
    let c = Cluster::new().await;
    let (a, b) = (c.node(), c.node());
    let r = Room::new(&a.server, &["owner", "ann"], ChannelPrivacy::Private).await;
    let mut ann = Ws::established(&b.server, r.user(1), "ann-b").await;
    send(&a.server.messaging(), &r.ch, r.user(0), "counted")
        .send()
        .await
        .unwrap();
    until_content(&mut ann, "counted").await;
    // Each node is a process of its own, so these are its counters alone.
    let (ta, tb) = (
        scrape(&a.server.endpoint).await,
        scrape(&b.server.endpoint).await,
    );
    for t in [&ta, &tb] {
        assert_eq!(value(t, "belfry_bus_connected", &[]), 1.0, "{t}");
        assert!(t.contains("belfry_bus_disconnects_total"), "{t}");
    }
    // Usually the committing node relays its outbox entries, but any node's relay may.
    let relayed = |t: &str| value(t, "belfry_bus_relayed_total", &[]);
    assert!(relayed(&ta) + relayed(&tb) >= 1.0, "{ta}\n{tb}");
    assert!(value(&tb, "belfry_bus_received_total", &[]) >= 1.0, "{tb}");
    // The send through A was a PostgreSQL commit, timed.
    assert!(
        value(
            &ta,
            "belfry_store_write_seconds_count",
            &[("store", "postgres")]
        ) >= 1.0,
        "{ta}"
    );
    assert_eq!(value(&tb, "belfry_websocket_sessions_open", &[]), 1.0);
    assert!(value(&tb, "belfry_frames_written_total", &[]) >= 1.0);
}
