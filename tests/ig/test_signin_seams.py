"""An IG sign-in cannot stall disclosures, nor be used to flood the gateway with password hashes.

Attacks, and what holds them:
- a stream of sign-in attempts (each an argon2id hash of 64 MiB) holding the database while it hashes,
  so that every pull waits behind it: the hash runs with no transaction open (proved by taking the
  write lock and making a real pull from inside the hash);
- one address guessing across many usernames, known or not: throttled per address before any hash;
- many addresses guessing one username, known or not: throttled per username before any hash;
- `GET /ig/sign-in` in a loop to fill the sessions table: the form writes nothing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from gateway.ig import accounts
from gateway.ig.throttle import SignInThrottle
from tests.ig.conftest import CSRF, PASSWORD, StaffBrowser, ig_state
from tests.ig.test_http import SEARCH, staff_events


class Watched(accounts.Passwords):
    """The pages' own hasher, with ``before`` called at each check (the hash) before it runs."""

    def __init__(self, inner: accounts.Passwords, before: Callable[[str, str], None]) -> None:
        super().__init__(inner.hasher, inner.dummy_hash)
        self.before = before

    def verify(self, stored: str, password: str) -> bool:
        self.before(stored, password)
        return super().verify(stored, password)


def watch_hashes(gateway: Any, before: Callable[[str, str], None]) -> None:
    ig = ig_state(gateway)
    ig.passwords = Watched(ig.passwords, before)


def row_counts(gateway: Any) -> dict[str, int]:
    engine = gateway.sessions.kw["bind"]
    with engine.connect() as conn:
        return {
            t: conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one() for t in inspect(engine).get_table_names()
        }


def write_lock_free(gateway: Any) -> bool:
    """Nobody holds a transaction: on SQLite the write lock can be taken at once; on PostgreSQL no other
    connection to the database is inside a transaction."""
    url = make_url(gateway.settings.database_url)
    if url.get_backend_name() == "sqlite":
        probe = sqlite3.connect(url.database, timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            return True
        except sqlite3.OperationalError:
            return False
        finally:
            probe.close()
    with gateway.sessions.kw["bind"].connect() as conn:
        busy = conn.execute(
            text(
                # Clients only: autovacuum, which the suite's deletes wake at any moment, is no writer of ours.
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND xact_start IS NOT NULL AND backend_type = 'client backend'"
            )
        ).scalar_one()
        return busy == 0


def browser_at(app: Any, address: str) -> StaffBrowser:
    """A staff browser at a chosen client address."""
    return StaffBrowser(app, client_address=(address, 40000))


def test_the_password_hash_runs_with_no_transaction_open_and_a_pull_goes_through(gateway, staff, browser):
    pull_auth = gateway.auth("POL-NE", "charging")
    seen: list[tuple[bool, int]] = []

    def pull_during_the_hash(stored: str, password: str) -> None:
        free = write_lock_free(gateway)
        # A real pull, from inside the hash: it needs the log's write lock to commit its entry.
        status = gateway.http.get(SEARCH, auth=pull_auth).status_code if free else -1
        seen.append((free, status))

    watch_hashes(gateway, pull_during_the_hash)
    assert browser.sign_in("auditor", "a wrong password").status_code == 401
    assert browser.sign_in("nobody-at-all", "a wrong password").status_code == 401
    assert browser.sign_in("auditor").status_code == 303
    assert seen == [(True, 200)] * 3
    assert len(staff_events(gateway, "ig:staff:signin-failed")) == 2


def test_showing_the_sign_in_form_writes_no_row(gateway, staff, browser):
    before = row_counts(gateway)
    for _ in range(5):
        assert browser.get("/ig/sign-in").status_code == 200
    assert StaffBrowser(gateway.app).get("/ig/sign-in?next=/ig/agencies").status_code == 200
    assert row_counts(gateway) == before
    # The form still works, and its token is bound to the browser's own cookie.
    assert browser.sign_in("auditor").status_code == 303
    assert browser.get("/ig/sign-in").status_code == 303  # signed in: sent on, still without a write


def test_a_sign_in_form_token_from_another_browser_is_refused(gateway, staff, browser):
    stolen = CSRF.search(StaffBrowser(gateway.app).get("/ig/sign-in").text).group(1)
    browser.get("/ig/sign-in")
    response = browser.post("/ig/sign-in", data={"username": "auditor", "password": PASSWORD, "csrf_token": stolen})
    assert response.status_code == 403
    assert [e["reason"] for e in staff_events(gateway, "ig:staff:refused")] == ["csrf"]


def stopped_clock() -> float:
    """The throttles' clock, stopped: no bucket refills however long the sign-ins take on a loaded machine
    (at one attempt a minute, a minute of hashing would let one more through)."""
    return 1000.0


def count_hashes(gateway: Any) -> list[str]:
    calls: list[str] = []
    watch_hashes(gateway, lambda stored, password: calls.append(password))
    return calls


def test_one_address_is_throttled_across_usernames_known_or_not(gateway, staff):
    ig_state(gateway).throttle = SignInThrottle(
        address_per_minute=1, address_burst=3, account_per_minute=60, account_burst=100, clock=stopped_clock
    )
    hashes = count_hashes(gateway)
    guesser = browser_at(gateway.app, "203.0.113.7")
    answers = [
        guesser.sign_in(name, "guess guess guess").status_code for name in ("a1", "auditor", "b2", "c3", "admin")
    ]
    assert answers == [401, 401, 401, 429, 429]
    assert len(hashes) == 3  # refused before any hash
    # Someone else, elsewhere, is not held up by it.
    assert browser_at(gateway.app, "198.51.100.1").sign_in("admin").status_code == 303
    throttled = [e for e in staff_events(gateway, "ig:staff:signin-failed") if e["reason"] == "sign-in:throttled"]
    assert len(throttled) == 1  # logged once, not once per refusal


@pytest.mark.parametrize("username", ["auditor", "no-such-user"])
def test_one_username_is_throttled_across_addresses(gateway, staff, username):
    ig_state(gateway).throttle = SignInThrottle(
        address_per_minute=60, address_burst=100, account_per_minute=1, account_burst=2, clock=stopped_clock
    )
    hashes = count_hashes(gateway)
    answers = [browser_at(gateway.app, f"192.0.2.{i}").sign_in(username, "guess guess guess") for i in range(4)]
    assert [a.status_code for a in answers] == [401, 401, 429, 429]
    assert answers[2].headers["retry-after"].isdigit()
    assert len(hashes) == 2
    # The page says the same for a known and an unknown username.
    assert "Too many sign-in attempts" in answers[3].text
