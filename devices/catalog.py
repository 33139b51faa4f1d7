"""The device catalog: built-in YAML entries plus the user's own device files.

Where devices come from, later sources overriding earlier ones by name:
1. ``devices/builtin_devices/*.yaml`` shipped with the tool (local CPU runtimes + documented examples);
2. ``~/.config/ofa/devices/*.yaml``;
3. files or directories listed in ``$OFA_DEVICES`` (``os.pathsep``-separated).
A YAML file holds one device mapping or ``devices: [ ... ]``. :func:`get_device` also accepts a path
to such a file directly.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from devices.spec import DeviceSpec
from ofa.errors import ConfigError

log = logging.getLogger(__name__)
BUILTIN_DIR = Path(__file__).parent / "builtin_devices"
USER_DIR = Path("~/.config/ofa/devices").expanduser()


def load_device_file(path: "str | Path") -> list[DeviceSpec]:
    """Read every device declared in a YAML file (``yaml.safe_load``)."""
    from ofa.io import read_yaml_file

    path = Path(path)
    data = read_yaml_file(path, "device file", mapping=False, fix="see docs/devices_and_latency.md for the format")
    entries = data.get("devices") if isinstance(data, dict) and "devices" in data else [data]
    if not isinstance(entries, list):
        raise ConfigError(f"device file {path}: 'devices' must be a list of device mappings")
    return [DeviceSpec.from_dict(entry, source=str(path)) for entry in entries]


def _source_files() -> list[Path]:
    files = sorted(BUILTIN_DIR.glob("*.yaml"))
    files += sorted(USER_DIR.glob("*.yaml")) if USER_DIR.is_dir() else []
    for item in filter(None, os.environ.get("OFA_DEVICES", "").split(os.pathsep)):
        p = Path(item).expanduser()
        files += sorted(p.glob("*.yaml")) if p.is_dir() else [p]
    return files


def list_devices() -> list[DeviceSpec]:
    """All known devices, by name (user files override built-ins of the same name)."""
    found: dict[str, DeviceSpec] = {}
    for path in _source_files():
        for spec in load_device_file(path):
            if spec.name in found:
                log.debug("device %s from %s overrides an earlier declaration", spec.name, path)
            found[spec.name] = spec
    return [found[name] for name in sorted(found)]


def get_device(name_or_path: "str | Path | DeviceSpec") -> DeviceSpec:
    """A device by catalog name, or the single device in a YAML file."""
    if isinstance(name_or_path, DeviceSpec):
        return name_or_path
    text = str(name_or_path)
    if text.endswith((".yaml", ".yml")):
        specs = load_device_file(text)
        if len(specs) != 1:
            raise ConfigError(f"{text} declares {len(specs)} devices; pass one of their names with OFA_DEVICES={text}")
        return specs[0]
    devices = {d.name: d for d in list_devices()}
    if text not in devices:
        raise ConfigError(f"unknown device {text!r}; known: {', '.join(sorted(devices))}. "
                          "Declare it in a YAML file (see docs/devices_and_latency.md) and pass the file or set OFA_DEVICES")
    return devices[text]
