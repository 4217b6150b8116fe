//! Reading a request body within its bounds: a size limit and a deadline.
//!
//! A body over the limit is read on (and thrown away) up to a further bound before the 413 is
//! sent. Answering at once would leave the rest unread, and closing a socket with unread data
//! makes the kernel send a reset, which a client still writing its body (most do not read
//! until they have sent everything) reports instead of the 413.

use std::time::Duration;

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;

use crate::error::ApiError;

/// How much of an oversized body is read and discarded so the 413 reaches the client: this
/// many times the limit, and at least this many bytes.
const DRAIN_FACTOR: usize = 8;
const DRAIN_MIN: usize = 8 * 1024 * 1024;

/// Reads the whole body, at most `max` bytes, within `timeout`.
pub(crate) async fn read(body: Body, max: usize, timeout: Duration) -> Result<Bytes, ApiError> {
    match tokio::time::timeout(timeout, read_bounded(body, max)).await {
        Ok(r) => r,
        Err(_) => Err(ApiError::RequestTimeout(timeout)),
    }
}

async fn read_bounded(mut body: Body, max: usize) -> Result<Bytes, ApiError> {
    let mut buf = BytesMut::new();
    let mut seen = 0usize;
    let drain_to = max.saturating_mul(DRAIN_FACTOR).max(DRAIN_MIN);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| {
            ApiError::Core(belfry_core::CoreError::bad(
                "The request body could not be read: the connection failed or the body was \
                 not valid HTTP framing.",
            ))
        })?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers carry nothing the API reads
        };
        seen = seen.saturating_add(data.len());
        if seen <= max {
            buf.extend_from_slice(&data);
        } else if seen > drain_to {
            // Past this, reading on costs more than a reset the client may see instead.
            break;
        }
    }
    if seen > max {
        return Err(ApiError::BodyTooLarge(max));
    }
    Ok(buf.freeze())
}

#[cfg(test)]
mod tests {
    use tokio::sync::mpsc;

    use super::*;

    type Chunk = Result<Bytes, std::io::Error>;

    /// A body fed chunk by chunk from a channel.
    fn body_from(rx: mpsc::Receiver<Chunk>) -> Body {
        Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|chunk| (chunk, rx))
        }))
    }

    #[tokio::test]
    async fn within_the_limit_the_body_is_returned_whole() {
        let body = read(Body::from("hello"), 5, Duration::from_secs(1)).await;
        assert_eq!(body.ok().as_deref(), Some(&b"hello"[..]));
    }

    #[tokio::test]
    async fn over_the_limit_is_a_413_after_reading_it_all() {
        let (tx, rx) = mpsc::channel::<Chunk>(1);
        let sender = tokio::spawn(async move {
            for _ in 0..3 {
                tx.send(Ok(Bytes::from(vec![b'x'; 4]))).await.unwrap();
            }
        });
        let r = read(body_from(rx), 5, Duration::from_secs(5)).await;
        assert!(matches!(r, Err(ApiError::BodyTooLarge(5))));
        // Every chunk was taken, so the sender finished rather than blocking.
        sender.await.unwrap();
    }

    #[tokio::test]
    async fn far_over_the_limit_reading_stops_at_the_drain_bound() {
        let (tx, rx) = mpsc::channel::<Chunk>(1);
        let chunk = Bytes::from(vec![b'x'; 1024 * 1024]);
        // More than the drain bound, and never finished: `read` must give up on its own.
        let sender = tokio::spawn(async move { while tx.send(Ok(chunk.clone())).await.is_ok() {} });
        let r = read(body_from(rx), 1024, Duration::from_secs(30)).await;
        assert!(matches!(r, Err(ApiError::BodyTooLarge(1024))));
        sender.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_stops_coming_is_a_timeout() {
        let (_tx, rx) = mpsc::channel::<Chunk>(1);
        let r = read(body_from(rx), 5, Duration::from_secs(3)).await;
        assert!(matches!(r, Err(ApiError::RequestTimeout(d)) if d == Duration::from_secs(3)));
    }
}
