"""The shared context lives in ``gateway.context`` (the routes and the IG pages both use it)."""

from __future__ import annotations

from gateway.context import Gateway, gateway_of

__all__ = ["Gateway", "gateway_of"]
