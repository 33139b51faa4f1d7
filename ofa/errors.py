"""The one small exception hierarchy for user-facing errors.

Every error a user can cause (bad config, bad data, missing artifact, unreachable device...)
is an :class:`OFAError` whose message says what was expected and how to fix it. The CLI prints
these without a traceback and exits with a non-zero status.
"""


class OFAError(Exception):
    """Base class of all user-facing errors of this project."""

    exit_code = 2


class ConfigError(OFAError):
    """A configuration value (space, sub-network, schedule, option) is invalid."""


class DataError(OFAError):
    """A dataset path, layout or image cannot be used."""


class ArtifactError(OFAError):
    """An artifact on disk (supernet, sub-network, LUT, checkpoint) is missing, corrupt or incompatible."""


class DeviceError(OFAError):
    """A device cannot be reached, or its measurement could not be run or read."""


class ExportError(OFAError):
    """A model could not be exported, or the export failed its validation."""


class InfeasibleError(OFAError):
    """No sub-network of the space meets the requested constraints."""
