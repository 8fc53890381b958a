"""The database-backed replay store and revocation view, on SQLite and PostgreSQL, across processes."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime

from sqlalchemy import func, select, update

from gateway.auth import registry
from gateway.auth.store import DatabaseReplayCache, DatabaseRevocations
from gateway.db.engine import make_engine, make_session_factory
from gateway.db.models import Agency, Client, SeenJti

T0 = 1_900_000_000.0


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_jti_is_claimed_once_per_namespace(session_factory):
    cache = DatabaseReplayCache(session_factory, Clock(T0))
    assert cache.claim("client-a", "j1", T0 + 100)
    assert not cache.claim("client-a", "j1", T0 + 100)
    assert cache.claim("client-b", "j1", T0 + 100)
    assert cache.claim("client-a", "j2", T0 + 100)


def test_an_expired_claim_can_be_taken_again(session_factory):
    clock = Clock(T0)
    cache = DatabaseReplayCache(session_factory, clock)
    assert cache.claim("a", "j1", T0 + 100)
    clock.now = T0 + 99
    assert not cache.claim("a", "j1", T0 + 300)
    clock.now = T0 + 100
    assert cache.claim("a", "j1", T0 + 400)
    assert not cache.claim("a", "j1", T0 + 400)


def test_expired_rows_are_purged(session_factory):
    clock = Clock(T0)
    cache = DatabaseReplayCache(session_factory, clock)
    for i in range(5):
        assert cache.claim("a", f"j{i}", T0 + 10)
    clock.now = T0 + 3600
    assert cache.claim("a", "fresh", T0 + 3700)
    with session_factory() as session:
        assert session.execute(select(func.count()).select_from(SeenJti)).scalar_one() == 1


def test_two_stores_on_one_database_share_what_they_have_seen(db_engine):
    """Two processes' worth of stores: separate engines, one database."""
    other_engine = make_engine(str(db_engine.url.render_as_string(hide_password=False)))
    try:
        first = DatabaseReplayCache(make_session_factory(db_engine), Clock(T0))
        second = DatabaseReplayCache(make_session_factory(other_engine), Clock(T0))
        assert first.claim("a", "shared", T0 + 60)
        assert not second.claim("a", "shared", T0 + 60)
    finally:
        other_engine.dispose()


def _race(url: str, jtis: list[str], barrier, results) -> None:  # pragma: no cover - runs in a child
    engine = make_engine(url)
    cache = DatabaseReplayCache(make_session_factory(engine))
    barrier.wait(timeout=60)
    won = [jti for jti in jtis if cache.claim("racer", jti, 4_000_000_000)]
    results.put(won)
    engine.dispose()


def test_two_processes_racing_for_the_same_jtis_win_each_exactly_once(database_url):
    """Two real processes claim the same 150 jti values in the same order at the same moment."""
    jtis = [f"jti-{i}" for i in range(150)]
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    results = context.Queue()
    workers = [context.Process(target=_race, args=(database_url, jtis, barrier, results)) for _ in range(2)]
    for worker in workers:
        worker.start()
    won = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    assert sorted(won[0] + won[1]) == sorted(jtis)
    assert not set(won[0]) & set(won[1])


# --- revocations ---------------------------------------------------------------------------------


def _client(sessions, code="POL-1"):
    with sessions.begin() as session:
        session.add(Agency(code=code, name=code, type="police", created_at=datetime.now(UTC)))
        session.flush()
        jwk = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "kid": "k"}
        jwks = {"keys": [jwk]}
        return registry.add_client(session, code, ["charging"], jwks=jwks).client_id


def test_a_token_revoked_by_one_process_is_refused_by_another_within_max_age(session_factory, db_engine):
    clock = Clock(100.0)
    here = DatabaseRevocations(session_factory, clock=clock, wall_clock=lambda: T0)
    there = DatabaseRevocations(session_factory, clock=clock, wall_clock=lambda: T0)
    assert not there.is_revoked("tok-1")  # loads a snapshot

    here.revoke("tok-1", T0 + 200, "client-1")

    assert here.is_revoked("tok-1")  # at once where it was revoked
    clock.now = 100.0 + 0.999
    assert not there.is_revoked("tok-1")  # the snapshot may be up to max_age old
    clock.now = 101.0
    assert there.is_revoked("tok-1")


def test_a_revoked_token_is_forgotten_after_its_expiry(session_factory):
    wall = Clock(T0)
    clock = Clock(0.0)
    revocations = DatabaseRevocations(session_factory, clock=clock, wall_clock=wall)
    revocations.revoke("tok-1", T0 + 50)
    revocations.revoke("already-expired", T0 - 1)
    clock.now, wall.now = 5.0, T0 + 1
    assert revocations.is_revoked("tok-1")
    assert not revocations.is_revoked("already-expired")
    clock.now, wall.now = 10.0, T0 + 51
    assert not revocations.is_revoked("tok-1")


def test_a_revoked_client_is_inactive_everywhere_within_max_age(session_factory):
    client_id = _client(session_factory)
    clock = Clock(0.0)
    view = DatabaseRevocations(session_factory, clock=clock)
    assert view.is_client_active(client_id)
    with session_factory.begin() as session:
        registry.revoke_client(session, client_id)
    clock.now = 1.0
    assert not view.is_client_active(client_id)


def test_a_client_registered_after_the_snapshot_is_looked_up(session_factory):
    view = DatabaseRevocations(session_factory, clock=Clock(0.0))
    assert not view.is_client_active("nobody")
    client_id = _client(session_factory)
    assert view.is_client_active(client_id)
    with session_factory.begin() as session:
        session.execute(update(Client).values(revoked_at=datetime.now(UTC)))
    assert not view.is_client_active(client_id)  # not in the snapshot: read directly
