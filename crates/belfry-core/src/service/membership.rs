//! Channel memberships (SEMANTICS.md §4.2).

use super::input::no_sub_channel;
use super::Services;
use crate::arn::UserKey;
use crate::auth::Caller;
use crate::error::{CoreError, CoreResult};
use crate::events::{DomainEvent, Published};
use crate::model::{Membership, MembershipType, UserMembership, UserRef};
use crate::paging::{Binding, Page};
use crate::perm::{Action, Target};
use crate::store::MembershipLimits;
use crate::validate;

/// One member BatchCreateChannelMembership could not add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchError {
    /// The ARN as given.
    pub member_arn: String,
    /// The short ErrorCode (`Conflict`, `Forbidden`, `NotFound`, `BadRequest`, …).
    pub code: &'static str,
    /// Why.
    pub message: String,
}

/// What BatchCreateChannelMembership did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchOutcome {
    /// The bearer.
    pub invited_by: UserRef,
    /// The type given to every new membership.
    pub kind: MembershipType,
    /// The members added.
    pub members: Vec<UserRef>,
    /// The members not added, and why.
    pub errors: Vec<BatchError>,
}

/// The short ErrorCode of the model's ErrorCode enum for a core error.
fn short_code(e: &CoreError) -> &'static str {
    match e {
        CoreError::BadRequest(_) => "BadRequest",
        CoreError::Unauthorized(_) => "Unauthorized",
        CoreError::Forbidden(_) => "Forbidden",
        CoreError::NotFound(_) => "NotFound",
        CoreError::Conflict(_) => "Conflict",
        CoreError::ResourceLimitExceeded(_) => "ResourceLimitExceeded",
        CoreError::Throttled(_) => "Throttled",
        CoreError::ServiceUnavailable(_) => "ServiceUnavailable",
        CoreError::Internal(_) => "ServiceFailure",
    }
}

fn membership_type(
    field: &str,
    value: Option<&str>,
    default: Option<MembershipType>,
) -> CoreResult<MembershipType> {
    match value {
        Some(v) => MembershipType::parse(field, v),
        None => validate::required(field, default),
    }
}

impl Services {
    pub(crate) fn membership_limits(&self) -> MembershipLimits {
        MembershipLimits {
            per_channel: self.limits.members_per_channel,
            per_user: self.limits.memberships_per_user,
        }
    }

    /// CreateChannelMembership.
    pub async fn create_channel_membership(
        &self,
        caller: &Caller,
        bearer: Option<&str>,
        arn: &str,
        member_arn: Option<String>,
        kind: Option<String>,
        sub_channel_id: Option<String>,
    ) -> CoreResult<Membership> {
        let member_arn = validate::required("MemberArn", member_arn)?;
        validate::chime_arn("MemberArn", &member_arn)?;
        let kind = membership_type("Type", kind.as_deref(), None)?;
        no_sub_channel(sub_channel_id.as_deref())?;
        let access = self.channel_access(caller, bearer, arn).await?;
        let (member, target) = self
            .target(&access, "MemberArn", &member_arn, CoreError::NotFound)
            .await?;
        let action = Action::AddMember {
            hidden: kind == MembershipType::Hidden,
            target,
        };
        self.check(&access, action, &member_arn)?;
        let (membership, seq) = self
            .store
            .create_membership(
                &access.channel.key,
                &member,
                kind,
                &access.bearer,
                self.clock.now(),
                self.membership_limits(),
            )
            .await?;
        self.events.publish(Published::at(
            seq,
            DomainEvent::MembershipCreated(membership.clone()),
        ));
        Ok(membership)
    }

    /// BatchCreateChannelMembership: the bearer's own permission is checked once for the whole
    /// call; problems with single members are reported in `errors` and the rest are added.
    pub async fn batch_create_channel_membership(
        &self,
        caller: &Caller,
        bearer: Option<&str>,
        arn: &str,
        member_arns: Option<Vec<String>>,
        kind: Option<String>,
        sub_channel_id: Option<String>,
    ) -> CoreResult<BatchOutcome> {
        let member_arns = validate::required("MemberArns", member_arns)?;
        validate::count("MemberArns", member_arns.len(), 1, 100)?;
        for (i, a) in member_arns.iter().enumerate() {
            validate::chime_arn(&format!("MemberArns.{}.member", i + 1), a)?;
        }
        let kind = membership_type("Type", kind.as_deref(), Some(MembershipType::Default))?;
        no_sub_channel(sub_channel_id.as_deref())?;
        let access = self.channel_access(caller, bearer, arn).await?;
        let hidden = kind == MembershipType::Hidden;
        // Whether the bearer may add members at all decides the whole call, before any member
        // is looked at, so a refused caller learns nothing about which users exist.
        let bearer_arn = self
            .arns
            .user(&access.bearer.app_instance_id, &access.bearer.user_id);
        let as_new = Target {
            is_self: member_arns.iter().all(|a| *a == bearer_arn),
            roles: Default::default(),
        };
        self.check(
            &access,
            Action::AddMember {
                hidden,
                target: as_new,
            },
            arn,
        )?;

        let mut errors = Vec::new();
        let mut candidates: Vec<(String, UserKey)> = Vec::new();
        for member_arn in member_arns {
            let seen = candidates.iter().any(|(a, _)| *a == member_arn)
                || errors
                    .iter()
                    .any(|e: &BatchError| e.member_arn == member_arn);
            if seen {
                continue;
            }
            let checked = match self
                .target(&access, "MemberArns", &member_arn, CoreError::NotFound)
                .await
            {
                Ok((key, target)) => self
                    .check(&access, Action::AddMember { hidden, target }, &member_arn)
                    .map(|()| key),
                Err(e) => Err(e),
            };
            match checked {
                Ok(key) => candidates.push((member_arn, key)),
                Err(e @ CoreError::Internal(_)) => return Err(e),
                Err(e) => errors.push(BatchError {
                    member_arn,
                    code: short_code(&e),
                    message: e.to_string(),
                }),
            }
        }
        let keys: Vec<UserKey> = candidates.iter().map(|(_, k)| k.clone()).collect();
        let (outcomes, seq) = if keys.is_empty() {
            (Vec::new(), None)
        } else {
            self.store
                .batch_create_memberships(
                    &access.channel.key,
                    keys,
                    kind,
                    &access.bearer,
                    self.clock.now(),
                    self.membership_limits(),
                )
                .await?
        };
        let mut members = Vec::new();
        // The batch has committed by now: whatever goes wrong below, its event must still be
        // published (the realtime hub waits for every number a channel hands out).
        let mut internal = None;
        for ((member_arn, _), outcome) in candidates.into_iter().zip(outcomes) {
            match outcome.map_err(CoreError::from) {
                Ok(m) => members.push(m.member),
                Err(e @ CoreError::Internal(_)) => {
                    internal.get_or_insert(e);
                }
                Err(e) => errors.push(BatchError {
                    member_arn,
                    code: short_code(&e),
                    message: e.to_string(),
                }),
            }
        }
        let invited_by = UserRef {
            name: self
                .store
                .get_user(&access.bearer)
                .await
                .ok()
                .flatten()
                .map(|u| u.name),
            key: access.bearer,
        };
        if let Some(seq) = seq {
            self.events.publish(Published::at(
                seq,
                DomainEvent::MembershipsBatchCreated {
                    channel: access.channel,
                    invited_by: invited_by.clone(),
                    kind,
                    members: members.clone(),
                },
            ));
        }
        if let Some(e) = internal {
            return Err(e);
        }
        Ok(BatchOutcome {
            invited_by,
            kind,
            members,
            errors,
        })
    }

    /// DescribeChannelMembership.
    pub async fn describe_channel_membership(
        &self,
        caller: &Caller,
        bearer: Option<&str>,
        arn: &str,
        member_arn: &str,
        sub_channel_id: Option<&str>,
    ) -> CoreResult<Membership> {
        no_sub_channel(sub_channel_id)?;
        let access = self.channel_access(caller, bearer, arn).await?;
        let (member, target) = self
            .target(&access, "MemberArn", member_arn, CoreError::NotFound)
            .await?;
        self.check(&access, Action::DescribeMember { target }, member_arn)?;
        self.store
            .get_membership(&access.channel.key, &member)
            .await?
            .ok_or_else(|| {
                CoreError::not_found(format!("{member_arn} is not a member of channel {arn}."))
            })
    }

    /// ListChannelMemberships: DEFAULT members unless `type=HIDDEN` is asked for.
    #[allow(clippy::too_many_arguments)]
    pub async fn list_channel_memberships(
        &self,
        caller: &Caller,
        bearer: Option<&str>,
        arn: &str,
        kind: Option<&str>,
        max_results: Option<i64>,
        next_token: Option<&str>,
        sub_channel_id: Option<&str>,
    ) -> CoreResult<Page<UserRef>> {
        let kind = membership_type("Type", kind, Some(MembershipType::Default))?;
        no_sub_channel(sub_channel_id)?;
        let access = self.channel_access(caller, bearer, arn).await?;
        let binding = Binding::new(&[
            "ListChannelMemberships",
            arn,
            kind.as_str(),
            &access.bearer.user_id,
        ]);
        let guard = || {
            let hidden = kind == MembershipType::Hidden;
            self.check(&access, Action::ListMembers { hidden }, "")?;
            Ok(())
        };
        self.seq_page(binding, max_results, next_token, guard, |after, limit| {
            self.store
                .list_memberships(&access.channel.key, kind, after, limit)
        })
        .await
    }

    /// DeleteChannelMembership: returns the membership as it was.
    pub async fn delete_channel_membership(
        &self,
        caller: &Caller,
        bearer: Option<&str>,
        arn: &str,
        member_arn: &str,
        sub_channel_id: Option<&str>,
    ) -> CoreResult<Membership> {
        no_sub_channel(sub_channel_id)?;
        let access = self.channel_access(caller, bearer, arn).await?;
        let (member, target) = self
            .target(&access, "MemberArn", member_arn, CoreError::NotFound)
            .await?;
        self.check(&access, Action::RemoveMember { target }, member_arn)?;
        let (removed, seq) = self
            .store
            .delete_membership(&access.channel.key, &member)
            .await?;
        self.events.publish(Published::at(
            seq,
            DomainEvent::MembershipDeleted(removed.clone()),
        ));
        Ok(removed)
    }

    /// Resolves the `app-instance-user-arn` of the ForAppInstanceUser operations: the bearer
    /// itself when absent; someone else only for an AppInstanceAdmin. Returns (bearer, user).
    pub(crate) async fn user_scope(
        &self,
        caller: &Caller,
        bearer: Option<&str>,
        user_arn: Option<&str>,
    ) -> CoreResult<(UserKey, UserKey)> {
        let given = user_arn
            .map(|a| self.arns.parse_user("AppInstanceUserArn", a))
            .transpose()?;
        let app_instance_id = match (&given, bearer) {
            (Some(g), _) => g.id.app_instance_id.clone(),
            // The bearer names its own AppInstance; `bearer()` refuses it if it is unusable.
            (None, Some(b)) => self
                .arns
                .parse_user("x-amz-chime-bearer", b)
                .map(|p| p.id.app_instance_id)
                .unwrap_or_default(),
            (None, None) => String::new(),
        };
        let me = self.bearer(caller, bearer, &app_instance_id).await?;
        let user = match given {
            None => me.clone(),
            Some(g) => {
                if g.id != me && !self.store.is_admin(&me).await? {
                    return Err(CoreError::forbidden(
                        "Only an AppInstanceAdmin may ask about another AppInstanceUser.",
                    ));
                }
                if !g.local || self.store.get_user(&g.id).await?.is_none() {
                    return Err(CoreError::not_found(format!(
                        "The AppInstanceUser {} does not exist.",
                        user_arn.unwrap_or_default()
                    )));
                }
                g.id
            }
        };
        Ok((me, user))
    }

    /// DescribeChannelMembershipForAppInstanceUser.
    pub async fn describe_channel_membership_for_app_instance_user(
        &self,
        caller: &Caller,
        bearer: Option<&str>,
        arn: &str,
        user_arn: Option<&str>,
    ) -> CoreResult<UserMembership> {
        let user_arn = validate::required("AppInstanceUserArn", user_arn)?;
        let parsed = self.arns.parse_user("AppInstanceUserArn", user_arn)?;
        let access = self.channel_access(caller, bearer, arn).await?;
        let not_held =
            || CoreError::not_found(format!("{user_arn} is not a member of channel {arn}."));
        let user = self.asked_about(&access, parsed, not_held)?;
        let m = self
            .store
            .get_membership(&access.channel.key, &user)
            .await?
            .ok_or_else(not_held)?;
        Ok(UserMembership {
            channel: access.channel,
            kind: m.kind,
            read_marker: m.read_marker,
        })
    }

    /// ListChannelMembershipsForAppInstanceUser.
    pub async fn list_channel_memberships_for_app_instance_user(
        &self,
        caller: &Caller,
        bearer: Option<&str>,
        user_arn: Option<&str>,
        max_results: Option<i64>,
        next_token: Option<&str>,
    ) -> CoreResult<Page<UserMembership>> {
        let (me, user) = self.user_scope(caller, bearer, user_arn).await?;
        let binding = Binding::new(&[
            "ListChannelMembershipsForAppInstanceUser",
            &user.app_instance_id,
            &user.user_id,
            &me.user_id,
        ]);
        self.seq_page(
            binding,
            max_results,
            next_token,
            || Ok(()),
            |after, limit| self.store.list_user_memberships(&user, after, limit),
        )
        .await
    }
}
