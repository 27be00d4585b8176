"""`accord` processes for tests: servers and schedulers on loopback, killed and restarted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx2

MAIN = "from api.cli import main; main()"


class Process:
    """`accord --database-url URL <args>` in a subprocess."""

    def __init__(
        self, database_url: str, args: list[str], cwd: Path, env: dict[str, str] | None = None
    ) -> None:
        self.command = [sys.executable, "-c", MAIN, "--database-url", database_url, *args]
        self.env = {**os.environ, "ACCORD_DATABASE_URL": database_url, **(env or {})}
        self.cwd = cwd
        self.process: subprocess.Popen[bytes] | None = None
        self.kills = 0

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.command,
            env=self.env,
            cwd=self.cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a SIGKILL of the group takes uvicorn's workers too
        )

    def kill(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.kills += 1

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


class Server(Process):
    """`accord serve` on a loopback port, ready when /healthz answers."""

    def __init__(
        self,
        database_url: str,
        port: int,
        cwd: Path,
        *,
        workers: int = 1,
        env: dict[str, str] | None = None,
    ) -> None:
        args = ["serve", "--port", str(port), "--workers", str(workers)]
        super().__init__(database_url, args, cwd, {"ACCORD_SCHEDULER": "off", **(env or {})})
        self.base = f"http://127.0.0.1:{port}"

    def start(self) -> None:
        super().start()
        assert self.wait_until_up(), "the server did not start within 90 s"

    def wait_until_up(self, seconds: float = 90.0) -> bool:
        deadline = time.monotonic() + seconds
        with httpx2.Client(base_url=self.base, timeout=2) as probe:
            while time.monotonic() < deadline:
                try:
                    if probe.get("/healthz").status_code == 200:
                        return True
                except httpx2.TransportError:
                    time.sleep(0.05)
        return False
