// Live events over amazon-chime-sdk-js's DefaultMessagingSession: it asks
// GetMessagingSessionEndpoint, opens wss://<that host>/connect presigned with the client's
// credentials, and reconnects by itself. Each event's payload is the resource's REST shape as a
// JSON string.

import {
  ConsoleLogger,
  DefaultMessagingSession,
  LogLevel,
  MessagingSessionConfiguration,
} from 'amazon-chime-sdk-js';

/**
 * Starts a session for the API's user. `onEvent(type, payload)` gets every event but
 * SESSION_ESTABLISHED; `onStatus(text)` gets "connecting", "reconnecting", "live", "stopped".
 */
export function startLive(api, { onEvent, onStatus }) {
  const config = new MessagingSessionConfiguration(api.me, null, undefined, api.client);
  const session = new DefaultMessagingSession(config, new ConsoleLogger('chat', LogLevel.WARN));
  session.addObserver({
    messagingSessionDidStartConnecting: reconnecting =>
      onStatus(reconnecting ? 'reconnecting' : 'connecting'),
    messagingSessionDidStart: () => onStatus('live'),
    messagingSessionDidStop: () => onStatus('stopped'),
    messagingSessionDidReceiveMessage: m => {
      if (m.type === 'SESSION_ESTABLISHED') return;
      let payload;
      try {
        payload = m.payload ? JSON.parse(m.payload) : {};
      } catch {
        console.warn('an event payload that is not JSON', m.type, m.payload);
        return;
      }
      onEvent(m.type, payload);
    },
  });
  session.start().catch(e => {
    console.error('the messaging session did not start', e);
    onStatus('stopped');
  });
  return session;
}
