//! The decisions of a batch, made between its two round trips on what the first one read:
//! each send's policy, its ClientRequestToken, its event number and creation time.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use belfry_core::arn::UserKey;
use belfry_core::model::{Channel, ChannelMessage, NewMessage};
use belfry_core::store::{ChannelContext, ChannelPolicy, Sent, StoreError, StoreResult};
use belfry_core::time::Timestamp;

use super::super::Context;
use super::unstored;

/// A queued send, without its answer.
pub(super) struct Job {
    pub(super) new: NewMessage,
    pub(super) policy: ChannelPolicy,
}

/// What the first round trip read, under the channel lock.
pub(super) struct Read {
    /// The channel's row position, the channel, and its last event number; `None` without the
    /// channel.
    pub(super) locked: Option<(i64, Channel, u64)>,
    /// The context of each (sender, target user id) of the batch.
    pub(super) contexts: HashMap<(UserKey, Option<String>), Context>,
    /// Earlier messages by (sender user id, token): the fingerprint and the message.
    pub(super) earlier: HashMap<(String, String), (String, ChannelMessage)>,
}

/// A message the batch stores.
pub(super) struct Stored {
    pub(super) message: ChannelMessage,
    pub(super) event_seq: u64,
    pub(super) token: String,
    pub(super) fingerprint: String,
}

/// A send's fate in the batch.
pub(super) enum Outcome {
    /// Answered without writing anything (boxed: most sends store).
    Done(Box<StoreResult<Sent>>),
    /// Stores `stored[i]`.
    Stores(usize),
    /// A replay of `stored[i]`, stored earlier in this batch.
    Replays(usize),
}

/// The batch's decisions.
pub(super) struct Decided {
    pub(super) channel_seq: i64,
    /// The channel's last event number before the batch.
    pub(super) first_event_seq: u64,
    /// The newest creation time of the untargeted messages stored (LastMessageTimestamp).
    pub(super) last_message_ms: Option<i64>,
    /// What the batch stores, in event order.
    pub(super) stored: Vec<Stored>,
    pub(super) outcomes: Vec<Outcome>,
}

impl Decided {
    /// The channel's last event number after the batch.
    pub(super) fn last_event_seq(&self) -> u64 {
        self.first_event_seq + self.stored.len() as u64
    }

    /// Each send's answer, once the batch committed (or stored nothing).
    pub(super) fn answers(self) -> Vec<StoreResult<Sent>> {
        let stored = self.stored;
        let sent = |i: usize, replayed: bool| {
            let s = stored
                .get(i)
                .ok_or_else(|| StoreError::internal("a batch outcome names no message"))?;
            Ok(Sent {
                message: s.message.clone(),
                replayed,
                event_seq: (!replayed).then_some(s.event_seq),
            })
        };
        self.outcomes
            .into_iter()
            .map(|o| match o {
                Outcome::Done(r) => *r,
                Outcome::Stores(i) => sent(i, false),
                Outcome::Replays(i) => sent(i, true),
            })
            .collect()
    }
}

/// Runs `policy`; a panic fails only its own send (the drain task and the batch go on).
fn allowed(policy: ChannelPolicy, ctx: &ChannelContext) -> StoreResult<()> {
    match catch_unwind(AssertUnwindSafe(|| policy(ctx))) {
        Ok(decision) => decision.map_err(StoreError::Refused),
        Err(_) => Err(StoreError::internal("the send's policy panicked")),
    }
}

/// Decides each job in queue order, as if each were sent alone in that order.
pub(super) fn decide(read: Read, jobs: Vec<Job>) -> Decided {
    let Read {
        locked,
        contexts,
        earlier,
    } = read;
    let (channel_seq, channel, first_event_seq) = match locked {
        Some((seq, channel, event_seq)) => (seq, Some(channel), event_seq),
        None => (0, None, 0),
    };
    // Every context was read after the lock: they agree on the channel's newest message.
    let mut newest: Option<i64> = contexts.values().filter_map(|c| c.newest_ms).max();
    let mut decided = Decided {
        channel_seq,
        first_event_seq,
        last_message_ms: None,
        stored: Vec::new(),
        outcomes: Vec::with_capacity(jobs.len()),
    };
    let mut in_batch: HashMap<(String, String), usize> = HashMap::new();
    for Job { new, policy } in jobs {
        let outcome = one(
            &mut decided,
            &mut in_batch,
            &mut newest,
            (&channel, &contexts, &earlier),
            new,
            policy,
        );
        decided.outcomes.push(outcome);
    }
    decided
}

type Seen<'a> = (
    &'a Option<Channel>,
    &'a HashMap<(UserKey, Option<String>), Context>,
    &'a HashMap<(String, String), (String, ChannelMessage)>,
);

fn one(
    decided: &mut Decided,
    in_batch: &mut HashMap<(String, String), usize>,
    newest: &mut Option<i64>,
    (channel, contexts, earlier): Seen<'_>,
    new: NewMessage,
    policy: ChannelPolicy,
) -> Outcome {
    let m = &new.message;
    let target_id = m.target.as_ref().map(|t| t.user_id.clone());
    let Some(context) = contexts.get(&(m.sender.key.clone(), target_id)) else {
        return Outcome::Done(Box::new(Err(StoreError::internal(
            "a send's context was not read",
        ))));
    };
    // A target has roles only in an existing channel of its own AppInstance.
    let target = match (channel, &m.target) {
        (Some(_), Some(t)) if t.app_instance_id == m.channel.app_instance_id => {
            Some(context.target)
        }
        (_, Some(_)) => Some(Default::default()),
        (_, None) => None,
    };
    let ctx = ChannelContext {
        actor_name: context.actor_name.clone(),
        channel: channel.clone(),
        actor: context.actor,
        target,
        message_sender: None,
    };
    if let Err(refused) = allowed(policy, &ctx) {
        return Outcome::Done(Box::new(Err(refused)));
    }
    if channel.is_none() {
        // No channel, and the policy let it through: delivered as sent, nothing to store in.
        return Outcome::Done(Box::new(Ok(unstored(
            new.message,
            context.actor_name.clone(),
        ))));
    }
    let key = (
        m.sender.key.user_id.clone(),
        new.client_request_token.clone(),
    );
    if let Some(&i) = in_batch.get(&key) {
        return if decided.stored[i].fingerprint == new.fingerprint {
            Outcome::Replays(i)
        } else {
            Outcome::Done(Box::new(Err(StoreError::TokenReused)))
        };
    }
    if let Some((fingerprint, message)) = earlier.get(&key) {
        return Outcome::Done(Box::new(if *fingerprint == new.fingerprint {
            Ok(Sent {
                message: message.clone(),
                replayed: true,
                event_seq: None,
            })
        } else {
            Err(StoreError::TokenReused)
        }));
    }
    let NewMessage {
        mut message,
        client_request_token,
        fingerprint,
    } = new;
    // Creation times never go backwards within a channel: a send that read its clock before
    // another but is stored after it is stamped no earlier than it, so (created, seq) order is
    // event order and a reader paging forward never skips a message.
    let created = message.created.0.max(newest.unwrap_or(i64::MIN));
    *newest = Some(created);
    message.created = Timestamp(created);
    message.updated = Timestamp(created);
    message.sender.name = context.actor_name.clone();
    // A targeted message is seen by two members only; it does not move LastMessageTimestamp,
    // which everyone sees.
    if message.target.is_none() {
        decided.last_message_ms = Some(created.max(decided.last_message_ms.unwrap_or(created)));
    }
    let i = decided.stored.len();
    decided.stored.push(Stored {
        event_seq: decided.last_event_seq() + 1,
        message,
        token: client_request_token,
        fingerprint,
    });
    in_batch.insert(key, i);
    Outcome::Stores(i)
}
