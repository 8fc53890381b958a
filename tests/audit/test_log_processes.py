"""Several gateway processes appending at once keep one linear, gap-free, verifiable order."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from gateway.audit import log
from gateway.audit.verify import verify_rows

WRITER = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime
    from gateway.audit import log
    from gateway.db.engine import make_engine, make_session_factory

    url, worker, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    sessions = make_session_factory(make_engine(url))
    for i in range(count):
        with sessions.begin() as session:
            log.append(
                session,
                disclosure_id=log.new_disclosure_id(),
                event="disclosure:bundle:released",
                outcome="released",
                created_at=datetime.now(UTC),
                client_id=f"worker-{worker}",
                reason=str(i),
            )
    """
)

PROCESSES = 4
APPENDS = 50


def test_parallel_processes_append_in_one_order(database_url, session_factory):
    workers = [
        subprocess.Popen([sys.executable, "-c", WRITER, database_url, str(w), str(APPENDS)]) for w in range(PROCESSES)
    ]
    assert all(w.wait(timeout=240) == 0 for w in workers)
    with session_factory() as session:
        rows = list(log.iter_rows(session))
        result = verify_rows(iter(rows), log.read_head(session))
    assert result.ok, result.failure
    assert [r.seq for r in rows] == list(range(PROCESSES * APPENDS))
    assert {r.client_id for r in rows} == {f"worker-{w}" for w in range(PROCESSES)}
