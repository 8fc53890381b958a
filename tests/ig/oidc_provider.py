"""A small stand-in OpenID Connect provider on a real socket, for the IG OIDC sign-in tests.

It speaks the parts of OpenID Connect Core 1.0 and OAuth 2.0 the gateway's client uses, faithfully:
discovery (OIDC Discovery 1.0), the authorization code flow with PKCE S256 (RFC 7636) and state,
client_secret_basic at the token endpoint (RFC 6749 section 2.3.1), and an RS256 ID token carrying the
nonce, signed with a key published at ``jwks_uri``. It approves every authorization request as the
person named by ``subject`` (no login page: the test is about the gateway's side).
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import secrets
import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import RSAKey


class StandInProvider:
    def __init__(self, client_id: str, client_secret: str, subject: str) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.subject = subject
        self.key = RSAKey.generate_key(2048, parameters={"kid": "stand-in", "alg": "RS256", "use": "sig"})
        self.codes: dict[str, dict[str, str]] = {}
        provider = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                provider._get(self)

            def do_POST(self) -> None:
                provider._post(self)

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> StandInProvider:
        self.thread.start()
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    @staticmethod
    def _json(handler: http.server.BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _get(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        url = urlsplit(handler.path)
        if url.path == "/.well-known/openid-configuration":
            self._json(
                handler,
                200,
                {
                    "issuer": self.issuer,
                    "authorization_endpoint": self.issuer + "/authorize",
                    "token_endpoint": self.issuer + "/token",
                    "jwks_uri": self.issuer + "/jwks",
                    "response_types_supported": ["code"],
                    "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                    "code_challenge_methods_supported": ["S256"],
                    "token_endpoint_auth_methods_supported": ["client_secret_basic"],
                },
            )
        elif url.path == "/jwks":
            self._json(handler, 200, {"keys": [self.key.as_dict(private=False)]})
        elif url.path == "/authorize":
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            if query.get("client_id") != self.client_id or query.get("code_challenge_method") != "S256":
                self._json(handler, 400, {"error": "invalid_request"})
                return
            code = secrets.token_urlsafe(16)
            self.codes[code] = query
            handler.send_response(302)
            handler.send_header(
                "Location", query["redirect_uri"] + "?" + urlencode({"code": code, "state": query["state"]})
            )
            handler.end_headers()
        else:
            self._json(handler, 404, {"error": "not_found"})

    def _post(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length", "0"))
        form = {k: v[0] for k, v in parse_qs(handler.rfile.read(length).decode()).items()}
        expected = "Basic " + base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if handler.headers.get("Authorization") != expected:
            self._json(handler, 401, {"error": "invalid_client"})
            return
        request = self.codes.pop(form.get("code", ""), None)
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if (
            form.get("grant_type") != "authorization_code"
            or request is None
            or request["redirect_uri"] != form.get("redirect_uri")
            or request["code_challenge"] != challenge
        ):
            self._json(handler, 400, {"error": "invalid_grant"})
            return
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": self.subject, "aud": self.client_id, "iat": now, "exp": now + 300}
        if "nonce" in request:
            claims["nonce"] = request["nonce"]
        id_token = jwt.encode({"alg": "RS256", "kid": "stand-in"}, claims, self.key)
        self._json(
            handler,
            200,
            {
                "access_token": secrets.token_urlsafe(16),
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": id_token,
            },
        )
