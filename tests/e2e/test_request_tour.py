"""The README tour's court request (``ld-gateway demo`` step 6), run literally against a real server."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.e2e


def _argv(line: str, task_id: str | None = None) -> list[str]:
    argv = line.strip().replace("TASK_ID", task_id or "TASK_ID").split()
    assert argv[0] == ".venv/bin/python"
    return [sys.executable, *argv[1:]]


def test_a_court_request_is_answered_live_as_the_tour_says(live_gateway):
    lines = [line for line in live_gateway.tour.splitlines() if "adapters.court_requests" in line]
    watch, ask, accept, complete, fetch = lines
    assert " watch " in watch and " ask " in ask and " fetch " in fetch

    watcher = subprocess.Popen(
        [*_argv(watch), "--count", "3"],
        cwd=ROOT,
        env=live_gateway.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert watcher.stdout is not None
        assert "watching" in watcher.stdout.readline()

        def run(line: str, task_id: str | None = None) -> subprocess.CompletedProcess[str]:
            result = subprocess.run(
                _argv(line, task_id), cwd=ROOT, env=live_gateway.env, capture_output=True, text=True, timeout=60
            )
            assert result.returncode == 0, result.stdout + result.stderr
            return result

        task_id = run(ask).stdout.strip().splitlines()[-1]
        assert "is now accepted" in run(accept, task_id).stdout
        assert "is now completed" in run(complete, task_id).stdout
        fetched = run(fetch, task_id).stdout
        assert "HTTP 200" in fetched and "Document" in fetched

        out, err = watcher.communicate(timeout=60)
        assert watcher.returncode == 0, err
        kinds = [line.split()[1] for line in out.splitlines() if line.strip()]
        assert kinds == ["task.created", "task.accepted", "task.completed"]
        assert task_id in out and "9000000009" not in out  # ids and links, no NHS number
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.communicate()
