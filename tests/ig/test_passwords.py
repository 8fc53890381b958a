"""Staff password hashing: the parameters the product uses, the dummy hash a miss is checked against,
and the rehash of a stored hash whose parameters are not the hasher's (at the next good sign-in).

The other page tests use a cheaper argon2id (tests/ig/conftest.py); these pin what the product uses.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from argon2 import Parameters, PasswordHasher, Type, extract_parameters
from sqlalchemy import select

from gateway.db.models import StaffAccount
from gateway.ig import accounts
from tests.ig.conftest import PASSWORD, TEST_PASSWORDS, StaffBrowser, add_staff, ig_state

#: RFC 9106 section 4, the second recommended option (argon2-cffi's defaults): argon2id, 64 MiB, t=3, p=4.
RFC_9106_SECOND = Parameters(
    type=Type.ID, version=19, salt_len=16, hash_len=32, time_cost=3, memory_cost=65536, parallelism=4
)


def parameters_of(hasher: PasswordHasher) -> Parameters:
    return Parameters(
        type=hasher.type,
        version=19,
        salt_len=hasher.salt_len,
        hash_len=hasher.hash_len,
        time_cost=hasher.time_cost,
        memory_cost=hasher.memory_cost,
        parallelism=hasher.parallelism,
    )


def stored_hash(sessions, username: str) -> str:
    with sessions() as session:
        found = session.execute(select(StaffAccount.password_hash).where(StaffAccount.username == username))
        return str(found.scalar_one())


def test_the_product_hashes_with_rfc_9106s_second_recommended_parameters():
    assert parameters_of(accounts.PRODUCTION.hasher) == RFC_9106_SECOND
    # A miss is checked against a hash of the same cost as a hit, and that hash is never rehashed.
    assert extract_parameters(accounts.PRODUCTION.dummy_hash) == RFC_9106_SECOND
    assert not accounts.PRODUCTION.needs_rehash(accounts.PRODUCTION.dummy_hash)
    assert not accounts.PRODUCTION.verify(accounts.PRODUCTION.dummy_hash, "not a password of anyone's")


def test_a_hasher_made_without_a_dummy_hash_makes_one_of_its_own_parameters():
    assert extract_parameters(TEST_PASSWORDS.dummy_hash) == parameters_of(TEST_PASSWORDS.hasher)
    assert TEST_PASSWORDS.dummy_hash.startswith("$argon2id$")


def test_the_pages_check_passwords_with_the_product_hasher_unless_a_test_says_otherwise(gateway):
    assert ig_state(gateway).passwords is accounts.PRODUCTION  # as create_app wired them


def test_a_good_sign_in_replaces_a_hash_made_with_other_parameters(gateway, passwords):
    older = accounts.Passwords(PasswordHasher(time_cost=2, memory_cost=16, parallelism=1))
    add_staff(gateway.sessions, "olga", "ig-auditor", passwords=older)
    before = stored_hash(gateway.sessions, "olga")
    assert extract_parameters(before) == parameters_of(older.hasher)
    # A wrong password changes nothing.
    assert StaffBrowser(gateway.app).sign_in("olga", "not olga's password").status_code == 401
    assert stored_hash(gateway.sessions, "olga") == before
    assert StaffBrowser(gateway.app).sign_in("olga").status_code == 303
    after = stored_hash(gateway.sessions, "olga")
    assert extract_parameters(after) == parameters_of(passwords.hasher)
    assert StaffBrowser(gateway.app).sign_in("olga").status_code == 303
    assert stored_hash(gateway.sessions, "olga") == after  # up to date: left alone


def test_the_product_raises_a_cheaper_stored_hash_to_its_own_cost_at_sign_in(session_factory):
    add_staff(session_factory, "cheap", "ig-auditor", passwords=TEST_PASSWORDS)
    with session_factory.begin() as session:
        result = accounts.authenticate(
            session, "cheap", PASSWORD, now=datetime.now(UTC), max_attempts=5, lockout=timedelta(minutes=1)
        )
    assert result.outcome is accounts.SignIn.OK
    assert extract_parameters(stored_hash(session_factory, "cheap")) == RFC_9106_SECOND
