// A real OpenID Provider for the cockpit's sign-in tests: node-oidc-provider (a certified OP), on loopback.
//
//   node provider.mjs CONFIG.json
//
// CONFIG.json: {"port": 1234,
//               "clients": [{"client_id": "...", "client_secret": "...", "redirect_uris": ["http://.../oauth2callback"],
//                            "post_logout_redirect_uris": [...]}],
//               "accounts": {"zhang": {"email": "zhang@example.gov.cn", "name": "张区长"}}}
//
// Sign-in uses the library's development interactions (a login form that takes an account id and any
// password, then a consent screen), which a browser test can fill in. Every claim asked for by scope
// goes into the ID token too (conformIdTokenClaims: false): Streamlit's st.login reads the identity from
// the ID token only, as many 统一身份认证 platforms configure it. Prints one "listening" line when ready.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const host = '127.0.0.1';
const issuer = `http://${host}:${config.port}`;
const accounts = config.accounts || {};

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'cockpit-test', use: 'sig', alg: 'RS256' };

const provider = new Provider(issuer, {
  clients: config.clients,
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
  },
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, id) {
    const account = accounts[id];
    if (!account) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, email_verified: true, ...account };
      },
    };
  },
});

provider.on('server_error', (ctx, err) => console.error(`server_error: ${err.stack || err}`));
provider.on('authorization.error', (ctx, err) => console.error(`authorization.error: ${err.message}: ${err.error_description || ''}`));
provider.on('grant.error', (ctx, err) => console.error(`grant.error: ${err.message}: ${err.error_description || ''}`));

const server = provider.listen(config.port, host, () => {
  console.log(`oidc-provider listening on ${issuer}`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
