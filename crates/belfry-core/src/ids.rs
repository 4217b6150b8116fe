//! Server-made identifiers, shaped as AWS makes them (SEMANTICS.md §3.1).

use rand::RngCore;

use crate::time::Timestamp;

/// An AppInstance id: a lowercase UUID, as AWS returns.
pub fn app_instance_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A channel id: 64 lowercase hex characters (AWS's server-made channel ids look like this, even
/// though the model's documentation calls them UUIDs).
pub fn channel_id() -> String {
    random_hex64()
}

/// A message id: 64 lowercase hex characters, as AWS's. The first 12 are the send time in
/// milliseconds and the other 52 are random (208 bits), so ids never collide in practice, and
/// new ids land at the end of the id index instead of all over it (far fewer pages to write
/// per commit).
pub fn message_id(now: Timestamp) -> String {
    let mut bytes = [0u8; 26];
    rand::thread_rng().fill_bytes(&mut bytes);
    let time = (now.0.max(0) as u64) & 0xFFFF_FFFF_FFFF;
    let mut id = format!("{time:012x}{}", hex::encode(bytes));
    id.truncate(64);
    id
}

fn random_hex64() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_match_aws() {
        let a = app_instance_id();
        assert_eq!(a.len(), 36);
        assert_eq!(a, a.to_lowercase());
        let c = channel_id();
        assert_eq!(c.len(), 64);
        assert!(c
            .chars()
            .all(|ch| ch.is_ascii_digit() || ('a'..='f').contains(&ch)));
        assert_ne!(channel_id(), channel_id());
        let m = message_id(Timestamp(1_700_000_000_123));
        assert_eq!(m.len(), 64);
        assert!(m.starts_with(&format!("{:012x}", 1_700_000_000_123u64)));
        assert!(
            message_id(Timestamp(1)) < message_id(Timestamp(2)),
            "ids sort by time"
        );
    }
}
