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
import http from 'node:http';

import Provider from 'oidc-provider';

// oidc-provider's notices go to stdout; keep stdout for the one JSON line the fixture reads.
console.log = console.info = console.warn = console.error;

const CONSOLE = { client_id: 'console', client_secret: 'console-secret' };
const AGENT = { client_id: 'agent', client_secret: 'agent-secret' };
const TOOL_AGENT = { client_id: 'tool-agent', client_secret: 'tool-agent-secret' };

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

const provider = new Provider(issuer, {
  adapter: MapAdapter,
  clients: [
    { ...CONSOLE, grant_types: ['client_credentials'], response_types: [], redirect_uris: [] },
  ],
  scopes: ['openid', 'offline_access', 'api:read'],
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
  findAccount: async (ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
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

// The admin API, in front of oidc-provider's own routes.
const oidc = provider.callback();
server.on('request', (req, res) => {
  const url = new URL(req.url, issuer);
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

process.stdout.write(`${JSON.stringify({
  issuer,
  clients: { console: CONSOLE, agent: AGENT, tool_agent: TOOL_AGENT },
  seeded,
})}\n`);
