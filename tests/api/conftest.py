"""The API description tests run against the whole gateway the review suite builds."""

from tests.review.conftest import gateway, review_key, review_rego

__all__ = ["gateway", "review_key", "review_rego"]
