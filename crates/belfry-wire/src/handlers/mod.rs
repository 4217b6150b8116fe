//! Handlers, one module per resource family. Each turns the wire request into core input,
//! calls one service method, and shapes the reply. The match below is exhaustive, so a new
//! operation in the table cannot go unhandled.

mod app_instance;
mod channel;
mod membership;
pub(crate) mod message;
mod moderation;
mod session;
mod tags;
mod user;

use belfry_core::CoreError;
use serde::Serialize;

use crate::error::ApiError;
use crate::ops::Op;
use crate::request::ApiRequest;
use crate::server::AppState;

/// A successful reply body; the status comes from the operation table.
#[derive(Debug)]
pub enum Reply {
    /// A JSON document.
    Json(Vec<u8>),
    /// No body (204 operations).
    Empty,
}

impl Reply {
    /// Serializes `value` as the reply.
    pub fn json<T: Serialize>(value: &T) -> Result<Reply, ApiError> {
        serde_json::to_vec(value)
            .map(Reply::Json)
            .map_err(|e| ApiError::Core(CoreError::internal(e)))
    }
}

/// Runs the handler of `op`.
pub async fn handle(op: Op, state: &AppState, req: &ApiRequest) -> Result<Reply, ApiError> {
    let s = &state.services;
    match op {
        Op::CreateAppInstance => app_instance::create(s, req).await,
        Op::DescribeAppInstance => app_instance::describe(s, req).await,
        Op::ListAppInstances => app_instance::list(s, req).await,
        Op::UpdateAppInstance => app_instance::update(s, req).await,
        Op::DeleteAppInstance => app_instance::delete(s, req).await,
        Op::CreateAppInstanceAdmin => app_instance::create_admin(s, req).await,
        Op::DescribeAppInstanceAdmin => app_instance::describe_admin(s, req).await,
        Op::ListAppInstanceAdmins => app_instance::list_admins(s, req).await,
        Op::DeleteAppInstanceAdmin => app_instance::delete_admin(s, req).await,
        Op::CreateAppInstanceUser => user::create(s, req).await,
        Op::DescribeAppInstanceUser => user::describe(s, req).await,
        Op::ListAppInstanceUsers => user::list(s, req).await,
        Op::UpdateAppInstanceUser => user::update(s, req).await,
        Op::DeleteAppInstanceUser => user::delete(s, req).await,
        Op::CreateChannel => channel::create(s, req).await,
        Op::DescribeChannel => channel::describe(s, req).await,
        Op::UpdateChannel => channel::update(s, req).await,
        Op::DeleteChannel => channel::delete(s, req).await,
        Op::ListChannels => channel::list(s, req).await,
        Op::CreateChannelMembership => membership::create(s, req).await,
        Op::BatchCreateChannelMembership => membership::batch_create(s, req).await,
        Op::DescribeChannelMembership => membership::describe(s, req).await,
        Op::ListChannelMemberships => membership::list(s, req).await,
        Op::DeleteChannelMembership => membership::delete(s, req).await,
        Op::DescribeChannelMembershipForAppInstanceUser => {
            membership::describe_for_user(s, req).await
        }
        Op::ListChannelMembershipsForAppInstanceUser => membership::list_for_user(s, req).await,
        Op::CreateChannelModerator => moderation::create_moderator(s, req).await,
        Op::DescribeChannelModerator => moderation::describe_moderator(s, req).await,
        Op::ListChannelModerators => moderation::list_moderators(s, req).await,
        Op::DeleteChannelModerator => moderation::delete_moderator(s, req).await,
        Op::DescribeChannelModeratedByAppInstanceUser => {
            moderation::describe_moderated(s, req).await
        }
        Op::ListChannelsModeratedByAppInstanceUser => moderation::list_moderated(s, req).await,
        Op::CreateChannelBan => moderation::create_ban(s, req).await,
        Op::DescribeChannelBan => moderation::describe_ban(s, req).await,
        Op::ListChannelBans => moderation::list_bans(s, req).await,
        Op::DeleteChannelBan => moderation::delete_ban(s, req).await,
        Op::SendChannelMessage => message::send(s, req).await,
        Op::GetChannelMessage => message::get(s, req).await,
        Op::ListChannelMessages => message::list(s, req).await,
        Op::UpdateChannelMessage => message::update(s, req).await,
        Op::RedactChannelMessage => message::redact(s, req).await,
        Op::DeleteChannelMessage => message::delete(s, req).await,
        Op::UpdateChannelReadMarker => message::read_marker(s, req).await,
        Op::ListTagsForResource => tags::list(s, req).await,
        Op::TagResource => tags::tag(s, req).await,
        Op::UntagResource => tags::untag(s, req).await,
        Op::GetMessagingSessionEndpoint => {
            session::endpoint(state.realtime.public_endpoint.as_deref(), req)
        }
    }
}

/// Decodes the body `op`'s handler reads, and nothing else: lets the JSON property tests reach
/// every operation's input shape without a store. Exhaustive, like [`handle`], so a new
/// operation's body cannot be left out.
#[cfg(test)]
pub(crate) fn decode_body(op: Op, req: &ApiRequest) -> Result<(), ApiError> {
    fn read<T: serde::de::DeserializeOwned>(req: &ApiRequest) -> Result<(), ApiError> {
        req.json::<T>().map(drop)
    }
    match op {
        Op::CreateAppInstance => read::<app_instance::CreateBody>(req),
        Op::UpdateAppInstance => read::<app_instance::UpdateBody>(req),
        Op::CreateAppInstanceAdmin => read::<app_instance::CreateAdminBody>(req),
        Op::CreateAppInstanceUser => read::<user::CreateBody>(req),
        Op::UpdateAppInstanceUser => read::<user::UpdateBody>(req),
        Op::CreateChannel => read::<channel::CreateBody>(req),
        Op::UpdateChannel => read::<channel::UpdateBody>(req),
        Op::CreateChannelMembership => read::<membership::CreateBody>(req),
        Op::BatchCreateChannelMembership => read::<membership::BatchBody>(req),
        Op::CreateChannelModerator => read::<moderation::CreateModeratorBody>(req),
        Op::CreateChannelBan => read::<moderation::CreateBanBody>(req),
        Op::SendChannelMessage => read::<message::SendBody>(req),
        Op::UpdateChannelMessage => read::<message::UpdateBody>(req),
        Op::RedactChannelMessage => read::<message::RedactBody>(req),
        Op::TagResource => read::<tags::TagBody>(req),
        Op::UntagResource => read::<tags::UntagBody>(req),
        Op::DescribeAppInstance
        | Op::ListAppInstances
        | Op::DeleteAppInstance
        | Op::DescribeAppInstanceAdmin
        | Op::ListAppInstanceAdmins
        | Op::DeleteAppInstanceAdmin
        | Op::DescribeAppInstanceUser
        | Op::ListAppInstanceUsers
        | Op::DeleteAppInstanceUser
        | Op::DescribeChannel
        | Op::DeleteChannel
        | Op::ListChannels
        | Op::DescribeChannelMembership
        | Op::ListChannelMemberships
        | Op::DeleteChannelMembership
        | Op::DescribeChannelMembershipForAppInstanceUser
        | Op::ListChannelMembershipsForAppInstanceUser
        | Op::DescribeChannelModerator
        | Op::ListChannelModerators
        | Op::DeleteChannelModerator
        | Op::DescribeChannelModeratedByAppInstanceUser
        | Op::ListChannelsModeratedByAppInstanceUser
        | Op::DescribeChannelBan
        | Op::ListChannelBans
        | Op::DeleteChannelBan
        | Op::GetChannelMessage
        | Op::ListChannelMessages
        | Op::DeleteChannelMessage
        | Op::UpdateChannelReadMarker
        | Op::ListTagsForResource
        | Op::GetMessagingSessionEndpoint => Ok(()),
    }
}
