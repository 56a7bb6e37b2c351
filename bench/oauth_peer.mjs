// The reference authorization server for bench/oauth_vs_peer.py: panva's oidc-provider (npm, 9.x, the package the
// sign-in tests already use), configured to issue what accessdesk's token endpoint issues: client_credentials with
// client_secret_basic, an RFC 9068 JWT access token signed ES256, for one resource (RFC 8707) with one scope, stored
// nowhere (JWT access tokens are not written to the adapter). Loopback only; not for any other use.
//
//   node bench/oauth_peer.mjs --config CONFIG.json
//
// CONFIG: {issuer, client_id, client_secret, resource, scope, ttl, jwk (an EC P-256 private JWK)}. Prints one line,
// `READY http://127.0.0.1:PORT`, when listening (the kernel picks the port); exits on SIGTERM or when its standard
// input reaches end of file.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

const { values: args } = parseArgs({ options: { config: { type: 'string' } } });
const config = JSON.parse(readFileSync(args.config, 'utf8'));

const provider = new Provider(config.issuer, {
  clients: [{
    client_id: config.client_id,
    client_secret: config.client_secret,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  // Its only key is the ES256 one: every algorithm a client could be given defaults to it.
  clientDefaults: { id_token_signed_response_alg: 'ES256' },
  jwks: { keys: [config.jwk] },
  scopes: [config.scope],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: false },
    revocation: { enabled: false },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => config.resource,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, resource) => {
        if (resource !== config.resource) throw new Error('unknown resource');
        return {
          scope: config.scope,
          audience: config.resource,
          accessTokenTTL: config.ttl,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        };
      },
    },
  },
});
provider.proxy = true;

const server = createServer(provider.callback());
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`READY http://127.0.0.1:${server.address().port}\n`);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.resume();
