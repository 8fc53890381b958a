"""What a process loads before it does anything: every ``ld-gateway`` command imports gateway.cli, so
what that imports is paid by ``--help`` and by every command alike."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

# Each is loaded by the commands that use it, when they run.
NOT_FOR_EVERY_COMMAND = (
    "sqlalchemy",  # the database: not for --help, nor for `policy test`
    "gateway.db.models",
    "alembic",  # migrations: `init` only
    "joserfc",  # the authorization server: agency, client and token-key commands
    "cryptography",
    "gateway.auth.rfc9068",
    "argon2",  # staff passwords
    "fastapi",  # the API: `serve` and `demo`
    "uvicorn",
    "gateway.config",  # the settings: read when a command first needs them, not for --help
    "pydantic",
    "pydantic_settings",
    "regorus",  # the policy engine: the commands that decide, test or tabulate
)


def modules_loaded_by(statement: str) -> set[str]:
    """The modules in ``sys.modules`` after ``statement`` in a fresh interpreter."""
    code = f"import sys\n{statement}\nprint('\\n'.join(sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(done.stdout.split())


def test_the_command_line_loads_no_command_s_own_dependencies():
    loaded = modules_loaded_by("import gateway.cli")
    assert "gateway.cli" in loaded
    assert sorted(name for name in NOT_FOR_EVERY_COMMAND if name in loaded) == []
