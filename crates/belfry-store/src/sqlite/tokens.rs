//! Finding an earlier send by its ClientRequestToken without a random index write per message.
//!
//! Tokens are random, so an index on them puts every new entry on a different page: one more
//! page written to the WAL, and later to the database, for every message. Instead each token
//! becomes a 64-bit key (a hash of channel, sender and token) kept in `message_tokens`, and new
//! keys wait in memory (`pending`) until a sweep reaches them. The sweep walks the key space in
//! [`SLICES`] slices, one per commit, and writes the pending keys of that slice in key order, so
//! a page receives every key that arrived for it since the last sweep in one write.
//!
//! Nothing is lost in a crash: the key is derived from the message row, so the keys not yet
//! written are exactly those of messages above the watermark (`token_sweep.indexed_through`,
//! raised when a sweep ends), and they are read back at start-up. A key may match another
//! message (a hash collision, a deleted message, a row id reused after one); every candidate
//! is checked against the row itself.

use std::collections::BTreeSet;

use belfry_core::store::StoreResult;
use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};

use super::db;

/// Commits per sweep of the key space (a power of two, so no slice straddles 2^63).
const SLICES: u64 = 2048;
/// Messages indexed per transaction when catching up at start-up.
const CATCH_UP_CHUNK: i64 = 50_000;
/// Most keys read into memory at start-up; beyond that they are written first.
const MAX_PENDING_AT_START: i64 = 200_000;

/// The 64-bit key of a (channel, sender, token) triple.
pub(crate) fn token_key(channel_seq: i64, sender: &str, token: &str) -> u64 {
    let mut h = Sha256::new();
    h.update(channel_seq.to_le_bytes());
    h.update((sender.len() as u64).to_le_bytes());
    h.update(sender.as_bytes());
    h.update(token.as_bytes());
    let digest = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// SQLite orders the stored key as a signed integer; a slice never crosses the sign change.
fn stored(key: u64) -> i64 {
    key as i64
}

/// The writer's view of token keys not yet written to `message_tokens`.
pub(crate) struct TokenLog {
    pending: BTreeSet<(u64, i64)>,
    /// Keys added by jobs of the open transaction, forgotten if it rolls back.
    added: Vec<(u64, i64)>,
    /// Next slice to write.
    slice: u64,
    /// Highest message seq when the current sweep began: indexed once it ends.
    sweep_from: i64,
}

impl TokenLog {
    /// Reads the watermark, writes the keys of a long backlog (a database from before this
    /// index, or a crash) and keeps the rest pending.
    pub(crate) fn load(conn: &Connection) -> StoreResult<Self> {
        let max_seq = max_seq(conn)?;
        let mut indexed: i64 = conn
            .query_row(
                "SELECT indexed_through FROM token_sweep WHERE id = 1",
                [],
                |r| r.get(0),
            )
            .map_err(db)?;
        while max_seq - indexed > MAX_PENDING_AT_START {
            let through = indexed + CATCH_UP_CHUNK;
            let tx = conn.unchecked_transaction().map_err(db)?;
            let mut keys = keys_between(&tx, indexed, through)?;
            keys.sort_unstable();
            write_keys(&tx, keys.iter())?;
            set_indexed(&tx, through)?;
            tx.commit().map_err(db)?;
            indexed = through;
        }
        Ok(TokenLog {
            pending: keys_between(conn, indexed, max_seq)?.into_iter().collect(),
            added: Vec::new(),
            slice: 0,
            sweep_from: max_seq,
        })
    }

    /// Seqs of messages whose key is `key`: candidates, to be checked against their rows.
    pub(crate) fn candidates(&self, conn: &Connection, key: u64) -> StoreResult<Vec<i64>> {
        let mut seqs: Vec<i64> = self
            .pending
            .range((key, i64::MIN)..=(key, i64::MAX))
            .map(|(_, seq)| *seq)
            .collect();
        let mut stmt = conn
            .prepare_cached("SELECT seq FROM message_tokens WHERE key = ?1")
            .map_err(db)?;
        let rows = stmt
            .query_map([stored(key)], |r| r.get::<_, i64>(0))
            .map_err(db)?;
        for seq in rows {
            seqs.push(seq.map_err(db)?);
        }
        Ok(seqs)
    }

    /// A message stored in the open transaction. Its key waits for the sweep, unless its seq
    /// is one the watermark will cover without that sweep having seen it (a seq freed by a
    /// delete and handed out again): such a key is written at once.
    pub(crate) fn add(&mut self, conn: &Connection, key: u64, seq: i64) -> StoreResult<()> {
        if seq <= self.sweep_from {
            return write_keys(conn, [(key, seq)].iter());
        }
        self.pending.insert((key, seq));
        self.added.push((key, seq));
        Ok(())
    }

    /// Writes the next slice's pending keys, in the open transaction, just before COMMIT;
    /// ending a sweep raises the watermark. Returns what [`TokenLog::committed`] needs.
    pub(crate) fn write_slice(&self, conn: &Connection) -> StoreResult<Slice> {
        let width = u64::MAX / SLICES + 1;
        let start = self.slice * width;
        let end = start.wrapping_add(width);
        let range = if end == 0 {
            self.pending.range((start, i64::MIN)..)
        } else {
            self.pending.range((start, i64::MIN)..(end, i64::MIN))
        };
        let keys: Vec<(u64, i64)> = range.copied().collect();
        write_keys(conn, keys.iter())?;
        let sweep_ends = self.slice + 1 == SLICES;
        let next_sweep_from = if sweep_ends {
            set_indexed(conn, self.sweep_from)?;
            Some(max_seq(conn)?)
        } else {
            None
        };
        Ok(Slice {
            keys,
            next_sweep_from,
        })
    }

    /// The transaction committed: the slice is written, its keys leave memory.
    pub(crate) fn committed(&mut self, slice: Slice) {
        for k in &slice.keys {
            self.pending.remove(k);
        }
        self.added.clear();
        self.slice = (self.slice + 1) % SLICES;
        if let Some(from) = slice.next_sweep_from {
            self.sweep_from = from;
        }
    }

    /// The transaction rolled back: its messages are gone, and so are their keys.
    pub(crate) fn rolled_back(&mut self) {
        for k in self.added.drain(..) {
            self.pending.remove(&k);
        }
    }
}

/// A slice written in the open transaction.
pub(crate) struct Slice {
    keys: Vec<(u64, i64)>,
    next_sweep_from: Option<i64>,
}

fn max_seq(conn: &Connection) -> StoreResult<i64> {
    conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM messages", [], |r| {
        r.get(0)
    })
    .map_err(db)
}

fn set_indexed(conn: &Connection, through: i64) -> StoreResult<()> {
    conn.prepare_cached("UPDATE token_sweep SET indexed_through = ?1 WHERE id = 1")
        .map_err(db)?
        .execute([through])
        .map_err(db)?;
    Ok(())
}

/// Keys of the messages with `after < seq <= through`.
fn keys_between(conn: &Connection, after: i64, through: i64) -> StoreResult<Vec<(u64, i64)>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT seq, channel_seq, sender, client_request_token FROM messages
             WHERE seq > ?1 AND seq <= ?2",
        )
        .map_err(db)?;
    let rows = stmt
        .query_map(params![after, through], |r| {
            let seq: i64 = r.get(0)?;
            let channel_seq: i64 = r.get(1)?;
            let sender: String = r.get(2)?;
            let token: String = r.get(3)?;
            Ok((token_key(channel_seq, &sender, &token), seq))
        })
        .map_err(db)?;
    rows.map(|r| r.map_err(db)).collect()
}

fn write_keys<'a>(
    conn: &Connection,
    keys: impl Iterator<Item = &'a (u64, i64)>,
) -> StoreResult<()> {
    let mut stmt = conn
        .prepare_cached("INSERT OR IGNORE INTO message_tokens (key, seq) VALUES (?1, ?2)")
        .map_err(db)?;
    for (key, seq) in keys {
        stmt.execute(params![stored(*key), seq]).map_err(db)?;
    }
    Ok(())
}

/// The earlier message of `(channel_seq, sender, token)`: its id and fingerprint.
pub(crate) fn earlier(
    conn: &Connection,
    log: &TokenLog,
    channel_seq: i64,
    sender: &str,
    token: &str,
) -> StoreResult<Option<(String, String)>> {
    let key = token_key(channel_seq, sender, token);
    let mut stmt = conn
        .prepare_cached(
            "SELECT message_id, fingerprint FROM messages
             WHERE seq = ?1 AND channel_seq = ?2 AND sender = ?3 AND client_request_token = ?4",
        )
        .map_err(db)?;
    for seq in log.candidates(conn, key)? {
        let found = stmt
            .query_row(params![seq, channel_seq, sender, token], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
            .map_err(db)?;
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}
