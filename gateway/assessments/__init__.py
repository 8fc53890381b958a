"""Canonical assessments: field catalogue, identifier validation, schema validation, encrypted storage."""
