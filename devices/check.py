"""``ofa device check``: prove the whole path (connect, push, run, parse) before an hour of profiling."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from devices.session import DeviceSession

CHECK_SPACE = "ofa_tiny_in32_d12_e34_k35_w1.0"


def check_device(device, write_model=None) -> dict:
    """Connect, push a tiny model (the tiny space's smallest sub-network), time it, return a report.

    ``write_model(module, shape, path, fmt, precision)`` writes the model in the device's precision (the CLI
    passes the int8 micro-model writer, which lives above this layer); by default the fp32 file is used."""
    import torch  # lazy: torch loads only here

    from devices.modelfile import export_module, model_job
    from devices.stats import summarize
    from ofa.nn.static import StaticSubnet
    from ofa.spaces import get_space
    from ofa.subnet import SubnetConfig

    started = time.monotonic()
    space = get_space(CHECK_SPACE)
    cfg = SubnetConfig.smallest(space)
    with DeviceSession(device) as session, tempfile.TemporaryDirectory() as tmp:
        fingerprint = session.fingerprint()
        model = StaticSubnet(space, cfg, 10).eval()
        precision = session.spec.runner.precision
        path = Path(tmp) / f"check.{session.model_format}"
        if write_model is not None and precision != "fp32":
            write_model(model, (1, 3, cfg.r, cfg.r), path, session.model_format, precision)
        else:
            precision = "fp32"
            export_module(model, torch.randn(1, 3, cfg.r, cfg.r), path, session.model_format)
        job = model_job("check", path, (1, 3, cfg.r, cfg.r), session.layout)
        timings = list(session.measure([job]))
    stats = summarize(timings[0])
    return {"device": session.spec.name, "ok": True, "model": f"{CHECK_SPACE} smallest @ {cfg.r}px ({session.model_format}, {precision})",
            "latency_ms": stats["mean_ms"], "std_ms": stats["std_ms"], "count": stats["count"],
            "check_seconds": round(time.monotonic() - started, 2), "fingerprint": fingerprint}
