"""``ofa device check``: prove the whole path (connect, push, run, parse) before an hour of profiling."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from devices.session import DeviceSession

CHECK_SPACE = "ofa_tiny_in32_d12_e34_k35_w1.0"


def check_device(device) -> dict:
    """Connect, push a tiny model (the tiny space's smallest sub-network), time it, return a report."""
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
        path = export_module(model, torch.randn(1, 3, cfg.r, cfg.r), Path(tmp) / f"check.{session.model_format}",
                             session.model_format)
        job = model_job("check", path, (1, 3, cfg.r, cfg.r), session.layout)
        timings = list(session.measure([job]))
    stats = summarize(timings[0])
    return {"device": session.spec.name, "ok": True, "model": f"{CHECK_SPACE} smallest @ {cfg.r}px ({session.model_format})",
            "latency_ms": stats["mean_ms"], "std_ms": stats["std_ms"], "count": stats["count"],
            "check_seconds": round(time.monotonic() - started, 2), "fingerprint": fingerprint}
