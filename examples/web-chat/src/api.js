// The Chime SDK Messaging calls the page makes, with aws-sdk-js-v3, as the signed-in user: every
// call carries that user as ChimeBearer and is signed with a key that may act only as them.

import {
  BatchCreateChannelMembershipCommand,
  ChimeSDKMessagingClient,
  CreateChannelCommand,
  ListChannelMembershipsCommand,
  ListChannelMembershipsForAppInstanceUserCommand,
  ListChannelMessagesCommand,
  RedactChannelMessageCommand,
  SendChannelMessageCommand,
  UpdateChannelMessageCommand,
  UpdateChannelReadMarkerCommand,
} from '@aws-sdk/client-chime-sdk-messaging';

/** What a typing notice carries: CONTROL messages may hold 30 bytes and no metadata. */
export const TYPING_CONTENT = '{"typing":true}';

/** Timestamps are Dates from REST calls and ISO-8601 strings in websocket payloads. */
export const millis = t => (t == null ? 0 : t instanceof Date ? t.getTime() : Date.parse(t));

export class Api {
  /** @param {{accessKeyId, secretAccessKey, region, endpoint, userArn, appInstanceArn}} session */
  constructor(session) {
    this.me = session.userArn;
    this.appInstanceArn = session.appInstanceArn;
    this.client = new ChimeSDKMessagingClient({
      region: session.region,
      endpoint: session.endpoint,
      credentials: {
        accessKeyId: session.accessKeyId,
        secretAccessKey: session.secretAccessKey,
      },
    });
  }

  send(command) {
    return this.client.send(command);
  }

  /** Every channel the user belongs to, as {arn, name, lastMessage, readMarker} (ms). */
  async myChannels() {
    const channels = [];
    let NextToken;
    do {
      const page = await this.send(
        new ListChannelMembershipsForAppInstanceUserCommand({
          AppInstanceUserArn: this.me,
          ChimeBearer: this.me,
          MaxResults: 50,
          NextToken,
        }),
      );
      for (const m of page.ChannelMemberships ?? []) {
        channels.push({
          arn: m.ChannelSummary.ChannelArn,
          name: m.ChannelSummary.Name,
          lastMessage: millis(m.ChannelSummary.LastMessageTimestamp),
          readMarker: millis(m.AppInstanceUserMembershipSummary?.ReadMarkerTimestamp),
        });
      }
      NextToken = page.NextToken;
    } while (NextToken);
    return channels;
  }

  /** A channel anyone in it may add members to, with `memberArns` in it from the start. */
  async createChannel(name, memberArns) {
    const out = await this.send(
      new CreateChannelCommand({
        AppInstanceArn: this.appInstanceArn,
        Name: name,
        Mode: 'UNRESTRICTED',
        Privacy: 'PRIVATE',
        MemberArns: memberArns.length ? memberArns : undefined,
        ClientRequestToken: crypto.randomUUID(),
        ChimeBearer: this.me,
      }),
    );
    return out.ChannelArn;
  }

  addMembers(channelArn, memberArns) {
    return this.send(
      new BatchCreateChannelMembershipCommand({
        ChannelArn: channelArn,
        MemberArns: memberArns,
        Type: 'DEFAULT',
        ChimeBearer: this.me,
      }),
    );
  }

  /** Member ARNs of a channel (for the "add member" choices). */
  async members(channelArn) {
    const arns = [];
    let NextToken;
    do {
      const page = await this.send(
        new ListChannelMembershipsCommand({
          ChannelArn: channelArn,
          ChimeBearer: this.me,
          MaxResults: 50,
          NextToken,
        }),
      );
      for (const m of page.ChannelMemberships ?? []) arns.push(m.Member.Arn);
      NextToken = page.NextToken;
    } while (NextToken);
    return arns;
  }

  /** One page of history, newest first, and the token for the page before it. */
  async history(channelArn, pageSize, nextToken) {
    const out = await this.send(
      new ListChannelMessagesCommand({
        ChannelArn: channelArn,
        ChimeBearer: this.me,
        SortOrder: 'DESCENDING',
        MaxResults: pageSize,
        NextToken: nextToken,
      }),
    );
    return { messages: out.ChannelMessages ?? [], nextToken: out.NextToken };
  }

  async sendMessage(channelArn, content) {
    const out = await this.send(
      new SendChannelMessageCommand({
        ChannelArn: channelArn,
        Content: content,
        Type: 'STANDARD',
        Persistence: 'PERSISTENT',
        ClientRequestToken: crypto.randomUUID(),
        ChimeBearer: this.me,
      }),
    );
    return out.MessageId;
  }

  /** A typing notice: never stored, delivered to whoever is connected now. */
  sendTyping(channelArn) {
    return this.send(
      new SendChannelMessageCommand({
        ChannelArn: channelArn,
        Content: TYPING_CONTENT,
        Type: 'CONTROL',
        Persistence: 'NON_PERSISTENT',
        ClientRequestToken: crypto.randomUUID(),
        ChimeBearer: this.me,
      }),
    );
  }

  editMessage(channelArn, messageId, content) {
    return this.send(
      new UpdateChannelMessageCommand({
        ChannelArn: channelArn,
        MessageId: messageId,
        Content: content,
        ChimeBearer: this.me,
      }),
    );
  }

  redactMessage(channelArn, messageId) {
    return this.send(
      new RedactChannelMessageCommand({
        ChannelArn: channelArn,
        MessageId: messageId,
        ChimeBearer: this.me,
      }),
    );
  }

  markRead(channelArn) {
    return this.send(
      new UpdateChannelReadMarkerCommand({ ChannelArn: channelArn, ChimeBearer: this.me }),
    );
  }
}
