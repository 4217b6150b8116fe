// The page: sign in through the example's server, then list channels, read and write messages
// with aws-sdk-js-v3, and follow live events over amazon-chime-sdk-js's messaging session.

import { Api, TYPING_CONTENT, millis } from './api.js';
import { startLive } from './live.js';
import {
  $,
  drawChannels,
  drawError,
  drawMessages,
  drawNewChannelMembers,
  drawRoomHeader,
  drawSignIn,
  drawStatus,
  drawTyping,
} from './view.js';

/** A typist sends at most one typing notice this often (writes are limited to 10/s per user). */
const TYPING_EVERY_MS = 2000;
/** How long a typing notice shows. */
const TYPING_SHOWN_MS = 3000;
/** Read markers move at most this often while messages stream into the open channel. */
const READ_MARKER_EVERY_MS = 1000;

const params = new URLSearchParams(location.search);
const state = {
  me: null,
  users: [],
  api: null,
  /** arn → {arn, name, lastMessage, readMarker} (epoch ms). */
  channels: new Map(),
  current: null,
  room: emptyRoom(),
  /** channel arn → sender arn → {name, until}. */
  typing: new Map(),
  pageSize: Math.min(50, Math.max(1, Number(params.get('pageSize')) || 25)),
  lastTypingSent: 0,
  readTimer: null,
};

function emptyRoom() {
  return { messages: new Map(), nextToken: undefined, editing: null };
}

/** Runs `f`, showing what failed instead of an unhandled rejection. */
function guarded(f) {
  return async (...args) => {
    try {
      drawError('');
      return await f(...args);
    } catch (e) {
      console.error(e);
      drawError(`${e.name ?? 'Error'}: ${e.message ?? e}`);
    }
  };
}

/** A ChannelMessage (REST summary or websocket payload) as the view keeps it. */
function toMessage(m) {
  return {
    id: m.MessageId,
    content: m.Content ?? '',
    senderArn: m.Sender?.Arn,
    senderName: m.Sender?.Name ?? m.Sender?.Arn?.split('/').at(-1) ?? '?',
    created: millis(m.CreatedTimestamp),
    edited: Boolean(m.LastEditedTimestamp),
    redacted: Boolean(m.Redacted),
    pending: false,
  };
}

const handlers = {
  edit: id => {
    state.room.editing = id;
    redraw();
  },
  cancelEdit: () => {
    state.room.editing = null;
    redraw();
  },
  saveEdit: guarded(async (id, content) => {
    const text = content.trim();
    const m = state.room.messages.get(id);
    state.room.editing = null;
    if (text && m && text !== m.content) {
      await state.api.editMessage(state.current, id, text);
      Object.assign(m, { content: text, edited: true });
    }
    redraw();
  }),
  redact: guarded(async id => {
    await state.api.redactMessage(state.current, id);
    const m = state.room.messages.get(id);
    if (m) Object.assign(m, { content: '', redacted: true });
    redraw();
  }),
};

function redraw(scrollToEnd = false) {
  drawChannels(state, openChannel);
  if (state.current) drawMessages(state, { ...handlers, scrollToEnd });
  drawTyping(state);
}

const loadChannels = guarded(async () => {
  const fresh = await state.api.myChannels();
  const before = state.channels;
  state.channels = new Map(
    fresh.map(c => {
      // A marker this page set may not be read back yet; never move one backwards.
      const old = before.get(c.arn);
      return [c.arn, { ...c, readMarker: Math.max(c.readMarker, old?.readMarker ?? 0) }];
    }),
  );
  if (state.current && !state.channels.has(state.current)) {
    state.current = null;
    state.room = emptyRoom();
    drawRoomHeader(state, []);
  }
  redraw();
});

async function refreshRoomHeader() {
  const arn = state.current;
  const members = new Set(await state.api.members(arn));
  if (state.current !== arn) return;
  drawRoomHeader(
    state,
    state.users.filter(u => !members.has(u.arn)),
  );
}

const openChannel = guarded(async arn => {
  state.current = arn;
  state.room = emptyRoom();
  drawRoomHeader(state, []);
  redraw();
  const room = state.room;
  const page = await state.api.history(arn, state.pageSize);
  if (state.room !== room) return;
  for (const m of page.messages) if (!room.messages.has(m.MessageId)) room.messages.set(m.MessageId, toMessage(m));
  room.nextToken = page.nextToken;
  redraw(true);
  markRead(arn);
  await refreshRoomHeader();
});

const loadOlder = guarded(async () => {
  const room = state.room;
  if (!room.nextToken) return;
  const page = await state.api.history(state.current, state.pageSize, room.nextToken);
  if (state.room !== room) return;
  for (const m of page.messages) if (!room.messages.has(m.MessageId)) room.messages.set(m.MessageId, toMessage(m));
  room.nextToken = page.nextToken;
  const list = $('messages');
  const fromBottom = list.scrollHeight - list.scrollTop;
  redraw();
  list.scrollTop = list.scrollHeight - fromBottom;
});

/** UpdateChannelReadMarker now, or once the page is visible again. */
const markRead = guarded(async arn => {
  if (document.visibilityState !== 'visible') return;
  const channel = state.channels.get(arn);
  await state.api.markRead(arn);
  if (channel) channel.readMarker = Math.max(channel.readMarker, channel.lastMessage);
  redraw();
});

/** At most one read marker per READ_MARKER_EVERY_MS while messages arrive in the open channel. */
function markReadSoon() {
  if (state.readTimer) return;
  state.readTimer = setTimeout(() => {
    state.readTimer = null;
    if (state.current) markRead(state.current);
  }, READ_MARKER_EVERY_MS);
}

function showTyping(channelArn, sender) {
  if (!state.typing.has(channelArn)) state.typing.set(channelArn, new Map());
  const until = Date.now() + TYPING_SHOWN_MS;
  state.typing.get(channelArn).set(sender.Arn, { name: sender.Name ?? sender.Arn, until });
  drawTyping(state);
  setTimeout(() => drawTyping(state), TYPING_SHOWN_MS + 50);
}

function stopTyping(channelArn, senderArn) {
  state.typing.get(channelArn)?.delete(senderArn);
}

/** One live event: its payload is the REST shape of what changed. */
function onEvent(type, p) {
  switch (type) {
    case 'CREATE_CHANNEL_MESSAGE': {
      if (p.Type === 'CONTROL') {
        if (p.Content === TYPING_CONTENT && p.Sender?.Arn !== state.me) showTyping(p.ChannelArn, p.Sender);
        return;
      }
      const channel = state.channels.get(p.ChannelArn);
      if (!channel) return loadChannels();
      channel.lastMessage = Math.max(channel.lastMessage, millis(p.CreatedTimestamp));
      stopTyping(p.ChannelArn, p.Sender?.Arn);
      if (p.ChannelArn === state.current) {
        state.room.messages.set(p.MessageId, toMessage(p));
        markReadSoon();
      }
      return redraw();
    }
    case 'UPDATE_CHANNEL_MESSAGE':
    case 'REDACT_CHANNEL_MESSAGE': {
      if (p.ChannelArn !== state.current) return;
      const old = state.room.messages.get(p.MessageId);
      // Edits of messages older than the pages loaded stay out of view until paged in.
      if (!old) return;
      state.room.messages.set(p.MessageId, toMessage(p));
      if (state.room.editing === p.MessageId && p.Redacted) state.room.editing = null;
      return redraw();
    }
    case 'DELETE_CHANNEL_MESSAGE':
      if (p.ChannelArn === state.current) state.room.messages.delete(p.MessageId);
      return redraw();
    case 'CREATE_CHANNEL_MEMBERSHIP':
    case 'BATCH_CREATE_CHANNEL_MEMBERSHIP':
    case 'DELETE_CHANNEL_MEMBERSHIP':
    case 'UPDATE_CHANNEL':
    case 'DELETE_CHANNEL': {
      const arn = p.ChannelArn ?? p.Channel?.ChannelArn;
      loadChannels();
      if (arn && arn === state.current) guarded(refreshRoomHeader)();
      return;
    }
    default:
      // CHANNEL_DETAILS (prefetch, not asked for) and events this page has no use for.
      return;
  }
}

const signIn = guarded(async user => {
  const res = await fetch('/api/signin', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user }),
  });
  const session = await res.json();
  if (!res.ok) throw new Error(session.error ?? `sign-in answered ${res.status}`);
  state.me = session.userArn;
  state.users = session.users;
  state.api = new Api(session);
  $('signin').hidden = true;
  $('chat').hidden = false;
  $('me').textContent = session.userName;
  document.title = `${session.userName} · Belfry web chat`;
  drawNewChannelMembers(state);
  drawStatus('connecting');
  startLive(state.api, { onEvent, onStatus: drawStatus });
  await loadChannels();
});

function wireForms() {
  $('composer').addEventListener(
    'submit',
    guarded(async e => {
      e.preventDefault();
      const input = $('text');
      const content = input.value.trim();
      if (!content || !state.current) return;
      const channel = state.current;
      input.value = '';
      const id = await state.api.sendMessage(channel, content);
      // The live event brings the stored message; show it now in case it is slower.
      if (state.current === channel && !state.room.messages.has(id)) {
        const me = state.users.find(u => u.arn === state.me);
        state.room.messages.set(id, {
          id,
          content,
          senderArn: state.me,
          senderName: me?.name ?? state.me,
          created: Date.now(),
          edited: false,
          redacted: false,
          pending: true,
        });
        redraw(true);
      }
    }),
  );
  $('text').addEventListener('input', () => {
    const now = Date.now();
    if (!state.current || !$('text').value || now - state.lastTypingSent < TYPING_EVERY_MS) return;
    state.lastTypingSent = now;
    guarded(() => state.api.sendTyping(state.current))();
  });
  $('older').addEventListener('click', loadOlder);
  $('new-channel').addEventListener(
    'submit',
    guarded(async e => {
      e.preventDefault();
      const name = $('new-name').value.trim();
      if (!name) return;
      const members = [...$('new-members').querySelectorAll('input:checked')].map(i => i.value);
      const arn = await state.api.createChannel(name, members);
      $('new-name').value = '';
      for (const i of $('new-members').querySelectorAll('input')) i.checked = false;
      await loadChannels();
      await openChannel(arn);
    }),
  );
  $('add-member').addEventListener(
    'submit',
    guarded(async e => {
      e.preventDefault();
      const arn = $('add-member-user').value;
      if (!arn || !state.current) return;
      await state.api.addMembers(state.current, [arn]);
      await refreshRoomHeader();
    }),
  );
  document.addEventListener('visibilitychange', () => {
    if (state.current) markRead(state.current);
  });
}

const boot = guarded(async () => {
  wireForms();
  const res = await fetch('/api/users');
  const { users } = await res.json();
  drawSignIn(users, signIn);
});

boot();
