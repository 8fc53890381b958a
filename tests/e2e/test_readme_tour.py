"""README's five-minute tour, run literally against a real gateway, and told exactly as ``ld-gateway demo``
tells it: the same numbered steps with the same commands (gateway/tour.py)."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import httpx
import pytest

from gateway.tour import STEPS
from tests.conftest import ROOT
from tests.e2e.conftest import ONLY_THE_SQLITE_SERVER
from tests.fixtures.servers import CLI

# The tour is the demo's, and the demo runs on SQLite; the commands' PostgreSQL paths have their own tests.
pytestmark = [pytest.mark.e2e, ONLY_THE_SQLITE_SERVER]


def numbered_commands(lines: list[str]) -> list[tuple[int, list[str]]]:
    """(number, commands) for each numbered step: a line "N. ..." starts one, ".venv/bin/..." lines are its."""
    steps: list[tuple[int, list[str]]] = []
    for line in lines:
        numbered = re.match(r"^(\d+)\. ", line)
        if numbered:
            steps.append((int(numbered.group(1)), []))
        elif line.strip().startswith(".venv/bin/") and steps:
            steps[-1][1].append(line.strip())
    return steps


def readme_steps() -> list[tuple[int, list[str]]]:
    text = (ROOT / "README.md").read_text()
    tour = text.split("## A five-minute tour", 1)[1].split("\n## ", 1)[0]
    return numbered_commands(tour.splitlines())


def demo_steps(tour: str) -> list[tuple[int, list[str]]]:
    # Off the default port the demo names the gateway too; README's commands rely on the default.
    return numbered_commands([re.sub(r" --gateway \S+$", "", line) for line in tour.splitlines()])


def test_readme_and_the_demo_tell_the_same_numbered_steps_with_the_same_commands(live_gateway):
    readme = readme_steps()
    assert [n for n, _ in readme] == list(range(1, len(STEPS) + 1))
    assert readme == [(n, list(step.commands)) for n, step in enumerate(STEPS, start=1)]
    assert demo_steps(live_gateway.tour) == readme


def _argv(command: str, task_id: str = "TASK_ID") -> list[str]:
    argv = command.replace("TASK_ID", task_id).split()
    program = {".venv/bin/python": sys.executable, ".venv/bin/ld-gateway": CLI}[argv[0]]
    return [program, *argv[1:]]


def test_every_readme_tour_command_does_what_the_readme_says(live_gateway: Any):
    env = {**live_gateway.env, "COLUMNS": "80"}  # GATEWAY_ISSUER and GATEWAY_DATA_DIR: the demo's own

    def run(command: str, task_id: str = "TASK_ID", code: int = 0) -> str:
        done = subprocess.run(_argv(command, task_id), cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == code, (command, done.stdout, done.stderr)
        return done.stdout

    steps = dict(readme_steps())
    custody, police = (run(command) for command in steps[1])
    assert "receipts verified" in custody and "  - Fitness" in custody and "  - Diversion" not in custody
    assert "receipts verified" in police and "  - Diversion" in police and "  - Clinical" not in police
    probation = run(steps[2][0])
    assert "  - Clinical" in probation and "  - Diversion" not in probation
    assert "HTTP 200" in run(steps[3][0])
    trust, southmoor = steps[4]
    assert "HTTP 404" in run(trust, code=1)
    assert "HTTP 200" in run(southmoor)
    verify, matrix = steps[5]
    assert "intact" in run(verify)
    assert max(len(line) for line in run(matrix).splitlines()) <= 80
    (import_,) = steps[6]
    assert "4 created" in run(import_)
    assert "4 unchanged" in run(import_)

    watch, ask, accept, complete, fetch = steps[7]
    watcher = subprocess.Popen(
        [*_argv(watch), "--count", "3"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert watcher.stdout is not None and "watching" in watcher.stdout.readline()
        task_id = run(ask).strip().splitlines()[-1]
        assert "is now accepted" in run(accept, task_id)
        assert "is now completed" in run(complete, task_id)
        fetched = run(fetch, task_id)
        assert "receipts verified: 1" in fetched and "HTTP 200" in fetched
        out, err = watcher.communicate(timeout=60)
        assert watcher.returncode == 0, err
        assert [line.split()[1] for line in out.splitlines()] == ["task.created", "task.accepted", "task.completed"]
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.communicate()

    assert steps[8] == []
    assert httpx.get(live_gateway.base_url + "/ig/sign-in", timeout=10).status_code == 200
