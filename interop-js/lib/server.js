'use strict';
// Starts the Go test server (interop/cmd/jsserver) for a test: the revoke
// handlers over a memstore on 127.0.0.1, with fixture routes under
// /_fixture/. The binary is built once per process; each server exits when
// stop() closes its standard input, when this process exits, or after its
// own two-minute lifetime.

const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');

const interopDir = path.join(__dirname, '..', '..', 'interop');
let binary;
const children = new Set();

process.on('exit', () => {
  for (const c of children) c.kill();
  if (binary) fs.rmSync(path.dirname(binary), { recursive: true, force: true });
});

function build() {
  if (!binary) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'revoke-jsserver-'));
    const out = path.join(dir, 'jsserver');
    execFileSync(process.env.GO || 'go', ['build', '-o', out, './cmd/jsserver'], {
      cwd: interopDir, stdio: ['ignore', 'inherit', 'inherit'], timeout: 300_000,
    });
    binary = out;
  }
  return binary;
}

function firstLine(stream, ms) {
  return new Promise((resolve, reject) => {
    const rl = readline.createInterface({ input: stream });
    const timer = setTimeout(() => { rl.close(); reject(new Error('the test server did not start')); }, ms);
    rl.once('line', (line) => { clearTimeout(timer); resolve(line); rl.close(); });
    rl.once('close', () => { clearTimeout(timer); reject(new Error('the test server exited before it started')); });
  });
}

async function fixture(url, method, route, body) {
  const res = await fetch(url + '/_fixture/' + route, {
    method,
    headers: body ? { 'Content-Type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!res.ok) throw new Error(`fixture ${route}: ${res.status} ${await res.text()}`);
  return res.json();
}

// startServer starts a server; oktaLimit is its Okta-family budget of
// requests a second per caller (0: the default).
async function startServer({ oktaLimit = 0 } = {}) {
  const child = spawn(build(), ['-okta-limit', String(oktaLimit), '-lifetime', '2m'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  children.add(child);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const { url, adminToken } = JSON.parse(await firstLine(child.stdout, 20_000));
  return {
    url,
    adminToken,
    // login creates count sessions of user: [{id, token, cookie}].
    login: (user, count = 1) => fixture(url, 'POST', 'login', { user, count }),
    // active reports whether the session of token still resolves.
    active: async (token) => (await fixture(url, 'POST', 'active', { token })).active,
    // calls returns the users the OAuth token revoker and the device
    // forgetter were called for: {oauth, forget}.
    calls: () => fixture(url, 'GET', 'calls'),
    // exchanges returns what the server was sent and answered.
    exchanges: () => fixture(url, 'GET', 'exchanges'),
    async stop() {
      child.stdin.end();
      const timer = setTimeout(() => child.kill(), 5_000);
      await exited;
      clearTimeout(timer);
      children.delete(child);
    },
  };
}

module.exports = { startServer };
