//! Websocket messaging sessions: `GET /connect` (a SigV4-presigned URL, as amazon-chime-sdk-js
//! builds it) upgraded to a websocket that receives the user's channel events.
//!
//! Every refusal completes the upgrade and then closes with a code (4401 not authorized, 4003
//! forbidden, 1013 try again later): a browser cannot see an HTTP status at the upgrade, and
//! amazon-chime-sdk-js retries an HTTP refusal until its reconnect deadline and then hangs.

pub mod frames;

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use axum::Extension;
use belfry_core::arn::UserKey;
use belfry_core::service::PrefetchSort;
use belfry_core::CoreError;
use belfry_realtime::{CloseReason, Delivery, Hub, Outgoing};
use bytes::Bytes;
use futures_util::SinkExt;
use http::{HeaderMap, Method, Uri};
use tokio_util::sync::WaitForCancellationFutureOwned;

use crate::error::ApiError;
use crate::router;
use crate::server::AppState;

/// The realtime side of the server's state.
pub struct Realtime {
    /// The fan-out hub (also the services' event bus).
    pub hub: Hub,
    /// `host[:port]` that GetMessagingSessionEndpoint answers with, when the server sits
    /// behind a proxy or load balancer; else the Host the request was addressed to.
    pub public_endpoint: Option<String>,
    /// How often the server pings a session; a session that has not answered by the next
    /// ping is closed.
    pub ping_interval: Duration,
}

// The client sends nothing after the upgrade but pongs and a close, so reads stay small; a
// small read buffer keeps an idle session's memory low. Writes are batched up to 16 KiB.
const READ_BUFFER: usize = 4 * 1024;
const WRITE_BUFFER: usize = 16 * 1024;
const MAX_WRITE_BUFFER: usize = 1024 * 1024;
const MAX_INBOUND_MESSAGE: usize = 16 * 1024;
/// Frames written before one flush.
const WRITE_BATCH: usize = 64;
/// The session-end label when the peer did not take a write in time (or shutdown came first).
const WRITE_FAILED: &str = "write_failed";

const UNAUTHORIZED: CloseReason = CloseReason {
    code: 4401,
    reason: "Unauthorized",
};
const FORBIDDEN: CloseReason = CloseReason {
    code: 4003,
    reason: "Forbidden",
};
const INTERNAL: CloseReason = CloseReason {
    code: 1011,
    reason: "internal error; reconnect",
};
/// RFC 6455's "message too big", for a client frame over `MAX_INBOUND_MESSAGE`.
const TOO_BIG: CloseReason = CloseReason {
    code: 1009,
    reason: "frames from the client are limited to 16 KiB",
};
/// The key is over its connect rate (`throttle.connect`). An HTTP 429 at the upgrade would
/// reach a browser as 1006, which amazon-chime-sdk-js retries only until its reconnect deadline
/// and then hangs; 1013 after the upgrade is retried (after up to a second of jitter) until it
/// is let in, so a reconnect storm is admitted at the configured rate.
const THROTTLED: CloseReason = CloseReason {
    code: 1013,
    reason: "connect rate exceeded; try again later",
};
const PING_TIMEOUT: CloseReason = CloseReason {
    code: 1011,
    reason: "no answer to ping",
};

/// The accept loop's hold on a connection's slot (in the request's extensions): a session
/// keeps it until it ends, so websocket sockets count against `max_connections` like any
/// other.
#[derive(Clone)]
pub struct ConnectionSlot(pub Arc<dyn std::any::Any + Send + Sync>);

/// Who is connecting, once the request is verified.
struct Admitted {
    user: UserKey,
    /// The key that signed the URL, if it is a stored (revocable) one.
    stored_key: Option<String>,
    session_id: String,
    prefetch: Option<PrefetchSort>,
}

/// `GET /connect`.
pub(crate) async fn connect(
    State(state): State<Arc<AppState>>,
    uri: Uri,
    headers: HeaderMap,
    slot: Option<Extension<ConnectionSlot>>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let Ok(upgrade) = upgrade else {
        let rendered = ApiError::Core(CoreError::bad(
            "/connect is the messaging session websocket: send a websocket upgrade request.",
        ))
        .render();
        return crate::server::error_response(&rendered, &uuid::Uuid::new_v4().to_string());
    };
    let verdict = admit(&state, &uri, &headers).await;
    upgrade
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_write_buffer_size(MAX_WRITE_BUFFER)
        .max_message_size(MAX_INBOUND_MESSAGE)
        .max_frame_size(MAX_INBOUND_MESSAGE)
        .on_upgrade(move |socket| async move {
            run(state, socket, verdict).await;
            drop(slot);
        })
}

/// Verifies the presigned URL and who it may act as.
async fn admit(state: &AppState, uri: &Uri, headers: &HeaderMap) -> Result<Admitted, CloseReason> {
    let raw_query = uri.query().unwrap_or("");
    let caller = crate::server::authenticate_request(state, &Method::GET, uri, headers, b"")
        .await
        .map_err(|e| {
            tracing::info!(error = ?e, "websocket connect refused: signature");
            UNAUTHORIZED
        })?;
    // Before the store is read: a refused connect costs a signature check and nothing more.
    // One over the rate waits for its turn here (bounded), so a storm queues, not retries.
    let turn = state
        .throttle
        .connect(&caller, std::time::Instant::now())
        .map_err(|e| {
            tracing::info!(access_key = %caller.access_key_id, reason = %e.0, "websocket connect refused");
            THROTTLED
        })?;
    if !turn.is_zero() {
        tokio::time::sleep(turn).await;
    }
    let query = router::parse_query(raw_query).ok_or(UNAUTHORIZED)?;
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let user_arn = param("userArn").ok_or(UNAUTHORIZED)?;
    let session_id = param("sessionId").ok_or(UNAUTHORIZED)?.to_string();
    // prefetch-sort-by alone means nothing (the client sends it even without prefetch-on).
    let prefetch = (param("prefetch-on") == Some("connect")).then(|| {
        param("prefetch-sort-by")
            .and_then(PrefetchSort::parse)
            .unwrap_or(PrefetchSort::Unread)
    });
    let user = state
        .services
        .session_user(&caller, user_arn)
        .await
        .map_err(|e| {
            tracing::info!(error = %e, "websocket connect refused");
            match e {
                CoreError::Forbidden(_) => FORBIDDEN,
                CoreError::Unauthorized(_) | CoreError::BadRequest(_) | CoreError::NotFound(_) => {
                    UNAUTHORIZED
                }
                _ => INTERNAL,
            }
        })?;
    let stored_key =
        (!state.auth.is_configured(&caller.access_key_id)).then(|| caller.access_key_id.clone());
    Ok(Admitted {
        user,
        stored_key,
        session_id,
        prefetch,
    })
}

fn text(frame: Bytes) -> Option<Message> {
    Utf8Bytes::try_from(frame).ok().map(Message::Text)
}

/// The metrics label of a close the server sends: the hub's reasons and this module's, one
/// table, so a reason without a name shows up in the test below rather than as "other".
pub(crate) fn close_label(reason: &CloseReason) -> &'static str {
    match *reason {
        CloseReason::TOO_SLOW => "too_slow",
        CloseReason::RESYNC => "resync",
        CloseReason::FULL => "full",
        CloseReason::BUS_UNAVAILABLE => "bus_unavailable",
        CloseReason::GOING_AWAY => "shutdown",
        CloseReason::USER_DELETED => "user_deleted",
        CloseReason::REPLACED => "replaced",
        CloseReason::KEY_REVOKED => "key_revoked",
        UNAUTHORIZED => "unauthorized",
        FORBIDDEN => "forbidden",
        INTERNAL => "internal",
        TOO_BIG => "too_big",
        THROTTLED => "throttled",
        PING_TIMEOUT => "ping_timeout",
        _ => "other",
    }
}

/// Sends a close frame (bounded in time: the peer may not be reading).
async fn close(socket: &mut WebSocket, reason: CloseReason) {
    crate::metrics::record_session_end(close_label(&reason));
    let frame = CloseFrame {
        code: reason.code,
        reason: reason.reason.into(),
    };
    let _ = tokio::time::timeout(
        Duration::from_secs(2),
        socket.send(Message::Close(Some(frame))),
    )
    .await;
}

/// Writes frames and flushes, giving up if the peer does not take them within `limit` or the
/// server is shutting down meanwhile (a peer that stopped reading must not hold shutdown).
async fn write(
    socket: &mut WebSocket,
    frames: Vec<Bytes>,
    limit: Duration,
    stop: Pin<&mut WaitForCancellationFutureOwned>,
) -> bool {
    let work = async {
        for f in frames {
            if let Some(m) = text(f) {
                socket.feed(m).await?;
            }
        }
        socket.flush().await
    };
    tokio::select! {
        done = tokio::time::timeout(limit, work) => matches!(done, Ok(Ok(()))),
        () = stop => false,
    }
}

/// Writes queued frames, then tells the hub they are written (for its delivery latency).
async fn write_queued(
    socket: &mut WebSocket,
    frames: Vec<Outgoing>,
    limit: Duration,
    stop: Pin<&mut WaitForCancellationFutureOwned>,
) -> bool {
    let bytes = frames.iter().map(|f| f.bytes.clone()).collect();
    if !write(socket, bytes, limit, stop).await {
        return false;
    }
    metrics::counter!(crate::metrics::FRAMES_WRITTEN).increment(frames.len() as u64);
    for f in frames {
        f.written();
    }
    true
}

async fn run(state: Arc<AppState>, mut socket: WebSocket, verdict: Result<Admitted, CloseReason>) {
    let admitted = match verdict {
        Ok(a) => a,
        Err(reason) => return close(&mut socket, reason).await,
    };
    let rt = &state.realtime;
    let limit = rt.ping_interval.max(Duration::from_secs(1));
    // Registered before the memberships are read, so nothing committed meanwhile is lost.
    let mut session = match rt.hub.open_signed(
        admitted.user.clone(),
        admitted.stored_key.clone(),
        admitted.session_id,
    ) {
        Ok(s) => s,
        Err(refused) => return close(&mut socket, refused.close_reason()).await,
    };
    // Likewise the key may have been revoked since the signature was checked.
    if let Some(id) = &admitted.stored_key {
        match state.services.store().get_access_key(id).await {
            Ok(Some(_)) => {}
            Ok(None) => return close(&mut socket, CloseReason::KEY_REVOKED).await,
            Err(e) => {
                tracing::error!(error = %e, "websocket session: reading the access key");
                return close(&mut socket, INTERNAL).await;
            }
        }
    }
    // The user may have been deleted between the check and the registration, and then its
    // UserDeleted reached the hub before this session did: look again, now that it would be
    // kicked by any later deletion.
    match state.services.store().get_user(&admitted.user).await {
        Ok(Some(_)) => {}
        Ok(None) => return close(&mut socket, CloseReason::USER_DELETED).await,
        Err(e) => {
            tracing::error!(error = %e, "websocket session: reading the user");
            return close(&mut socket, INTERNAL).await;
        }
    }
    let channels = match state.services.session_channels(&admitted.user).await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "websocket session: reading memberships");
            return close(&mut socket, INTERNAL).await;
        }
    };
    session
        .subscribe(
            channels
                .iter()
                .map(|c| (c.channel.clone(), c.event_seq))
                .collect(),
        )
        .await;
    let mut first: Vec<Bytes> = frames::session_established().into_iter().collect();
    if let Some(sort) = admitted.prefetch {
        match state
            .services
            .prefetch(&admitted.user, &channels, sort)
            .await
        {
            Ok(details) => first.extend(
                details
                    .into_iter()
                    .filter_map(|d| frames::channel_details(state.services.arns(), d)),
            ),
            Err(e) => {
                tracing::error!(error = %e, "websocket session: prefetch");
                return close(&mut socket, INTERNAL).await;
            }
        }
    }
    // Live events queued meanwhile wait in the session's queue and follow the prefetch.
    // Registered once per session, not on every write.
    let stop = state.shutdown.clone().cancelled_owned();
    tokio::pin!(stop);
    if !write(&mut socket, first, limit, stop.as_mut()).await {
        return crate::metrics::record_session_end(WRITE_FAILED);
    }
    let mut ping = tokio::time::interval_at(
        tokio::time::Instant::now() + rt.ping_interval,
        rt.ping_interval,
    );
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut awaiting_pong = false;
    loop {
        tokio::select! {
            delivery = session.next() => match delivery {
                Delivery::Frame(f) => {
                    let mut batch = vec![f];
                    while batch.len() < WRITE_BATCH {
                        match session.try_frame() {
                            Some(f) => batch.push(f),
                            None => break,
                        }
                    }
                    if !write_queued(&mut socket, batch, limit, stop.as_mut()).await {
                        return crate::metrics::record_session_end(WRITE_FAILED);
                    }
                }
                Delivery::Close(reason) => return close(&mut socket, reason).await,
            },
            inbound = socket.recv() => match inbound {
                // The library only queues its answer to a close; flush it, or the client sees
                // 1006 (abnormal) instead of its own clean close.
                Some(Ok(Message::Close(_))) => {
                    let _ = tokio::time::timeout(Duration::from_secs(2), socket.flush()).await;
                    return crate::metrics::record_session_end("client_closed");
                }
                Some(Err(e)) if is_too_big(&e) => return close(&mut socket, TOO_BIG).await,
                None | Some(Err(_)) => return crate::metrics::record_session_end("disconnected"),
                // A pong, or anything else: the peer is alive. Data frames mean nothing.
                Some(Ok(_)) => awaiting_pong = false,
            },
            _ = ping.tick() => {
                if awaiting_pong {
                    return close(&mut socket, PING_TIMEOUT).await;
                }
                awaiting_pong = true;
                let sent = tokio::time::timeout(limit, socket.send(Message::Ping(Bytes::new()))).await;
                if !matches!(sent, Ok(Ok(()))) {
                    return crate::metrics::record_session_end(WRITE_FAILED);
                }
            }
        }
    }
}

/// Whether a read failed on the inbound size cap (so the client is told, with 1009).
fn is_too_big(e: &axum::Error) -> bool {
    std::error::Error::source(e)
        .and_then(|inner| inner.downcast_ref::<tungstenite::Error>())
        .is_some_and(|inner| matches!(inner, tungstenite::Error::Capacity(_)))
}

/// `GET /realtime/stats[?reset=true]`: the hub's counters, the commit-to-last-frame-written
/// percentiles and the throttling counters, for the load generator and operators. Signed with
/// an admin key; `reset` starts a new latency window.
pub(crate) async fn stats(
    State(state): State<Arc<AppState>>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    use belfry_core::auth::Grant;
    use std::sync::atomic::Ordering::Relaxed;
    let request_id = uuid::Uuid::new_v4().to_string();
    let caller = match crate::server::authenticate_request(
        &state,
        &Method::GET,
        &uri,
        &headers,
        b"",
    )
    .await
    {
        Ok(c) => c,
        Err(e) => return crate::server::error_response(&e.render(), &request_id),
    };
    if !matches!(caller.grant, Grant::Admin) {
        let e = ApiError::Core(CoreError::forbidden(
            "Realtime statistics need an admin key.",
        ));
        return crate::server::error_response(&e.render(), &request_id);
    }
    let reset = uri
        .query()
        .is_some_and(|q| q.split('&').any(|p| p == "reset=true"));
    let s = state.realtime.hub.stats();
    let d = s.delivery_latency(reset);
    let t = state.throttle.stats();
    let body = serde_json::json!({
        "SessionsOpen": state.realtime.hub.open_sessions(),
        "FramesQueued": s.frames_queued.load(Relaxed),
        "SessionsTooSlow": s.sessions_too_slow.load(Relaxed),
        "SessionsRefused": s.sessions_refused.load(Relaxed),
        "InboxOverflows": s.inbox_overflows.load(Relaxed),
        "GapResets": s.gap_resets.load(Relaxed),
        "ConnectResyncs": s.connect_resyncs.load(Relaxed),
        "Throttled": {
            "Reads": t.reads.load(Relaxed), "Writes": t.writes.load(Relaxed),
            "SessionEndpoint": t.session_endpoint.load(Relaxed),
            "Connects": t.connects.load(Relaxed), "NoRoom": t.no_room.load(Relaxed),
            "Evicted": t.evicted.load(Relaxed), "Buckets": state.throttle.buckets(),
        },
        "CommitToLastFrameWritten": {
            "Events": d.events, "P50Us": d.p50_us, "P99Us": d.p99_us,
            "P999Us": d.p999_us, "MaxUs": d.max_us,
        },
    });
    let mut res = Response::new(axum::body::Body::from(body.to_string()));
    res.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every close the server can send has a label of its own; a reason missing from the table
    /// would be counted as "other" (as `KEY_REVOKED` once was).
    #[test]
    fn every_close_reason_has_its_own_label() {
        let reasons = [
            CloseReason::TOO_SLOW,
            CloseReason::RESYNC,
            CloseReason::FULL,
            CloseReason::BUS_UNAVAILABLE,
            CloseReason::GOING_AWAY,
            CloseReason::USER_DELETED,
            CloseReason::REPLACED,
            CloseReason::KEY_REVOKED,
            UNAUTHORIZED,
            FORBIDDEN,
            INTERNAL,
            TOO_BIG,
            THROTTLED,
            PING_TIMEOUT,
        ];
        let labels: Vec<&str> = reasons.iter().map(close_label).collect();
        assert!(!labels.contains(&"other"), "{labels:?}");
        let mut distinct = labels.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), labels.len(), "{labels:?}");
        assert_eq!(close_label(&CloseReason::KEY_REVOKED), "key_revoked");
        let unknown = CloseReason {
            code: 4000,
            reason: "not one of ours",
        };
        assert_eq!(close_label(&unknown), "other");
    }
}
