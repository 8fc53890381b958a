"""A real gateway process for the bench and the fault-injection runs.

`ld-gateway demo --no-serve` sets up a data directory (keys, demo agencies and clients, the two demo
assessments), then ``python -m bench.server`` serves it: the gateway as `ld-gateway serve` runs it, plus
the bench-only baseline routes.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from adapters.agency_client import AgencyClient
from adapters.agency_client.client import load_private_key

ROOT = Path(__file__).resolve().parent.parent
CLI = str(Path(sys.executable).with_name("ld-gateway"))


def free_port() -> int:
    """A port for a server that binds it later (with SO_REUSEADDR, as uvicorn, http.server and PostgreSQL do).

    A port merely bound and released is free for anyone: the kernel hands it to the next ``bind`` to port 0
    of any process (another test worker's server, a test's receiver), which can take it in the seconds
    before our server binds it. So it is left in TIME_WAIT (a connection accepted on it and closed from
    this side first): for a minute no other ``bind`` to port 0 and no outgoing connection is given it,
    while a server that binds it with SO_REUSEADDR may."""
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        address = listener.getsockname()
        with socket.socket() as client:
            client.connect(address)
            accepted, _ = listener.accept()
            accepted.close()
        return int(address[1])


def rss_kib(pid: int) -> dict[str, int]:
    """Resident set size now and at its peak (VmRSS, VmHWM from /proc), in KiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    values = {}
    for line in status.splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return {"rss_kib": values["VmRSS"], "peak_rss_kib": values["VmHWM"]}


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used so far (all its threads), from /proc/PID/stat.

    CPU time, not wall time: on a shared machine it counts only this process's own work.
    """
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    # After the command name: state is field 3, utime and stime are fields 14 and 15 (proc(5)).
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    # One client for every try: a new one per try would load the CA bundle each time (~25 ms of CPU).
    with httpx.Client(timeout=2) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{log.read_text()[-4000:]}")
            try:
                if http.get(url).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    raise RuntimeError(f"server did not become ready:\n{log.read_text()[-4000:]}")


@dataclass
class LiveGateway:
    workdir: Path
    database_url: str
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def data_dir(self) -> Path:
        return self.workdir / "var"

    @property
    def server_log(self) -> Path:
        return self.workdir / "server.log"

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "GATEWAY_DATA_DIR": str(self.data_dir),
            "GATEWAY_DATABASE_URL": self.database_url,
            "GATEWAY_ISSUER": self.base_url,
            "GATEWAY_POLICY_DIR": str(ROOT / "policies"),
            "GATEWAY_SCHEMA_DIR": str(ROOT / "schemas"),
            "LDG_BENCH_BASELINE_FILE": str(self.workdir / "baseline-body"),
            # The bench drives one client far past any agency's rate: measure the gateway, not its limits.
            "GATEWAY_TOKEN_RATE_PER_MINUTE": "0",
            "GATEWAY_RESOURCE_RATE_PER_SECOND": "0",
            "PYTHONPATH": str(ROOT),
        }

    def setup(self) -> None:
        run = subprocess.run(
            [CLI, "demo", "--no-serve", "--port", str(self.port)],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if run.returncode != 0:
            raise RuntimeError(f"ld-gateway demo failed:\n{run.stdout}\n{run.stderr}")

    def start(self) -> None:
        with self.server_log.open("ab") as sink:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bench.server", "--port", str(self.port)],
                env=self.env,
                cwd=ROOT,
                stdout=sink,
                stderr=sink,
            )
        self.starts += 1
        wait_ready(self.base_url + "/healthz", self.process, self.server_log)

    def kill9(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)

    def counters(self) -> dict[str, int | None]:
        """What bench/server.py counted so far: statements, commits, decision cache hits and misses."""
        return dict(httpx.get(self.base_url + "/bench/counters", timeout=10).json())

    def cpu(self) -> float:
        assert self.process is not None
        return cpu_seconds(self.process.pid)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([CLI, *args], env=self.env, capture_output=True, text=True, timeout=300)

    def clients(self) -> dict[str, str]:
        return dict(json.loads((self.data_dir / "demo-keys" / "clients.json").read_text()))

    def agency_client(self, code: str) -> AgencyClient:
        key = load_private_key(self.data_dir / "demo-keys" / f"{code}.pem")
        return AgencyClient(self.base_url, self.clients()[code], key)
