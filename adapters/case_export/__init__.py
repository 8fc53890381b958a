"""Inbound adapter: an L&D case-system export (CSV or JSON lines, one row per assessment) to canonical
assessments. The column mapping is ``columns.py`` (documented in docs/import.md); ``importer.py`` publishes
the rows; ``cli.py`` is ``ld-gateway import``, added to the command line through an entry point."""

from adapters.case_export.columns import COLUMNS, row_to_assessment
from adapters.case_export.reader import ExportError, read_rows

__all__ = ["COLUMNS", "ExportError", "read_rows", "row_to_assessment"]
