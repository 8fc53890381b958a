"""docs/agency-onboarding.md, run as a supplier's developer would run it against a real gateway: its
Python blocks copied out as they are (jwks.py, first_pull.py), a key registered with ``ld-gateway client
add``, and a first pull that answers 200 with the documents' sections."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.conftest import ROOT
from tests.e2e.conftest import ONLY_THE_SQLITE_SERVER
from tests.factories import example

pytestmark = [pytest.mark.e2e, ONLY_THE_SQLITE_SERVER]

GUIDE = ROOT / "docs" / "agency-onboarding.md"
NHS = example("adult.json")["subject"]["nhs_number"]


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", GUIDE.read_text(), flags=re.DOTALL)


def block(first_line: str) -> str:
    (found,) = [b for b in python_blocks() if first_line in b]
    return found


def make_key(path: Path) -> None:
    """Section 1's command where openssl is installed; the same key made in Python where it is not."""
    if shutil.which("openssl"):
        subprocess.run(
            ["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(path)],
            check=True,
            capture_output=True,
        )
        return
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path.write_bytes(pem)


def run(script: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(script), *args], env=env, capture_output=True, text=True, timeout=120)


def test_the_guide_takes_a_new_client_from_a_key_to_a_first_pull(live_gateway: Any, tmp_path: Path):
    gw = live_gateway
    jwks_py, first_pull_py = tmp_path / "jwks.py", tmp_path / "first_pull.py"
    jwks_py.write_text(block("from joserfc.jwk import import_key\n\nkey = import_key"))
    first_pull_py.write_text(block('"""A first pull from ld-gateway'))
    key = tmp_path / "agency.pem"
    make_key(key)

    jwks = run(jwks_py, str(key), env=gw.env)
    assert jwks.returncode == 0, jwks.stderr
    (tmp_path / "agency-jwks.json").write_text(jwks.stdout)
    added = gw.cli(
        "client",
        "add",
        "--agency",
        "POL-NE",
        "--purpose",
        "charging",
        "--jwks-file",
        str(tmp_path / "agency-jwks.json"),
    )
    client_id = added.stdout.strip().splitlines()[-1]

    pulled = run(first_pull_py, gw.base_url, client_id, str(key), "charging", NHS, env=gw.env)
    assert pulled.returncode == 0, pulled.stdout + pulled.stderr
    lines = pulled.stdout.splitlines()
    assert lines[0].startswith("200 X-Disclosure-Id: ")
    assert lines[1].startswith("urn:uuid:") and "Liaison and Diversion" in lines[1]
    # The sections, withheld ones marked: the charging view withholds the clinical area.
    assert any(line.strip() == "Clinical (withheld)" for line in lines)

    # The demo variant of the same command: the demo's own police key and client.
    demo = run(first_pull_py, gw.base_url, gw.clients["POL-NE"], str(gw.key("POL-NE")), "charging", NHS, env=gw.env)
    assert demo.returncode == 0 and demo.stdout.startswith("200 X-Disclosure-Id: "), demo.stdout + demo.stderr
    # A purpose the client was not registered for is refused at the token, as the guide's errors table says.
    refused = run(first_pull_py, gw.base_url, client_id, str(key), "health-referral", NHS, env=gw.env)
    assert refused.returncode != 0 and "invalid_scope" in refused.stderr
