"""Inbound adapter: an L&D case-system export (CSV or JSON lines, one row per assessment) to canonical
assessments. The column mapping is ``columns.py`` (documented in docs/import.md); ``ld-gateway import``
drives it (``gateway/ingest/importer.py``)."""

from adapters.case_export.columns import COLUMNS, row_to_assessment
from adapters.case_export.reader import ExportError, read_rows

__all__ = ["COLUMNS", "ExportError", "read_rows", "row_to_assessment"]
