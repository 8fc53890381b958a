"""The disclosure hot path: relationship, decision, projection, rendering, log, response."""
