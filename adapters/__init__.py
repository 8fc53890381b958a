"""Edges of the gateway: inbound (case-system exports) and outbound (a reference agency client)."""
