"""A private redis-server for a benchmark: a free port, its own directory, persisting nothing.

Never the system server on 6379: a benchmark flushes and fills its server.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Self

import redis


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class BenchRedis:
    """``with BenchRedis() as server: server.client()``; stopped (and its directory removed) after."""

    def __init__(self, workdir: Path | None = None) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (Debian: apt-get install redis-server)")
        self._tmp = None if workdir else tempfile.TemporaryDirectory(prefix="bench-redis-")
        self.workdir = workdir or Path(self._tmp.name)  # type: ignore[union-attr]
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.log_file = self.workdir / "redis.log"
        self.process = subprocess.Popen(
            [
                binary,
                *self._listen_args(),
                *("--bind", "127.0.0.1", "--save", "", "--appendonly", "no"),
                *("--dir", str(self.workdir), "--logfile", str(self.log_file)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready()

    def _listen_args(self) -> list[str]:
        """How the server listens (a subclass may add TLS and AUTH): plain TCP on ``port``."""
        return ["--port", str(self.port)]

    def _ping(self) -> bool:
        return bool(self.client().ping())

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)

    def _wait_ready(self, timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = self.log_file.read_text(errors="replace")[-2000:] if self.log_file.exists() else ""
                raise RuntimeError(f"redis-server exited with {self.process.returncode}: {log}")
            try:
                if self._ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server on port {self.port} did not answer PING within {timeout_s} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
