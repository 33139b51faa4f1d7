"""Keep the converters' own chatter (progress bars, prints, optional-kernel notices) out of the user's output.

Light on purpose (no torch import): the CLI calls :func:`silence_converter_logs` at start-up.
"""

from __future__ import annotations

import contextlib
import io
import logging

log = logging.getLogger("export")  # the exporters' logger, as before this module moved to ofa

# Loggers of litert-torch's dependencies that report optional kernels at WARNING; nothing to act on here.
CONVERTER_LOGGERS = ("torchao", "torch.utils._pytree",
                     "torch.onnx._internal.exporter._registration")  # "torchvision is not installed"


def silence_converter_logs() -> None:
    for name in CONVERTER_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)


def quiet(call):
    """Run ``call`` with the converter's/quantiser's progress bars and prints (stdout/stderr) captured to the log."""
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        result = call()
    if sink.getvalue().strip():
        log.debug("converter output: %s", sink.getvalue().strip()[-500:])
    return result
