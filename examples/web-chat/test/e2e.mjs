// End to end in headless Chromium: alice, bob and carol, each in a browser context of their own,
// sign in to the web chat; alice and bob talk in one channel. Every change alice makes must show
// on bob's page through the live session (his page never reloads until the last step), bob's
// typing on alice's page, and the channel in carol's list once alice adds her. Run by crates/belfry/tests/it/web_chat.rs; by hand:
//
//   APP_URL=http://127.0.0.1:8080 BELFRY_ENDPOINT=https://127.0.0.1:7755 \
//   CA_PEM=../../belfry-data/tls/ca.pem ARTIFACTS=/tmp/web-chat node test/e2e.mjs
//
// ADMIN_KEY_ID and ADMIN_SECRET, when set, are checked never to reach a page.
//
// Prints one line per step and the path of each screenshot; exits 1 on the first failure, with
// screenshots of both pages and their console output.

import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { launch } from './browser.mjs';

const env = process.env;
for (const name of ['APP_URL', 'BELFRY_ENDPOINT', 'CA_PEM', 'ARTIFACTS']) {
  if (!env[name]) {
    console.error(`e2e: ${name} is not set`);
    process.exit(2);
  }
}
const WAIT = 15_000;
/** Small pages, so that a handful of messages exercises "older". */
const PAGE_SIZE = 3;
const artifacts = env.ARTIFACTS;
mkdirSync(artifacts, { recursive: true });
for (const f of readdirSync(artifacts)) if (f.endsWith('.png')) rmSync(join(artifacts, f));

const logs = [];
const people = {};
let shots = 0;

async function screenshot(label) {
  shots += 1;
  for (const [who, page] of Object.entries(people)) {
    const path = join(artifacts, `${String(shots).padStart(2, '0')}-${label}-${who}.png`);
    await page.screenshot({ path }).catch(e => console.log(`screenshot ${path} failed: ${e.message}`));
    console.log(`screenshot: ${path}`);
  }
}

async function step(name, f) {
  const t0 = Date.now();
  try {
    await f();
    // A failed call shows its error in a banner; none may have failed.
    for (const [who, page] of Object.entries(people)) {
      const error = page.getByTestId('error');
      if (await error.isVisible()) throw new Error(`${who}'s page shows an error: ${await error.textContent()}`);
    }
  } catch (e) {
    console.log(`FAIL ${name}: ${e.message.split('\n').slice(0, 12).join('\n')}`);
    await screenshot('failure');
    console.log('--- browser console ---');
    for (const line of logs.slice(-80)) console.log(line);
    throw new Error(`step failed: ${name}`);
  }
  console.log(`ok   ${name} (${Date.now() - t0} ms)`);
}

/** Waits until `predicate(args)`, run in the page, is true; `what` names it on timeout. */
async function until(page, what, predicate, args) {
  try {
    await page.waitForFunction(predicate, args, { timeout: WAIT, polling: 50 });
  } catch (e) {
    throw new Error(`${what}: not within ${WAIT} ms (${e.message.split('\n')[0]})`);
  }
}

const messageSel = id => `li[data-testid="message"][data-id="${id}"]`;
const channelSel = name => `li[data-testid="channel"][data-name="${name}"]`;

function contentIs(page, who, id, text) {
  return until(
    page,
    `${who} shows message ${id} as ${JSON.stringify(text)}`,
    ([sel, text]) => document.querySelector(sel)?.querySelector('[data-testid="content"]')?.textContent === text,
    [messageSel(id), text],
  );
}

async function openApp(browser, user) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 640 } });
  const page = await context.newPage();
  page.on('console', m => logs.push(`[${user}] ${m.type()}: ${m.text()}`));
  page.on('pageerror', e => logs.push(`[${user}] page error: ${e.message}`));
  page.on('requestfailed', r => logs.push(`[${user}] request failed: ${r.method()} ${r.url()} ${r.failure()?.errorText}`));
  people[user] = page;
  await signIn(page, user);
  return page;
}

async function signIn(page, user) {
  await page.goto(`${env.APP_URL}/?pageSize=${PAGE_SIZE}`);
  const answer = page.waitForResponse(r => new URL(r.url()).pathname === '/api/signin', { timeout: WAIT });
  await page.getByTestId(`signin-${user}`).click();
  // The page gets a key of its own user's, never the admin key.
  const text = await (await answer).text();
  const key = JSON.parse(text);
  if (!key.accessKeyId || key.accessKeyId === env.ADMIN_KEY_ID || (env.ADMIN_SECRET && text.includes(env.ADMIN_SECRET))) {
    throw new Error(`${user}'s page was handed the admin key`);
  }
  if (!key.userArn?.endsWith(`/user/${user}`)) throw new Error(`${user}'s page was handed ${key.userArn}`);
  await until(
    page,
    `${user}'s messaging session goes live (SESSION_ESTABLISHED over wss)`,
    () => document.querySelector('[data-testid="status"]')?.dataset.state === 'live',
  );
}

async function send(page, text) {
  await page.getByTestId('composer').fill(text);
  await page.getByTestId('send').click();
  const li = page.locator('li[data-testid="message"]', { hasText: text }).last();
  await li.waitFor({ timeout: WAIT });
  return li.getAttribute('data-id');
}

const { browser, close } = await launch(env.CA_PEM);
const t0 = Date.now();
let failed = false;
try {
  await step("Chromium trusts Belfry's development CA (https /health)", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const res = await page.goto(`${env.BELFRY_ENDPOINT}/health`).catch(e => {
      throw new Error(`${e.message.split('\n')[0]}: the NSS database does not make Chromium trust the CA`);
    });
    if (!res.ok()) throw new Error(`GET /health answered ${res.status()}`);
    const status = await page.evaluate(() => fetch('/health').then(r => r.status));
    if (status !== 200) throw new Error(`a page fetch of /health answered ${status}`);
    await context.close();
  });

  let alice;
  let bob;
  let carol;
  await step('alice, bob and carol sign in; their sessions go live', async () => {
    [alice, bob, carol] = await Promise.all(['alice', 'bob', 'carol'].map(u => openApp(browser, u)));
    await until(bob, "bob's channel list shows the demo's general channel", sel => !!document.querySelector(sel), channelSel('general'));
  });

  const room = `e2e ${Date.now().toString(36)}`;
  await step(`alice creates "${room}" with bob; it appears in bob's list live`, async () => {
    await alice.getByTestId('new-channel-name').fill(room);
    await alice.getByTestId('member-bob').check();
    await alice.getByTestId('new-channel-create').click();
    await until(alice, 'alice has the new channel open', name => document.querySelector('[data-testid="room-name"]')?.textContent === name, room);
    await until(bob, "the channel appears in bob's list", sel => !!document.querySelector(sel), channelSel(room));
    await bob.locator(channelSel(room)).locator('button').click();
    await until(bob, 'bob has the channel open', name => document.querySelector('[data-testid="room-name"]')?.textContent === name, room);
  });
  await screenshot('channel-open');

  let first;
  await step("alice sends; bob's page shows it live", async () => {
    first = await send(alice, 'hello bob');
    await bob.locator(messageSel(first)).waitFor({ timeout: WAIT });
    await contentIs(bob, 'bob', first, 'hello bob');
  });
  await screenshot('sent');

  await step("alice edits her message; bob's page shows the edit live", async () => {
    await alice.locator(messageSel(first)).getByTestId('edit').click();
    await alice.getByTestId('edit-input').fill('hello bob, edited');
    await alice.getByTestId('edit-save').click();
    await contentIs(bob, 'bob', first, 'hello bob, edited');
    await until(bob, 'bob shows the message as edited', sel => document.querySelector(sel)?.dataset.edited === 'true', messageSel(first));
  });
  await screenshot('edited');

  await step("alice deletes (redacts) her message; bob's page shows it redacted live", async () => {
    await alice.locator(messageSel(first)).getByTestId('redact').click();
    await until(bob, 'bob shows the message as redacted', sel => document.querySelector(sel)?.dataset.redacted === 'true', messageSel(first));
    await contentIs(bob, 'bob', first, 'This message was deleted.');
  });
  await screenshot('redacted');

  await step("bob types; alice's page shows the typing indicator, then hides it", async () => {
    const notices = [];
    const count = req => {
      if (req.method() === 'POST' && /\/channels\/.*\/messages$/.test(new URL(req.url()).pathname)) {
        if ((req.postData() ?? '').includes('"CONTROL"')) notices.push(Date.now());
      }
    };
    bob.on('request', count);
    const typed = 'bob is typing a long line';
    const typingStarted = Date.now();
    await bob.getByTestId('composer').pressSequentially(typed, { delay: 40 });
    const typingMs = Date.now() - typingStarted;
    await until(alice, "alice sees 'Bob is typing…'", () => document.querySelector('[data-testid="typing"]')?.textContent === 'Bob is typing…');
    await screenshot('typing');
    bob.off('request', count);
    // One notice per 2 s of keystrokes (about a second here, longer on a busy machine), not one
    // per key.
    const allowed = 1 + Math.ceil(typingMs / 2000);
    if (notices.length < 1 || notices.length > allowed || notices.length >= typed.length) {
      throw new Error(`bob's page sent ${notices.length} typing notices for ${typed.length} keystrokes in ${typingMs} ms`);
    }
    await until(alice, 'the typing indicator goes away after about 3 s', () => document.querySelector('[data-testid="typing"]')?.dataset.active === 'false');
    await bob.getByTestId('composer').fill('');
  });

  await step("alice adds carol to the channel; it appears in carol's list live", async () => {
    await alice.locator('#add-member-user').selectOption({ label: 'Carol' });
    await alice.getByRole('button', { name: 'Add member' }).click();
    await until(carol, "the channel appears in carol's list", sel => !!document.querySelector(sel), channelSel(room));
    await until(alice, "alice's header offers no one left to add", () => document.querySelector('[data-testid="add-member"]').hidden);
  });

  await step("messages in a channel bob is not viewing mark it unread, newest first", async () => {
    await bob.locator(channelSel('general')).locator('button').click();
    await until(bob, 'bob has general open', () => document.querySelector('[data-testid="room-name"]')?.textContent === 'general');
    for (const text of ['one', 'two', 'three']) await send(alice, text);
    await until(bob, `bob's list marks "${room}" unread`, sel => document.querySelector(sel)?.dataset.unread === 'true', channelSel(room));
    await until(bob, `"${room}" is first in bob's list`, name => document.querySelector('li[data-testid="channel"]')?.dataset.name === name, room);
  });
  await screenshot('unread');

  await step('bob opens it: the newest page, "older" pages back, the read marker clears the mark', async () => {
    const marker = bob.waitForResponse(
      r => r.request().method() === 'PUT' && new URL(r.url()).pathname.endsWith('/readMarker'),
      { timeout: WAIT },
    );
    await bob.locator(channelSel(room)).locator('button').click();
    const stored = await marker;
    if (!stored.ok()) throw new Error(`UpdateChannelReadMarker answered ${stored.status()}`);
    const texts = () => bob.locator('li[data-testid="message"] [data-testid="content"]').allTextContents();
    await until(bob, 'the newest page of 3', n => document.querySelectorAll('li[data-testid="message"]').length === n, PAGE_SIZE);
    let shown = await texts();
    if (shown.join('|') !== 'one|two|three') throw new Error(`first page shows ${JSON.stringify(shown)}`);
    await bob.getByTestId('older').click();
    await until(bob, 'the older page', n => document.querySelectorAll('li[data-testid="message"]').length === n, PAGE_SIZE + 1);
    shown = await texts();
    if (shown.join('|') !== 'This message was deleted.|one|two|three') throw new Error(`after "older": ${JSON.stringify(shown)}`);
    await until(bob, '"older" is hidden at the start of the channel', () => document.querySelector('[data-testid="older"]').hidden);
    await until(bob, 'the open channel is not marked unread', sel => document.querySelector(sel)?.dataset.unread === 'false', channelSel(room));
  });
  await screenshot('history');

  await step('bob signs in again: the read marker was stored (not unread)', async () => {
    await signIn(bob, 'bob');
    await until(bob, `"${room}" is listed`, sel => !!document.querySelector(sel), channelSel(room));
    const unread = await bob.locator(channelSel(room)).getAttribute('data-unread');
    if (unread !== 'false') throw new Error(`"${room}" is unread after bob read it and signed in again`);
  });
} catch (e) {
  failed = true;
  console.log(e.message);
} finally {
  await close();
}
console.log(`${failed ? 'FAILED' : 'passed'} in ${Date.now() - t0} ms; screenshots in ${artifacts}`);
process.exit(failed ? 1 : 0);
