// A real OAuth 2.0 / OIDC authorization server (oidc-provider) for the IdP connector contract
// tests. Binds 127.0.0.1 on an ephemeral port, keeps everything in memory, and prints one JSON
// line on stdout once it listens: {"issuer", "clients", "seeded"}. The test fixture
// (tests/governance/connectors/peers.py) reads that line and kills the process at teardown.
//
// What it offers, and why:
// - client "console": the governance console's own client (client_credentials, secret auth).
//   It may introspect and revoke any client's token, as an IdP admin would let it.
// - clients "agent" and "tool-agent": MCP agents; the tests mint their tokens to revoke, and
//   disable "tool-agent" (the kill switch) without stopping the tests that use "agent". They are
//   stored (adapter) clients, not static ones, so the admin route below can disable them:
//   oidc-provider then no longer finds one, and its token requests fail `invalid_client`.
// - a seeded user Grant (alice -> agent) with a refresh token: a delegated grant to revoke.
// - the admin API oidc-provider lacks (Basic auth as "console"), so the connector's optional
//   `grants_url` and `clients_url` have a real peer:
//   GET /admin/grants[?subject=&client_id=] lists grants (the filters are the convention's);
//   POST /admin/grants {"subject", "client_id", "scope"} creates a user's grant and refresh
//   token, as a consent would (the tests' way to seed one); DELETE /admin/grants/:id destroys a
//   grant and every token of it; GET /admin/clients/:id answers {"client_id", "active"};
//   PATCH /admin/clients/:id {"active": false|true} disables or enables the client.
//
// `--sign-in=<json>` ({"redirect_uris": [...], "post_logout_redirect_uris": [...]}) also makes
// it the IdP people sign in to the console with (tests/sso_peer.py starts it so):
// - client "console-web": the console's sign-in client (authorization code, PKCE required,
//   client_secret_basic), with the console's callback as its redirect_uri;
// - users with passwords, e-mail, name and a `groups` claim (scopes email, profile, groups),
//   signed in through a plain HTML login form and consent page at /interaction/:uid (no
//   JavaScript, so httpx and a browser can both walk it);
// - PUT /admin/users/:id/groups (Basic auth as "console", JSON list): changes a user's groups,
//   so a test can take a group away between two sign-ins.
// The JSON line then also has "sign_in": {"client": {...}, "users": {...}}.
import http from 'node:http';

import Provider from 'oidc-provider';

// oidc-provider's notices go to stdout; keep stdout for the one JSON line the fixture reads.
console.log = console.info = console.warn = console.error;

const CONSOLE = { client_id: 'console', client_secret: 'console-secret' };
const AGENT = { client_id: 'agent', client_secret: 'agent-secret' };
const TOOL_AGENT = { client_id: 'tool-agent', client_secret: 'tool-agent-secret' };

const signInArg = process.argv.find((arg) => arg.startsWith('--sign-in='));
const signIn = signInArg ? JSON.parse(signInArg.slice('--sign-in='.length)) : null;
const WEB = { client_id: 'console-web', client_secret: 'console-web-secret' };
// Sign-in users: `groups` is what the console maps to its roles.
const USERS = {
  alice: { password: 'alice-password', email: 'alice@example.com', name: 'Alice Admin', groups: ['mcp-admins'] },
  bob: { password: 'bob-password', email: 'bob@example.com', name: 'Bob Auditor', groups: ['mcp-auditors', 'staff'] },
  carol: { password: 'carol-password', email: 'carol@example.com', name: 'Carol Contractor', groups: ['contractors'] },
};

// A Map per model, never evicted, so grants can be listed (the built-in LRU adapter cannot).
const stores = new Map();
// Client ids the admin route disabled: the adapter no longer finds them, so oidc-provider treats
// them as unknown (token requests `invalid_client`) until they are enabled again.
const disabledClients = new Set();
class MapAdapter {
  constructor(model) {
    this.model = model;
    if (!stores.has(model)) stores.set(model, new Map());
    this.store = stores.get(model);
  }

  async upsert(id, payload) { this.store.set(id, payload); }

  async find(id) {
    if (this.model === 'Client' && disabledClients.has(id)) return undefined;
    return this.store.get(id);
  }

  async findByUid(uid) { return [...this.store.values()].find((p) => p.uid === uid); }

  async findByUserCode(code) { return [...this.store.values()].find((p) => p.userCode === code); }

  async consume(id) { const p = this.store.get(id); if (p) p.consumed = Math.floor(Date.now() / 1000); }

  async destroy(id) { this.store.delete(id); }

  async revokeByGrantId(grantId) {
    for (const store of stores.values()) {
      for (const [id, payload] of store) if (payload.grantId === grantId) store.delete(id);
    }
  }
}

const agentMetadata = (credentials) => ({
  ...credentials,
  grant_types: ['client_credentials', 'authorization_code', 'refresh_token'],
  redirect_uris: ['http://127.0.0.1/cb'],
  scope: 'openid offline_access api:read',
});
stores.set('Client', new Map([AGENT, TOOL_AGENT].map((c) => [c.client_id, agentMetadata(c)])));

const server = http.createServer();
await new Promise((resolve) => { server.listen(0, '127.0.0.1', resolve); });
const issuer = `http://127.0.0.1:${server.address().port}`;

// Static clients: the console's own, and (with --sign-in) its sign-in client. The agents are
// stored clients (created below), so the admin route can disable them.
const staticClients = [
  { ...CONSOLE, grant_types: ['client_credentials'], response_types: [], redirect_uris: [] },
];
if (signIn) {
  staticClients.push({
    ...WEB,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    redirect_uris: signIn.redirect_uris,
    post_logout_redirect_uris: signIn.post_logout_redirect_uris ?? [],
    scope: 'openid email profile groups',
  });
}

const provider = new Provider(issuer, {
  adapter: MapAdapter,
  clients: staticClients,
  scopes: ['openid', 'offline_access', 'api:read', 'email', 'profile', 'groups'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    groups: ['groups'],
  },
  // The sign-in client must send a PKCE challenge (the console always does).
  pkce: { required: (ctx, client) => client.clientId === WEB.client_id },
  cookies: { keys: ['peer-cookie-key'] },
  ttl: { AccessToken: 600, ClientCredentials: 600, Grant: 86400, RefreshToken: 86400 },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true, allowedPolicy: async () => true },
    revocation: {
      enabled: true,
      // The console revokes other clients' tokens; anyone else only its own.
      allowedPolicy: async (ctx, client, token) => (
        client.clientId === CONSOLE.client_id || client.clientId === token.clientId
      ),
    },
  },
  findAccount: async (ctx, sub) => ({
    accountId: sub,
    claims: async () => {
      const user = USERS[sub];
      if (!signIn || !user) return { sub };
      return { sub, email: user.email, email_verified: true, name: user.name, groups: user.groups };
    },
  }),
});

// A user's grant to a client with a refresh token: what a user's consent would have created.
async function createGrant(subject, clientId, scope = 'openid offline_access') {
  const grant = new provider.Grant({ accountId: subject, clientId });
  grant.addOIDCScope(scope);
  const grantId = await grant.save();
  const refreshToken = await new provider.RefreshToken({
    accountId: subject,
    client: await provider.Client.find(clientId),
    grantId,
    scope,
    gty: 'authorization_code',
  }).save();
  return { grant_id: grantId, subject, client_id: clientId, refresh_token: refreshToken };
}

const seeded = await createGrant('alice', AGENT.client_id);

function isConsole(req) {
  const expected = Buffer.from(`${CONSOLE.client_id}:${CONSOLE.client_secret}`).toString('base64');
  return req.headers.authorization === `Basic ${expected}`;
}

function grantJson(payload) {
  return {
    id: payload.jti,
    subject: payload.accountId,
    client_id: payload.clientId,
    scope: payload.openid?.scope ?? '',
    grant_type: 'authorization_code', // how a consent comes about
    created_at: payload.iat,
    expires_at: payload.exp ?? null,
  };
}

async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  try {
    return JSON.parse(Buffer.concat(chunks).toString() || 'null');
  } catch {
    return undefined;
  }
}

async function grantsRoute(req, url, send) {
  const grants = stores.get('Grant') ?? new Map();
  if (req.method === 'GET' && url.pathname === '/admin/grants') {
    const subject = url.searchParams.get('subject');
    const clientId = url.searchParams.get('client_id');
    const listed = [...grants.values()].filter((g) => (
      (subject === null || g.accountId === subject) && (clientId === null || g.clientId === clientId)
    ));
    return send(200, { grants: listed.map(grantJson) });
  }
  if (req.method === 'POST' && url.pathname === '/admin/grants') {
    const body = await readJson(req);
    if (!body?.subject || !stores.get('Client').has(body?.client_id)) {
      return send(400, { error: 'invalid_request', error_description: 'subject and a known client_id' });
    }
    return send(201, await createGrant(body.subject, body.client_id, body.scope));
  }
  const id = decodeURIComponent(url.pathname.slice('/admin/grants/'.length));
  if (req.method === 'DELETE' && id) {
    if (!grants.has(id)) return send(404, { error: 'not_found' });
    grants.delete(id);
    await new MapAdapter('Grant').revokeByGrantId(id);
    return send(204);
  }
  return send(405, { error: 'method_not_allowed' });
}

async function clientsRoute(req, url, send) {
  const id = decodeURIComponent(url.pathname.slice('/admin/clients/'.length));
  if (!id || !stores.get('Client').has(id)) return send(404, { error: 'not_found' });
  const shown = () => ({ client_id: id, active: !disabledClients.has(id) });
  if (req.method === 'GET') return send(200, shown());
  if (req.method !== 'PATCH') return send(405, { error: 'method_not_allowed' });
  const body = await readJson(req);
  if (typeof body?.active !== 'boolean') {
    return send(400, { error: 'invalid_request', error_description: '"active" must be a boolean' });
  }
  if (body.active) disabledClients.delete(id); else disabledClients.add(id);
  return send(200, shown());
}

// --- Sign-in pages (only with --sign-in) -----------------------------------------------------
const escapeHtml = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(res, status, title, body) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' });
  res.end(`<!doctype html><html><head><title>${title}</title></head><body><h1>${title}</h1>${body}</body></html>`);
}

function loginForm(res, uid, status = 200, error = '') {
  page(res, status, 'Sign in to the test IdP', `${error ? `<p class="error">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/interaction/${uid}/login">
<label>Username <input name="username" autocomplete="username"></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button type="submit">Sign in</button></form>`);
}

async function formBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

async function interaction(req, res, url) {
  const [, , uid, step] = url.pathname.split('/');
  const details = await provider.interactionDetails(req, res);
  if (req.method === 'GET' && !step) {
    if (details.prompt.name === 'login') return loginForm(res, uid);
    return page(res, 200, 'Allow the console?', `<p>${escapeHtml(details.params.client_id)} asks for ${escapeHtml(details.params.scope)}.</p>
<form method="post" action="/interaction/${uid}/confirm"><button type="submit">Allow</button></form>`);
  }
  if (req.method === 'POST' && step === 'login') {
    const form = await formBody(req);
    const user = USERS[form.get('username')];
    if (!user || user.password !== form.get('password')) {
      return loginForm(res, uid, 401, 'Wrong username or password.');
    }
    return provider.interactionFinished(req, res, { login: { accountId: form.get('username') } }, { mergeWithLastSubmission: false });
  }
  if (req.method === 'POST' && step === 'confirm') {
    const { prompt: { details: missing }, params, session: { accountId } } = details;
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId, clientId: params.client_id });
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    const grantId = await grant.save();
    return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }
  return page(res, 405, 'Method not allowed', '');
}

// The admin API, in front of oidc-provider's own routes.
const oidc = provider.callback();
server.on('request', (req, res) => {
  const url = new URL(req.url, issuer);
  if (signIn && url.pathname.startsWith('/interaction/')) {
    return interaction(req, res, url).catch((err) => page(res, 400, 'Sign-in failed', escapeHtml(err.message)));
  }
  if (signIn && url.pathname.startsWith('/admin/users/')) return adminUsers(req, res, url);
  const route = url.pathname.startsWith('/admin/grants') ? grantsRoute
    : url.pathname.startsWith('/admin/clients/') ? clientsRoute : null;
  if (route === null) return oidc(req, res);
  const send = (status, body) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(body === undefined ? '' : JSON.stringify(body));
  };
  if (!isConsole(req)) return send(401, { error: 'invalid_client' });
  return route(req, url, send).catch((err) => send(500, { error: 'server_error', error_description: String(err) }));
});

// PUT /admin/users/:id/groups with a JSON list: the user's groups from now on.
async function adminUsers(req, res, url) {
  const [, , , id, what] = url.pathname.split('/');
  const send = (status, body) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  if (!isConsole(req)) return send(401, { error: 'invalid_client' });
  if (req.method !== 'PUT' || what !== 'groups' || !USERS[id]) return send(404, { error: 'not_found' });
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  USERS[id].groups = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  return send(200, { id, groups: USERS[id].groups });
}

process.stdout.write(`${JSON.stringify({
  issuer,
  clients: { console: CONSOLE, agent: AGENT, tool_agent: TOOL_AGENT },
  seeded,
  ...(signIn ? { sign_in: { client: WEB, users: USERS } } : {}),
})}\n`);
