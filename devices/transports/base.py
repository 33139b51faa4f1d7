"""The transport interface and the subprocess plumbing every transport shares."""

from __future__ import annotations

import logging
import queue
import subprocess
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator

from devices.spec import TransportSpec
from ofa.errors import DeviceError
from ofa.registry import Registry

log = logging.getLogger(__name__)
TAIL_CHARS = 2000


def tail(text: str, limit: int = TAIL_CHARS) -> str:
    text = text.strip()
    return text if len(text) <= limit else "..." + text[-limit:]


@dataclass(frozen=True)
class CommandResult:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def check(self, what: str) -> "CommandResult":
        if self.returncode != 0:
            raise DeviceError(f"{what} failed (exit {self.returncode}): {tail(self.stderr or self.stdout)}")
        return self


class Transport(ABC):
    """Runs argv lists and moves files to/from a device. Use as a context manager."""

    kind = "abstract"

    def __init__(self, spec: TransportSpec, timeout_s: float = 600.0):
        self.spec, self.timeout_s = spec, timeout_s
        self._workdir: str | None = None

    # --- what a transport implements -------------------------------------------------------
    @abstractmethod
    def wrap(self, argv: list[str]) -> list[str]:
        """The local argv that runs ``argv`` on the device."""

    @abstractmethod
    def push(self, local: Path, remote: str) -> None: ...

    @abstractmethod
    def pull(self, remote: str, local: Path) -> None: ...

    @abstractmethod
    def _make_workdir(self) -> str: ...

    def describe(self) -> str:
        return self.kind

    @property
    def is_local(self) -> bool:
        return False

    # --- shared behaviour ----------------------------------------------------------------------
    @property
    def workdir(self) -> str:
        if self._workdir is None:
            self._workdir = self.spec.workdir or self._make_workdir()
            if self.spec.workdir:
                self.run(["mkdir", "-p", self.spec.workdir]).check(f"creating {self.spec.workdir} on {self.describe()}")
        return self._workdir

    def remote_path(self, name: str) -> str:
        return f"{self.workdir.rstrip('/')}/{name}"

    def open(self) -> "Transport":
        """Check that the device answers (raises :class:`DeviceError` with the reason if not)."""
        self.run(["true"], timeout_s=self.spec.connect_timeout_s + 20).check(f"connecting to {self.describe()}")
        return self

    def close(self) -> None:
        """Remove the temp directory this transport created (never a user-given workdir)."""
        if self._workdir is not None and not self.spec.workdir:
            result = self.run(["rm", "-rf", "--", self._workdir], timeout_s=60)
            if result.returncode != 0:
                log.warning("could not remove %s on %s: %s", self._workdir, self.describe(), tail(result.stderr, 300))
        self._workdir = None

    def __enter__(self) -> "Transport":
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    def run(self, argv: list[str], timeout_s: float | None = None) -> CommandResult:
        """Run ``argv`` on the device and wait (at most ``timeout_s``)."""
        return run_local(self.wrap(argv), timeout_s or self.timeout_s, self.describe())

    def stream(self, argv: list[str], timeout_s: float | None = None) -> Iterator[str]:
        """Run ``argv`` on the device, yielding stdout lines as they come; raises on failure."""
        return stream_local(self.wrap(argv), timeout_s or self.timeout_s, self.describe())


TRANSPORTS: Registry[type[Transport]] = Registry("transport")


def make_transport(spec: TransportSpec, timeout_s: float = 600.0) -> Transport:
    return TRANSPORTS.get(spec.kind)(spec, timeout_s)


def run_local(argv: list[str], timeout_s: float, where: str, stdin: IO[bytes] | None = None,
              stdout: IO[bytes] | None = None) -> CommandResult:
    """Run a local argv (never through a shell) with a timeout; ``stdin``/``stdout``: binary files to connect
    (default: no input, stdout captured as text)."""
    log.debug("run on %s: %s", where, argv)
    try:
        proc = subprocess.run(argv, stdin=stdin or subprocess.DEVNULL, stdout=stdout or subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, timeout=timeout_s)
    except FileNotFoundError:
        raise DeviceError(f"{argv[0]!r} is not installed or not on PATH (needed to reach {where})") from None
    except subprocess.TimeoutExpired as exc:
        out = (exc.stderr or b"") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        out = out.decode(errors="replace") if isinstance(out, bytes) else out
        raise DeviceError(f"command on {where} timed out after {timeout_s:.0f}s: {argv[:3]}... {tail(out, 500)}") from None
    return CommandResult(tuple(argv), proc.returncode, proc.stdout or "", proc.stderr)


def stream_local(argv: list[str], timeout_s: float, where: str) -> Iterator[str]:
    """Yield stdout lines of a local argv; kill it at ``timeout_s``; raise with stderr's tail on failure."""
    log.debug("stream on %s: %s", where, argv)
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1,
                                stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise DeviceError(f"{argv[0]!r} is not installed or not on PATH (needed to reach {where})") from None
    lines: "queue.Queue[str | None]" = queue.Queue()
    errors: list[str] = []
    threading.Thread(target=_pump, args=(proc.stdout, lines), daemon=True).start()
    err_thread = threading.Thread(target=lambda: errors.extend(proc.stderr), daemon=True)
    err_thread.start()
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DeviceError(f"command on {where} timed out after {timeout_s:.0f}s; stderr: {tail(''.join(errors), 500)}")
            try:
                line = lines.get(timeout=min(remaining, 1.0))
            except queue.Empty:
                continue
            if line is None:
                break
            yield line.rstrip("\n")
        proc.wait(timeout=30)
        err_thread.join(timeout=5)
        if proc.returncode != 0:
            raise DeviceError(f"command on {where} exited with {proc.returncode}: {tail(''.join(errors))}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _pump(stream, lines: "queue.Queue[str | None]") -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)
