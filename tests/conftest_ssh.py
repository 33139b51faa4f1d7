"""A real OpenSSH server on 127.0.0.1 for the SSH transport tests (no mock of SSH).

``sshd`` runs unprivileged-style from a temp dir: throwaway host key and user key made with
``ssh-keygen``, a free port, key-only auth for the current user, and a known_hosts file holding the
host key so the client checks it strictly. Tests import the fixture: ``from conftest_ssh import sshd``.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

SSHD_CANDIDATES = ("/usr/sbin/sshd", "/usr/local/sbin/sshd", "/sbin/sshd")
SFTP_CANDIDATES = ("/usr/lib/openssh/sftp-server", "/usr/libexec/openssh/sftp-server", "/usr/lib/ssh/sftp-server")


@dataclass
class SSHServer:
    host: str
    port: int
    user: str
    identity_file: Path
    known_hosts: Path
    root: Path

    def transport(self, **extra) -> dict:
        return {"kind": "ssh", "host": self.host, "port": self.port, "user": self.user,
                "identity_file": str(self.identity_file), "known_hosts": str(self.known_hosts)} | extra


def find_sshd() -> str | None:
    found = shutil.which("sshd")
    return found or next((p for p in SSHD_CANDIDATES if os.access(p, os.X_OK)), None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)


def _wait_listening(port: int, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sshd exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"sshd did not listen on {port}: {log.read_text()[-2000:]}")


@pytest.fixture(scope="session")
def sshd(tmp_path_factory) -> SSHServer:
    sshd_bin = find_sshd()
    if sshd_bin is None or shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
        pytest.skip("OpenSSH server/client not installed (apt-get install openssh-server openssh-client; .ci/run does)")
    root = tmp_path_factory.mktemp("sshd")
    os.chmod(root, 0o700)
    host_key, user_key = root / "host_ed25519", root / "user_ed25519"
    _keygen(host_key)
    _keygen(user_key)
    auth = root / "authorized_keys"
    auth.write_text(Path(f"{user_key}.pub").read_text())
    os.chmod(auth, 0o600)
    port, user = _free_port(), getpass.getuser()
    sftp = next((p for p in SFTP_CANDIDATES if os.path.exists(p)), "internal-sftp")
    config = root / "sshd_config"
    config.write_text("\n".join([
        f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {host_key}", f"AuthorizedKeysFile {auth}",
        "PasswordAuthentication no", "KbdInteractiveAuthentication no", "PubkeyAuthentication yes",
        "PermitRootLogin prohibit-password", "UsePAM no", "StrictModes no", f"PidFile {root / 'sshd.pid'}",
        f"Subsystem sftp {sftp}", "LogLevel ERROR", "MaxStartups 50:30:100", ""]))
    Path("/run/sshd").mkdir(exist_ok=True) if os.geteuid() == 0 else None  # privilege-separation dir
    log = root / "sshd.log"
    proc = subprocess.Popen([sshd_bin, "-D", "-e", "-f", str(config)], stdout=open(log, "w"), stderr=subprocess.STDOUT)
    try:
        _wait_listening(port, proc, log)
        known = root / "known_hosts"
        known.write_text(f"[127.0.0.1]:{port} {Path(f'{host_key}.pub').read_text().split(' ')[0]} "
                         f"{Path(f'{host_key}.pub').read_text().split(' ')[1]}\n")
        yield SSHServer("127.0.0.1", port, user, user_key, known, root)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
