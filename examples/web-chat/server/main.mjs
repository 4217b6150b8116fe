// The example's own server: serves the page and hands a signed-in browser an access key that may
// act as that one user. Plain node:http, no framework.
//
// Environment:
//   BELFRY_ENDPOINT          Belfry's endpoint as the browser reaches it (https://127.0.0.1:7755);
//                            this server calls it too, so run it with NODE_EXTRA_CA_CERTS=<ca.pem>
//   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY   Belfry's ADMIN key (what its start-up banner prints)
//   AWS_REGION               default us-east-1
//   HOST, PORT               where to listen (default 127.0.0.1:8080; PORT=0 picks a free one)
//
// Prints one JSON line {"listening": "http://host:port", ...} once the demo users exist.

import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Belfry } from './belfry.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const env = process.env;
for (const name of ['BELFRY_ENDPOINT', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']) {
  if (!env[name]) {
    console.error(`web-chat: ${name} is not set (see examples/web-chat/README.md)`);
    process.exit(1);
  }
}
const region = env.AWS_REGION || 'us-east-1';
const endpoint = env.BELFRY_ENDPOINT.replace(/\/+$/, '');
const belfry = new Belfry({
  endpoint,
  region,
  accessKeyId: env.AWS_ACCESS_KEY_ID,
  secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
});

const demo = await belfry.bootstrap();
/** One scoped key per user for this process's life, minted on the first sign-in. */
const keys = new Map();

const STATIC = {
  '/': ['public/index.html', 'text/html; charset=utf-8'],
  '/style.css': ['public/style.css', 'text/css; charset=utf-8'],
  '/app.js': ['dist/app.js', 'text/javascript; charset=utf-8'],
  '/app.js.map': ['dist/app.js.map', 'application/json'],
};

function send(res, status, body, type = 'application/json') {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body));
}

async function readJson(req) {
  let size = 0;
  const chunks = [];
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 4096) throw new Error('body too large');
    chunks.push(chunk);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
}

async function signIn(req, res) {
  const { user } = await readJson(req);
  const found = demo.users.find(u => u.id === user);
  if (!found) return send(res, 404, { error: `no demo user ${JSON.stringify(user)}` });
  if (!keys.has(found.id)) keys.set(found.id, belfry.mintUserKey(found.arn));
  let key;
  try {
    key = await keys.get(found.id);
  } catch (e) {
    keys.delete(found.id);
    throw e;
  }
  send(res, 200, {
    accessKeyId: key.accessKeyId,
    secretAccessKey: key.secretAccessKey,
    region,
    endpoint,
    userArn: found.arn,
    userName: found.name,
    appInstanceArn: demo.appInstanceArn,
    users: demo.users,
  });
}

const server = createServer(async (req, res) => {
  try {
    const path = new URL(req.url, 'http://localhost').pathname;
    if (req.method === 'GET' && path === '/api/users') {
      return send(res, 200, { users: demo.users.map(({ id, name }) => ({ id, name })) });
    }
    if (req.method === 'POST' && path === '/api/signin') return await signIn(req, res);
    const entry = req.method === 'GET' && STATIC[path];
    if (!entry) return send(res, 404, { error: 'not found' });
    const file = normalize(join(root, entry[0]));
    return send(res, 200, await readFile(file), entry[1]);
  } catch (e) {
    console.error(`web-chat: ${req.method} ${req.url}: ${e.stack || e}`);
    if (!res.headersSent) send(res, 500, { error: String(e.message || e) });
  }
});

server.listen(Number(env.PORT ?? 8080), env.HOST || '127.0.0.1', () => {
  const { address, port } = server.address();
  console.log(
    JSON.stringify({
      listening: `http://${address}:${port}`,
      belfry: endpoint,
      appInstanceArn: demo.appInstanceArn,
    }),
  );
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
