//! ARNs: formatting the server's own, and parsing what clients send (SEMANTICS.md §1.3, §3.1).
//! Only the first five `:` separate fields; user ids may contain `:` and `@`, so the resource part
//! is split on `/` only.

use crate::error::{CoreError, CoreResult};
use crate::validate;

/// The partition, region and account this server answers as; every ARN it makes carries them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArnContext {
    /// Always `aws` for now.
    pub partition: String,
    /// e.g. `us-east-1`.
    pub region: String,
    /// 12-digit account id.
    pub account: String,
}

/// What an ARN names, once parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// `app-instance/{id}`
    AppInstance {
        /// AppInstance id.
        app_instance_id: String,
    },
    /// `app-instance/{id}/user/{user}`
    User {
        /// AppInstance id.
        app_instance_id: String,
        /// AppInstanceUserId.
        user_id: String,
    },
    /// `app-instance/{id}/bot/{bot}`
    Bot {
        /// AppInstance id.
        app_instance_id: String,
        /// Bot id.
        bot_id: String,
    },
    /// `app-instance/{id}/channel/{channel}`
    Channel {
        /// AppInstance id.
        app_instance_id: String,
        /// Channel id.
        channel_id: String,
    },
}

/// A parsed ARN: the resource, and whether it belongs to this server's region and account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedArn {
    /// The named resource.
    pub resource: Resource,
    /// False when partition, service, region or account are not this server's: such a resource
    /// cannot exist here.
    pub local: bool,
}

impl ArnContext {
    fn prefix(&self) -> String {
        format!(
            "arn:{}:chime:{}:{}:app-instance/",
            self.partition, self.region, self.account
        )
    }

    /// The ARN of an AppInstance.
    pub fn app_instance(&self, app_instance_id: &str) -> String {
        format!("{}{app_instance_id}", self.prefix())
    }

    /// The ARN of an AppInstanceUser.
    pub fn user(&self, app_instance_id: &str, user_id: &str) -> String {
        format!("{}{app_instance_id}/user/{user_id}", self.prefix())
    }

    /// The ARN of a channel.
    pub fn channel(&self, app_instance_id: &str, channel_id: &str) -> String {
        format!("{}{app_instance_id}/channel/{channel_id}", self.prefix())
    }

    /// Validates `value` as a `ChimeArn` (BadRequest naming `field`) and parses what it names.
    /// An ARN of the right shape but of a kind Belfry does not know is a BadRequest too.
    pub fn parse(&self, field: &str, value: &str) -> CoreResult<ParsedArn> {
        validate::chime_arn(field, value)?;
        let bad = || {
            CoreError::bad(format!(
                "{field} is not a valid Amazon Chime SDK ARN: {value}"
            ))
        };
        let mut fields = value.splitn(6, ':');
        let (_, partition, service, region, account, resource) = (
            fields.next(),
            fields.next().unwrap_or_default(),
            fields.next().unwrap_or_default(),
            fields.next().unwrap_or_default(),
            fields.next().unwrap_or_default(),
            fields.next().unwrap_or_default(),
        );
        let parts: Vec<&str> = resource.split('/').collect();
        let resource = match parts.as_slice() {
            ["app-instance", app] if !app.is_empty() => Resource::AppInstance {
                app_instance_id: app.to_string(),
            },
            ["app-instance", app, kind, id] if !app.is_empty() && !id.is_empty() => {
                let (app_instance_id, id) = (app.to_string(), id.to_string());
                match *kind {
                    "user" => Resource::User {
                        app_instance_id,
                        user_id: id,
                    },
                    "bot" => Resource::Bot {
                        app_instance_id,
                        bot_id: id,
                    },
                    "channel" => Resource::Channel {
                        app_instance_id,
                        channel_id: id,
                    },
                    _ => return Err(bad()),
                }
            }
            _ => return Err(bad()),
        };
        let local = partition == self.partition
            && service == "chime"
            && region == self.region
            && account == self.account;
        Ok(ParsedArn { resource, local })
    }

    /// Parses an AppInstance ARN; any other kind is a BadRequest.
    pub fn parse_app_instance(&self, field: &str, value: &str) -> CoreResult<LocalId<String>> {
        match self.parse(field, value)? {
            ParsedArn {
                resource: Resource::AppInstance { app_instance_id },
                local,
            } => Ok(LocalId {
                id: app_instance_id,
                local,
            }),
            _ => Err(CoreError::bad(format!(
                "{field} must be an AppInstance ARN: {value}"
            ))),
        }
    }

    /// Parses an AppInstanceUser ARN; any other kind is a BadRequest.
    pub fn parse_user(&self, field: &str, value: &str) -> CoreResult<LocalId<UserKey>> {
        match self.parse(field, value)? {
            ParsedArn {
                resource:
                    Resource::User {
                        app_instance_id,
                        user_id,
                    },
                local,
            } => Ok(LocalId {
                id: UserKey {
                    app_instance_id,
                    user_id,
                },
                local,
            }),
            _ => Err(CoreError::bad(format!(
                "{field} must be an AppInstanceUser ARN: {value}"
            ))),
        }
    }

    /// Parses a channel ARN; any other kind is a BadRequest.
    pub fn parse_channel(&self, field: &str, value: &str) -> CoreResult<LocalId<ChannelKey>> {
        match self.parse(field, value)? {
            ParsedArn {
                resource:
                    Resource::Channel {
                        app_instance_id,
                        channel_id,
                    },
                local,
            } => Ok(LocalId {
                id: ChannelKey {
                    app_instance_id,
                    channel_id,
                },
                local,
            }),
            _ => Err(CoreError::bad(format!(
                "{field} must be a channel ARN: {value}"
            ))),
        }
    }
}

/// A parsed id plus whether it is in this server's region and account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalId<T> {
    /// The id.
    pub id: T,
    /// See [`ParsedArn::local`].
    pub local: bool,
}

/// Identifies an AppInstanceUser.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct UserKey {
    /// AppInstance id.
    pub app_instance_id: String,
    /// AppInstanceUserId.
    pub user_id: String,
}

/// Identifies a channel.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct ChannelKey {
    /// AppInstance id.
    pub app_instance_id: String,
    /// Channel id.
    pub channel_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> ArnContext {
        ArnContext {
            partition: "aws".into(),
            region: "us-east-1".into(),
            account: "000000000000".into(),
        }
    }

    #[test]
    fn round_trips_and_colons_in_user_ids() {
        let c = ctx();
        let arn = c.user("ai", "us-east-1:b7ea@x");
        let parsed = c.parse_user("MemberArn", &arn).unwrap();
        assert!(parsed.local);
        assert_eq!(parsed.id.user_id, "us-east-1:b7ea@x");
        let ch = c
            .parse_channel("ChannelArn", &c.channel("ai", "abc"))
            .unwrap();
        assert_eq!(ch.id.channel_id, "abc");
    }

    #[test]
    fn foreign_and_wrong_kinds() {
        let c = ctx();
        let other = "arn:aws:chime:eu-west-1:000000000000:app-instance/ai/user/u";
        assert!(!c.parse_user("X", other).unwrap().local);
        assert!(c.parse_user("X", &c.channel("ai", "c")).is_err());
        assert!(c
            .parse_channel("X", "arn:aws:chime:us-east-1:0:app-instance/ai/thing/c")
            .is_err());
        assert!(c
            .parse_app_instance("X", "arn:aws:chime:us-east-1:0:app-instance/")
            .is_err());
    }
}
