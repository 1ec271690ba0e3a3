'use strict';
// Okta's Node SDK (@okta/okta-sdk-nodejs, unmodified) against the revoke
// handlers: userApi.revokeUserSessions, userApi.endUserSessions with a
// session cookie added by hand, and the SDK's own 429 retry.

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const okta = require('@okta/okta-sdk-nodejs');
const { version } = require('@okta/okta-sdk-nodejs/package.json');
const { startServer } = require('../lib/server');

function client(srv, token = srv.adminToken) {
  return new okta.Client({
    orgUrl: srv.url,
    token,
    requestExecutor: new okta.DefaultRequestExecutor({ maxRetries: 2 }),
  });
}

// rejection returns the error a call rejects with.
async function rejection(promise) {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  assert.fail('the call succeeded');
}

describe('revokeUserSessions', { timeout: 60_000 }, () => {
  let srv;
  before(async () => { srv = await startServer(); });
  after(() => srv.stop());

  test('with oauthTokens and forgetDevices, then the defaults', async () => {
    const [a1, a2] = await srv.login('00u1alice', 2);
    const [b1] = await srv.login('00u2bob');
    const c = client(srv);

    const res = await c.userApi.revokeUserSessions({ userId: '00u1alice', oauthTokens: true, forgetDevices: false });
    assert.equal(res, undefined); // a 204, parsed
    assert.equal(await srv.active(a1.token), false);
    assert.equal(await srv.active(a2.token), false);
    assert.equal(await srv.active(b1.token), true);
    assert.deepEqual(await srv.calls(), { oauth: ['00u1alice'], forget: [] });

    await c.userApi.revokeUserSessions({ userId: '00u2bob' });
    assert.equal(await srv.active(b1.token), false);
    assert.deepEqual(await srv.calls(), { oauth: ['00u1alice'], forget: ['00u2bob'] }); // forgetDevices defaults to true

    const sent = (await srv.exchanges()).filter((x) => x.method === 'DELETE');
    assert.equal(sent[0].path, '/api/v1/users/00u1alice/sessions');
    assert.equal(sent[0].query, 'oauthTokens=true&forgetDevices=false');
    assert.equal(sent[0].header.Authorization[0], 'SSWS ' + srv.adminToken);
    assert.ok(sent[0].header['User-Agent'][0].startsWith(`@okta/okta-sdk-nodejs/${version} node/`));
    assert.equal(sent[1].query, '');
  });

  test('a login with + and @, which the SDK escapes', async () => {
    const [s] = await srv.login('a.b+c@example.com');
    await client(srv).userApi.revokeUserSessions({ userId: 'a.b+c@example.com' });
    assert.equal(await srv.active(s.token), false);
    const sent = (await srv.exchanges()).at(-1);
    assert.equal(sent.status, 204);
  });

  test('an unknown user is an OktaApiError 404 E0000007', async () => {
    const err = await rejection(client(srv).userApi.revokeUserSessions({ userId: '00uNOBODY', oauthTokens: true }));
    assert.equal(err.name, 'OktaApiError');
    assert.equal(err.status, 404);
    assert.equal(err.errorCode, 'E0000007');
    assert.equal(err.errorSummary, 'Not found: Resource not found: 00uNOBODY (User)');
    assert.deepEqual(err.errorCauses, []);
    assert.match(err.errorId, /^oae/);
  });

  test('an unknown token is an OktaApiError 401 E0000011', async () => {
    const [s] = await srv.login('00u1alice');
    const err = await rejection(client(srv, 'not-the-admin-token-0123456789').userApi.revokeUserSessions({ userId: '00u1alice' }));
    assert.equal(err.name, 'OktaApiError');
    assert.equal(err.status, 401);
    assert.equal(err.errorCode, 'E0000011');
    assert.equal(await srv.active(s.token), true);
  });
});

describe('endUserSessions', { timeout: 60_000 }, () => {
  let srv;
  before(async () => { srv = await startServer(); });
  after(() => srv.stop());

  test('with the API token alone it is refused: OktaApiError 403 E0000006', async () => {
    const [s] = await srv.login('00u1alice', 2);
    const err = await rejection(client(srv).userApi.endUserSessions({ keepCurrent: { keepCurrent: true } }));
    assert.equal(err.name, 'OktaApiError');
    assert.equal(err.status, 403);
    assert.equal(err.errorCode, 'E0000006');
    assert.equal(await srv.active(s.token), true);
  });

  test('a session cookie added by hand next to the token is still refused', async () => {
    const [cur, other] = await srv.login('00u1alice', 2);
    const c = client(srv);
    c.http.defaultHeaders.Cookie = cur.cookie;
    const err = await rejection(c.userApi.endUserSessions({ keepCurrent: { keepCurrent: true } }));
    assert.equal(err.status, 403);
    assert.equal(err.errorCode, 'E0000006');
    assert.equal(await srv.active(other.token), true);
  });

  test('with the session cookie in place of the token', async () => {
    const [cur, other] = await srv.login('00u1alice', 2);
    const [bob] = await srv.login('00u2bob');
    const c = client(srv);
    c.http.defaultHeaders.Cookie = cur.cookie;
    delete c.http.defaultHeaders.Authorization; // the route takes the cookie only

    assert.equal(await c.userApi.endUserSessions({ keepCurrent: { keepCurrent: true } }), undefined); // a 200, parsed
    assert.equal(await srv.active(cur.token), true);
    assert.equal(await srv.active(other.token), false);
    assert.equal(await srv.active(bob.token), true);

    // No argument: an empty body, the default (keep the current session).
    const [third] = await srv.login('00u1alice');
    await c.userApi.endUserSessions({});
    assert.equal(await srv.active(cur.token), true);
    assert.equal(await srv.active(third.token), false);

    await c.userApi.endUserSessions({ keepCurrent: { keepCurrent: false } });
    assert.equal(await srv.active(cur.token), false);

    const sent = (await srv.exchanges()).filter((x) => x.method === 'POST').at(-1);
    assert.equal(sent.header.Authorization, undefined);
    assert.equal(sent.status, 200);
  });
});

describe('the SDK retries a 429 as the headers tell it', { timeout: 60_000 }, () => {
  let srv;
  before(async () => { srv = await startServer({ oktaLimit: 1 }); });
  after(() => srv.stop());

  test('it waits for X-Rate-Limit-Reset and retries once', async () => {
    const c = client(srv);
    await c.userApi.revokeUserSessions({ userId: '00u1alice' });
    let [s] = await srv.login('00u1alice');
    let first = await c.userApi.revokeUserSessions({ userId: '00u1alice' });
    let xs = (await srv.exchanges()).filter((x) => x.method === 'DELETE');
    if (xs[1].status === 204) {
      // The first call fell at the very end of a window: call again in this one.
      [s] = await srv.login('00u1alice');
      first = await c.userApi.revokeUserSessions({ userId: '00u1alice' });
      xs = (await srv.exchanges()).filter((x) => x.method === 'DELETE').slice(1);
    }
    assert.equal(first, undefined);
    assert.equal(await srv.active(s.token), false); // the retry revoked

    const [limited, retry] = xs.slice(1);
    assert.equal(limited.status, 429);
    assert.equal(retry.status, 204);
    assert.deepEqual(retry.header['X-Okta-Retry-Count'], ['1']);
    assert.deepEqual(retry.header['X-Okta-Retry-For'], limited.respHeader['X-Okta-Request-Id']);
    const reset = Number(limited.respHeader['X-Rate-Limit-Reset'][0]);
    assert.ok(Number.isInteger(reset));
    // reset * 1000 - Date + 1000 ms after the answer: not before the reset.
    assert.ok(retry.arrivedMs >= reset * 1000, `retry at ${retry.arrivedMs}, reset ${reset * 1000}`);
  });
});
