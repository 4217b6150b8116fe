//! `Store` for `SqliteStore`: each method sends one closure to the writer or a reader.

use async_trait::async_trait;
use belfry_core::arn::{ChannelKey, UserKey};
use belfry_core::model::{
    AppInstance, AppInstanceAdmin, AppInstanceUser, Ban, Channel, ChannelMessage, ChannelPrivacy,
    ChannelUpdate, Created, Idempotency, Membership, MembershipType, MessageChange, MessageCursor,
    MessageQuery, Moderator, NewChannel, NewMessage, Tag, TagTarget, UserMembership, UserRef,
};
use belfry_core::perm::Roles;
use belfry_core::store::{
    ChannelView, MembershipLimits, SendPolicy, Sent, Seq, SessionChannel, Store,
};
use belfry_core::time::Timestamp;
use belfry_core::CoreResult;

use super::{app_instance, channel, membership, message, moderation, tags, user, SqliteStore};

#[async_trait]
impl Store for SqliteStore {
    async fn create_app_instance(
        &self,
        app: AppInstance,
        tags: Vec<Tag>,
        idem: Idempotency,
        max: u64,
    ) -> CoreResult<Created> {
        self.write(move |c| app_instance::create(c, app, tags, idem, max))
            .await
    }

    async fn get_app_instance(&self, id: &str) -> CoreResult<Option<AppInstance>> {
        let id = id.to_string();
        self.read(move |c| app_instance::get(c, &id)).await
    }

    async fn list_app_instances(
        &self,
        after: Option<i64>,
        limit: usize,
    ) -> CoreResult<Vec<Seq<AppInstance>>> {
        self.read(move |c| app_instance::list(c, after, limit))
            .await
    }

    async fn update_app_instance(
        &self,
        id: &str,
        name: String,
        metadata: String,
        now: Timestamp,
    ) -> CoreResult<()> {
        let id = id.to_string();
        self.write(move |c| app_instance::update(c, &id, &name, &metadata, now))
            .await
    }

    async fn delete_app_instance(&self, id: &str) -> CoreResult<()> {
        let id = id.to_string();
        self.write(move |c| app_instance::delete(c, &id)).await
    }

    async fn create_user(
        &self,
        u: AppInstanceUser,
        tags: Vec<Tag>,
        idem: Idempotency,
        max: u64,
    ) -> CoreResult<Created> {
        self.write(move |c| user::create(c, u, tags, idem, max))
            .await
    }

    async fn get_user(&self, key: &UserKey) -> CoreResult<Option<AppInstanceUser>> {
        let key = key.clone();
        self.read(move |c| user::get(c, &key)).await
    }

    async fn list_users(
        &self,
        app: &str,
        after: Option<i64>,
        limit: usize,
    ) -> CoreResult<Vec<Seq<AppInstanceUser>>> {
        let app = app.to_string();
        self.read(move |c| user::list(c, &app, after, limit)).await
    }

    async fn update_user(
        &self,
        key: &UserKey,
        name: String,
        metadata: String,
        now: Timestamp,
    ) -> CoreResult<()> {
        let key = key.clone();
        self.write(move |c| user::update(c, &key, &name, &metadata, now))
            .await
    }

    async fn delete_user(&self, key: &UserKey) -> CoreResult<()> {
        let key = key.clone();
        self.write(move |c| user::delete(c, &key)).await
    }

    async fn create_admin(&self, key: &UserKey, now: Timestamp, max: u64) -> CoreResult<()> {
        let key = key.clone();
        self.write(move |c| app_instance::create_admin(c, &key, now, max))
            .await
    }

    async fn get_admin(&self, key: &UserKey) -> CoreResult<Option<AppInstanceAdmin>> {
        let key = key.clone();
        self.read(move |c| app_instance::get_admin(c, &key)).await
    }

    async fn list_admins(
        &self,
        app: &str,
        after: Option<i64>,
        limit: usize,
    ) -> CoreResult<Vec<Seq<AppInstanceAdmin>>> {
        let app = app.to_string();
        self.read(move |c| app_instance::list_admins(c, &app, after, limit))
            .await
    }

    async fn delete_admin(&self, key: &UserKey) -> CoreResult<()> {
        let key = key.clone();
        self.write(move |c| app_instance::delete_admin(c, &key))
            .await
    }

    async fn create_channel(
        &self,
        new: NewChannel,
        idem: Idempotency,
        max: u64,
        limits: MembershipLimits,
    ) -> CoreResult<Created> {
        self.write(move |c| channel::create(c, new, idem, max, limits))
            .await
    }

    async fn get_channel(&self, key: &ChannelKey) -> CoreResult<Option<Channel>> {
        let key = key.clone();
        self.read(move |c| channel::get(c, &key)).await
    }

    async fn update_channel(
        &self,
        key: &ChannelKey,
        update: ChannelUpdate,
        now: Timestamp,
    ) -> CoreResult<(Channel, u64)> {
        let key = key.clone();
        self.write(move |c| channel::update(c, &key, &update, now))
            .await
    }

    async fn delete_channel(&self, key: &ChannelKey) -> CoreResult<(Channel, u64)> {
        let key = key.clone();
        self.write(move |c| channel::delete(c, &key)).await
    }

    async fn list_channels(
        &self,
        app: &str,
        privacy: ChannelPrivacy,
        after: Option<i64>,
        limit: usize,
    ) -> CoreResult<Vec<Seq<Channel>>> {
        let app = app.to_string();
        self.read(move |c| channel::list(c, &app, privacy, after, limit))
            .await
    }

    async fn roles(&self, ch: &ChannelKey, u: &UserKey) -> CoreResult<Roles> {
        let (ch, u) = (ch.clone(), u.clone());
        self.read(move |c| channel::roles(c, &ch, &u)).await
    }

    async fn channel_access(&self, ch: &ChannelKey, u: &UserKey) -> CoreResult<ChannelView> {
        let (ch, u) = (ch.clone(), u.clone());
        self.read(move |c| {
            Ok(ChannelView {
                user_exists: user::get(c, &u)?.is_some(),
                channel: channel::get(c, &ch)?,
                roles: channel::roles(c, &ch, &u)?,
            })
        })
        .await
    }

    async fn is_admin(&self, key: &UserKey) -> CoreResult<bool> {
        let key = key.clone();
        self.read(move |c| app_instance::is_admin(c, &key)).await
    }

    async fn create_membership(
        &self,
        ch: &ChannelKey,
        member: &UserKey,
        kind: MembershipType,
        by: &UserKey,
        now: Timestamp,
        limits: MembershipLimits,
    ) -> CoreResult<(Membership, u64)> {
        let (ch, member, by) = (ch.clone(), member.clone(), by.clone());
        self.write(move |c| membership::create(c, &ch, &member, kind, &by, now, limits))
            .await
    }

    async fn batch_create_memberships(
        &self,
        ch: &ChannelKey,
        members: Vec<UserKey>,
        kind: MembershipType,
        by: &UserKey,
        now: Timestamp,
        limits: MembershipLimits,
    ) -> CoreResult<(Vec<CoreResult<Membership>>, Option<u64>)> {
        let (ch, by) = (ch.clone(), by.clone());
        self.write(move |c| membership::batch(c, &ch, &members, kind, &by, now, limits))
            .await
    }

    async fn get_membership(
        &self,
        ch: &ChannelKey,
        member: &UserKey,
    ) -> CoreResult<Option<Membership>> {
        let (ch, member) = (ch.clone(), member.clone());
        self.read(move |c| membership::get(c, &ch, &member)).await
    }

    async fn list_memberships(
        &self,
        ch: &ChannelKey,
        kind: MembershipType,
        after: Option<i64>,
        limit: usize,
    ) -> CoreResult<Vec<Seq<UserRef>>> {
        let ch = ch.clone();
        self.read(move |c| membership::list(c, &ch, kind, after, limit))
            .await
    }

    async fn delete_membership(
        &self,
        ch: &ChannelKey,
        member: &UserKey,
    ) -> CoreResult<(Membership, u64)> {
        let (ch, member) = (ch.clone(), member.clone());
        self.write(move |c| membership::delete(c, &ch, &member))
            .await
    }

    async fn list_user_memberships(
        &self,
        u: &UserKey,
        after: Option<i64>,
        limit: usize,
    ) -> CoreResult<Vec<Seq<UserMembership>>> {
        let u = u.clone();
        self.read(move |c| membership::list_for_user(c, &u, after, limit))
            .await
    }

    async fn session_channels(&self, u: &UserKey) -> CoreResult<Vec<SessionChannel>> {
        let u = u.clone();
        self.read(move |c| membership::session_channels(c, &u))
            .await
    }

    async fn create_moderator(
        &self,
        ch: &ChannelKey,
        u: &UserKey,
        by: &UserKey,
        now: Timestamp,
        max: u64,
    ) -> CoreResult<()> {
        let (ch, u, by) = (ch.clone(), u.clone(), by.clone());
        self.write(move |c| moderation::create_moderator(c, &ch, &u, &by, now, max))
            .await
    }

    async fn get_moderator(&self, ch: &ChannelKey, u: &UserKey) -> CoreResult<Option<Moderator>> {
        let (ch, u) = (ch.clone(), u.clone());
        self.read(move |c| moderation::get_moderator(c, &ch, &u))
            .await
    }

    async fn list_moderators(
        &self,
        ch: &ChannelKey,
        after: Option<i64>,
        limit: usize,
    ) -> CoreResult<Vec<Seq<UserRef>>> {
        let ch = ch.clone();
        self.read(move |c| moderation::list_moderators(c, &ch, after, limit))
            .await
    }

    async fn delete_moderator(&self, ch: &ChannelKey, u: &UserKey) -> CoreResult<()> {
        let (ch, u) = (ch.clone(), u.clone());
        self.write(move |c| moderation::delete_moderator(c, &ch, &u))
            .await
    }

    async fn list_moderated_channels(
        &self,
        u: &UserKey,
        after: Option<i64>,
        limit: usize,
    ) -> CoreResult<Vec<Seq<Channel>>> {
        let u = u.clone();
        self.read(move |c| moderation::list_moderated(c, &u, after, limit))
            .await
    }

    async fn create_ban(
        &self,
        ch: &ChannelKey,
        u: &UserKey,
        by: &UserKey,
        now: Timestamp,
    ) -> CoreResult<Option<(Membership, u64)>> {
        let (ch, u, by) = (ch.clone(), u.clone(), by.clone());
        self.write(move |c| moderation::create_ban(c, &ch, &u, &by, now))
            .await
    }

    async fn get_ban(&self, ch: &ChannelKey, u: &UserKey) -> CoreResult<Option<Ban>> {
        let (ch, u) = (ch.clone(), u.clone());
        self.read(move |c| moderation::get_ban(c, &ch, &u)).await
    }

    async fn list_bans(
        &self,
        ch: &ChannelKey,
        after: Option<i64>,
        limit: usize,
    ) -> CoreResult<Vec<Seq<UserRef>>> {
        let ch = ch.clone();
        self.read(move |c| moderation::list_bans(c, &ch, after, limit))
            .await
    }

    async fn delete_ban(&self, ch: &ChannelKey, u: &UserKey) -> CoreResult<()> {
        let (ch, u) = (ch.clone(), u.clone());
        self.write(move |c| moderation::delete_ban(c, &ch, &u))
            .await
    }

    async fn send_message(&self, new: NewMessage, policy: SendPolicy) -> CoreResult<Sent> {
        self.inner
            .writer
            .write_hot(move |c, hot| message::send(c, hot, new, policy))
            .await
    }

    async fn get_message(&self, ch: &ChannelKey, id: &str) -> CoreResult<Option<ChannelMessage>> {
        let (ch, id) = (ch.clone(), id.to_string());
        self.read(move |c| message::get(c, &ch, &id)).await
    }

    async fn list_messages(
        &self,
        ch: &ChannelKey,
        viewer: &UserKey,
        query: MessageQuery,
        after: Option<MessageCursor>,
        limit: usize,
    ) -> CoreResult<Vec<(MessageCursor, ChannelMessage)>> {
        let (ch, viewer) = (ch.clone(), viewer.clone());
        self.read(move |c| message::list(c, &ch, &viewer, query, after, limit))
            .await
    }

    async fn change_message(
        &self,
        ch: &ChannelKey,
        id: &str,
        change: MessageChange,
        now: Timestamp,
    ) -> CoreResult<(ChannelMessage, u64)> {
        let (ch, id) = (ch.clone(), id.to_string());
        self.write(move |c| message::change(c, &ch, &id, &change, now))
            .await
    }

    async fn delete_message(&self, ch: &ChannelKey, id: &str) -> CoreResult<(ChannelMessage, u64)> {
        let (ch, id) = (ch.clone(), id.to_string());
        self.write(move |c| message::delete(c, &ch, &id)).await
    }

    async fn update_read_marker(
        &self,
        ch: &ChannelKey,
        u: &UserKey,
        now: Timestamp,
    ) -> CoreResult<()> {
        let (ch, u) = (ch.clone(), u.clone());
        self.write(move |c| message::read_marker(c, &ch, &u, now))
            .await
    }

    async fn list_tags(&self, t: &TagTarget) -> CoreResult<Vec<Tag>> {
        let t = t.clone();
        self.read(move |c| tags::list(c, &t)).await
    }

    async fn tag_resource(&self, t: &TagTarget, list: Vec<Tag>, max: usize) -> CoreResult<()> {
        let t = t.clone();
        self.write(move |c| tags::tag(c, &t, &list, max)).await
    }

    async fn untag_resource(&self, t: &TagTarget, keys: Vec<String>) -> CoreResult<()> {
        let t = t.clone();
        self.write(move |c| tags::untag(c, &t, &keys)).await
    }

    async fn close(&self) -> CoreResult<()> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || inner.checkpointer.stop())
            .await
            .map_err(belfry_core::CoreError::internal)?;
        self.inner.writer.close().await
    }
}
