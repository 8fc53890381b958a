"""Getting assessments in: the one publish path shared by the API routes and the case-system importer,
and the record-keeping commands (identity merges, retention) that write to the disclosure log."""
