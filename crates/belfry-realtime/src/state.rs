//! The hub's routing state and rules, without any I/O of its own: which sessions are open,
//! which channels each connected user is in, where each channel's event sequence stands, and
//! who may see which event. Only the hub task touches it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use belfry_core::arn::{ChannelKey, UserKey};
use belfry_core::events::{DomainEvent, Published};
use belfry_core::model::MembershipType;
use bytes::Bytes;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::ring::Ring;
use crate::{CloseReason, FrameEncoder, HubConfig, Outgoing, SessionNo, Stats, Track};

struct SessionEntry {
    user: UserKey,
    /// The access key that signed its `/connect`, when known: revoking it ends the session.
    access_key: Option<String>,
    client_id: String,
    frames: mpsc::Sender<Outgoing>,
    close: Option<oneshot::Sender<CloseReason>>,
    /// False until the session has subscribed with its snapshot; until then it gets nothing
    /// live (what it misses is replayed from the ring when it subscribes).
    subscribed: bool,
    /// Ring position at registration.
    start: u64,
    /// Per channel, the first sequence number this session still needs: what its snapshot
    /// already reflects is not delivered to it again.
    floors: HashMap<ChannelKey, u64>,
}

#[derive(Default)]
struct UserEntry {
    sessions: Vec<SessionNo>,
    channels: HashSet<ChannelKey>,
}

struct ChannelEntry {
    /// The sequence number of the next event to deliver.
    next: u64,
    /// Connected users who are members (DEFAULT or HIDDEN).
    members: HashSet<UserKey>,
    /// Events that arrived before an earlier one, by sequence number.
    held: BTreeMap<u64, (Arc<Published>, Instant)>,
    /// Since when the oldest hole before `held` has been waited for.
    gap_since: Option<Instant>,
}

impl ChannelEntry {
    fn new(next: u64) -> Self {
        ChannelEntry {
            next,
            members: HashSet::new(),
            held: BTreeMap::new(),
            gap_since: None,
        }
    }
}

/// How an event changes one user's membership of its channel.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Effect {
    None,
    /// The user becomes a member with this event (and sees it).
    Joins,
    /// The user sees this event, then is no longer a member.
    Leaves,
}

fn effect_on(event: &DomainEvent, user: &UserKey) -> Effect {
    match event {
        DomainEvent::MembershipCreated(m) if &m.member.key == user => Effect::Joins,
        DomainEvent::MembershipsBatchCreated { members, .. }
            if members.iter().any(|m| &m.key == user) =>
        {
            Effect::Joins
        }
        DomainEvent::MembershipDeleted(m) if &m.member.key == user => Effect::Leaves,
        DomainEvent::ChannelDeleted(_) => Effect::Leaves,
        _ => Effect::None,
    }
}

/// Whether `user`, a member of the event's channel, receives it. The one place the
/// visibility rules live: targeted messages reach sender and target only; events about a
/// HIDDEN membership reach that member only; read markers and deletions of users have no frame.
fn sees(event: &DomainEvent, user: &UserKey) -> bool {
    match event {
        DomainEvent::MessageCreated(m)
        | DomainEvent::MessageUpdated(m)
        | DomainEvent::MessageRedacted(m)
        | DomainEvent::MessageDeleted(m) => match &m.target {
            Some(target) => target == user || &m.sender.key == user,
            None => true,
        },
        DomainEvent::MembershipCreated(m) | DomainEvent::MembershipDeleted(m) => {
            m.kind != MembershipType::Hidden || &m.member.key == user
        }
        DomainEvent::MembershipsBatchCreated { kind, members, .. } => {
            *kind != MembershipType::Hidden || members.iter().any(|m| &m.key == user)
        }
        DomainEvent::ChannelUpdated(_) | DomainEvent::ChannelDeleted(_) => true,
        DomainEvent::ReadMarkerUpdated { .. }
        | DomainEvent::UserDeleted(_)
        | DomainEvent::AppInstanceDeleted { .. }
        | DomainEvent::AccessKeyRevoked { .. } => false,
    }
}

/// How far back in the ring to look for events that overtook the join that made their
/// channel interesting (publishers race by microseconds, not by thousands of events).
const OVERTAKE_WINDOW: usize = 4096;

/// The event as `user` alone may see it, when that differs from what every recipient sees: a
/// HIDDEN batch names each added member to that member only.
fn private_frame(event: &DomainEvent, user: &UserKey) -> Option<DomainEvent> {
    match event {
        DomainEvent::MembershipsBatchCreated {
            channel,
            invited_by,
            kind: MembershipType::Hidden,
            members,
        } => Some(DomainEvent::MembershipsBatchCreated {
            channel: channel.clone(),
            invited_by: invited_by.clone(),
            kind: MembershipType::Hidden,
            members: members.iter().filter(|m| &m.key == user).cloned().collect(),
        }),
        _ => None,
    }
}

fn seq_of(e: &Published) -> u64 {
    e.seq.unwrap_or(0)
}

/// All routing state.
pub(crate) struct State {
    sessions: HashMap<SessionNo, SessionEntry>,
    by_client_id: HashMap<(UserKey, String), SessionNo>,
    users: HashMap<UserKey, UserEntry>,
    channels: HashMap<ChannelKey, ChannelEntry>,
    /// Channels holding events back.
    gaps: HashSet<ChannelKey>,
    ring: Ring,
    encoder: Arc<dyn FrameEncoder>,
    config: HubConfig,
    stats: Arc<Stats>,
    closing: bool,
    /// Registrations are closed at once (the bus is down).
    unavailable: bool,
}

impl State {
    pub(crate) fn new(
        config: HubConfig,
        encoder: Arc<dyn FrameEncoder>,
        stats: Arc<Stats>,
    ) -> Self {
        State {
            sessions: HashMap::new(),
            by_client_id: HashMap::new(),
            users: HashMap::new(),
            channels: HashMap::new(),
            gaps: HashSet::new(),
            ring: Ring::new(config.ring_events, config.ring_bytes),
            encoder,
            config,
            stats,
            closing: false,
            unavailable: false,
        }
    }

    // --- sessions -----------------------------------------------------------------------------

    pub(crate) fn register(
        &mut self,
        no: SessionNo,
        user: UserKey,
        access_key: Option<String>,
        client_id: String,
        frames: mpsc::Sender<Outgoing>,
        close: oneshot::Sender<CloseReason>,
    ) {
        if self.closing {
            let _ = close.send(CloseReason::GOING_AWAY);
            return;
        }
        if self.unavailable {
            let _ = close.send(CloseReason::BUS_UNAVAILABLE);
            return;
        }
        let client_key = (user.clone(), client_id.clone());
        if let Some(old) = self.by_client_id.get(&client_key).copied() {
            self.end_session(old, CloseReason::REPLACED);
        }
        self.by_client_id.insert(client_key, no);
        self.users
            .entry(user.clone())
            .or_default()
            .sessions
            .push(no);
        self.sessions.insert(
            no,
            SessionEntry {
                user,
                access_key,
                client_id,
                frames,
                close: Some(close),
                subscribed: false,
                start: self.ring.end(),
                floors: HashMap::new(),
            },
        );
    }

    /// Forgets a session (its owner dropped it, or the hub ended it).
    pub(crate) fn unregister(&mut self, no: SessionNo) {
        let Some(s) = self.sessions.remove(&no) else {
            return;
        };
        let client_key = (s.user.clone(), s.client_id);
        if self.by_client_id.get(&client_key) == Some(&no) {
            self.by_client_id.remove(&client_key);
        }
        let Some(u) = self.users.get_mut(&s.user) else {
            return;
        };
        u.sessions.retain(|n| *n != no);
        if !u.sessions.is_empty() {
            return;
        }
        if let Some(u) = self.users.remove(&s.user) {
            for ck in u.channels {
                self.leave(&ck, &s.user);
            }
        }
    }

    /// Ends a session with `reason` and forgets it.
    fn end_session(&mut self, no: SessionNo, reason: CloseReason) {
        if let Some(s) = self.sessions.get_mut(&no) {
            if let Some(close) = s.close.take() {
                let _ = close.send(reason);
            }
        }
        self.unregister(no);
    }

    fn kick_user(&mut self, user: &UserKey, reason: CloseReason) {
        let nos = self
            .users
            .get(user)
            .map(|u| u.sessions.clone())
            .unwrap_or_default();
        for no in nos {
            self.end_session(no, reason);
        }
    }

    /// Closes every session and drops all routing state.
    pub(crate) fn reset_all(&mut self, reason: CloseReason) {
        let nos: Vec<SessionNo> = self.sessions.keys().copied().collect();
        for no in nos {
            self.end_session(no, reason);
        }
        self.channels.clear();
        self.gaps.clear();
        self.ring.clear();
    }

    /// While unavailable, no session stays open: those open now are closed, and registrations
    /// are closed as they arrive.
    pub(crate) fn set_available(&mut self, available: bool) {
        self.unavailable = !available;
        if !available {
            self.reset_all(CloseReason::BUS_UNAVAILABLE);
        }
    }

    pub(crate) fn shutdown(&mut self) {
        self.closing = true;
        self.reset_all(CloseReason::GOING_AWAY);
    }

    fn leave(&mut self, ck: &ChannelKey, user: &UserKey) {
        if let Some(u) = self.users.get_mut(user) {
            u.channels.remove(ck);
        }
        if let Some(c) = self.channels.get_mut(ck) {
            c.members.remove(user);
            if c.members.is_empty() {
                self.channels.remove(ck);
                self.gaps.remove(ck);
            }
        }
    }

    fn join(&mut self, ck: &ChannelKey, user: &UserKey) {
        let Some(u) = self.users.get_mut(user) else {
            return;
        };
        u.channels.insert(ck.clone());
        if let Some(c) = self.channels.get_mut(ck) {
            c.members.insert(user.clone());
        }
    }

    // --- events -------------------------------------------------------------------------------

    pub(crate) fn event(&mut self, e: Arc<Published>, at: Instant) {
        let Some(seq) = e.seq else {
            self.unordered(&e, at);
            return;
        };
        let Some(ck) = e.event.channel().cloned() else {
            return;
        };
        self.ring.push(e.clone());
        if self.channels.contains_key(&ck) {
            self.offer(&ck, seq, e, at);
            return;
        }
        if !self.adds_connected_user(&e.event) {
            return;
        }
        // Nobody connected was a member before this event: nothing earlier matters. Later
        // events of the channel that overtook it were passed over; take them up again.
        self.channels.insert(ck.clone(), ChannelEntry::new(seq));
        self.offer(&ck, seq, e, at);
        let mut overtaken: Vec<Arc<Published>> = self
            .ring
            .recent(OVERTAKE_WINDOW)
            .filter(|r| r.event.channel() == Some(&ck) && seq_of(r) > seq)
            .cloned()
            .collect();
        overtaken.sort_by_key(|r| seq_of(r));
        for r in overtaken {
            self.offer(&ck, seq_of(&r), r, at);
        }
    }

    fn adds_connected_user(&self, event: &DomainEvent) -> bool {
        match event {
            DomainEvent::MembershipCreated(m) => self.users.contains_key(&m.member.key),
            DomainEvent::MembershipsBatchCreated { members, .. } => {
                members.iter().any(|m| self.users.contains_key(&m.key))
            }
            _ => false,
        }
    }

    fn unordered(&mut self, e: &Arc<Published>, at: Instant) {
        match &e.event {
            DomainEvent::UserDeleted(user) => self.kick_user(user, CloseReason::USER_DELETED),
            DomainEvent::AppInstanceDeleted { app_instance_id } => {
                let users: Vec<UserKey> = self
                    .users
                    .keys()
                    .filter(|u| &u.app_instance_id == app_instance_id)
                    .cloned()
                    .collect();
                for u in users {
                    self.kick_user(&u, CloseReason::USER_DELETED);
                }
            }
            DomainEvent::AccessKeyRevoked { id } => {
                let nos: Vec<SessionNo> = self
                    .sessions
                    .iter()
                    .filter(|(_, s)| s.access_key.as_deref() == Some(id.as_str()))
                    .map(|(no, _)| *no)
                    .collect();
                for no in nos {
                    self.end_session(no, CloseReason::KEY_REVOKED);
                }
            }
            // NON_PERSISTENT messages: to whoever is connected and a member now.
            other => {
                if let Some(ck) = other.channel().cloned() {
                    if self.channels.contains_key(&ck) {
                        self.deliver(&ck, e, at);
                    }
                }
            }
        }
    }

    /// Puts a sequenced event in its channel's order: delivers it if it is next (and whatever
    /// it unblocks), holds it if an earlier one is missing, drops it if it is older than what
    /// the channel's sessions already reflect.
    fn offer(&mut self, ck: &ChannelKey, seq: u64, e: Arc<Published>, at: Instant) {
        let Some(c) = self.channels.get_mut(ck) else {
            return;
        };
        if seq < c.next {
            return;
        }
        if seq > c.next {
            c.held.insert(seq, (e, at));
            c.gap_since.get_or_insert_with(Instant::now);
            let overfull = c.held.len() > self.config.held_per_channel;
            self.gaps.insert(ck.clone());
            if overfull {
                self.reset_channel(ck);
            }
            return;
        }
        c.next = seq + 1;
        self.deliver(ck, &e, at);
        while let Some(c) = self.channels.get_mut(ck) {
            let next = c.next;
            match c.held.remove(&next) {
                Some((e, at)) => {
                    c.next = next + 1;
                    c.gap_since = Some(Instant::now());
                    self.deliver(ck, &e, at);
                }
                None => {
                    if c.held.is_empty() {
                        c.gap_since = None;
                        self.gaps.remove(ck);
                    }
                    break;
                }
            }
        }
    }

    /// Sends an event to every subscribed session of every connected member who sees it, and
    /// applies its membership changes.
    fn deliver(&mut self, ck: &ChannelKey, e: &Arc<Published>, at: Instant) {
        // Members added by the event see it.
        let joining: Vec<UserKey> = match &e.event {
            DomainEvent::MembershipCreated(m) => vec![m.member.key.clone()],
            DomainEvent::MembershipsBatchCreated { members, .. } => {
                members.iter().map(|m| m.key.clone()).collect()
            }
            _ => Vec::new(),
        };
        for u in &joining {
            self.join(ck, u);
        }
        let mut frame: Option<Option<Bytes>> = None;
        let track = Track::new(at, self.stats.clone());
        let mut failed: Vec<(SessionNo, bool)> = Vec::new();
        'send: {
            let Some(c) = self.channels.get(ck) else {
                break 'send;
            };
            for user in &c.members {
                if !sees(&e.event, user) {
                    continue;
                }
                let Some(u) = self.users.get(user) else {
                    continue;
                };
                let private = private_frame(&e.event, user).map(|ev| self.encoder.encode(&ev));
                for no in &u.sessions {
                    let Some(s) = self.sessions.get(no) else {
                        continue;
                    };
                    if !s.subscribed {
                        continue;
                    }
                    if let (Some(seq), Some(floor)) = (e.seq, s.floors.get(ck)) {
                        if seq < *floor {
                            continue;
                        }
                    }
                    let bytes = match &private {
                        Some(p) => p,
                        None => frame.get_or_insert_with(|| self.encoder.encode(&e.event)),
                    };
                    let Some(bytes) = bytes else {
                        break 'send;
                    };
                    track.add();
                    match s
                        .frames
                        .try_send(Outgoing::new(bytes.clone(), Some(track.clone())))
                    {
                        Ok(()) => {
                            self.stats.frames_queued.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => {
                            track.done();
                            failed.push((*no, matches!(e, TrySendError::Full(_))));
                        }
                    }
                }
            }
        }
        track.done();
        for (no, full) in failed {
            if full {
                self.stats.sessions_too_slow.fetch_add(1, Ordering::Relaxed);
                self.end_session(no, CloseReason::TOO_SLOW);
            } else {
                self.unregister(no);
            }
        }
        match &e.event {
            DomainEvent::MembershipDeleted(m) => self.leave(ck, &m.member.key),
            DomainEvent::ChannelDeleted(_) => {
                if let Some(c) = self.channels.remove(ck) {
                    self.gaps.remove(ck);
                    for u in c.members {
                        if let Some(u) = self.users.get_mut(&u) {
                            u.channels.remove(ck);
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// A channel whose order cannot be restored: its members' sessions reconnect and re-read.
    fn reset_channel(&mut self, ck: &ChannelKey) {
        self.stats.gap_resets.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(channel = %ck.channel_id, "realtime: a channel event never arrived; resetting its sessions");
        self.gaps.remove(ck);
        if let Some(c) = self.channels.remove(ck) {
            for u in c.members {
                self.kick_user(&u, CloseReason::RESYNC);
            }
        }
    }

    /// Resets channels that waited too long for a missing event.
    pub(crate) fn check_gaps(&mut self, now: Instant) {
        let timeout = self.config.gap_timeout;
        let stale: Vec<ChannelKey> = self
            .gaps
            .iter()
            .filter(|ck| {
                self.channels
                    .get(*ck)
                    .and_then(|c| c.gap_since)
                    .is_some_and(|since| now.duration_since(since) >= timeout)
            })
            .cloned()
            .collect();
        for ck in stale {
            self.reset_channel(&ck);
        }
    }

    // --- subscription -------------------------------------------------------------------------

    /// Subscribes a registered session to its user's channels as read from the store (each with
    /// its event sequence at the read), and catches it up with what the hub handled since the
    /// session registered.
    pub(crate) fn subscribe(&mut self, no: SessionNo, snapshot: Vec<(ChannelKey, u64)>) {
        let Some(s) = self.sessions.get_mut(&no) else {
            return;
        };
        let user = s.user.clone();
        let start = s.start;
        let Some(recent) = self.ring.since(start) else {
            // Too much happened while it connected to replay: let it try again.
            self.stats.connect_resyncs.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("realtime: a session missed too much while connecting; closing it");
            self.end_session(no, CloseReason::RESYNC);
            return;
        };
        let recent: Vec<Arc<Published>> = recent.cloned().collect();
        s.subscribed = true;

        let snapshot: HashMap<ChannelKey, u64> = snapshot.into_iter().collect();
        // The user's channels: those read, and those joined since the session registered.
        let mut order: Vec<ChannelKey> = snapshot.keys().cloned().collect();
        for e in &recent {
            if let Some(ck) = e.event.channel() {
                if effect_on(&e.event, &user) == Effect::Joins
                    && !snapshot.contains_key(ck)
                    && !order.contains(ck)
                {
                    order.push(ck.clone());
                }
            }
        }
        let wanted: HashSet<&ChannelKey> = order.iter().collect();
        let mut by_channel: HashMap<ChannelKey, Vec<Arc<Published>>> = HashMap::new();
        for e in &recent {
            if let Some(ck) = e.event.channel() {
                if wanted.contains(ck) {
                    by_channel.entry(ck.clone()).or_default().push(e.clone());
                }
            }
        }
        for ck in order {
            if !self.sessions.contains_key(&no) {
                // Ended while being caught up (its queue filled): nothing more to do.
                return;
            }
            let from = snapshot.get(&ck).map(|s| s + 1);
            let mut events = by_channel.remove(&ck).unwrap_or_default();
            events.retain(|e| from.is_none_or(|f| seq_of(e) >= f));
            events.sort_by_key(|e| seq_of(e));
            match (self.channels.get(&ck).map(|c| c.next), from) {
                (Some(next), _) => {
                    // The snapshot may be ahead of what the hub has delivered: the events in
                    // between reach the others live, but this session has them already.
                    if let (Some(f), Some(s)) = (from, self.sessions.get_mut(&no)) {
                        if f > next {
                            s.floors.insert(ck.clone(), f);
                        }
                    }
                    // Replay to this session what the channel's other sessions already got.
                    let mut member = from.is_some();
                    for e in events.iter().filter(|e| seq_of(e) < next) {
                        member = self.replay(no, &user, member, e);
                    }
                    if member {
                        self.join(&ck, &user);
                    }
                }
                (None, Some(from)) => {
                    // No connected member: this session starts the channel's order.
                    self.channels.insert(ck.clone(), ChannelEntry::new(from));
                    self.join(&ck, &user);
                    for e in events {
                        self.offer(&ck, seq_of(&e), e, Instant::now());
                    }
                }
                (None, None) => {
                    // Joined after the read, and the channel's state is gone again (deleted).
                    let mut member = false;
                    for e in &events {
                        member = self.replay(no, &user, member, e);
                    }
                }
            }
        }
    }

    /// Sends one already-delivered event to one session if its user, a member (or becoming one
    /// with this event), sees it; returns whether the user is a member after it.
    fn replay(&mut self, no: SessionNo, user: &UserKey, member: bool, e: &Arc<Published>) -> bool {
        let effect = effect_on(&e.event, user);
        let member_now = member || effect == Effect::Joins;
        if member_now && sees(&e.event, user) {
            let bytes = match private_frame(&e.event, user) {
                Some(p) => self.encoder.encode(&p),
                None => self.encoder.encode(&e.event),
            };
            if let (Some(s), Some(bytes)) = (self.sessions.get(&no), bytes) {
                match s.frames.try_send(Outgoing::new(bytes, None)) {
                    Ok(()) => {
                        self.stats.frames_queued.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) => {
                        self.stats.sessions_too_slow.fetch_add(1, Ordering::Relaxed);
                        self.end_session(no, CloseReason::TOO_SLOW);
                    }
                }
            }
        }
        member_now && effect != Effect::Leaves
    }
}
