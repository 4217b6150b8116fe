// Runs the unmodified amazon-chime-sdk-js DefaultMessagingSession against a Belfry server, for
// crates/belfry/tests/it/js_session.rs. Node 20 or newer.
//
// Environment:
//   CHIME_ENDPOINT          REST endpoint, http://127.0.0.1:PORT (the websocket host comes from
//                           Belfry's GetMessagingSessionEndpoint answer; the scheme is always wss)
//   AWS_REGION              region (default us-east-1)
//   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY   the key that signs REST calls and the /connect URL
//   USER_ARN                the AppInstanceUser the session is for
//   CHANNEL_ARN, SEND_AS    where `send` posts and as which bearer (optional)
//   TIMEOUT_MS              hard limit on the whole run (default 60000); exit code 2 when reached
//   NODE_EXTRA_CA_CERTS     Belfry's dev CA (<data-dir>/tls/ca.pem), read by Node itself
//
// stdout: one JSON object per line, {"ev": ...}:
//   connecting {reconnecting}   endpoint {url}   started   message {type, headers, payload}
//   closed {code, reason}   sent {id}   send-failed {error}   stopped {code, reason}
//   start-failed {code, error}   timeout
// stdin: one command per line: `send <content>` (SendChannelMessage with aws-sdk-js-v3), `stop`.
// The library's own log goes to stderr.

'use strict';

// What Node lacks (REALTIME.md §7): a global WebSocket before Node 22, CloseEvent before Node 23.
if (!globalThis.WebSocket) globalThis.WebSocket = require('ws').WebSocket;
globalThis.CloseEvent ??= class CloseEvent extends Event {
  constructor(t, i = {}) {
    super(t);
    Object.assign(this, { code: i.code, reason: i.reason, wasClean: i.wasClean });
  }
};

const crypto = require('node:crypto');
const readline = require('node:readline');
const {
  ChimeSDKMessagingClient,
  SendChannelMessageCommand,
} = require('@aws-sdk/client-chime-sdk-messaging');
const {
  DefaultMessagingSession,
  MessagingSessionConfiguration,
} = require('amazon-chime-sdk-js');

const env = process.env;
for (const name of ['CHIME_ENDPOINT', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'USER_ARN']) {
  if (!env[name]) {
    console.error(`session.js: ${name} is not set`);
    process.exit(1);
  }
}

const emit = (ev, fields = {}) => process.stdout.write(JSON.stringify({ ev, ...fields }) + '\n');

setTimeout(() => {
  emit('timeout');
  process.exit(2);
}, Number(env.TIMEOUT_MS || 60000));

// The library reports every socket close (also the ones it reconnects after, which observers never
// see) as "WebSocket close: <code> <reason>", and the GetMessagingSessionEndpoint answer it is about
// to connect to as "Messaging endpoint resolved to: <url>"; surface those as events.
const log = level => msg => {
  const text = typeof msg === 'function' ? msg() : msg;
  process.stderr.write(`[${level}] ${text}\n`);
  const closed = /^WebSocket close: (\d+) ?(.*)$/.exec(text);
  if (closed) emit('closed', { code: Number(closed[1]), reason: closed[2] });
  const endpoint = /^Messaging endpoint resolved to: (.*)$/.exec(text);
  if (endpoint) emit('endpoint', { url: endpoint[1] });
};
const logger = {
  debug: log('debug'),
  info: log('info'),
  warn: log('warn'),
  error: log('error'),
  setLogLevel() {},
  getLogLevel: () => 0,
};

const client = new ChimeSDKMessagingClient({
  region: env.AWS_REGION || 'us-east-1',
  endpoint: env.CHIME_ENDPOINT,
  credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY },
});
const config = new MessagingSessionConfiguration(env.USER_ARN, null, undefined, client);
const session = new DefaultMessagingSession(config, logger);
let stopping = false;

session.addObserver({
  messagingSessionDidStartConnecting: reconnecting => emit('connecting', { reconnecting }),
  messagingSessionDidStart: () => emit('started'),
  messagingSessionDidReceiveMessage: m =>
    emit('message', { type: m.type, headers: m.headers, payload: m.payload }),
  messagingSessionDidStop: e => {
    emit('stopped', { code: e.code, reason: e.reason });
    process.exit(stopping ? 0 : 1);
  },
});

session.start().catch(e => {
  emit('start-failed', { code: e?.code, error: String(e) });
  process.exit(1);
});

async function send(content) {
  if (!env.CHANNEL_ARN || !env.SEND_AS) throw new Error('send needs CHANNEL_ARN and SEND_AS');
  const out = await client.send(
    new SendChannelMessageCommand({
      ChannelArn: env.CHANNEL_ARN,
      Content: content,
      Type: 'STANDARD',
      Persistence: 'PERSISTENT',
      ClientRequestToken: crypto.randomUUID(),
      ChimeBearer: env.SEND_AS,
    }),
  );
  return out.MessageId;
}

readline.createInterface({ input: process.stdin }).on('line', line => {
  const [cmd, ...rest] = line.split(' ');
  if (cmd === 'send') {
    send(rest.join(' ')).then(
      id => emit('sent', { id }),
      e => emit('send-failed', { error: `${e.name}: ${e.message}` }),
    );
  } else if (cmd === 'stop') {
    stopping = true;
    session.stop();
  } else {
    console.error(`session.js: unknown command ${JSON.stringify(line)}`);
  }
}).on('close', () => {
  // The test went away without `stop`: do not linger.
  if (!stopping) process.exit(3);
});
