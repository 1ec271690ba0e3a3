'use strict';
// Ory's fetch client (@ory/client-fetch, unmodified) against the revoke
// handlers' Kratos routes, mounted under /auth: toSession,
// disableMyOtherSessions, and listMySessions page by page.

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Configuration, FrontendApi, ResponseError } = require('@ory/client-fetch');
const { startServer } = require('../lib/server');

function frontend(srv) {
  return new FrontendApi(new Configuration({ basePath: srv.url + '/auth' }));
}

// credentials are the two ways the client presents a session.
const credentials = [
  ['X-Session-Token', (s) => ({ xSessionToken: s.token })],
  ['cookie', (s) => ({ cookie: 'theme=dark; ' + s.cookie })],
];

async function rejection(promise) {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  assert.fail('the call succeeded');
}

// nextPageToken reads the page_token of the Link header's rel="next", as
// Ory's clients page.
function nextPageToken(link) {
  if (!link) return undefined;
  for (const part of link.split(',')) {
    const m = part.match(/<([^>]*)>\s*;\s*rel="?next"?/);
    if (m) return new URL(m[1], 'http://base.invalid').searchParams.get('page_token') ?? undefined;
  }
  return undefined;
}

describe('Ory client', { timeout: 60_000 }, () => {
  let srv;
  before(async () => { srv = await startServer(); });
  after(() => srv.stop());

  for (const [name, present] of credentials) {
    test(`toSession with the ${name}`, async () => {
      const [s] = await srv.login('ory-user');
      const got = await frontend(srv).toSession(present(s));
      assert.equal(got.id, s.id);
      assert.equal(got.active, true);
      assert.equal(got.identity.id, 'ory-user');
      assert.ok(got.expires_at instanceof Date && got.expires_at > new Date()); // parsed as a date
      assert.ok(got.authenticated_at instanceof Date && got.authenticated_at <= new Date());
      assert.equal(got.devices.length, 1);
      assert.equal(got.devices[0].ip_address, '203.0.113.9');
      assert.equal(got.devices[0].user_agent, 'interop-js/1.0');
    });
  }

  test('toSession without a session is a 401 errorGeneric', async () => {
    const err = await rejection(frontend(srv).toSession({ xSessionToken: 'A'.repeat(43) }));
    assert.ok(err instanceof ResponseError);
    assert.equal(err.response.status, 401);
    const body = await err.response.json();
    assert.equal(body.error.code, 401);
    assert.equal(body.error.status, 'Unauthorized');
  });

  for (const [name, present] of credentials) {
    test(`disableMyOtherSessions with the ${name}`, async () => {
      const [cur, o1, o2] = await srv.login(`ory-others-${name}`, 3);
      const [bob] = await srv.login(`ory-bystander-${name}`);
      const api = frontend(srv);
      assert.deepEqual(await api.disableMyOtherSessions(present(cur)), { count: 2 });
      assert.equal(await srv.active(cur.token), true);
      assert.equal(await srv.active(o1.token), false);
      assert.equal(await srv.active(o2.token), false);
      assert.equal(await srv.active(bob.token), true);
      assert.deepEqual(await api.disableMyOtherSessions(present(cur)), { count: 0 }); // none left to revoke
    });
  }

  test('listMySessions, following rel="next" page by page', async () => {
    const [cur, ...others] = await srv.login('ory-lister', 6);
    await frontend(srv).disableMySession({ id: others.pop().id, xSessionToken: cur.token }); // a revoked one is not listed
    const api = frontend(srv);
    const pages = [];
    let pageToken;
    for (let i = 0; i < 10; i++) {
      const raw = await api.listMySessionsRaw({ xSessionToken: cur.token, pageSize: 2, pageToken });
      pages.push(await raw.value());
      pageToken = nextPageToken(raw.raw.headers.get('link'));
      if (!pageToken) break;
    }
    const ids = pages.flat().map((s) => s.id);
    assert.equal(new Set(ids).size, ids.length); // no session twice
    assert.deepEqual([...ids].sort(), others.map((s) => s.id).sort()); // every other active session, not the current one
    for (const s of pages.flat()) {
      assert.equal(s.active, true);
      assert.equal(s.identity.id, 'ory-lister');
    }
    // Four sessions at two a page: more than one page, none over page_size.
    assert.ok(pages.length > 1, `${pages.length} page(s)`);
    for (const p of pages) assert.ok(p.length <= 2, `a page of ${p.length}`);
  });
});
