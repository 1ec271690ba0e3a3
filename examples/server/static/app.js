// The "Active sessions" page: plain DOM code calling the demo's JSON
// endpoints. Every request is same-origin and carries the session cookie;
// the server's cross-origin protection accepts it because browsers mark such
// requests Sec-Fetch-Site: same-origin.
"use strict";

const $ = (id) => document.getElementById(id);

let me = null; // GET /me of the signed-in user: {userId, sessionId, admin, maxSessions, lastNewDevice, ...}

// ---- HTTP ----------------------------------------------------------------

// api calls an endpoint and returns its parsed JSON body (null when empty).
// It throws an Error carrying the status and the server's message.
async function api(method, path, body) {
  const opts = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const res = await fetch(path, opts);
  const text = await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!res.ok) {
    const err = new Error(errorMessage(data, res));
    err.status = res.status;
    // The demo's own code ("invalid_credentials", "insufficient_user_authentication").
    err.code = data && typeof data.error === "string" ? data.error : "";
    throw err;
  }
  return data;
}

// errorMessage reads the message of any of the error shapes the server
// speaks: Okta, Ory Kratos, the admin API, and the demo's own.
function errorMessage(data, res) {
  if (data && typeof data === "object") {
    if (data.errorSummary) return data.errorSummary; // Okta
    if (data.error && typeof data.error === "object") { // Kratos
      return data.error.reason || data.error.message || res.statusText;
    }
    if (data.message) return data.message; // admin API and demo
  }
  return `${res.status} ${res.statusText}`;
}

// ---- Messages --------------------------------------------------------------

function showError(msg) {
  $("status").hidden = true;
  $("error").textContent = msg;
  $("error").hidden = !msg;
}

function showStatus(msg) {
  $("error").hidden = true;
  $("status").textContent = msg;
  $("status").hidden = !msg;
}

function clearMessages() {
  $("error").hidden = true;
  $("status").hidden = true;
}

// run performs an action for a button: it disables the button meanwhile and
// reports failures. A 401 means our own session has ended.
async function run(button, action) {
  if (button) button.disabled = true;
  try {
    await action();
  } catch (err) {
    // A wrong password typed again is a 401 too, but the session lives on.
    if (err.status === 401 && me && err.code !== "invalid_credentials") {
      signedOut("Your session has ended: it was revoked or it expired. Please sign in again.");
    } else {
      showError(err.message);
    }
  } finally {
    if (button) button.disabled = false;
  }
}

// ---- Formatting -------------------------------------------------------------

const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const relFmt = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

function fmtDate(s) {
  if (!s) return "—";
  const d = new Date(s);
  return isNaN(d) ? "—" : dateFmt.format(d);
}

function fmtAgo(s) {
  if (!s) return "—";
  const d = new Date(s);
  if (isNaN(d)) return "—";
  const secs = Math.round((d - Date.now()) / 1000);
  if (Math.abs(secs) < 60) return "just now";
  const mins = Math.round(secs / 60);
  if (Math.abs(mins) < 60) return relFmt.format(mins, "minute");
  const hours = Math.round(mins / 60);
  if (Math.abs(hours) < 24) return relFmt.format(hours, "hour");
  return relFmt.format(Math.round(hours / 24), "day");
}

// deviceName turns a user agent into "Firefox on macOS" and the like.
function deviceName(ua) {
  if (!ua) return "Unknown device";
  const browsers = [["Edg/", "Edge"], ["OPR/", "Opera"], ["Firefox/", "Firefox"], ["Chrome/", "Chrome"],
    ["Safari/", "Safari"], ["curl/", "curl"], ["Go-http-client", "Go HTTP client"], ["okhttp", "Android app"]];
  const systems = [["iPhone", "iPhone"], ["iPad", "iPad"], ["Android", "Android"], ["Windows", "Windows"],
    ["Mac OS X", "macOS"], ["CrOS", "ChromeOS"], ["Linux", "Linux"]];
  const browser = (browsers.find(([k]) => ua.includes(k)) || [null, ua.split(/[/ ]/)[0]])[1];
  const system = (systems.find(([k]) => ua.includes(k)) || [])[1];
  return system ? `${browser} on ${system}` : browser;
}

// el creates an element with attributes and children.
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  e.append(...children);
  return e;
}

function emptyRow(cols, text) {
  return el("tr", { class: "empty" }, el("td", { colspan: cols, text }));
}

function deviceCell(ua) {
  return el("td", {}, el("div", { class: "device", text: deviceName(ua) }),
    el("div", { class: "ua muted", title: ua || "", text: ua || "" }));
}

// ---- Views -------------------------------------------------------------------

function signedOut(message) {
  me = null;
  $("whoami").hidden = true;
  $("sessions-view").hidden = true;
  $("admin-view").hidden = true;
  $("login-view").hidden = false;
  $("sessions-body").replaceChildren();
  hideReauth();
  $("admin-sessions-body").replaceChildren();
  $("audit-body").replaceChildren();
  if (message) showStatus(message);
  $("login-username").focus();
}

async function signedIn(info) {
  me = info;
  $("login-view").hidden = true;
  $("whoami").hidden = false;
  $("whoami-user").textContent = me.userId;
  $("whoami-admin").hidden = !me.admin;
  $("sessions-view").hidden = false;
  $("admin-view").hidden = !me.admin;
  await loadSessions();
  if (me && me.admin) await loadAdmin();
}

// ---- My sessions (Ory Kratos endpoints) -------------------------------------

// fromKratos reads a session in Ory Kratos's JSON.
function fromKratos(s) {
  const dev = (s.devices && s.devices[0]) || {};
  return {
    id: s.id,
    ip: dev.ip_address || "",
    userAgent: dev.user_agent || "",
    createdAt: s.authenticated_at || s.issued_at,
    lastSeenAt: s.last_seen_at, // beyond Kratos: revoke adds it
  };
}

// loadSessions lists the caller's sessions. Kratos's list leaves out the
// current session, which whoami returns, so the page asks for both.
async function loadSessions() {
  const [current, others, info] = await Promise.all([
    api("GET", "/auth/sessions/whoami"),
    api("GET", "/auth/sessions"),
    api("GET", "/me"),
  ]);
  if (!me) return; // signed out meanwhile
  me = info;
  const cur = fromKratos(current);
  const rest = (others || []).map(fromKratos).filter((s) => s.id !== cur.id);
  const body = $("sessions-body");
  body.replaceChildren(sessionRow(cur, true), ...rest.map((s) => sessionRow(s, false)));
  showSessionCap(1 + rest.length);
  showNewDevice(me.lastNewDevice);
}

// showSessionCap says how many of the sessions -max-sessions allows are in
// use; nothing without a cap.
function showSessionCap(n) {
  const cap = me.maxSessions || 0;
  $("session-cap").hidden = !cap;
  if (!cap) return;
  $("session-cap").textContent = `${n} of ${cap} session${cap === 1 ? "" : "s"}` +
    (n >= cap ? " · a new sign-in will sign out the device seen least recently, or be refused" : "");
}

// showNewDevice shows the user's last sign-in from a browser that had never
// signed them in before: the "new sign-in to your account" message.
function showNewDevice(ev) {
  $("new-device").hidden = !ev;
  if (!ev) return;
  const here = ev.sessionId === me.sessionId ? " (this device)" : "";
  const from = ev.ipAddress ? ` (${ev.ipAddress})` : "";
  const advice = here ? "" : " If this was not you, revoke that session.";
  $("new-device").textContent = `New sign-in from ${ev.device}${from} at ${fmtDate(ev.at)}${here}.${advice}`;
}

function sessionRow(s, current) {
  const action = current
    ? el("span", { class: "badge badge-current", "data-testid": "this-device", text: "This device" })
    : el("button", { type: "button", class: "btn btn-small btn-danger", "data-action": "revoke-session", "data-session-id": s.id, text: "Revoke" });
  return el("tr", { "data-session-id": s.id, "data-current": String(current), class: current ? "current" : "" },
    deviceCell(s.userAgent),
    el("td", { class: "ip mono", text: s.ip || "—" }),
    el("td", { class: "created nowrap", text: fmtDate(s.createdAt) }),
    el("td", { class: "seen nowrap", title: fmtDate(s.lastSeenAt), text: current ? "Now" : fmtAgo(s.lastSeenAt) }),
    el("td", { class: "right" }, action));
}

async function revokeSession(id) {
  await api("DELETE", `/auth/sessions/${encodeURIComponent(id)}`);
  showStatus("The session was revoked. That device is signed out.");
  await refreshAll();
}

async function revokeOthers() {
  const res = await api("DELETE", "/auth/sessions");
  const n = res ? res.count : 0;
  showStatus(n === 0 ? "No other session was signed in." : n === 1 ? "Signed out of 1 other session." : `Signed out of ${n} other sessions.`);
  await refreshAll();
}

// revokeEverywhere signs out every session, this one too. The server wants
// the password typed recently for it: when it was not, it answers 401
// insufficient_user_authentication and the page asks for it again.
async function revokeEverywhere() {
  try {
    await api("POST", "/api/v1/users/me/lifecycle/delete_sessions", { keepCurrent: false });
  } catch (err) {
    if (err.status === 401 && err.code === "insufficient_user_authentication") {
      askPassword();
      return;
    }
    throw err;
  }
  signedOut("You have been signed out everywhere.");
}

function askPassword() {
  clearMessages();
  $("reauth-form").hidden = false;
  $("revoke-all").hidden = true;
  $("reauth-password").focus();
}

function hideReauth() {
  $("reauth-form").hidden = true;
  $("reauth-password").value = "";
  $("revoke-all").hidden = false;
}

// reauth sends the password typed again (POST /reauth), which renews the
// session's cookie, then signs out everywhere.
async function reauth(ev) {
  ev.preventDefault();
  clearMessages();
  const password = $("reauth-password").value;
  if (!password) {
    showError("Enter your password.");
    return;
  }
  await run($("reauth-submit"), async () => {
    try {
      await api("POST", "/reauth", { password });
    } catch (err) {
      $("reauth-password").value = "";
      if (err.code === "invalid_credentials") err.message = "Wrong password. Try again.";
      throw err;
    }
    hideReauth();
    await revokeEverywhere();
  });
}

// ---- Administration (admin API) ---------------------------------------------

async function loadAdmin() {
  const select = $("admin-user");
  if (!select.options.length) {
    const users = await api("GET", "/demo/users");
    select.replaceChildren(...users.map((u) => el("option", { value: u.id, text: u.admin ? `${u.id} (admin)` : u.id })));
  }
  await Promise.all([loadAdminSessions(), loadAudit()]);
}

function statusOf(s) {
  if (s.revokedAt) return "revoked";
  if (!s.active) return "expired";
  return "active";
}

async function loadAdminSessions() {
  const user = $("admin-user").value;
  // active=false: the audit trail, revoked and expired sessions too.
  const res = await api("GET", `/auth/admin/api/users/${encodeURIComponent(user)}/sessions?active=false`);
  const list = (res && res.sessions) || [];
  const body = $("admin-sessions-body");
  if (!list.length) {
    body.replaceChildren(emptyRow(7, `${user} has no sessions.`));
    return;
  }
  body.replaceChildren(...list.map((s) => {
    const status = statusOf(s);
    const isMine = me && s.id === me.sessionId;
    const action = status === "active"
      ? el("button", { type: "button", class: "btn btn-small btn-danger", "data-action": "admin-revoke", "data-session-id": s.id, text: "Revoke" })
      : el("span", { class: "muted small", text: s.revokeReason || "" });
    return el("tr", { "data-session-id": s.id, "data-status": status, class: isMine ? "current" : "" },
      el("td", { class: "mono", title: s.id, text: s.id.slice(0, 8) + (isMine ? " (you)" : "") }),
      deviceCell(s.userAgent),
      el("td", { class: "mono", text: s.ipAddress || "—" }),
      el("td", { class: "nowrap", text: fmtDate(s.createdAt) }),
      el("td", { class: "nowrap", title: fmtDate(s.lastSeenAt), text: fmtAgo(s.lastSeenAt) }),
      el("td", {}, el("span", { class: `badge badge-${status}`, text: status })),
      el("td", { class: "right" }, action));
  }));
}

async function adminRevoke(id) {
  const user = $("admin-user").value;
  await api("DELETE", `/auth/admin/api/users/${encodeURIComponent(user)}/sessions/${encodeURIComponent(id)}`);
  showStatus(`Revoked session ${id.slice(0, 8)} of ${user}.`);
  await refreshAll();
}

async function adminRevokeAll() {
  const user = $("admin-user").value;
  const oauth = $("admin-oauth").checked;
  const forget = $("admin-forget-devices").checked;
  if (oauth || forget) {
    // Okta's endpoint is the one with these options; it answers 204.
    const q = new URLSearchParams({ oauthTokens: oauth, forgetDevices: forget });
    await api("DELETE", `/api/v1/users/${encodeURIComponent(user)}/sessions?${q}`);
    showStatus(`Revoked every session of ${user}.`);
  } else {
    const res = await api("DELETE", `/auth/admin/api/users/${encodeURIComponent(user)}/sessions`);
    const n = res ? res.count : 0;
    showStatus(`Revoked ${n} session${n === 1 ? "" : "s"} of ${user}.`);
  }
  await refreshAll();
}

const auditLabels = {
  sessions_revoked: "Sessions revoked",
  oauth_tokens_revoked: "OAuth tokens revoked",
  devices_forgotten: "Devices forgotten",
};

async function loadAudit() {
  const entries = (await api("GET", "/demo/audit")) || [];
  const body = $("audit-body");
  if (!entries.length) {
    body.replaceChildren(emptyRow(5, "Nothing has been revoked yet."));
    return;
  }
  body.replaceChildren(...entries.map((e) => {
    const n = (e.sessionIds || []).length;
    const details = e.kind === "sessions_revoked"
      ? `${n} session${n === 1 ? "" : "s"}${e.reason ? ` · ${e.reason}` : ""}`
      : e.detail || "";
    return el("tr", { "data-kind": e.kind },
      el("td", { title: fmtDate(e.at), text: fmtAgo(e.at) }),
      el("td", { text: auditLabels[e.kind] || e.kind }),
      el("td", { class: "mono", text: e.userId }),
      el("td", { class: "mono", text: e.actor || "—" }),
      el("td", { text: details }));
  }));
}

// refreshAll reloads what an action may have changed. Revoking our own
// session (as an admin) ends it: the 401 that follows signs the page out.
async function refreshAll() {
  await loadSessions();
  if (me && me.admin) await loadAdmin();
}

// ---- Wiring ------------------------------------------------------------------

async function login(ev) {
  ev.preventDefault();
  clearMessages();
  const username = $("login-username").value.trim();
  const password = $("login-password").value;
  if (!username || !password) {
    showError("Enter a username and a password.");
    return;
  }
  await run($("login-submit"), async () => {
    await api("POST", "/login", { username, password });
    $("login-password").value = "";
    await signedIn(await api("GET", "/me"));
  });
}

async function logout() {
  await run($("logout"), async () => {
    await api("POST", "/logout");
    signedOut("You have signed out.");
  });
}

function onClick(ev) {
  const button = ev.target.closest("button[data-action]");
  if (!button) return;
  const id = button.dataset.sessionId;
  const actions = {
    "logout": () => logout(),
    "refresh": () => run(button, async () => { clearMessages(); await refreshAll(); }),
    "revoke-session": () => run(button, () => revokeSession(id)),
    "revoke-others": () => run(button, revokeOthers),
    "revoke-all": () => run(button, revokeEverywhere),
    "reauth-cancel": () => { hideReauth(); clearMessages(); },
    "admin-revoke": () => run(button, () => adminRevoke(id)),
    "admin-revoke-all": () => run(button, adminRevokeAll),
  };
  const action = actions[button.dataset.action];
  if (action) action();
}

async function start() {
  $("login-form").addEventListener("submit", login);
  $("reauth-form").addEventListener("submit", reauth);
  document.addEventListener("click", onClick);
  $("admin-user").addEventListener("change", () => run(null, loadAdminSessions));
  // A session revoked from elsewhere shows as soon as the page is looked at.
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && me) run(null, refreshAll);
  });
  try {
    await signedIn(await api("GET", "/me"));
  } catch (err) {
    signedOut();
    if (err.status !== 401) showError(err.message);
  }
}

start();
