"""Signed webhooks against a real local receiver: signature, retry with backoff, the delivery log,
and the adapter's verifier refusing replays, stale or future timestamps and forgeries."""

from __future__ import annotations

import base64
import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from adapters.webhook_receiver import WebhookRejected, WebhookVerifier
from gateway.court_requests import webhooks
from gateway.court_requests.webhooks import WebhookError, WebhookWorker, add_subscription, signature_headers
from gateway.db.models import WebhookAttempt, WebhookDelivery
from tests.court_requests.conftest import OTHER_NHS, URN, task_body


class Receiver:
    """An agency's endpoint on a real socket: verifies with the adapter and answers from a script."""

    def __init__(self, secret: str, script: list[int]) -> None:
        self.verifier = WebhookVerifier(secret)
        self.script = list(script)
        self.received: list[tuple[bytes, dict[str, str], str]] = []  # body, headers, verdict
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = dict(self.headers.items())
                try:
                    receiver.verifier.verify(body, headers)
                    verdict = "ok"
                    status = receiver.script.pop(0) if receiver.script else 204
                    if status >= 300:  # not processed: the gateway's retry must be accepted
                        receiver.verifier.release(headers["webhook-id"])
                except WebhookRejected as exc:
                    verdict, status = exc.reason, 401
                receiver.received.append((body, headers, verdict))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/ld"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver_factory():
    made: list[Receiver] = []

    def make(secret: str, script: list[int]) -> Receiver:
        made.append(Receiver(secret, script))
        return made[-1]

    yield make
    for r in made:
        r.close()


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def subscribe(gateway, agency: str, url: str) -> str:
    with gateway.sessions.begin() as session:
        return add_subscription(session, gateway.keyring, agency, url, datetime.now(UTC))


def deliveries(gateway) -> list[WebhookDelivery]:
    with gateway.sessions() as session:
        return list(session.execute(select(WebhookDelivery).order_by(WebhookDelivery.created_at)).scalars())


def attempts(gateway) -> list[WebhookAttempt]:
    with gateway.sessions() as session:
        return list(session.execute(select(WebhookAttempt).order_by(WebhookAttempt.id)).scalars())


def test_a_new_request_is_pushed_signed_retried_and_logged(gateway, other, receiver_factory):
    # Subscribe before the receiver exists so it can be given the secret.
    with gateway.sessions.begin() as session:
        _, secret = add_subscription(
            session, gateway.keyring, "LD-NE", "http://127.0.0.1:1/placeholder", datetime.now(UTC)
        )
    receiver = receiver_factory(secret, [500, 204])
    with gateway.sessions.begin() as session:
        from gateway.db.models import WebhookSubscription

        session.execute(select(WebhookSubscription)).scalar_one().url = receiver.url

    created = gateway.http.post("/fhir/Task", json=task_body(), auth=gateway.auth("MC-NE", "case-management"))
    assert created.status_code == 201
    [delivery] = deliveries(gateway)  # the court has no endpoint: one delivery, to the L&D service
    assert delivery.state == "pending" and delivery.event_type == "task.created"

    clock = Clock()
    worker = WebhookWorker(gateway.sessions, gateway.keyring, clock=clock, backoff=(5, 30))
    assert worker.run_once() == 1
    assert [v for _, _, v in receiver.received] == ["ok"]  # authentic, but answered 500
    assert deliveries(gateway)[0].state == "pending"
    assert worker.run_once() == 0  # not due before its backoff
    clock.now += timedelta(seconds=6)
    assert worker.run_once() == 1
    assert deliveries(gateway)[0].state == "delivered"
    assert [(a.attempt, a.status_code, a.error) for a in attempts(gateway)] == [(1, 500, "http-500"), (2, 204, None)]

    body, headers, _ = receiver.received[-1]
    event = json.loads(body)
    assert event["type"] == "task.created"
    assert event["data"]["task"] == created.json()["id"]
    assert OTHER_NHS.encode() not in body and URN.encode() not in body
    # Both attempts carry the same webhook-id (the receiver's idempotency key) ...
    assert receiver.received[0][1]["webhook-id"] == headers["webhook-id"] == delivery.id
    # ... and the reference library agrees with the signature.
    assert Webhook(secret).verify(body, headers)["type"] == "task.created"

    # The same request sent again is a replay.
    replayed = httpx.post(
        receiver.url, content=body, headers={k: v for k, v in headers.items() if k.lower().startswith("webhook-")}
    )
    assert replayed.status_code == 401
    assert receiver.received[-1][2] == "replay"


def test_a_delivery_that_keeps_failing_ends_failed(gateway, other, receiver_factory):
    with gateway.sessions.begin() as session:
        add_subscription(session, gateway.keyring, "MC-NE", "http://127.0.0.1:9/unreachable", datetime.now(UTC))
    gateway.http.post("/fhir/Task", json=task_body(), auth=gateway.auth("MC-NE", "case-management"))
    clock = Clock()
    worker = WebhookWorker(gateway.sessions, gateway.keyring, clock=clock, backoff=(1,))
    assert worker.run_once() == 1
    clock.now += timedelta(seconds=2)
    assert worker.run_once() == 1
    clock.now += timedelta(seconds=60)
    assert worker.run_once() == 0
    assert deliveries(gateway)[0].state == "failed"
    assert [a.error for a in attempts(gateway)] == ["ConnectError", "ConnectError"]


def test_a_disabled_endpoint_is_not_called(gateway, other):
    with gateway.sessions.begin() as session:
        subscription_id, _ = add_subscription(
            session, gateway.keyring, "LD-NE", "http://127.0.0.1:9/x", datetime.now(UTC)
        )
    gateway.http.post("/fhir/Task", json=task_body(), auth=gateway.auth("MC-NE", "case-management"))
    with gateway.sessions.begin() as session:
        assert webhooks.disable_subscription(session, subscription_id, datetime.now(UTC))
    assert WebhookWorker(gateway.sessions, gateway.keyring).run_once() == 0
    assert deliveries(gateway)[0].state == "cancelled"


@pytest.mark.parametrize(
    ("agency", "url"),
    [
        ("LD-NE", "http://agency.example/hook"),
        ("LD-NE", "ftp://127.0.0.1/x"),
        ("LD-NE", "https://u:p@h.example/"),
        ("NOPE", "https://h.example/"),
    ],
)
def test_bad_registrations_are_refused(gateway, agency, url):
    with pytest.raises(WebhookError), gateway.sessions.begin() as session:
        add_subscription(session, gateway.keyring, agency, url, datetime.now(UTC))


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite serialises claims by its write lock
def test_two_workers_never_claim_the_same_delivery(gateway, other):
    with gateway.sessions.begin() as session:
        add_subscription(session, gateway.keyring, "LD-NE", "http://127.0.0.1:9/x", datetime.now(UTC))
    gateway.http.post("/fhir/Task", json=task_body(), auth=gateway.auth("MC-NE", "case-management"))
    first, second = gateway.sessions(), gateway.sessions()
    try:
        with first.begin():
            claimed = webhooks.claim_due(first, gateway.keyring, datetime.now(UTC))
            with second.begin():
                assert webhooks.claim_due(second, gateway.keyring, datetime.now(UTC)) == []
        assert len(claimed) == 1
    finally:
        first.close()
        second.close()


# -- the adapter's verifier on its own -------------------------------------------------------------

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
BODY = '{"type":"task.created","data":{"task":"t1"}}'


def signed(timestamp: int, message_id: str = "msg_1", body: str = BODY, secret: str = SECRET) -> dict[str, str]:
    return signature_headers(secret, message_id, timestamp, body)


def test_verifier_accepts_once_then_calls_it_a_replay():
    verifier = WebhookVerifier(SECRET, clock=lambda: 1_000_000)
    assert verifier.verify(BODY.encode(), signed(1_000_000))["data"]["task"] == "t1"
    with pytest.raises(WebhookRejected, match="replay"):
        verifier.verify(BODY.encode(), signed(1_000_000))
    verifier.release("msg_1")  # processing failed: the retry (same id, new timestamp) is welcome
    assert verifier.verify(BODY.encode(), signed(1_000_005))


@pytest.mark.parametrize(
    ("headers", "body", "reason"),
    [
        (signed(1_000_000 - 301), BODY, "stale-timestamp"),
        (signed(1_000_000 + 301), BODY, "future-timestamp"),
        (signed(1_000_000), BODY.replace("t1", "t2"), "bad-signature"),
        (signed(1_000_000, secret="whsec_" + base64.b64encode(b"x" * 32).decode()), BODY, "bad-signature"),
        ({**signed(1_000_000), "webhook-signature": "v1,not base64!"}, BODY, "bad-signature"),
        ({**signed(1_000_000), "webhook-signature": "v2,AAAA"}, BODY, "bad-signature"),
        ({**signed(1_000_000), "webhook-id": "msg_other"}, BODY, "bad-signature"),  # the id is signed too
        ({**signed(1_000_000), "webhook-timestamp": "1e6"}, BODY, "bad-timestamp"),
        ({k: v for k, v in signed(1_000_000).items() if k != "webhook-signature"}, BODY, "missing-headers"),
    ],
)
def test_verifier_refuses(headers, body, reason):
    verifier = WebhookVerifier(SECRET, clock=lambda: 1_000_000)
    with pytest.raises(WebhookRejected) as refused:
        verifier.verify(body.encode(), headers)
    assert refused.value.reason == reason


def test_a_replay_is_forgotten_only_once_its_timestamp_is_stale_anyway():
    now = [1_000_000]
    verifier = WebhookVerifier(SECRET, clock=lambda: now[0])
    verifier.verify(BODY.encode(), signed(1_000_000))
    now[0] += 301
    with pytest.raises(WebhookRejected, match="stale-timestamp"):
        verifier.verify(BODY.encode(), signed(1_000_000))
