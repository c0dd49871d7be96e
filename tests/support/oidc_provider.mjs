// A real OpenID provider for the tests (the npm package oidc-provider), on 127.0.0.1.
// Usage: node tests/support/oidc_provider.mjs CONFIG.json
// CONFIG: {"port", "client_id", "client_secret", "redirect_uris", "post_logout_redirect_uris", "accounts": [login…],
//          "jwks": {"keys": [private JWKs]}, "resources": {indicator: access-token lifetime in seconds}}
// The login form is oidc-provider's development interactions (a login name and any password); only the listed
// accounts exist. Consent is not asked: the council's own service is first party.
// It prints "listening <issuer>" once it accepts connections.
import { readFileSync } from 'node:fs';

import Provider, { errors } from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const issuer = `http://127.0.0.1:${config.port}`;
const accounts = new Set(config.accounts);

const provider = new Provider(issuer, {
  clients: [{
    client_id: config.client_id,
    client_secret: config.client_secret,
    redirect_uris: config.redirect_uris,
    post_logout_redirect_uris: config.post_logout_redirect_uris,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  pkce: { required: () => true },
  jwks: config.jwks,
  cookies: { keys: ['test-provider-cookie-key'] },
  claims: { openid: ['sub'] },
  async findAccount(_ctx, id) {
    if (!accounts.has(id)) return undefined;
    return { accountId: id, async claims() { return { sub: id }; } };
  },
  async loadExistingGrant(ctx) {
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid');
    for (const indicator of Object.keys(config.resources)) grant.addResourceScope(indicator, 'api');
    await grant.save();
    return grant;
  },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: (_ctx, _client, oneOf) => oneOf,
      useGrantedResource: () => true,
      getResourceServerInfo(_ctx, indicator) {
        if (!(indicator in config.resources)) throw new errors.InvalidTarget();
        return { scope: 'api', audience: indicator, accessTokenFormat: 'jwt', accessTokenTTL: config.resources[indicator] };
      },
    },
  },
});

const server = provider.listen(config.port, '127.0.0.1', () => {
  console.log(`listening ${issuer}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
