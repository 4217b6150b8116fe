// What the example's server asks of Belfry with the admin key: the demo AppInstance and its
// users (through the Chime SDK Identity and Messaging APIs), and access keys scoped to one user
// (through Belfry's own signed admin API, POST /admin/keys). The admin key never leaves this
// process.

import { randomUUID } from 'node:crypto';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import {
  ChimeSDKIdentityClient,
  CreateAppInstanceCommand,
  CreateAppInstanceUserCommand,
  ListAppInstancesCommand,
  ListAppInstanceUsersCommand,
} from '@aws-sdk/client-chime-sdk-identity';
import { ChimeSDKMessagingClient, CreateChannelCommand } from '@aws-sdk/client-chime-sdk-messaging';

export const APP_INSTANCE_NAME = 'belfry-web-chat';
export const DEMO_USERS = [
  { id: 'alice', name: 'Alice' },
  { id: 'bob', name: 'Bob' },
  { id: 'carol', name: 'Carol' },
];

export class Belfry {
  /** @param {{endpoint: string, region: string, accessKeyId: string, secretAccessKey: string}} admin */
  constructor(admin) {
    this.admin = admin;
    const config = {
      region: admin.region,
      endpoint: admin.endpoint,
      credentials: { accessKeyId: admin.accessKeyId, secretAccessKey: admin.secretAccessKey },
    };
    this.identity = new ChimeSDKIdentityClient(config);
    this.messaging = new ChimeSDKMessagingClient(config);
    this.signer = new SignatureV4({
      service: 'chime',
      region: admin.region,
      credentials: config.credentials,
      sha256: Sha256,
    });
  }

  /**
   * The demo AppInstance and its users, made on the first start and found again on later ones
   * (by the AppInstance's name and the users' ids). A new AppInstance also gets a "general"
   * channel with everyone in it.
   * @returns {Promise<{appInstanceArn: string, users: {id: string, name: string, arn: string}[]}>}
   */
  async bootstrap() {
    let appInstanceArn = await this.findAppInstance();
    const fresh = !appInstanceArn;
    if (fresh) {
      const made = await this.identity.send(
        new CreateAppInstanceCommand({ Name: APP_INSTANCE_NAME, ClientRequestToken: randomUUID() }),
      );
      appInstanceArn = made.AppInstanceArn;
    }
    const existing = new Map();
    let NextToken;
    do {
      const page = await this.identity.send(
        new ListAppInstanceUsersCommand({ AppInstanceArn: appInstanceArn, NextToken }),
      );
      for (const u of page.AppInstanceUsers ?? []) existing.set(u.AppInstanceUserArn, u);
      NextToken = page.NextToken;
    } while (NextToken);

    const users = [];
    for (const { id, name } of DEMO_USERS) {
      const arn = `${appInstanceArn}/user/${id}`;
      if (!existing.has(arn)) {
        await this.identity.send(
          new CreateAppInstanceUserCommand({
            AppInstanceArn: appInstanceArn,
            AppInstanceUserId: id,
            Name: name,
            ClientRequestToken: randomUUID(),
          }),
        );
      }
      users.push({ id, name, arn });
    }
    if (fresh) {
      await this.messaging.send(
        new CreateChannelCommand({
          AppInstanceArn: appInstanceArn,
          Name: 'general',
          Mode: 'UNRESTRICTED',
          Privacy: 'PRIVATE',
          MemberArns: users.slice(1).map(u => u.arn),
          ClientRequestToken: randomUUID(),
          ChimeBearer: users[0].arn,
        }),
      );
    }
    return { appInstanceArn, users };
  }

  async findAppInstance() {
    let NextToken;
    do {
      const page = await this.identity.send(new ListAppInstancesCommand({ NextToken }));
      const found = (page.AppInstances ?? []).find(a => a.Name === APP_INSTANCE_NAME);
      if (found) return found.AppInstanceArn;
      NextToken = page.NextToken;
    } while (NextToken);
    return undefined;
  }

  /**
   * A new access key that may act as `userArn` and no one else: POST /admin/keys, signed with
   * the admin key like any AWS request.
   * @returns {Promise<{accessKeyId: string, secretAccessKey: string}>}
   */
  async mintUserKey(userArn) {
    const url = new URL('/admin/keys', this.admin.endpoint);
    const body = JSON.stringify({ Bearers: [userArn] });
    const signed = await this.signer.sign({
      method: 'POST',
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port ? Number(url.port) : undefined,
      path: url.pathname,
      query: {},
      headers: { host: url.host, 'content-type': 'application/json' },
      body,
    });
    // fetch sets Host itself, to the same url.host that was signed.
    const { host: _host, ...headers } = signed.headers;
    const res = await fetch(url, { method: 'POST', headers, body });
    const text = await res.text();
    if (!res.ok) throw new Error(`POST /admin/keys answered ${res.status}: ${text}`);
    const key = JSON.parse(text);
    return { accessKeyId: key.AccessKeyId, secretAccessKey: key.SecretAccessKey };
  }
}
