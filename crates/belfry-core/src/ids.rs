//! Server-made identifiers, shaped as AWS makes them (SEMANTICS.md §3.1).

use rand::RngCore;

/// An AppInstance id: a lowercase UUID, as AWS returns.
pub fn app_instance_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A channel id: 64 lowercase hex characters (AWS's server-made channel ids look like this, even
/// though the model's documentation calls them UUIDs).
pub fn channel_id() -> String {
    random_hex64()
}

/// A message id: 64 lowercase hex characters, from 256 random bits, so ids never collide in
/// practice.
pub fn message_id() -> String {
    random_hex64()
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
    }
}
