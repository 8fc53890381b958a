"""A reference agency client: signs RFC 7523 client assertions, gets tokens, pulls document bundles.

What a police force's or court's IT team would run against the gateway; it uses only the public
HTTP API, so it doubles as the end-to-end tests' client.
"""

from adapters.agency_client.client import AgencyClient, PullResult, sign_client_assertion

__all__ = ["AgencyClient", "PullResult", "sign_client_assertion"]
