//! Conformance cases for the channel writes that run the core's `ChannelPolicy` inside their
//! transaction (edit, redact, delete, read marker; the send has its own cases in `message.rs`):
//! the policy sees the state as of the write, and its refusal writes nothing.

use std::sync::Arc;

use belfry_core::arn::{ChannelKey, UserKey};
use belfry_core::model::{
    ChannelMode, ChannelPrivacy, ChannelUpdate, MembershipType, MessageChange,
};
use belfry_core::perm::{authorize, Action, Roles};
use belfry_core::store::StoreError as F;
use belfry_core::store::{ChannelContext, ChannelPolicy, Store};
use belfry_core::time::Timestamp;
use belfry_core::CoreError;

use super::message::{allow, mid, plain, recording, send, settings, taken};
use super::sequence::current;
use super::{ckey, idem, is, new_channel, setup, ukey, ROOMY};

/// Channel "c" of "app", created by "owner" (its moderator), with `members`.
async fn channel(s: &Arc<dyn Store>, members: &[&str]) -> ChannelKey {
    let mut nc = new_channel("app", "c", "owner", ChannelPrivacy::Public);
    nc.members = members.iter().map(|m| ukey("app", m)).collect();
    s.create_channel(nc, idem("ch", "c", "f"), 10, ROOMY)
        .await
        .unwrap();
    ckey("app", "c")
}

fn edit(content: &str) -> MessageChange {
    MessageChange::Edit {
        content: content.into(),
        metadata: None,
        content_type: None,
    }
}

/// What the policy of a write by `actor` must see right now, read by the store's own reads.
async fn now_seen(
    s: &Arc<dyn Store>,
    ch: &ChannelKey,
    actor: &str,
    message_sender: Option<&str>,
) -> ChannelContext {
    let key = ukey("app", actor);
    ChannelContext {
        actor_name: s.get_user(&key).await.unwrap().map(|u| u.name),
        channel: settings(s.get_channel(ch).await.unwrap()),
        actor: s.roles(ch, &key).await.unwrap(),
        target: None,
        message_sender: message_sender.map(|u| ukey("app", u)),
    }
}

/// The context a policy saw, with the channel as the policy needs it (no creator name).
fn normalized(mut ctx: ChannelContext) -> ChannelContext {
    ctx.channel = settings(ctx.channel);
    ctx
}

/// Edit, redact, delete and read marker each run their policy on the channel, the actor's
/// roles and (for a message) its sender as they are when the write runs — each step changes
/// the state first, and the context must follow — and a refusal comes back as `Refused` with
/// exactly the policy's error, the message, read marker and event number untouched.
pub async fn channel_writes_run_their_policy(s: Arc<dyn Store>) {
    setup(&s, "app", &["owner", "alice", "bob"]).await;
    let c = channel(&s, &["alice", "bob"]).await;
    let bob = ukey("app", "bob");
    let sent = send(&s, plain("c", 1, "alice", 5000)).await;
    let stored = s.get_message(&c, &mid(1)).await.unwrap();
    assert!(stored.is_some());
    let refusal = CoreError::Forbidden("the policy says no".into());
    let untouched = |s: Arc<dyn Store>, seq: u64| {
        let (c, stored) = (c.clone(), stored.clone());
        async move {
            assert_eq!(s.get_message(&c, &mid(1)).await.unwrap(), stored);
            let m = s.get_membership(&c, &ukey("app", "bob")).await.unwrap();
            assert_eq!(m.unwrap().read_marker, None, "no read marker set");
            assert_eq!(current(&s, "bob", &c).await, seq, "no event number taken");
        }
    };
    let seq = current(&s, "bob", &c).await;
    let member = Roles {
        member: Some(MembershipType::Default),
        ..Roles::default()
    };

    // Edit by a plain member.
    let want = now_seen(&s, &c, "bob", Some("alice")).await;
    assert_eq!(want.actor, member);
    let (policy, seen) = recording(Err(refusal.clone()));
    is(
        s.change_message(&c, &mid(1), &bob, edit("no"), Timestamp(6000), policy)
            .await,
        F::Refused(refusal.clone()),
    );
    assert_eq!(normalized(taken(&seen)), want);
    untouched(s.clone(), seq).await;

    // Redact, bob now a moderator too.
    s.create_moderator(&c, &bob, &ukey("app", "owner"), Timestamp(6100), 10)
        .await
        .unwrap();
    let want = now_seen(&s, &c, "bob", Some("alice")).await;
    assert_eq!(
        want.actor,
        Roles {
            moderator: true,
            ..member
        }
    );
    let (policy, seen) = recording(Err(refusal.clone()));
    is(
        s.change_message(
            &c,
            &mid(1),
            &bob,
            MessageChange::Redact,
            Timestamp(6200),
            policy,
        )
        .await,
        F::Refused(refusal.clone()),
    );
    assert_eq!(normalized(taken(&seen)), want);
    untouched(s.clone(), seq).await;

    // Delete, bob now an admin too.
    s.create_admin(&bob, Timestamp(6300), 10).await.unwrap();
    let want = now_seen(&s, &c, "bob", Some("alice")).await;
    assert_eq!(
        want.actor,
        Roles {
            admin: true,
            moderator: true,
            ..member
        }
    );
    let (policy, seen) = recording(Err(refusal.clone()));
    is(
        s.delete_message(&c, &mid(1), &bob, policy).await,
        F::Refused(refusal.clone()),
    );
    assert_eq!(normalized(taken(&seen)), want);
    untouched(s.clone(), seq).await;

    // Read marker, the channel now RESTRICTED and bob renamed; no message involved.
    let update = ChannelUpdate {
        name: None,
        mode: Some(ChannelMode::Restricted),
        metadata: None,
    };
    let (_, seq) = s.update_channel(&c, update, Timestamp(6400)).await.unwrap();
    s.update_user(&bob, "bob renamed".into(), "md".into(), Timestamp(6500))
        .await
        .unwrap();
    let want = now_seen(&s, &c, "bob", None).await;
    assert_eq!(want.actor_name.as_deref(), Some("bob renamed"));
    assert_eq!(
        want.channel.as_ref().map(|c| c.mode),
        Some(ChannelMode::Restricted)
    );
    let (policy, seen) = recording(Err(refusal.clone()));
    is(
        s.update_read_marker(&c, &bob, Timestamp(6600), policy)
            .await,
        F::Refused(refusal.clone()),
    );
    assert_eq!(normalized(taken(&seen)), want);
    untouched(s.clone(), seq).await;

    // An actor who does not exist is seen as such (the policy decides what that means).
    let ghost = ukey("app", "ghost");
    let (policy, seen) = recording(Err(refusal.clone()));
    is(
        s.change_message(&c, &mid(1), &ghost, edit("no"), Timestamp(6700), policy)
            .await,
        F::Refused(refusal.clone()),
    );
    let ctx = taken(&seen);
    assert_eq!(
        (ctx.actor_name, ctx.actor, ctx.message_sender),
        (None, Roles::default(), Some(sent.sender.key.clone()))
    );
    untouched(s.clone(), seq).await;
}

/// The permission table itself, as the core's write policies apply it (they also word the
/// refusal; here its `Debug` stands in).
fn rule(actor: &UserKey, action: fn(bool) -> Action) -> ChannelPolicy {
    let actor = actor.clone();
    Box::new(move |ctx: &ChannelContext| {
        let c = ctx
            .channel
            .as_ref()
            .ok_or_else(|| CoreError::not_found("no channel"))?;
        let is_sender = ctx.message_sender.as_ref() == Some(&actor);
        authorize(&ctx.actor, c.mode, c.privacy, action(is_sender))
            .map_err(|r| CoreError::Forbidden(format!("{r:?}")))
    })
}

/// A right lost after the service's earlier read but before the write job runs (the removal
/// is ordered before it on the same writer) is refused inside the write: a member removed from
/// the channel can no longer edit, redact or set a read marker, and an admin whose role was
/// revoked can no longer delete. Each write is first shown allowed while the right is held.
pub async fn channel_writes_refuse_a_right_lost_before_them(s: Arc<dyn Store>) {
    setup(&s, "app", &["owner", "alice", "adm"]).await;
    let c = channel(&s, &["alice"]).await;
    let (alice, adm) = (ukey("app", "alice"), ukey("app", "adm"));
    s.create_admin(&adm, Timestamp(4000), 10).await.unwrap();
    for n in 1..=3 {
        send(&s, plain("c", n, "alice", 5000 + n as i64)).await;
    }
    let forbidden = F::Refused(CoreError::Forbidden("Forbidden".into()));
    let editing = |is_sender| Action::EditMessage { is_sender };
    let redacting = |is_sender| Action::RedactMessage { is_sender };

    // While alice is a member and adm an admin, the rule lets each write through.
    s.change_message(
        &c,
        &mid(1),
        &alice,
        edit("edited"),
        Timestamp(6000),
        rule(&alice, editing),
    )
    .await
    .unwrap();
    s.update_read_marker(
        &c,
        &alice,
        Timestamp(6100),
        rule(&alice, |_| Action::UpdateReadMarker),
    )
    .await
    .unwrap();
    s.delete_message(&c, &mid(3), &adm, rule(&adm, |_| Action::DeleteMessage))
        .await
        .unwrap();

    // Rights lost; the next jobs on the writer are refused and change nothing.
    s.delete_membership(&c, &alice).await.unwrap();
    s.delete_admin(&adm).await.unwrap();
    let (one, two) = (
        s.get_message(&c, &mid(1)).await.unwrap().unwrap(),
        s.get_message(&c, &mid(2)).await.unwrap().unwrap(),
    );
    is(
        s.change_message(
            &c,
            &mid(1),
            &alice,
            edit("again"),
            Timestamp(7000),
            rule(&alice, editing),
        )
        .await,
        forbidden.clone(),
    );
    is(
        s.change_message(
            &c,
            &mid(2),
            &alice,
            MessageChange::Redact,
            Timestamp(7100),
            rule(&alice, redacting),
        )
        .await,
        forbidden.clone(),
    );
    is(
        s.update_read_marker(
            &c,
            &alice,
            Timestamp(7200),
            rule(&alice, |_| Action::UpdateReadMarker),
        )
        .await,
        forbidden.clone(),
    );
    is(
        s.delete_message(&c, &mid(2), &adm, rule(&adm, |_| Action::DeleteMessage))
            .await,
        forbidden,
    );
    assert_eq!(s.get_message(&c, &mid(1)).await.unwrap(), Some(one));
    assert_eq!(s.get_message(&c, &mid(2)).await.unwrap(), Some(two));

    // The rule was what refused them: the same writes under `allow` go through.
    s.delete_message(&c, &mid(2), &adm, allow()).await.unwrap();
}
