//! Who is calling: the credential that signed the request and what it may do.

use crate::error::{CoreError, CoreResult};

/// What a credential may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// The account's developer: every operation, acting as any bearer.
    Admin,
    /// An application key: only bearer-scoped (messaging) operations, and only as a bearer whose
    /// ARN matches one of these patterns (`*` matches any run of characters).
    Bearers(Vec<String>),
}

/// The authenticated caller of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The access key id that signed the request.
    pub access_key_id: String,
    /// What it may do.
    pub grant: Grant,
}

impl Caller {
    /// Developer operations (Identity, tags, no bearer) need the admin grant.
    pub fn require_developer(&self, operation: &str) -> CoreResult<()> {
        match self.grant {
            Grant::Admin => Ok(()),
            Grant::Bearers(_) => Err(CoreError::forbidden(format!(
                "The access key {} is not allowed to call {operation}.",
                self.access_key_id
            ))),
        }
    }

    /// Whether this caller may act as the AppInstanceUser `arn`.
    pub fn may_act_as(&self, arn: &str) -> bool {
        match &self.grant {
            Grant::Admin => true,
            Grant::Bearers(patterns) => patterns.iter().any(|p| glob_match(p, arn)),
        }
    }
}

/// `*` matches any run of characters (including none); everything else matches itself.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, rest) = (parts[0], &parts[1..]);
    let Some(mut remaining) = text.strip_prefix(first) else {
        return false;
    };
    let last = rest.len() - 1;
    for (i, part) in rest.iter().enumerate() {
        if i == last {
            return remaining.ends_with(part);
        }
        match remaining.find(part) {
            Some(pos) => remaining = &remaining[pos + part.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs() {
        let cases = [
            ("a*", "abc", true),
            ("*c", "abc", true),
            ("a*c", "abc", true),
            ("a*c", "ab", false),
            ("abc", "abc", true),
            ("abc", "abcd", false),
            ("*/user/alice", "arn:x/user/alice", true),
            ("*/user/alice", "arn:x/user/alice2", false),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "aXcYb", false),
        ];
        for (p, t, want) in cases {
            assert_eq!(glob_match(p, t), want, "{p} vs {t}");
        }
    }
}
