"""Company sign-in: OpenID Connect (authorization code with PKCE) through Authlib.

client.py talks to the IdP (discovery, token, JWKS and userinfo, all through the safe fetcher);
roles.py maps the IdP's groups to the console's roles; services.py creates and updates the
signed-in user, records it; views.py holds the login page, the callback and sign-out.
Configured by the OIDC_* settings; off while OIDC_ISSUER is unset.
"""
