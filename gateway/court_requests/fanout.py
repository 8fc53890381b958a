"""Notification fan-out: every notification goes to the live streams (the notifier, at commit) and to the
webhook outbox (``webhooks.enqueue``), in the caller's transaction, so it is durable exactly when what it
announces is.

- Task changes go to the Task's two parties.
- ``assessment.amended`` and ``consent.withdrawn`` (inside the publishing transaction) go to every agency
  released an earlier version, and to the publisher (``court_requests.alerts``).
- ``assessment.accessed`` (inside the pull's write) goes to the publisher of each released assessment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from gateway.court_requests import alerts, webhooks
from gateway.court_requests.notify import Notification, Notifier
from gateway.db.agencies import AgencyDirectory
from gateway.db.models import Assessment, RequestTask
from gateway.keys import KeyRing


class Accessed(Protocol):
    """A released document, as the publisher's "assessment.accessed" notification names it (the
    disclosure service's ``Released`` has this shape)."""

    @property
    def assessment_id(self) -> str: ...
    @property
    def assessment_version(self) -> int: ...
    @property
    def disclosure_id(self) -> str: ...
    @property
    def agency_code(self) -> str: ...
    @property
    def purpose(self) -> str: ...
    @property
    def publisher_code(self) -> str: ...


class Fanout:
    def __init__(
        self,
        *,
        keyring: KeyRing,
        notifier: Notifier,
        base_url: str,
        clock: Callable[[], datetime],
        agencies: AgencyDirectory,
        subscriptions: webhooks.Subscriptions | None = None,
    ) -> None:
        self._keyring = keyring
        self._agencies = agencies
        self.notifier = notifier
        self._base = base_url.rstrip("/")
        self._clock = clock
        self._subscriptions = subscriptions

    def send(self, session: Session, notification: Notification) -> None:
        self.notifier.publish(session, notification)
        webhooks.enqueue(session, notification, self._clock(), self._subscriptions)

    def task_changed(
        self, session: Session, row: RequestTask, requester: str, owner: str, kind: str, output: str | None = None
    ) -> None:
        """``task.{status}`` to the requester and the owner, with a link to the Task (and to the answer)."""
        notification = Notification(
            type=kind,
            task=row.id,
            status=row.status,
            link=f"{self._base}/fhir/Task/{row.id}",
            output=f"{self._base}/fhir/Bundle/{output}" if output else None,
            audience=(requester, owner),
        )
        self.send(session, notification)

    def on_published(self, session: Session, assessment_id: str, version: int, document: Mapping[str, Any]) -> None:
        """Inside the publishing transaction: tell earlier recipients of a newer version, and of withdrawn consent."""
        assessment = session.get(Assessment, assessment_id)
        if assessment is None or version <= 1:
            return
        recipients = alerts.earlier_recipients(session, self._keyring, assessment, version)
        if not recipients:
            return
        owner = self._agencies.by_id(session, assessment.publisher_agency_id)
        audience = tuple(sorted(recipients | ({owner.code} if owner else set())))
        link = f"{self._base}/fhir/Bundle/{assessment_id}"
        kinds = ["assessment.amended"]
        if (document.get("consent") or {}).get("status") == "withdrawn":
            kinds.append("consent.withdrawn")
        for kind in kinds:
            self.send(
                session,
                Notification(type=kind, assessment=assessment_id, version=version, link=link, audience=audience),
            )

    def disclosed_in(self, session: Session, accessed: Sequence[Accessed]) -> None:
        """In the pull's own write transaction: tell each released assessment's publisher who was given it,
        for what. Built from what the pull already holds (no re-reading of what it just wrote); durable
        exactly when the disclosure is (the notification outbox commits with the log entry)."""
        for item in accessed:
            self.send(
                session,
                Notification(
                    type="assessment.accessed",
                    assessment=item.assessment_id,
                    version=item.assessment_version,
                    disclosure=item.disclosure_id,
                    agency=item.agency_code,
                    purpose=item.purpose,
                    link=f"{self._base}/assessments/{item.assessment_id}/disclosures",
                    audience=(item.publisher_code,),
                ),
            )
