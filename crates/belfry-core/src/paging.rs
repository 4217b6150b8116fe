//! Pagination: page sizes and NextTokens.
//!
//! A NextToken carries a keyset cursor (where the next page starts) and a MAC over the cursor and
//! a *binding* — the operation, its parameters and the caller. So a token is opaque to clients,
//! cannot be edited or forged, and is refused when replayed on another operation, with other
//! parameters, or by someone else. Stores walk keysets, never offsets.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::error::{CoreError, CoreResult};
use crate::validate;

const MAC_LEN: usize = 16;
const DEFAULT_PAGE: usize = 50;

/// The server-held key that MACs NextTokens: whoever has it can forge any token, so `Debug`
/// prints `PageKey([redacted])` and equality is constant-time.
#[derive(Clone)]
pub struct PageKey([u8; 32]);

impl PageKey {
    /// Wraps a key.
    pub fn new(key: [u8; 32]) -> Self {
        PageKey(key)
    }

    /// The key itself, to MAC with or to store.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl From<[u8; 32]> for PageKey {
    fn from(key: [u8; 32]) -> Self {
        PageKey(key)
    }
}

impl std::fmt::Debug for PageKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PageKey([redacted])")
    }
}

impl PartialEq for PageKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for PageKey {}

/// Signs and checks NextTokens with a server-held key.
#[derive(Debug, Clone)]
pub struct PageSigner {
    key: PageKey,
}

/// What a token is bound to; build it from the operation name, the parameters that shape the
/// listing, and the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding(String);

impl Binding {
    /// A binding over the given parts, in order.
    pub fn new(parts: &[&str]) -> Self {
        // Length-prefix each part so ("ab","c") and ("a","bc") differ.
        let mut s = String::new();
        for p in parts {
            s.push_str(&p.len().to_string());
            s.push(':');
            s.push_str(p);
        }
        Binding(s)
    }
}

/// A validated page request: how many rows, and after which cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// Rows wanted (1–50).
    pub limit: usize,
    /// Keyset cursor from the previous page, if any.
    pub after: Option<String>,
}

/// One page of results and the token of the next, absent on the last page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The rows.
    pub items: Vec<T>,
    /// Token for the next page.
    pub next_token: Option<String>,
}

impl PageSigner {
    /// A signer with the given key (kept by the server across restarts).
    pub fn new(key: impl Into<PageKey>) -> Self {
        PageSigner { key: key.into() }
    }

    fn mac(&self, binding: &Binding, cursor: &str) -> [u8; MAC_LEN] {
        let mut out = [0u8; MAC_LEN];
        if let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(self.key.expose()) {
            mac.update(binding.0.as_bytes());
            mac.update(&[0]);
            mac.update(cursor.as_bytes());
            out.copy_from_slice(&mac.finalize().into_bytes()[..MAC_LEN]);
        }
        out
    }

    /// The NextToken for a cursor.
    pub fn encode(&self, binding: &Binding, cursor: &str) -> String {
        let mut raw = cursor.as_bytes().to_vec();
        raw.extend_from_slice(&self.mac(binding, cursor));
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// Validates `max-results` / `next-token` and recovers the cursor.
    pub fn request(
        &self,
        binding: &Binding,
        max_results: Option<i64>,
        next_token: Option<&str>,
    ) -> CoreResult<PageRequest> {
        let limit = match max_results {
            Some(n) => {
                validate::range("MaxResults", n, 1, 50)?;
                n as usize
            }
            None => DEFAULT_PAGE,
        };
        let after = match next_token {
            None => None,
            Some(t) => {
                validate::length("NextToken", t, 0, 2048)?;
                Some(self.decode(binding, t)?)
            }
        };
        Ok(PageRequest { limit, after })
    }

    fn decode(&self, binding: &Binding, token: &str) -> CoreResult<String> {
        let invalid =
            || CoreError::bad("The NextToken is invalid or was issued for a different request.");
        let raw = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
        if raw.len() < MAC_LEN {
            return Err(invalid());
        }
        let (cursor, mac) = raw.split_at(raw.len() - MAC_LEN);
        let cursor = std::str::from_utf8(cursor).map_err(|_| invalid())?;
        if !bool::from(self.mac(binding, cursor).ct_eq(mac)) {
            return Err(invalid());
        }
        Ok(cursor.to_string())
    }

    /// Builds a page from `limit + 1` fetched rows: the extra row only says that more exist.
    pub fn page<T>(
        &self,
        binding: &Binding,
        limit: usize,
        mut rows: Vec<T>,
        cursor_of: impl Fn(&T) -> String,
    ) -> Page<T> {
        let next_token = if rows.len() > limit {
            rows.truncate(limit);
            rows.last()
                .map(|last| self.encode(binding, &cursor_of(last)))
        } else {
            None
        };
        Page {
            items: rows,
            next_token,
        }
    }
}

/// Parses an integer keyset cursor.
pub fn seq_cursor(after: Option<&str>) -> CoreResult<Option<i64>> {
    after
        .map(|s| {
            s.parse::<i64>().map_err(|_| {
                CoreError::bad("The NextToken is invalid or was issued for a different request.")
            })
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_bound_and_tamper_evident() {
        let s = PageSigner::new([7; 32]);
        let b = Binding::new(&["ListChannels", "ai", "PUBLIC", "alice"]);
        let t = s.encode(&b, "42");
        assert_eq!(
            s.request(&b, None, Some(&t)).unwrap().after.as_deref(),
            Some("42")
        );
        let other_caller = Binding::new(&["ListChannels", "ai", "PUBLIC", "bob"]);
        assert!(s.request(&other_caller, None, Some(&t)).is_err());
        let mut edited = t.clone().into_bytes();
        edited[0] = if edited[0] == b'A' { b'B' } else { b'A' };
        assert!(s
            .request(&b, None, Some(std::str::from_utf8(&edited).unwrap()))
            .is_err());
        assert!(s.request(&b, None, Some("!!!")).is_err());
        assert!(s.request(&b, None, Some("")).is_err());
        assert!(PageSigner::new([8; 32])
            .request(&b, None, Some(&t))
            .is_err());
    }

    #[test]
    fn the_key_is_redacted_and_compared_whole() {
        let key = PageKey::new([0xab; 32]);
        let printed = format!("{key:?} {:?}", PageSigner::new(key.clone()));
        assert!(!printed.contains("171"), "{printed}");
        assert_eq!(
            printed,
            "PageKey([redacted]) PageSigner { key: PageKey([redacted]) }"
        );
        assert_eq!(key, PageKey::new([0xab; 32]));
        let mut last_differs = [0xab; 32];
        last_differs[31] = 0;
        assert_ne!(key, PageKey::new(last_differs));
    }

    #[test]
    fn page_sizes() {
        let s = PageSigner::new([0; 32]);
        let b = Binding::new(&["x"]);
        assert_eq!(s.request(&b, None, None).unwrap().limit, 50);
        assert!(s.request(&b, Some(0), None).is_err());
        assert!(s.request(&b, Some(51), None).is_err());
        assert_eq!(s.request(&b, Some(50), None).unwrap().limit, 50);
    }

    #[test]
    fn last_page_has_no_token() {
        let s = PageSigner::new([0; 32]);
        let b = Binding::new(&["x"]);
        let p = s.page(&b, 2, vec![1, 2, 3], |n| n.to_string());
        assert_eq!(p.items, vec![1, 2]);
        assert!(p.next_token.is_some());
        let p = s.page(&b, 2, vec![1, 2], |n| n.to_string());
        assert!(p.next_token.is_none());
    }
}
