"""Transports: how commands and files reach a device (local process, SSH, ADB).

Every transport takes commands as argv lists and runs them with a timeout; remote transports quote
each element with :func:`shlex.quote` for the remote shell, so no user data is spliced into a shell
string. New transports register themselves in :data:`TRANSPORTS`.
"""

from devices.transports import adb, local, ssh  # noqa: F401  (registration)
from devices.transports.base import TRANSPORTS, CommandResult, Transport, make_transport

__all__ = ["CommandResult", "Transport", "TRANSPORTS", "make_transport"]
