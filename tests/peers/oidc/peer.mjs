// A real OAuth 2.0 / OIDC authorization server (oidc-provider) for the IdP connector contract
// tests. Binds 127.0.0.1 on an ephemeral port, keeps everything in memory, and prints one JSON
// line on stdout once it listens: {"issuer", "clients", "seeded"}. The test fixture
// (tests/governance/connectors/peers.py) reads that line and kills the process at teardown.
//
// What it offers, and why:
// - client "console": the governance console's own client (client_credentials, secret auth).
//   It may introspect and revoke any client's token, as an IdP admin would let it.
// - client "agent": an MCP agent; the tests mint its client_credentials tokens to revoke.
// - a seeded user Grant (alice -> agent) with a refresh token: a delegated grant to revoke.
// - GET /admin/grants and DELETE /admin/grants/:id (Basic auth as "console"): the admin API
//   oidc-provider lacks, so the connector's optional `grants_url` has a real peer.
import http from 'node:http';

import Provider from 'oidc-provider';

// oidc-provider's notices go to stdout; keep stdout for the one JSON line the fixture reads.
console.log = console.info = console.warn = console.error;

const CONSOLE = { client_id: 'console', client_secret: 'console-secret' };
const AGENT = { client_id: 'agent', client_secret: 'agent-secret' };

// A Map per model, never evicted, so grants can be listed (the built-in LRU adapter cannot).
const stores = new Map();
class MapAdapter {
  constructor(model) {
    this.model = model;
    if (!stores.has(model)) stores.set(model, new Map());
    this.store = stores.get(model);
  }

  async upsert(id, payload) { this.store.set(id, payload); }

  async find(id) { return this.store.get(id); }

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

const server = http.createServer();
await new Promise((resolve) => { server.listen(0, '127.0.0.1', resolve); });
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  adapter: MapAdapter,
  clients: [
    { ...CONSOLE, grant_types: ['client_credentials'], response_types: [], redirect_uris: [] },
    {
      ...AGENT,
      grant_types: ['client_credentials', 'authorization_code', 'refresh_token'],
      redirect_uris: ['http://127.0.0.1/cb'],
      scope: 'openid offline_access api:read',
    },
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

// The seeded delegated grant: what a user's consent to the agent would have created.
const grant = new provider.Grant({ accountId: 'alice', clientId: AGENT.client_id });
grant.addOIDCScope('openid offline_access');
const grantId = await grant.save();
const refreshToken = await new provider.RefreshToken({
  accountId: 'alice',
  client: await provider.Client.find(AGENT.client_id),
  grantId,
  scope: 'openid offline_access',
  gty: 'authorization_code',
}).save();

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
    grant_type: 'authorization_code', // how the seeded consent came about
    created_at: payload.iat,
    expires_at: payload.exp ?? null,
  };
}

// The admin API, in front of oidc-provider's own routes.
const oidc = provider.callback();
server.on('request', (req, res) => {
  const url = new URL(req.url, issuer);
  if (!url.pathname.startsWith('/admin/grants')) return oidc(req, res);
  const send = (status, body) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(body === undefined ? '' : JSON.stringify(body));
  };
  if (!isConsole(req)) return send(401, { error: 'invalid_client' });
  const grants = stores.get('Grant') ?? new Map();
  if (req.method === 'GET' && url.pathname === '/admin/grants') {
    return send(200, { grants: [...grants.values()].map(grantJson) });
  }
  const id = decodeURIComponent(url.pathname.slice('/admin/grants/'.length));
  if (req.method === 'DELETE' && id) {
    if (!grants.has(id)) return send(404, { error: 'not_found' });
    grants.delete(id);
    return new MapAdapter('Grant').revokeByGrantId(id).then(() => send(204));
  }
  return send(405, { error: 'method_not_allowed' });
});

process.stdout.write(`${JSON.stringify({
  issuer,
  clients: { console: CONSOLE, agent: AGENT },
  seeded: { grant_id: grantId, subject: 'alice', client_id: AGENT.client_id, refresh_token: refreshToken },
})}\n`);
