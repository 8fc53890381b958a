"""The whole-gateway fixture of the review suite (real app, tokens, policy) serves the override tests too."""

from tests.review.conftest import gateway, review_key, review_rego

__all__ = ["gateway", "review_key", "review_rego"]
