"""SSH transport through the system OpenSSH client (``ssh``), key auth, strict host keys.

Host keys are always checked (``StrictHostKeyChecking=yes``) against ``known_hosts`` (default
``~/.ssh/known_hosts``): add the board's key once with ``ssh-keyscan -p PORT HOST >> known_hosts``
after verifying its fingerprint. ``BatchMode=yes`` means no password prompts: use a key.

Files travel through ``ssh`` itself (``cat`` on the board, the file on stdin/stdout), not ``scp``: scp
reads a remote path as shell text in its legacy mode and literally in its SFTP mode (the default since
OpenSSH 9.0), so no one quoting of a path (a ``workdir`` with a space, a quote, a ``$``) is right for
both; and small boards often run an sshd without an SFTP server. Here the remote path is always one
argv element, quoted with :func:`shlex.quote` for the board's shell like every other command.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from devices.transports.base import TRANSPORTS, Transport, run_local
from ofa.errors import ConfigError
from ofa.io import atomic_write

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.:\-\[\]]+$")


class SSHTransport(Transport):
    kind = "ssh"

    def __init__(self, spec, timeout_s: float = 600.0):
        super().__init__(spec, timeout_s)
        if not spec.host:
            raise ConfigError("an ssh device needs transport.host (and usually user, identity_file)")
        for what, value in (("host", spec.host), ("user", spec.user)):
            if value is not None and (not _SAFE_NAME.match(value) or value.startswith("-")):
                raise ConfigError(f"transport.{what} {value!r} is not a valid SSH {what} name")

    def describe(self) -> str:
        return f"ssh {self.destination}:{self.spec.port}"

    @property
    def destination(self) -> str:
        return f"{self.spec.user}@{self.spec.host}" if self.spec.user else str(self.spec.host)

    def options(self) -> list[str]:
        s = self.spec
        known = str(Path(s.known_hosts or "~/.ssh/known_hosts").expanduser())
        opts = ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={known}",
                "-o", f"ConnectTimeout={int(max(1, s.connect_timeout_s))}", "-o", "ServerAliveInterval=5",
                "-o", "ServerAliveCountMax=3", "-o", "LogLevel=ERROR"]
        if s.identity_file:
            opts += ["-o", "IdentitiesOnly=yes", "-i", str(Path(s.identity_file).expanduser())]
        return opts

    def wrap(self, argv: list[str]) -> list[str]:
        remote = " ".join(shlex.quote(str(a)) for a in argv)
        return ["ssh", *self.options(), "-p", str(self.spec.port), "--", self.destination, remote]

    def push_argv(self, remote: str) -> list[str]:
        """Local argv that writes its stdin to ``remote`` (the path is ``$1`` of a fixed script, never code)."""
        return self.wrap(["sh", "-c", 'cat > "$1"', "sh", remote])

    def pull_argv(self, remote: str) -> list[str]:
        return self.wrap(["cat", "--", remote])

    def push(self, local: Path, remote: str) -> None:
        with open(local, "rb") as src:
            run_local(self.push_argv(remote), self.timeout_s, self.describe(), stdin=src).check(
                f"copying {Path(local).name} to {remote} over {self.describe()}")

    def pull(self, remote: str, local: Path) -> None:
        def fetch(tmp: Path) -> None:
            with open(tmp, "wb") as dst:
                run_local(self.pull_argv(remote), self.timeout_s, self.describe(), stdout=dst).check(
                    f"copying {remote} from {self.describe()}")

        atomic_write(local, fetch)

    def _make_workdir(self) -> str:
        result = self.run(["mktemp", "-d", "/tmp/ofa-bench.XXXXXX"], timeout_s=60)
        return result.check(f"creating a temp directory on {self.describe()}").stdout.strip()


TRANSPORTS.register("ssh", SSHTransport)
