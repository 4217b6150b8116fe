//! Channels: create, describe, update, delete, list (SEMANTICS.md §4.1).

use super::input::{check_expiration, check_tags, ExpirationInput, TagInput};
use super::{expiration_part, fingerprint, tags_part, Services};
use crate::arn::{ChannelKey, UserKey};
use crate::auth::Caller;
use crate::error::{CoreError, CoreResult};
use crate::events::{DomainEvent, Published};
use crate::model::{
    Channel, ChannelMode, ChannelPrivacy, ChannelUpdate, ExpirationCriterion, Idempotency,
    Membership, MembershipType, NewChannel, UserRef,
};
use crate::paging::{Binding, Page};
use crate::perm::Action;
use crate::validate;

/// CreateChannel input.
#[derive(Debug, Clone, Default)]
pub struct CreateChannel {
    /// AppInstanceArn (required).
    pub app_instance_arn: Option<String>,
    /// Name (required).
    pub name: Option<String>,
    /// Mode; UNRESTRICTED when omitted.
    pub mode: Option<String>,
    /// Privacy; PUBLIC when omitted.
    pub privacy: Option<String>,
    /// Metadata.
    pub metadata: Option<String>,
    /// ClientRequestToken (required).
    pub client_request_token: Option<String>,
    /// Tags.
    pub tags: Option<Vec<TagInput>>,
    /// Caller-chosen ChannelId.
    pub channel_id: Option<String>,
    /// Initial DEFAULT members (1–10).
    pub member_arns: Option<Vec<String>>,
    /// Initial moderators (1–10).
    pub moderator_arns: Option<Vec<String>>,
    /// Whether ElasticChannelConfiguration was given (Belfry does not support elastic channels).
    pub elastic: bool,
    /// ExpirationSettings.
    pub expiration: Option<ExpirationInput>,
}

/// UpdateChannel input; omitted members are left unchanged.
#[derive(Debug, Clone, Default)]
pub struct UpdateChannel {
    /// Name.
    pub name: Option<String>,
    /// Mode.
    pub mode: Option<String>,
    /// Metadata.
    pub metadata: Option<String>,
}

/// The part of a fingerprint that stands for a list of users.
fn users_part(users: &[UserKey]) -> String {
    users
        .iter()
        .map(|u| u.user_id.as_str())
        .collect::<Vec<_>>()
        .join("\u{1}")
}

impl Services {
    /// Resolves a list of user ARNs from the request body to users of `app_instance_id`;
    /// unknown users are a BadRequest. Duplicates are dropped.
    async fn body_users(
        &self,
        field: &str,
        app_instance_id: &str,
        arns: Option<Vec<String>>,
    ) -> CoreResult<Vec<UserRef>> {
        let Some(arns) = arns else {
            return Ok(Vec::new());
        };
        validate::count(field, arns.len(), 1, 10)?;
        let mut out: Vec<UserRef> = Vec::new();
        for arn in arns {
            let parsed = self.arns.parse_user(field, &arn)?;
            let user = if parsed.local && parsed.id.app_instance_id == app_instance_id {
                self.store.get_user(&parsed.id).await?
            } else {
                None
            };
            let Some(user) = user else {
                return Err(CoreError::bad(format!(
                    "{field}: the AppInstanceUser {arn} does not exist in this AppInstance."
                )));
            };
            if !out.iter().any(|u| u.key == user.key) {
                out.push(UserRef {
                    key: user.key,
                    name: Some(user.name),
                });
            }
        }
        Ok(out)
    }

    /// CreateChannel: the creator becomes its first moderator and its first DEFAULT member
    /// (invited by itself), as AWS does for non-elastic channels.
    pub async fn create_channel(
        &self,
        caller: &Caller,
        bearer: Option<&str>,
        input: CreateChannel,
    ) -> CoreResult<String> {
        let app_arn = validate::required("AppInstanceArn", input.app_instance_arn)?;
        let app = self.arns.parse_app_instance("AppInstanceArn", &app_arn)?;
        let name = validate::required("Name", input.name)?;
        validate::resource_name("Name", &name)?;
        let mode = match &input.mode {
            Some(m) => ChannelMode::parse("Mode", m)?,
            None => ChannelMode::Unrestricted,
        };
        let privacy = match &input.privacy {
            Some(p) => ChannelPrivacy::parse("Privacy", p)?,
            None => ChannelPrivacy::Public,
        };
        if let Some(m) = &input.metadata {
            validate::metadata("Metadata", m)?;
        }
        let token = validate::required("ClientRequestToken", input.client_request_token)?;
        validate::client_request_token("ClientRequestToken", &token)?;
        let tags = check_tags("Tags", input.tags)?;
        if let Some(id) = &input.channel_id {
            validate::resource_id("ChannelId", id)?;
        }
        let expiration = check_expiration(
            input.expiration,
            &[
                ExpirationCriterion::CreatedTimestamp,
                ExpirationCriterion::LastMessageTimestamp,
            ],
        )?;
        if input.elastic {
            return Err(CoreError::bad(
                "ElasticChannelConfiguration: elastic channels are not supported by this server.",
            ));
        }
        for (field, arns) in [
            ("ModeratorArns", &input.moderator_arns),
            ("MemberArns", &input.member_arns),
        ] {
            if let Some(arns) = arns {
                validate::count(field, arns.len(), 1, 10)?;
                for (i, a) in arns.iter().enumerate() {
                    validate::chime_arn(&format!("{field}.{}.member", i + 1), a)?;
                }
            }
        }
        let creator_user = self.bearer_user(caller, bearer, &app.id).await?;
        let creator = creator_user.key.clone();
        if !app.local {
            return Err(CoreError::bad(format!(
                "The AppInstance {app_arn} does not exist."
            )));
        }
        let mut moderators = vec![creator.clone()];
        for m in self
            .body_users("ModeratorArns", &app.id, input.moderator_arns)
            .await?
        {
            if !moderators.contains(&m.key) {
                moderators.push(m.key);
            }
        }
        let listed = self
            .body_users("MemberArns", &app.id, input.member_arns)
            .await?;
        // The fingerprint covers MemberArns as given, without the creator.
        let member_keys: Vec<UserKey> = listed.iter().map(|m| m.key.clone()).collect();
        let creator_ref = UserRef {
            key: creator.clone(),
            name: Some(creator_user.name),
        };
        let mut members = vec![creator_ref.clone()];
        members.extend(listed.into_iter().filter(|m| m.key != creator));
        let now = self.clock.now();
        let idem = Idempotency {
            scope: format!("CreateChannel/{}/{}", app.id, creator.user_id),
            fingerprint: fingerprint(&[
                &name,
                mode.as_str(),
                privacy.as_str(),
                input.metadata.as_deref().unwrap_or(""),
                input.channel_id.as_deref().unwrap_or(""),
                &users_part(&moderators),
                &users_part(&member_keys),
                &tags_part(&tags),
                &expiration_part(expiration),
            ]),
            token,
        };
        let key = ChannelKey {
            app_instance_id: app.id.clone(),
            channel_id: input.channel_id.unwrap_or_else(crate::ids::channel_id),
        };
        let channel = Channel {
            key,
            name,
            mode,
            privacy,
            metadata: input.metadata,
            created_by: UserRef {
                key: creator,
                name: None,
            },
            created: now,
            updated: now,
            last_message: None,
            expiration,
        };
        let new = NewChannel {
            channel: channel.clone(),
            moderators,
            members: members.iter().map(|m| m.key.clone()).collect(),
            tags,
        };
        let created = self
            .store
            .create_channel(
                new,
                idem,
                self.limits.channels_per_app_instance,
                self.membership_limits(),
            )
            .await?;
        if !created.replayed {
            // The store numbered the members' events 1..=n in this order.
            for (seq, member) in (1..).zip(members) {
                self.events.publish(Published::at(
                    seq,
                    DomainEvent::MembershipCreated(Membership {
                        channel: channel.key.clone(),
                        member,
                        invited_by: creator_ref.clone(),
                        kind: MembershipType::Default,
                        created: now,
                        updated: now,
                        read_marker: None,
                    }),
                ));
            }
        }
        Ok(self.arns.channel(&app.id, &created.id))
    }

    /// DescribeChannel.
    pub async fn describe_channel(
        &self,
        caller: &Caller,
        bearer: Option<&str>,
        arn: &str,
    ) -> CoreResult<Channel> {
        let access = self.channel_access(caller, bearer, arn).await?;
        self.check(&access, Action::Describe, "")?;
        Ok(access.channel)
    }

    /// UpdateChannel: admins and moderators; omitted members stay as they are.
    pub async fn update_channel(
        &self,
        caller: &Caller,
        bearer: Option<&str>,
        arn: &str,
        input: UpdateChannel,
    ) -> CoreResult<String> {
        if let Some(n) = &input.name {
            validate::resource_name("Name", n)?;
        }
        let mode = input
            .mode
            .as_deref()
            .map(|m| ChannelMode::parse("Mode", m))
            .transpose()?;
        if let Some(m) = &input.metadata {
            validate::metadata("Metadata", m)?;
        }
        let access = self.channel_access(caller, bearer, arn).await?;
        self.check(&access, Action::Update, "")?;
        let update = ChannelUpdate {
            name: input.name,
            mode,
            metadata: input.metadata,
        };
        let (channel, seq) = self
            .store
            .update_channel(&access.channel.key, update, self.clock.now())
            .await?;
        self.events
            .publish(Published::at(seq, DomainEvent::ChannelUpdated(channel)));
        Ok(arn.to_string())
    }

    /// DeleteChannel: admins and moderators; everything in the channel goes with it.
    pub async fn delete_channel(
        &self,
        caller: &Caller,
        bearer: Option<&str>,
        arn: &str,
    ) -> CoreResult<()> {
        let access = self.channel_access(caller, bearer, arn).await?;
        self.check(&access, Action::Delete, "")?;
        let (channel, seq) = self.store.delete_channel(&access.channel.key).await?;
        self.events
            .publish(Published::at(seq, DomainEvent::ChannelDeleted(channel)));
        Ok(())
    }

    /// ListChannels: PUBLIC for everyone in the AppInstance, PRIVATE for AppInstanceAdmins only.
    pub async fn list_channels(
        &self,
        caller: &Caller,
        bearer: Option<&str>,
        app_arn: Option<&str>,
        privacy: Option<&str>,
        max_results: Option<i64>,
        next_token: Option<&str>,
    ) -> CoreResult<Page<Channel>> {
        let app_arn = validate::required("AppInstanceArn", app_arn)?;
        let app = self.arns.parse_app_instance("AppInstanceArn", app_arn)?;
        let privacy = match privacy {
            Some(p) => ChannelPrivacy::parse("Privacy", p)?,
            None => ChannelPrivacy::Public,
        };
        let bearer = self.bearer(caller, bearer, &app.id).await?;
        if !app.local {
            return Err(CoreError::bad(format!(
                "The AppInstance {app_arn} does not exist."
            )));
        }
        let binding = Binding::new(&["ListChannels", &app.id, privacy.as_str(), &bearer.user_id]);
        let admin = privacy == ChannelPrivacy::Private && self.store.is_admin(&bearer).await?;
        let guard = || {
            if privacy == ChannelPrivacy::Private && !admin {
                return Err(CoreError::forbidden(
                    "Only an AppInstanceAdmin may list PRIVATE channels.",
                ));
            }
            Ok(())
        };
        self.seq_page(binding, max_results, next_token, guard, |after, limit| {
            self.store.list_channels(&app.id, privacy, after, limit)
        })
        .await
    }
}
