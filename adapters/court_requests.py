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
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import typer

from adapters.agency_client.client import AgencyClient, load_private_key, sign_dpop_proof

CODES = "https://ld-gateway.example/fhir/CodeSystem"
NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
PATCH = {"Content-Type": "application/json-patch+json"}

app = typer.Typer(help="Court requests for assessment information (FHIR Task) and notifications.", no_args_is_help=True)

GatewayOpt = typer.Option("http://127.0.0.1:8000", "--gateway", help="The gateway's base URL.")
ClientOpt = typer.Option(..., "--client-id", help="Your client_id.")
KeyOpt = typer.Option(..., "--key", exists=True, help="Your private key (PEM).")


def _client(gateway: str, client_id: str, key: Path) -> AgencyClient:
    return AgencyClient(gateway, client_id, load_private_key(key))


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
    purpose: str = typer.Option("case-management", help="Your purpose of use."),
    gateway: str = GatewayOpt,
    client_id: str = ClientOpt,
    key: Path = KeyOpt,
) -> None:
    """Ask the L&D service for assessment information. Prints the Task id alone on the last line."""
    hearing = datetime.now(UTC) + timedelta(minutes=hearing_in_minutes)
    body = task_resource(nhs_number, case_urn, hearing, priority, note)
    response = _client(gateway, client_id, key).request("POST", "/fhir/Task", purpose, json=body)
    if response.status_code != 201:
        _fail(response)
    task = response.json()
    typer.echo(f"request {task['status']}, owner {task['owner']['identifier']['value']}, hearing {hearing:%H:%M} UTC")
    typer.echo(task["id"])


@app.command()
def queue(
    status: str = typer.Option("requested,accepted", help="Comma-separated statuses."),
    purpose: str = typer.Option(..., help="Your purpose of use (ld-service for an L&D service)."),
    gateway: str = GatewayOpt,
    client_id: str = ClientOpt,
    key: Path = KeyOpt,
) -> None:
    """List your requests (made or owned), soonest hearing first."""
    response = _client(gateway, client_id, key).request("GET", "/fhir/Task", purpose, params={"status": status})
    if response.status_code != 200:
        _fail(response)
    for entry in response.json().get("entry", []):
        task = entry["resource"]
        due = task.get("restriction", {}).get("period", {}).get("end", "")
        typer.echo(f"{task['id']}  {task['status']:<10} {task.get('priority', ''):<7} hearing {due}")


def _events(client: AgencyClient, purpose: str) -> Iterator[tuple[str, dict[str, Any]]]:
    url = client.base_url + "/events"
    token, nonce = client.token(purpose), None
    for _ in range(2):
        proof = sign_dpop_proof(client.dpop_key, "GET", url, access_token=token, nonce=nonce)
        headers = {"Authorization": f"DPoP {token}", "DPoP": proof, "Accept": "text/event-stream"}
        with httpx.stream("GET", url, headers=headers, timeout=httpx.Timeout(10, read=None)) as response:
            if response.status_code == 401 and "DPoP-Nonce" in response.headers and nonce is None:
                nonce = response.headers["DPoP-Nonce"]
                continue
            if response.status_code != 200:
                response.read()
                _fail(response)
            kind, data = "", ""
            for line in response.iter_lines():
                if line.startswith(":"):
                    if "subscribed" in line:
                        yield "subscribed", {}
                elif not line:
                    if kind:
                        yield kind, json.loads(data or "{}")
                    kind, data = "", ""
                elif line.startswith("event:"):
                    kind = line.removeprefix("event:").strip()
                elif line.startswith("data:"):
                    data += line.removeprefix("data:").strip()
            return


@app.command()
def watch(
    purpose: str = typer.Option(..., help="Your purpose of use (ld-service for an L&D service)."),
    count: int = typer.Option(0, help="Stop after this many events (0: until the token expires)."),
    gateway: str = GatewayOpt,
    client_id: str = ClientOpt,
    key: Path = KeyOpt,
) -> None:
    """Print notifications as they arrive: one line each, event type then its JSON."""
    seen = 0
    for kind, data in _events(_client(gateway, client_id, key), purpose):
        if kind == "subscribed":
            typer.echo("watching for notifications ...")
            continue
        typer.echo(f"{datetime.now(UTC):%H:%M:%S} {kind} {json.dumps(data, sort_keys=True)}", color=False)
        seen += 1
        if count and seen >= count:
            return


def _patch(gateway: str, client_id: str, key: Path, task_id: str, ops: list[dict[str, Any]]) -> dict[str, Any]:
    response = _client(gateway, client_id, key).request(
        "PATCH", f"/fhir/Task/{task_id}", "ld-service", content=json.dumps(ops), headers=PATCH
    )
    if response.status_code != 200:
        _fail(response)
    task: dict[str, Any] = response.json()
    typer.echo(f"request {task['id']} is now {task['status']}")
    return task


@app.command()
def accept(task_id: str, gateway: str = GatewayOpt, client_id: str = ClientOpt, key: Path = KeyOpt) -> None:
    """Accept a request (the requester gets a case link to the person)."""
    _patch(gateway, client_id, key, task_id, [{"op": "replace", "path": "/status", "value": "accepted"}])


@app.command()
def reject(
    task_id: str,
    reason: str = typer.Option(..., help="Why (kept in the Task, told to nobody else)."),
    gateway: str = GatewayOpt,
    client_id: str = ClientOpt,
    key: Path = KeyOpt,
) -> None:
    """Reject a request with a reason."""
    ops = [
        {"op": "replace", "path": "/status", "value": "rejected"},
        {"op": "add", "path": "/statusReason", "value": {"text": reason}},
    ]
    _patch(gateway, client_id, key, task_id, ops)


@app.command()
def complete(
    task_id: str,
    assessment: str | None = typer.Option(None, help="The assessment id (default: your newest about this person)."),
    gateway: str = GatewayOpt,
    client_id: str = ClientOpt,
    key: Path = KeyOpt,
) -> None:
    """Complete a request with a published assessment; the requester is told and pulls it."""
    if assessment is None:
        client = _client(gateway, client_id, key)
        found = client.request("GET", "/assessments", "ld-service", params={"task": task_id})
        if found.status_code != 200 or not found.json().get("assessments"):
            _fail(found)
        assessment = found.json()["assessments"][0]["id"]
    output = {
        "type": {"coding": [{"system": f"{CODES}/task-output", "code": "assessment"}]},
        "valueReference": {"reference": f"Bundle/{assessment}"},
    }
    ops = [
        {"op": "replace", "path": "/status", "value": "completed"},
        {"op": "add", "path": "/output", "value": [output]},
    ]
    _patch(gateway, client_id, key, task_id, ops)


@app.command()
def fetch(
    task_id: str,
    purpose: str = typer.Option("case-management", help="Your purpose of use."),
    gateway: str = GatewayOpt,
    client_id: str = ClientOpt,
    key: Path = KeyOpt,
) -> None:
    """The requester reads its completed request and pulls the answer through the ordinary /fhir/Bundle path."""
    client = _client(gateway, client_id, key)
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
    typer.echo(f"HTTP {pulled.status_code}  disclosure id(s): {pulled.headers.get('X-Disclosure-Id', '')}")
    if pulled.status_code != 200:
        typer.echo(pulled.text)
        raise typer.Exit(1)
    document = pulled.json()
    composition = document["entry"][0]["resource"]
    typer.echo(f"Document {document['id']}: {composition.get('title', '')}")
    for section in composition.get("section", []):
        typer.echo(f"  - {section.get('title')}")


if __name__ == "__main__":
    app()
