// Bundles the page (src/main.js and what it imports) into dist/app.js with esbuild.
// `node build.mjs` once; `node build.mjs --watch` rebuilds on change.

import { context, build } from 'esbuild';

const options = {
  entryPoints: ['src/main.js'],
  bundle: true,
  // The "browser" fields of the aws-sdk-js-v3 packages swap in fetch and the browser's crypto.
  platform: 'browser',
  format: 'esm',
  target: ['chrome110', 'firefox110', 'safari16'],
  outfile: 'dist/app.js',
  minify: true,
  sourcemap: true,
  // amazon-chime-sdk-js is CommonJS written for bundlers that provide `global`.
  define: { global: 'globalThis' },
  // amazon-chime-sdk-js require()s the messaging client, and a require() would get its CommonJS
  // build, whose runtime config is Node's (node:https, credential files). Point every import at
  // the ES build, which the package's "browser" field gives its browser runtime config.
  alias: {
    '@aws-sdk/client-chime-sdk-messaging': '@aws-sdk/client-chime-sdk-messaging/dist-es/index.js',
  },
  logLevel: 'warning',
};

if (process.argv.includes('--watch')) {
  const ctx = await context(options);
  await ctx.watch();
  console.log('watching src/ for changes');
} else {
  await build(options);
}
