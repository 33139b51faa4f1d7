"""Hardware-aware Once-for-All: elastic supernets, sub-network extraction, search and export.

The public Python API most users need:

    from ofa import get_space, SubnetConfig, load_supernet, load_subnet
    net = load_subnet("runs/demo/supernet", subnet="subnet.json")   # a ready nn.Module
"""

from ofa.errors import ArtifactError, ConfigError, DataError, DeviceError, ExportError, InfeasibleError, OFAError
from ofa.spaces import SearchSpace, get_space, list_spaces
from ofa.subnet import SubnetConfig
from ofa.version import __version__


def load_supernet(path):
    """Load a supernet artifact directory (see :func:`ofa.artifacts.load_supernet`)."""
    from ofa.artifacts import load_supernet as _load

    return _load(path)


def load_subnet(path, subnet=None):
    """Load a static sub-network as a ready ``nn.Module`` (eval mode).

    ``path`` is an extracted sub-network directory, or a supernet directory together with
    ``subnet`` (a :class:`SubnetConfig`, a dict, or a path to its JSON file).
    """
    from ofa.artifacts import load_subnet as _load

    return _load(path, subnet)


__all__ = [
    "__version__",
    "OFAError",
    "ConfigError",
    "DataError",
    "ArtifactError",
    "DeviceError",
    "ExportError",
    "InfeasibleError",
    "SearchSpace",
    "get_space",
    "list_spaces",
    "SubnetConfig",
    "load_supernet",
    "load_subnet",
]
