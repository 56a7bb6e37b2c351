// A real OpenID Connect provider for the tests: panva's oidc-provider (npm, 9.x), which we did not write,
// configured for loopback only. Started by tests/support/oidc.py; not for any other use.
//
//   node tests/support/oidc_provider/server.mjs --config CONFIG.json [--port N] [--exit-on-stdin-eof]
//
// Port: --port, else $OIDC_PROVIDER_PORT, else the config's "port", else 0 (the kernel picks a free one; the
// chosen port is printed). Config: --config FILE, else $OIDC_PROVIDER_CONFIG (a path), else
// $OIDC_PROVIDER_CONFIG_JSON (the JSON itself), else {}. Keys, all optional:
//   clients            [{client_id, client_secret, redirect_uris, token_endpoint_auth_method?, ...}] known at start
//                      (grant_types ["authorization_code"] and response_types ["code"] by default)
//   registrationToken  initial access token for dynamic client registration at POST /reg (RFC 7591), where the
//                      requested client_id and client_secret are honoured; registration is off without it
//   idTokenClaims      false (default): oidc-provider's conformIdTokenClaims, so claims asked for by *scope*
//                      (email, email_verified) come from the userinfo endpoint only, not the ID token (OIDC Core
//                      5.4); true: they are put into the ID token as well
//   cookieKeys         keys that sign the provider's cookies (random when absent)
//
// Accounts (devInteractions: any login name and any password are accepted): the login name is the subject
// (sub). A login name containing '@' is also the account's email, with email_verified true. A login name
// 'unverified+REST' is the subject 'unverified+REST' with email REST (if REST contains '@') and
// email_verified false: e.g. 'unverified+hal@oais.example' → email hal@oais.example, not verified.
//
// When listening it prints exactly one line on stdout: `READY http://127.0.0.1:PORT` (the issuer). It exits
// on SIGTERM/SIGINT, and with --exit-on-stdin-eof also when its standard input reaches end of file (the fixture
// holds a pipe to it, so the provider goes when pytest does, however pytest ends).
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    config: { type: 'string' }, port: { type: 'string' }, 'exit-on-stdin-eof': { type: 'boolean' },
  },
});

function readConfig() {
  const file = args.config ?? process.env.OIDC_PROVIDER_CONFIG;
  if (file) return JSON.parse(readFileSync(file, 'utf8'));
  if (process.env.OIDC_PROVIDER_CONFIG_JSON) return JSON.parse(process.env.OIDC_PROVIDER_CONFIG_JSON);
  return {};
}

const config = readConfig();
const port = Number(args.port ?? process.env.OIDC_PROVIDER_PORT ?? config.port ?? 0);
const HOST = '127.0.0.1';
const UNVERIFIED = 'unverified+';

// Storage for everything the provider keeps (clients registered at run time, sessions, interactions, grants,
// codes, tokens): in memory, for this process only. oidc-provider's own in-memory adapter is an LRU of 1000
// entries, which would silently drop a client registered early in a long test session; this one drops nothing
// but what has expired.
const records = new Map(); // "Model:id" → { payload, expiresAt }
const index = new Map(); // "sessionUid:uid" / "userCode:code" → id; "grant:id" → Set of "Model:id"
const GRANTABLE = new Set([
  'AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest',
]);

class TestAdapter {
  constructor(model) {
    this.model = model;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Infinity;
    records.set(key, { payload, expiresAt });
    if (this.model === 'Session' && payload.uid) index.set(`sessionUid:${payload.uid}`, id);
    if (payload.userCode) index.set(`userCode:${payload.userCode}`, id);
    if (GRANTABLE.has(this.model) && payload.grantId) {
      const grantKey = `grant:${payload.grantId}`;
      if (!index.has(grantKey)) index.set(grantKey, new Set());
      index.get(grantKey).add(key);
    }
  }

  async find(id) {
    const key = this.key(id);
    const record = records.get(key);
    if (!record) return undefined;
    if (record.expiresAt <= Date.now()) {
      records.delete(key);
      return undefined;
    }
    return record.payload;
  }

  async findByUid(uid) {
    const id = index.get(`sessionUid:${uid}`);
    return id === undefined ? undefined : this.find(id);
  }

  async findByUserCode(userCode) {
    const id = index.get(`userCode:${userCode}`);
    return id === undefined ? undefined : this.find(id);
  }

  async consume(id) {
    const record = records.get(this.key(id));
    if (record) record.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    records.delete(this.key(id));
  }

  async revokeByGrantId(grantId) {
    const grantKey = `grant:${grantId}`;
    for (const key of index.get(grantKey) ?? []) records.delete(key);
    index.delete(grantKey);
  }
}

function accountFor(login) {
  const verified = !login.startsWith(UNVERIFIED);
  const address = verified ? login : login.slice(UNVERIFIED.length);
  const claims = { sub: login };
  if (address.includes('@')) {
    claims.email = address;
    claims.email_verified = verified;
  }
  return claims;
}

// One RS256 signing key per start (the ID token's alg; clients default to RS256).
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = {
  ...privateKey.export({ format: 'jwk' }), kid: `test-${randomBytes(6).toString('hex')}`, alg: 'RS256', use: 'sig',
};

const registrationToken = config.registrationToken;
const body = (ctx) => ctx.oidc.body ?? {};

const configuration = {
  adapter: TestAdapter,
  clients: config.clients ?? [],
  clientDefaults: {
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'RS256',
  },
  responseTypes: ['code'],
  jwks: { keys: [signingKey] },
  // Loopback runs over plain http: the provider marks its cookies Secure only when the request is (ctx.secure,
  // which is false here; `proxy` stays off since nothing forwards to us). Cookies ignore the port, so the
  // provider's names carry a prefix that keeps them apart from the relying party's on the same 127.0.0.1.
  cookies: {
    names: { session: 'op_session', interaction: 'op_interaction', resume: 'op_interaction_resume' },
    keys: config.cookieKeys ?? [randomBytes(32).toString('base64url')],
  },
  claims: {
    acr: null, auth_time: null, iss: null, sid: null,
    openid: ['sub'],
    email: ['email', 'email_verified'],
  },
  conformIdTokenClaims: !config.idTokenClaims,
  async findAccount(ctx, sub) {
    return {
      accountId: sub,
      async claims() {
        return accountFor(sub);
      },
    };
  },
  pkce: { required: () => true }, // oidc-provider 9 knows only S256
  // Fixed lifetimes (seconds; the defaults' functions print a notice each time they are used).
  ttl: {
    AccessToken: 3600, AuthorizationCode: 60, IdToken: 3600, Interaction: 3600, Grant: 86400, Session: 86400,
  },
  features: {
    devInteractions: { enabled: true },
    claimsParameter: { enabled: true },
    userinfo: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    registration: registrationToken
      ? {
        enabled: true,
        initialAccessToken: registrationToken,
        idFactory: (ctx) => body(ctx).client_id || randomBytes(12).toString('base64url'),
        secretFactory: (ctx) => body(ctx).client_secret || randomBytes(32).toString('base64url'),
      }
      : { enabled: false },
  },
};

// The devInteractions pages @import a web font from the internet; the tests and their browser stay on loopback.
const FONT_IMPORT = /@import url\(https?:\/\/[^)]*\);?/g;

const server = createServer();
server.listen(port, HOST, () => {
  const issuer = `http://${HOST}:${server.address().port}`;
  const provider = new Provider(issuer, configuration);
  for (const event of ['server_error', 'authorization.error', 'grant.error', 'userinfo.error',
    'registration_create.error', 'end_session.error']) {
    provider.on(event, (ctx, error) => {
      const detail = error?.error_description ?? '';
      console.error(`oidc-provider ${event}: ${error?.name ?? ''} ${error?.message ?? error} ${detail}`);
    });
  }
  provider.middleware.unshift(async (ctx, next) => {
    await next();
    if (typeof ctx.body === 'string' && ctx.response.is('html')) ctx.body = ctx.body.replace(FONT_IMPORT, '');
  });
  server.on('request', provider.callback());
  process.stdout.write(`READY ${issuer}\n`);
});

function stop() {
  server.close();
  server.closeAllConnections?.();
  process.exit(0);
}

process.on('SIGTERM', stop);
process.on('SIGINT', stop);
if (args['exit-on-stdin-eof']) {
  process.stdin.on('end', stop);
  process.stdin.resume();
}
