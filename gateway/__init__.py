"""ld-gateway: the information-sharing gateway for Liaison and Diversion services."""

__version__ = "0.1.0"
