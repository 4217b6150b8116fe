// Debian's Chromium under playwright-core, trusting Belfry's development CA the way a person's
// browser would: through the NSS database in $HOME/.pki/nssdb (certutil from libnss3-tools), not
// by ignoring certificate errors. No browser is downloaded.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

function need(path, what) {
  if (!existsSync(path)) {
    throw new Error(`${path} is missing: ${what} (apt-get install chromium libnss3-tools)`);
  }
}

/** A fresh HOME whose NSS database trusts `caPem` to identify servers. */
function homeTrusting(caPem) {
  const home = mkdtempSync(join(tmpdir(), 'web-chat-home-'));
  const db = join(home, '.pki', 'nssdb');
  mkdirSync(db, { recursive: true });
  const certutil = (...args) => execFileSync('certutil', ['-d', `sql:${db}`, ...args], { stdio: 'pipe' });
  try {
    certutil('-N', '--empty-password');
    certutil('-A', '-t', 'C,,', '-n', 'belfry-dev-ca', '-i', caPem);
  } catch (e) {
    rmSync(home, { recursive: true, force: true });
    if (e.code === 'ENOENT') {
      throw new Error('certutil is not on PATH (apt-get install chromium libnss3-tools)');
    }
    throw new Error(`certutil failed: ${e.stderr || e.message}`);
  }
  return home;
}

/** Launches Chromium with a HOME that trusts `caPem`; `close()` also removes that HOME. */
export async function launch(caPem) {
  need(CHROMIUM, 'the web chat test drives Debian\'s Chromium');
  const home = homeTrusting(caPem);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    env: { ...process.env, HOME: home },
    timeout: 30_000,
  });
  return {
    browser,
    async close() {
      await browser.close().catch(() => {});
      rmSync(home, { recursive: true, force: true });
    },
  };
}
