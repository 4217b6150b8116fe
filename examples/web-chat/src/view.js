// Drawing the state into the page with plain DOM calls. Nothing here calls the API: buttons
// call back into the handlers main.js passes.

const $ = id => document.getElementById(id);

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== false) node.setAttribute(k, v === true ? '' : v);
  }
  node.append(...children.filter(c => c != null));
  return node;
}

const time = ms => new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });

/** The channel list, newest message first, with an unread mark. */
export function drawChannels(state, open) {
  const list = [...state.channels.values()].sort(
    (a, b) => b.lastMessage - a.lastMessage || a.name.localeCompare(b.name),
  );
  $('channels').replaceChildren(
    ...list.map(c => {
      // The open channel is being read: its marker follows within a second (markReadSoon).
      const unread = c.lastMessage > c.readMarker && c.arn !== state.current;
      return el(
        'li',
        {
          class: [c.arn === state.current ? 'current' : '', unread ? 'unread' : '']
            .join(' ')
            .trim(),
          dataset: { testid: 'channel', name: c.name, unread: String(unread) },
        },
        el(
          'button',
          { type: 'button', onclick: () => open(c.arn) },
          el('span', { class: 'name' }, c.name),
          unread ? el('span', { class: 'dot', title: 'unread', 'aria-label': 'unread' }) : null,
        ),
      );
    }),
  );
}

/** Checkboxes of the other demo users, for a new channel. */
export function drawNewChannelMembers(state) {
  $('new-members').replaceChildren(
    ...state.users
      .filter(u => u.arn !== state.me)
      .map(u =>
        el(
          'label',
          {},
          el('input', { type: 'checkbox', value: u.arn, dataset: { testid: `member-${u.id}` } }),
          ` ${u.name}`,
        ),
      ),
  );
}

/** The open channel's header: its name, and the users not yet in it. */
export function drawRoomHeader(state, nonMembers) {
  const channel = state.channels.get(state.current);
  $('room').hidden = !channel;
  if (!channel) return;
  $('room-name').textContent = channel.name;
  $('add-member-user').replaceChildren(
    ...nonMembers.map(u => el('option', { value: u.arn }, u.name)),
  );
  $('add-member').hidden = nonMembers.length === 0;
}

/** The open channel's messages, oldest first; own messages get edit and delete buttons. */
export function drawMessages(state, handlers) {
  const room = state.room;
  const items = [...room.messages.values()].sort(
    (a, b) => a.created - b.created || a.id.localeCompare(b.id),
  );
  $('older').hidden = !room.nextToken;
  const list = $('messages');
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.replaceChildren(...items.map(m => drawMessage(state, m, handlers)));
  if (atBottom || handlers.scrollToEnd) list.scrollTop = list.scrollHeight;
}

function drawMessage(state, m, { edit, redact, saveEdit, cancelEdit }) {
  const mine = m.senderArn === state.me;
  const editing = state.room.editing === m.id;
  const attrs = {
    class: ['message', mine ? 'mine' : '', m.redacted ? 'redacted' : ''].join(' ').trim(),
    dataset: {
      testid: 'message',
      id: m.id,
      sender: m.senderName,
      redacted: String(m.redacted),
      edited: String(m.edited),
    },
  };
  const meta = el(
    'div',
    { class: 'meta' },
    el('span', { class: 'sender' }, m.senderName),
    el('time', {}, time(m.created)),
    m.edited && !m.redacted ? el('span', { class: 'edited', dataset: { testid: 'edited' } }, 'edited') : null,
  );
  if (editing) {
    const input = el('input', { value: m.content, dataset: { testid: 'edit-input' }, autocomplete: 'off' });
    const form = el(
      'form',
      {
        class: 'edit',
        onsubmit: e => {
          e.preventDefault();
          saveEdit(m.id, input.value);
        },
      },
      input,
      el('button', { type: 'submit', dataset: { testid: 'edit-save' } }, 'Save'),
      el('button', { type: 'button', onclick: cancelEdit }, 'Cancel'),
    );
    queueMicrotask(() => input.focus());
    return el('li', attrs, meta, form);
  }
  const content = m.redacted
    ? el('div', { class: 'content', dataset: { testid: 'content' } }, 'This message was deleted.')
    : el('div', { class: 'content', dataset: { testid: 'content' } }, m.content);
  const actions =
    mine && !m.redacted && !m.pending
      ? el(
          'div',
          { class: 'actions' },
          el('button', { type: 'button', dataset: { testid: 'edit' }, onclick: () => edit(m.id) }, 'Edit'),
          el('button', { type: 'button', dataset: { testid: 'redact' }, onclick: () => redact(m.id) }, 'Delete'),
        )
      : null;
  return el('li', attrs, meta, content, actions);
}

/** "Bob is typing…" for the open channel, or nothing. */
export function drawTyping(state) {
  const now = Date.now();
  const names = [...(state.typing.get(state.current)?.values() ?? [])]
    .filter(t => t.until > now)
    .map(t => t.name);
  const text =
    names.length === 0
      ? ''
      : names.length === 1
        ? `${names[0]} is typing…`
        : `${names.slice(0, -1).join(', ')} and ${names.at(-1)} are typing…`;
  $('typing').textContent = text;
  $('typing').dataset.active = String(names.length > 0);
}

export function drawStatus(text) {
  $('status').textContent = text;
  $('status').dataset.state = text;
}

export function drawError(text) {
  $('error').textContent = text;
  $('error').hidden = !text;
}

export function drawSignIn(users, signIn) {
  $('users').replaceChildren(
    ...users.map(u =>
      el(
        'button',
        { type: 'button', dataset: { testid: `signin-${u.id}` }, onclick: () => signIn(u.id) },
        `Sign in as ${u.name}`,
      ),
    ),
  );
}

export { $ };
