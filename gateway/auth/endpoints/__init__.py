"""The authorization server's HTTP endpoints, one module each; :mod:`gateway.auth.router` mounts them.

- :mod:`.server`: what every endpoint shares (client authentication, the refusal path that logs);
- :mod:`.forms`: the ``application/x-www-form-urlencoded`` body every POST endpoint reads;
- :mod:`.token`: ``POST /oauth2/token``, the client credentials grant (RFC 6749, RFC 7523, RFC 9449);
- :mod:`.introspection`: ``POST /oauth2/introspect`` (RFC 7662);
- :mod:`.revocation`: ``POST /oauth2/revoke`` (RFC 7009);
- :mod:`.discovery`: the JWKS, RFC 8414 metadata and the SMART configuration.

Each endpoint is a plain function of an :class:`~.server.AuthorizationServer`, the form parameters and
the request headers, returning the response: it can be called, and tested, without an app.
"""
