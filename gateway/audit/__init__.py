"""The disclosure log: append-only, hash-linked, verifiable."""
