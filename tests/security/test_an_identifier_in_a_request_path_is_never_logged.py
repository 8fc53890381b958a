"""Defect: the request log recorded identifiers written in the path (first security review).

app_logging.py logged request.url.path. A client that puts an NHS number in a path (a wrong bundle id, a
/fhir/Patient/{nhs} probe, and the contract's own /audit/subjects/{nhs_number}/report) wrote it to the
application log. The route template is logged instead.
"""

from __future__ import annotations

import json
import logging

NHS = "9449305552"


def test_request_log_never_records_an_identifier_in_the_path(gateway, caplog):
    auth = gateway.auth("POL-NE", "charging")
    caplog.set_level(logging.INFO, logger="gateway")
    gateway.http.get(f"/fhir/Bundle/{NHS}", auth=auth)
    gateway.http.get(f"/fhir/Patient/{NHS}", auth=auth)
    logged = [json.dumps(getattr(r, "fields", {})) + r.getMessage() for r in caplog.records]
    assert logged and not [line for line in logged if NHS in line]
