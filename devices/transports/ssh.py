"""SSH transport through the system OpenSSH client (``ssh``/``scp``), key auth, strict host keys.

Host keys are always checked (``StrictHostKeyChecking=yes``) against ``known_hosts`` (default
``~/.ssh/known_hosts``): add the board's key once with ``ssh-keyscan -p PORT HOST >> known_hosts``
after verifying its fingerprint. ``BatchMode=yes`` means no password prompts: use a key.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from devices.transports.base import TRANSPORTS, Transport, run_local
from ofa.errors import ConfigError

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

    def _scp(self, src: str, dst: str, what: str) -> None:
        argv = ["scp", "-q", *self.options(), "-P", str(self.spec.port), "--", src, dst]
        run_local(argv, self.timeout_s, self.describe()).check(f"{what} over {self.describe()}")

    def push(self, local: Path, remote: str) -> None:
        self._scp(str(local), f"{self._scp_host()}:{remote}", f"copying {Path(local).name} to the device")

    def pull(self, remote: str, local: Path) -> None:
        Path(local).parent.mkdir(parents=True, exist_ok=True)
        self._scp(f"{self._scp_host()}:{remote}", str(local), f"copying {remote} from the device")

    def _scp_host(self) -> str:
        host = f"[{self.spec.host}]" if ":" in str(self.spec.host) else str(self.spec.host)
        return f"{self.spec.user}@{host}" if self.spec.user else host

    def _make_workdir(self) -> str:
        result = self.run(["mktemp", "-d", "/tmp/ofa-bench.XXXXXX"], timeout_s=60)
        return result.check(f"creating a temp directory on {self.describe()}").stdout.strip()


TRANSPORTS.register("ssh", SSHTransport)
