"""Notifications are delivered when their transaction commits, and only then; across processes on PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest

from gateway.court_requests.notify import LocalNotifier, Notification, PostgresNotifier, make_notifier
from gateway.db.engine import make_engine, make_session_factory


async def _collect(notifier, publish, wants=lambda n: True, wait: float = 60.0) -> list[Notification]:
    notifier.start()
    subscription = notifier.hub.subscribe(wants)
    try:
        await asyncio.to_thread(publish)
        got = []
        # The first is awaited as long as a loaded machine may take to hand it over from PostgreSQL's
        # listening thread (it comes back as soon as it is there); after it, only what is already on its way.
        while (item := await subscription.next(wait)) is not None:
            got.append(item)
            wait = 0.5
        return got
    finally:
        subscription.close()


def _publisher(sessions, notifier, notification, *, commit: bool = True):
    def publish() -> None:
        session = sessions()
        with session.begin():
            notifier.publish(session, notification)
            if not commit:
                session.rollback()
                return
        session.close()

    return publish


def test_make_notifier_picks_by_database():
    assert isinstance(make_notifier("sqlite:///x.db"), LocalNotifier)
    assert isinstance(make_notifier("postgresql+psycopg://u@h/db"), PostgresNotifier)


def test_public_form_has_no_audience():
    n = Notification(type="task.created", task="t1", status="requested", audience=("MC-NE", "LD-NE"))
    assert "audience" not in n.public()
    assert Notification.from_json(n.to_json()) == n


def test_notifications_reach_subscribers_on_commit_and_never_on_rollback(session_factory, database_url):
    notifier = make_notifier(database_url)
    try:
        kept = Notification(type="task.created", task="kept", audience=("LD-NE",))
        dropped = Notification(type="task.created", task="dropped", audience=("LD-NE",))

        def both() -> None:
            _publisher(session_factory, notifier, dropped, commit=False)()
            _publisher(session_factory, notifier, kept)()

        got = asyncio.run(_collect(notifier, both))
        assert [n.task for n in got] == ["kept"]
    finally:
        notifier.stop()


def test_subscribers_get_only_what_they_want(session_factory, database_url):
    notifier = make_notifier(database_url)
    try:
        mine = Notification(type="task.accepted", task="mine", audience=("MC-NE", "LD-NE"))
        theirs = Notification(type="task.accepted", task="theirs", audience=("PROB-NE", "LD-NE"))

        def publish() -> None:
            _publisher(session_factory, notifier, theirs)()
            _publisher(session_factory, notifier, mine)()

        got = asyncio.run(_collect(notifier, publish, wants=lambda n: "MC-NE" in n.audience))
        assert [n.task for n in got] == ["mine"]
    finally:
        notifier.stop()


def test_a_notification_crosses_to_another_process_listener(pg_database_url):
    """Two notifiers stand for two gateway processes: one publishes in its transaction, the other hears it."""
    engine = make_engine(pg_database_url)
    sender, receiver = PostgresNotifier(pg_database_url), PostgresNotifier(pg_database_url)
    try:
        note = Notification(type="task.created", task="t-across", status="requested", audience=("LD-NE",))
        got = asyncio.run(_collect(receiver, _publisher(make_session_factory(engine), sender, note)))
        assert got == [note]
    finally:
        sender.stop()
        receiver.stop()
        engine.dispose()


@pytest.mark.parametrize("payload", ["not json", '{"type": 1, "nonsense": true}'])
def test_a_malformed_payload_is_ignored(payload):
    notifier = PostgresNotifier("postgresql+psycopg://u@h/db")
    notifier._deliver(payload)  # no subscribers, no exception


def test_closing_the_hub_ends_every_stream_and_every_later_one_at_once():
    """What a stopping server does first, so that no open ``GET /events`` holds its shutdown."""
    from gateway.court_requests.notify import Hub

    async def scenario() -> tuple[bool, bool]:
        hub = Hub()
        open_before = hub.subscribe(lambda n: True)
        hub.close()
        opened_after = hub.subscribe(lambda n: True)
        ended = []
        for subscription in (open_before, opened_after):
            try:
                await subscription.next(60)  # a stream waits up to its keep-alive interval for an event
            except EOFError:
                ended.append(True)
        hub.dispatch(Notification(type="task.created", task="late"))
        return len(ended) == 2, open_before._queue.empty() and opened_after._queue.empty()

    ended_both, nothing_after = asyncio.run(scenario())
    assert ended_both
    assert nothing_after, "a closed hub delivers nothing more"


def test_a_subscriber_that_reconnects_with_last_event_id_is_sent_what_it_missed():
    from gateway.court_requests.notify import REPLAY_SECONDS, Hub

    async def scenario() -> None:
        now = [0.0]
        hub = Hub(clock=lambda: now[0])
        mine = lambda n: "LD-NE" in n.audience  # noqa: E731
        seen = Notification(type="task.created", task="1", audience=("LD-NE",))
        missed = Notification(type="task.accepted", task="1", audience=("MC-NE", "LD-NE"))
        not_mine = Notification(type="task.created", task="2", audience=("PROB-NE",))
        for n in (seen, missed, not_mine):
            hub.dispatch(n)
        now[0] += 299.0  # a token's lifetime later, the watcher reconnects with a new one
        subscription, replay = hub.subscribe_after(mine, seen.id)
        assert replay is not None and [n.id for n in replay] == [missed.id]
        later = Notification(type="task.completed", task="1", audience=("LD-NE",))
        hub.dispatch(later)  # published after the reconnect: live, not replayed, never twice
        assert (await subscription.next(1.0)).id == later.id
        subscription.close()

        now[0] += REPLAY_SECONDS + 1  # too late: the stream must say the replay is incomplete
        hub.dispatch(Notification(type="task.created", task="3", audience=("LD-NE",)))
        stale, replay = hub.subscribe_after(mine, later.id)
        assert replay is None
        stale.close()
        unknown, replay = hub.subscribe_after(mine, "an id this process never saw")
        assert replay is None
        unknown.close()

    asyncio.run(scenario())
