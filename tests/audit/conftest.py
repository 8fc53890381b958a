"""A whole gateway for the /audit API tests: the review suite's fixture (real keys, tokens, policy)."""

from tests.review.conftest import gateway, review_key, review_rego  # noqa: F401
