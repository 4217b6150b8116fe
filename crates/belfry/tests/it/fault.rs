//! A failed WAL sync stops every later acknowledgement: the built binary runs with a C shim
//! (`tests/fault/fail_wal_sync.c`, loaded with `LD_PRELOAD`) that fails one `fdatasync` of the
//! WAL while several clients send; nothing sent after the failure is acknowledged or applied,
//! reads keep working, and after a restart without the shim every acknowledged message is there
//! exactly once, and a retry of any other send with its ClientRequestToken stores no duplicate.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use aws_sdk_chimesdkmessaging as messaging;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use messaging::types::{
    ChannelMessagePersistenceType as Persistence, ChannelMessageType as MsgType,
};

use crate::durability::{channel_of, clients, kill9, start};

/// Concurrent senders, each its own user.
const SENDERS: usize = 4;
/// The WAL sync that fails first. Setting up the channel takes fewer than 10 syncs; each
/// sender stops after `MAX_SENDS`, far more syncs than this.
const FAIL_AT: &str = "50";
const MAX_SENDS: usize = 500;
/// Sends each sender makes after its first failure, to show the failure stays.
const SENDS_AFTER_FAILURE: usize = 3;

/// One send as the client saw it. `started` and `ended` are tickets from one counter shared by
/// all senders, so a send whose `started` is above another's `ended` was made after that
/// answer arrived.
#[derive(Debug)]
struct Sent {
    sender: usize,
    content: String,
    token: String,
    started: u64,
    ended: u64,
    /// The MessageId, or the HTTP status and exception name.
    answer: Result<String, (u16, String)>,
}

/// Compiles the shim into `dir`. A missing C compiler fails the test: skipping it would hide
/// that the durability promise went unchecked.
fn build_shim(dir: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fault/fail_wal_sync.c");
    let lib = dir.join("fail_wal_sync.so");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let out = Command::new(&cc)
        .args(["-shared", "-fPIC", "-O2", "-Wall", "-Werror", "-o"])
        .arg(&lib)
        .arg(&src)
        .arg("-ldl")
        .output()
        .unwrap_or_else(|e| {
            panic!("this test needs a C compiler ({cc}: {e}); on Debian: apt-get install gcc libc6-dev")
        });
    assert!(
        out.status.success(),
        "{cc} could not build {}: {}",
        src.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    lib
}

async fn send(
    m: &messaging::Client,
    ch: &str,
    bearer: &str,
    content: &str,
    token: &str,
) -> Result<String, (u16, String)> {
    m.send_channel_message()
        .channel_arn(ch)
        .content(content)
        .r#type(MsgType::Standard)
        .persistence(Persistence::Persistent)
        .client_request_token(token)
        .chime_bearer(bearer)
        .send()
        .await
        .map(|out| out.message_id.unwrap())
        .map_err(|e| {
            let status = e.raw_response().map_or(0, |r| r.status().as_u16());
            (status, e.code().unwrap_or("no exception name").to_string())
        })
}

/// Every message in the channel as (content, MessageId), oldest first.
async fn messages(m: &messaging::Client, ch: &str, bearer: &str) -> Vec<(String, String)> {
    let mut all = Vec::new();
    let mut next = None;
    loop {
        let page = m
            .list_channel_messages()
            .channel_arn(ch)
            .max_results(50)
            .set_next_token(next)
            .chime_bearer(bearer)
            .send()
            .await
            .unwrap();
        for msg in page.channel_messages.unwrap_or_default() {
            all.push((msg.content.unwrap(), msg.message_id.unwrap()));
        }
        next = page.next_token;
        if next.is_none() {
            return all;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_acknowledged_after_a_failed_wal_sync() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let shim = build_shim(dir.path());
    let fault_log = dir.path().join("faults.log");
    let (mut proc_, endpoint) = start(
        data,
        &[
            ("LD_PRELOAD", shim.to_str().unwrap()),
            ("FAULT_FAIL_WAL_SYNC_AT", FAIL_AT),
            ("FAULT_LOG", fault_log.to_str().unwrap()),
        ],
    );
    let (id, m) = clients(&endpoint);
    let (users, ch) = channel_of(&id, &m, SENDERS).await;

    let tickets = Arc::new(AtomicU64::new(0));
    let sent: Arc<Mutex<Vec<Sent>>> = Arc::default();
    let mut tasks = Vec::new();
    for (sender, user) in users.iter().enumerate() {
        let (m, ch, user) = (m.clone(), ch.clone(), user.clone());
        let (tickets, sent) = (tickets.clone(), sent.clone());
        tasks.push(tokio::spawn(async move {
            let mut failures = 0;
            for n in 0..MAX_SENDS {
                let (content, token) = (format!("{sender}-{n}"), format!("t-{sender}-{n}"));
                let started = tickets.fetch_add(1, Ordering::SeqCst);
                let answer = send(&m, &ch, &user, &content, &token).await;
                let ended = tickets.fetch_add(1, Ordering::SeqCst);
                failures += usize::from(answer.is_err());
                sent.lock().unwrap().push(Sent {
                    sender,
                    content,
                    token,
                    started,
                    ended,
                    answer,
                });
                if failures > SENDS_AFTER_FAILURE {
                    break;
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let sent = std::mem::take(&mut *sent.lock().unwrap());
    let faults = std::fs::read_to_string(&fault_log).unwrap_or_default();
    let first_failure = sent
        .iter()
        .filter(|s| s.answer.is_err())
        .map(|s| s.ended)
        .min()
        .unwrap_or_else(|| panic!("no send failed; the shim failed: {faults:?}"));
    proc_.wait_for("WAL sync failed; no write is acknowledged until restart");

    let acked_before = sent
        .iter()
        .filter(|s| s.answer.is_ok() && s.ended < first_failure)
        .count();
    assert!(
        acked_before > 0,
        "no send was acknowledged before the failure"
    );
    for s in &sent {
        if let Err((status, code)) = &s.answer {
            // The writes whose own sync failed get 500, every later one 503.
            assert!(
                [
                    (500, "ServiceFailureException"),
                    (503, "ServiceUnavailableException")
                ]
                .contains(&(*status, code.as_str())),
                "{s:?}"
            );
        }
        if s.started > first_failure {
            assert_eq!(
                s.answer,
                Err((503, "ServiceUnavailableException".into())),
                "sent after the failure was seen: {s:?}"
            );
        }
    }
    let after = sent.iter().filter(|s| s.started > first_failure).count();
    assert!(after >= SENDERS, "each sender sent after the failure");

    // Other writes are refused too; reads keep working.
    let update = m
        .update_channel()
        .channel_arn(&ch)
        .name("renamed")
        .chime_bearer(&users[0])
        .send()
        .await;
    assert_eq!(
        update.map_err(|e| e.code().map(str::to_string)).err(),
        Some(Some("ServiceUnavailableException".into()))
    );
    let described = m
        .describe_channel()
        .channel_arn(&ch)
        .chime_bearer(&users[0])
        .send()
        .await
        .unwrap();
    assert_eq!(
        described.channel.unwrap().name.as_deref(),
        Some("c"),
        "a refused write is not applied"
    );
    assert!(!messages(&m, &ch, &users[0]).await.is_empty());

    kill9(&proc_);
    drop(proc_);
    let (proc2, endpoint) = start(data, &[]);
    let (_, m) = clients(&endpoint);

    // Every acknowledged message is there once, with its MessageId; nothing else is there
    // but unacknowledged sends, each at most once.
    let by_content = |listed: Vec<(String, String)>| {
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        for (content, mid) in listed {
            map.entry(content).or_default().push(mid);
        }
        map
    };
    let stored = by_content(messages(&m, &ch, &users[0]).await);
    let known: HashMap<&str, &Sent> = sent.iter().map(|s| (s.content.as_str(), s)).collect();
    for (content, mids) in &stored {
        assert!(known.contains_key(content.as_str()), "unknown {content}");
        assert_eq!(mids.len(), 1, "{content} stored {} times", mids.len());
    }
    let mut unacked_stored = 0;
    for s in &sent {
        match &s.answer {
            Ok(mid) => assert_eq!(
                stored.get(&s.content),
                Some(&vec![mid.clone()]),
                "acknowledged {s:?}"
            ),
            Err(_) if s.started > first_failure => assert!(
                !stored.contains_key(&s.content),
                "refused after the failure, yet stored: {s:?}"
            ),
            // In flight when the sync failed: committed or not.
            Err(_) => unacked_stored += usize::from(stored.contains_key(&s.content)),
        }
    }

    // Retrying an unacknowledged send with its token answers the stored message if there is
    // one, and stores it otherwise; either way it is then there once.
    for s in sent.iter().filter(|s| s.answer.is_err()) {
        let mid = send(&m, &ch, &users[s.sender], &s.content, &s.token)
            .await
            .unwrap();
        if let Some(before) = stored.get(&s.content) {
            assert_eq!(before, &vec![mid], "retry of {s:?}");
        }
    }
    let stored = by_content(messages(&m, &ch, &users[0]).await);
    assert_eq!(stored.len(), sent.len());
    assert!(stored.values().all(|mids| mids.len() == 1));
    println!(
        "{} sends: {acked_before} acknowledged before the failure, {} failed ({} sent after it; \
         {unacked_stored} in flight stored anyway); shim: {faults}",
        sent.len(),
        sent.iter().filter(|s| s.answer.is_err()).count(),
        sent.iter().filter(|s| s.started > first_failure).count(),
    );
    drop(proc2);
}
