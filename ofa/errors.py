"""The one small exception hierarchy for user-facing errors.

Every error a user can cause (bad config, bad data, missing artifact, unreachable device...)
is an :class:`OFAError` whose message says what was expected and how to fix it. The CLI prints
these as one line without a traceback (``ofa --debug`` shows it) and exits with the class's code.

Exit codes are stable; scripts may rely on them (see ``EXIT_CODES``, documented in the README):
0 success, 1 an unexpected internal error (a bug), 2 a command-line usage error (click's), 3-8 the
classes below, 130 interrupted.
"""


class OFAError(Exception):
    """Base class of all user-facing errors of this project."""

    exit_code = 3


class ConfigError(OFAError):
    """A configuration value (space, sub-network, schedule, option) is invalid."""

    exit_code = 3


class DataError(OFAError):
    """A dataset path, layout or image cannot be used."""

    exit_code = 4


class ArtifactError(OFAError):
    """An artifact on disk (supernet, sub-network, LUT, checkpoint) is missing, corrupt or incompatible."""

    exit_code = 5


class DeviceError(OFAError):
    """A device cannot be reached, or its measurement could not be run or read."""

    exit_code = 6


class ExportError(OFAError):
    """A model could not be exported, or the export failed its validation."""

    exit_code = 7


class InfeasibleError(OFAError):
    """No sub-network of the space meets the requested constraints."""

    exit_code = 8


#: exit code -> meaning, for ``ofa --help`` readers and the docs
EXIT_CODES = {
    0: "success",
    1: "unexpected internal error (a bug: rerun with --debug and report the traceback)",
    2: "command-line usage error (unknown option, missing argument)",
    **{cls.exit_code: f"{cls.__name__}: {cls.__doc__.strip()}" for cls in
       (ConfigError, DataError, ArtifactError, DeviceError, ExportError, InfeasibleError)},
    130: "interrupted (finished work is kept; re-run to resume)",
}
