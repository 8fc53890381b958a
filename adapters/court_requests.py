"""``python -m adapters.court_requests``: ask for assessment information (court side), watch for
notifications, and work requests (L&D side), through the gateway's public API only.

    ask      a court (or probation, YOT) asks about a person before a hearing: POST /fhir/Task
    watch    print server-sent events from GET /events as they arrive (ids, status and links only)
    queue    list your requests by status: GET /fhir/Task?status=...
    accept / reject / complete   the L&D service works a request: PATCH /fhir/Task/{id} (JSON Patch)
    fetch    the requester pulls the answer of a completed request (GET /fhir/Bundle/{id}: policy and log apply)

Tokens and DPoP proofs come from the reference agency client (adapters.agency_client).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import typer

from adapters.agency_client.client import AgencyClient, TokenRefused, load_private_key, sign_dpop_proof
from adapters.agency_client.identity import AgencyOpt, ClientOpt, GatewayOpt, KeyOpt, resolve
from adapters.agency_client.outline import document_outline
from adapters.agency_client.receipts import ReceiptError, verify_response

CODES = "https://ld-gateway.example/fhir/CodeSystem"
NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
PATCH = {"Content-Type": "application/json-patch+json"}
# Reconnect this long before the token expires: the gateway ends a stream when its token does.
TOKEN_RENEW_MARGIN = 20.0

app = typer.Typer(help="Court requests for assessment information (FHIR Task) and notifications.", no_args_is_help=True)

# One default purpose per side, the same for every command of that side: a requester (court, probation,
# YOT) manages a case; the L&D service works its queue as "ld-service".
REQUESTER_PURPOSE = typer.Option("case-management", help="Your purpose of use (ld-service for an L&D service).")
LD_PURPOSE = typer.Option("ld-service", help="Your purpose of use (an L&D service's own).")


def _client(gateway: str | None, agency: str | None, client_id: str | None, key: Path | None) -> AgencyClient:
    who = resolve(gateway, agency, client_id, key)
    return AgencyClient(who.gateway, who.client_id, load_private_key(who.key))


def _fail(response: httpx.Response) -> None:
    typer.echo(f"HTTP {response.status_code}", err=True)
    typer.echo(response.text, err=True)
    raise typer.Exit(1)


def task_resource(nhs_number: str, case_urn: str, hearing: datetime, priority: str, note: str | None) -> dict[str, Any]:
    task: dict[str, Any] = {
        "resourceType": "Task",
        "status": "requested",
        "intent": "order",
        "priority": priority,
        "code": {"coding": [{"system": f"{CODES}/request-type", "code": "assessment-information-request"}]},
        "for": {"identifier": {"system": NHS_NUMBER_SYSTEM, "value": nhs_number}},
        "input": [
            {"type": {"coding": [{"system": f"{CODES}/task-input", "code": "court-case-urn"}]}, "valueString": case_urn}
        ],
        "restriction": {"period": {"end": hearing.isoformat()}},
    }
    if note:
        task["note"] = [{"text": note}]
    return task


@app.command()
def ask(
    nhs_number: str = typer.Option(..., help="The defendant's NHS number."),
    case_urn: str = typer.Option(..., help="The court case URN."),
    hearing_in_minutes: int = typer.Option(120, help="Minutes from now to the hearing (the deadline)."),
    priority: str = typer.Option("urgent", help="routine, urgent, asap or stat."),
    note: str | None = typer.Option(None, help="A note for the L&D service."),
    purpose: str = REQUESTER_PURPOSE,
    agency: str | None = AgencyOpt,
    client_id: str | None = ClientOpt,
    key: Path | None = KeyOpt,
    gateway: str | None = GatewayOpt,
) -> None:
    """Ask the L&D service for assessment information. Prints the Task id alone on the last line."""
    hearing = datetime.now(UTC) + timedelta(minutes=hearing_in_minutes)
    body = task_resource(nhs_number, case_urn, hearing, priority, note)
    response = _client(gateway, agency, client_id, key).request("POST", "/fhir/Task", purpose, json=body)
    if response.status_code != 201:
        _fail(response)
    task = response.json()
    typer.echo(f"request {task['status']}, owner {task['owner']['identifier']['value']}, hearing {hearing:%H:%M} UTC")
    typer.echo(task["id"])


@app.command()
def queue(
    status: str = typer.Option("requested,accepted", help="Comma-separated statuses."),
    purpose: str = REQUESTER_PURPOSE,
    agency: str | None = AgencyOpt,
    client_id: str | None = ClientOpt,
    key: Path | None = KeyOpt,
    gateway: str | None = GatewayOpt,
) -> None:
    """List your requests (made or owned), soonest hearing first."""
    response = _client(gateway, agency, client_id, key).request("GET", "/fhir/Task", purpose, params={"status": status})
    if response.status_code != 200:
        _fail(response)
    for entry in response.json().get("entry", []):
        task = entry["resource"]
        due = task.get("restriction", {}).get("period", {}).get("end", "")
        typer.echo(f"{task['id']}  {task['status']:<10} {task.get('priority', ''):<7} hearing {due}")


def _frames(response: httpx.Response) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(event id, event type, data) for each event of an open stream; ``("", "subscribed", {})`` first."""
    event_id, kind, data = "", "", ""
    for line in response.iter_lines():
        if line.startswith(":"):
            if "subscribed" in line:
                yield "", "subscribed", {}
        elif not line:
            if kind:
                yield event_id, kind, json.loads(data or "{}")
            event_id, kind, data = "", "", ""
        elif line.startswith("id:"):
            event_id = line.removeprefix("id:").strip()
        elif line.startswith("event:"):
            kind = line.removeprefix("event:").strip()
        elif line.startswith("data:"):
            data += line.removeprefix("data:").strip()


def _events(client: AgencyClient, purpose: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every event, for as long as the caller reads: each connection lasts until shortly before its token
    expires (or the server ends it), then a new token is fetched and the stream resumed with
    ``Last-Event-ID``, so the gateway resends what was published in between. A lost connection is retried
    with a growing pause. ``("subscribed", {})`` marks each (re)connection."""
    url = client.base_url + "/events"
    last_id, pause = "", 1.0
    while True:
        token, nonce = client.token(purpose), client.nonce
        renew_at = client.token_expires_at(purpose) - TOKEN_RENEW_MARGIN
        try:
            for _ in range(2):
                proof = sign_dpop_proof(client.dpop_key, "GET", url, access_token=token, nonce=nonce)
                headers = {"Authorization": f"DPoP {token}", "DPoP": proof, "Accept": "text/event-stream"}
                if last_id:
                    headers["Last-Event-ID"] = last_id
                # A read timeout shorter than the server's keep-alive gap would cut healthy streams.
                with httpx.stream("GET", url, headers=headers, timeout=httpx.Timeout(10, read=60)) as response:
                    if response.status_code == 401 and "DPoP-Nonce" in response.headers and nonce is None:
                        nonce = response.headers["DPoP-Nonce"]
                        continue
                    if response.status_code != 200:
                        response.read()
                        _fail(response)
                    pause = 1.0
                    for event_id, kind, data in _frames(response):
                        if event_id:
                            last_id = event_id
                        if kind != "token-expired":
                            yield kind, data
                        if time.time() >= renew_at:
                            break  # renew before the token expires; the reconnect replays any gap
                break
        except (httpx.TransportError, httpx.RemoteProtocolError) as exc:
            typer.echo(f"connection lost ({exc.__class__.__name__}); reconnecting in {pause:.0f} s", err=True)
            time.sleep(pause)
            pause = min(pause * 2, 30.0)
        except TokenRefused as exc:
            typer.echo(f"token refused: HTTP {exc.status} {exc.error}: {exc.description}", err=True)
            raise typer.Exit(1) from None


@app.command()
def watch(
    purpose: str = REQUESTER_PURPOSE,
    count: int = typer.Option(0, help="Stop after this many events (0: until interrupted)."),
    agency: str | None = AgencyOpt,
    client_id: str | None = ClientOpt,
    key: Path | None = KeyOpt,
    gateway: str | None = GatewayOpt,
) -> None:
    """Print notifications as they arrive: one line each, event type then its JSON. Runs until
    interrupted, renewing its token and resuming the stream (nothing missed) before each token expires."""
    seen, connected = 0, False
    for kind, data in _events(_client(gateway, agency, client_id, key), purpose):
        if kind == "subscribed":
            if not connected:
                typer.echo("watching for notifications ...")
            connected = True
            continue
        if kind == "replay-incomplete":
            typer.echo("some notifications may have been missed: re-read your queue (queue command)", err=True)
            continue
        typer.echo(f"{datetime.now(UTC):%H:%M:%S} {kind} {json.dumps(data, sort_keys=True)}", color=False)
        seen += 1
        if count and seen >= count:
            return


def _patch(client: AgencyClient, purpose: str, task_id: str, ops: list[dict[str, Any]]) -> dict[str, Any]:
    response = client.request("PATCH", f"/fhir/Task/{task_id}", purpose, content=json.dumps(ops), headers=PATCH)
    if response.status_code != 200:
        _fail(response)
    task: dict[str, Any] = response.json()
    typer.echo(f"request {task['id']} is now {task['status']}")
    return task


@app.command()
def accept(
    task_id: str,
    purpose: str = LD_PURPOSE,
    agency: str | None = AgencyOpt,
    client_id: str | None = ClientOpt,
    key: Path | None = KeyOpt,
    gateway: str | None = GatewayOpt,
) -> None:
    """Accept a request (the requester gets a case link to the person)."""
    ops = [{"op": "replace", "path": "/status", "value": "accepted"}]
    _patch(_client(gateway, agency, client_id, key), purpose, task_id, ops)


@app.command()
def reject(
    task_id: str,
    reason: str = typer.Option(..., help="Why (kept in the Task, told to nobody else)."),
    purpose: str = LD_PURPOSE,
    agency: str | None = AgencyOpt,
    client_id: str | None = ClientOpt,
    key: Path | None = KeyOpt,
    gateway: str | None = GatewayOpt,
) -> None:
    """Reject a request with a reason."""
    ops: list[dict[str, Any]] = [
        {"op": "replace", "path": "/status", "value": "rejected"},
        {"op": "add", "path": "/statusReason", "value": {"text": reason}},
    ]
    _patch(_client(gateway, agency, client_id, key), purpose, task_id, ops)


@app.command()
def complete(
    task_id: str,
    assessment: str | None = typer.Option(None, help="The assessment id (default: your newest about this person)."),
    purpose: str = LD_PURPOSE,
    agency: str | None = AgencyOpt,
    client_id: str | None = ClientOpt,
    key: Path | None = KeyOpt,
    gateway: str | None = GatewayOpt,
) -> None:
    """Complete a request with a published assessment; the requester is told and pulls it."""
    client = _client(gateway, agency, client_id, key)
    if assessment is None:
        found = client.request("GET", "/assessments", purpose, params={"task": task_id})
        if found.status_code != 200 or not found.json().get("assessments"):
            _fail(found)
        assessment = found.json()["assessments"][0]["id"]
    output = {
        "type": {"coding": [{"system": f"{CODES}/task-output", "code": "assessment"}]},
        "valueReference": {"reference": f"Bundle/{assessment}"},
    }
    ops: list[dict[str, Any]] = [
        {"op": "replace", "path": "/status", "value": "completed"},
        {"op": "add", "path": "/output", "value": [output]},
    ]
    _patch(client, purpose, task_id, ops)


@app.command()
def fetch(
    task_id: str,
    purpose: str = REQUESTER_PURPOSE,
    log_key: Path | None = typer.Option(
        None,
        exists=True,
        help="The gateway log's public key as JSON (the `jwk` of GET /audit/log-key, obtained out of band). "
        "Without it the key is fetched from the gateway itself (trust on first use).",
    ),
    agency: str | None = AgencyOpt,
    client_id: str | None = ClientOpt,
    key: Path | None = KeyOpt,
    gateway: str | None = GatewayOpt,
) -> None:
    """The requester reads its completed request and pulls the answer through the ordinary /fhir/Bundle
    path, and checks the disclosure receipts on the answer (exit 3 if one does not verify)."""
    client = _client(gateway, agency, client_id, key)
    read = client.request("GET", f"/fhir/Task/{task_id}", purpose)
    if read.status_code != 200:
        _fail(read)
    task = read.json()
    outputs = task.get("output") or []
    if task["status"] != "completed" or not outputs:
        typer.echo(f"request {task_id} is {task['status']}: nothing to fetch yet")
        raise typer.Exit(1)
    reference = outputs[0]["valueReference"]["reference"]
    pulled = client.request("GET", f"/fhir/{reference}", purpose)
    jwk = json.loads(log_key.read_text()) if log_key else client.log_jwk()
    try:
        claims = verify_response(pulled, jwk)
    except ReceiptError as exc:
        typer.echo(f"disclosure receipt check FAILED: {exc}")
        raise typer.Exit(3) from None
    typer.echo(f"receipts verified: {len(claims)} (log leaf indexes {', '.join(str(c['leaf_index']) for c in claims)})")
    typer.echo(f"HTTP {pulled.status_code}  disclosure id(s): {pulled.headers.get('X-Disclosure-Id', '')}")
    if pulled.status_code != 200:
        typer.echo(pulled.text)
        raise typer.Exit(1)
    for line in document_outline(pulled.json()):
        typer.echo(line)


if __name__ == "__main__":
    app()
