"""The proxy table: every proxy, FLOPs and params of N sub-networks, and their rank correlations.

Sub-networks come from an accuracy table (``ofa acc build``: exactly its rows, with their measured top-1)
or, without one, are sampled as ``ofa acc build`` samples them (same seed, same networks). The table is
a CSV (or JSONL, by the file's suffix) rewritten atomically after every network, next to
``<file>.manifest.json`` with the settings: a re-run with the same settings continues where the last
one stopped; other settings are refused. Each proxy's seconds per network are kept (``<proxy>_s``).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd

from ofa.complexity import subnet_cost
from ofa.data import DataSource
from ofa.errors import ArtifactError, ConfigError
from ofa.io import atomic_write, atomic_write_json, read_json_file, sha256_file
from ofa.locks import directory_lock
from ofa.manifest import ManifestHeader
from ofa.search.accuracy_table import HEADER as ACC_HEADER
from ofa.search.accuracy_table import MANIFEST as ACC_MANIFEST
from ofa.search.accuracy_table import load_table, sample_configs
from ofa.search.proxies import PROXIES, make_proxy_batches, score
from ofa.subnet import SubnetConfig

log = logging.getLogger(__name__)
SUFFIXES = (".csv", ".jsonl")
HEADER = ManifestHeader("proxy_table", 1)
LOCK_WHY = "two writers into one proxy table would both score every sub-network"


@dataclass(frozen=True)
class ProxySettings:
    proxies: tuple[str, ...]
    batches: int = 2
    batch_size: int = 64
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.proxies:
            raise ConfigError(f"name at least one proxy; known: {', '.join(PROXIES.names())}")
        for name in self.proxies:
            PROXIES.get(name)
        if self.batches < 1 or self.batch_size < 2:
            raise ConfigError(f"--batches must be at least 1 and --batch-size at least 2, got {self.batches} and "
                              f"{self.batch_size}")
        if "zico" in self.proxies and self.batches < 2:
            raise ConfigError("zico compares gradients across batches: give --batches 2 or more, or leave zico out")


@dataclass(frozen=True)
class Candidate:
    index: int
    config: SubnetConfig
    top1: float | None = None


def candidates(supernet, n: int | None, seed: int, acc_dir: "str | Path | None", supernet_hash: str) -> list[Candidate]:
    """The sub-networks to score: an accuracy table's rows (the first ``n``), or ``n`` sampled ones."""
    if (n is not None and n < 1) or (n is None and acc_dir is None):
        raise ConfigError(f"--n must be at least 1 (or left out with --acc: all of its rows), got {n}")
    if acc_dir is None:
        return [Candidate(i, cfg) for i, cfg in enumerate(sample_configs(supernet.space, n, seed))]
    _check_acc_supernet(Path(acc_dir), supernet_hash)
    table = load_table(acc_dir)
    missing = {"index", "subnet", "top1"} - set(table.columns)
    if missing:
        raise ArtifactError(f"{acc_dir}: the accuracy table lacks columns {sorted(missing)}; rebuild it with `ofa acc build`")
    rows = table.sort_values("index").head(n) if n is not None else table.sort_values("index")
    return [Candidate(int(r["index"]), SubnetConfig.from_json(r["subnet"], supernet.space), float(r["top1"]))
            for _, r in rows.iterrows()]


def _check_acc_supernet(acc_dir: Path, supernet_hash: str) -> None:
    manifest = acc_dir / ACC_MANIFEST
    if not manifest.is_file():
        raise ArtifactError(f"{acc_dir} has no {ACC_MANIFEST}: not an `ofa acc build` directory")
    fix = "give the directory `ofa acc build` wrote"
    settings = ACC_HEADER.check(read_json_file(manifest, "accuracy table manifest", ArtifactError, fix), manifest, fix).get("settings")
    measured_on = settings.get("supernet_sha256") if isinstance(settings, dict) else None
    if supernet_hash and measured_on and measured_on != supernet_hash:
        raise ArtifactError(f"{acc_dir} was measured on another supernet (weights sha256 {measured_on[:12]}..., "
                            f"this one {supernet_hash[:12]}...); give the supernet it was built from")


def check_out(out: "str | Path") -> Path:
    out = Path(out)
    if out.suffix not in SUFFIXES:
        raise ConfigError(f"--out {out}: the table is written as CSV or JSONL; name it *.csv or *.jsonl")
    return out


def score_table(supernet, source: Callable[[], DataSource], out: "str | Path", items: list[Candidate],
                settings: ProxySettings, provenance: dict,
                on_row: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """Score ``items`` into ``out`` (resumable, atomic, locked); returns the table.

    ``source()`` opens the dataset, called only when some network is left to score."""
    out = check_out(out)
    with directory_lock(out.parent, f"proxy-{out.name}", LOCK_WHY):
        wanted = {**provenance, **settings.__dict__, "subnets": [c.index for c in items]}
        rows = _resume(out, json.loads(json.dumps(wanted)))  # as it reads back from the manifest
        done = {int(r["index"]) for r in rows}
        batches = None
        for item in items:
            if item.index not in done:
                if batches is None:
                    batches = make_proxy_batches(source(), settings.batches, settings.batch_size, settings.seed)
                rows.append(_score_one(supernet, item, batches, settings))
                _write(out, rows)
            if on_row:
                on_row(len(rows), len(items))
    return _frame(rows)


def _score_one(supernet, item: Candidate, batches, settings: ProxySettings) -> dict:
    net = supernet.extract(item.config)
    cost = subnet_cost(supernet.space, item.config, supernet.num_classes)
    row = {"index": item.index, "subnet": item.config.to_json(), "arch": item.config.arch_string(supernet.space),
           "r": item.config.r, "mflops": cost.mflops, "params_m": cost.params_m}
    if item.top1 is not None:
        row["top1"] = item.top1
    for name in settings.proxies:
        t0 = time.perf_counter()
        row[name] = score(name, net, batches, settings.seed)
        row[f"{name}_s"] = time.perf_counter() - t0
    return row


def _manifest_path(out: Path) -> Path:
    return out.with_name(out.name + ".manifest.json")


def _resume(out: Path, settings: dict) -> list[dict]:
    manifest = {**HEADER.fields(), "settings": settings}
    path = _manifest_path(out)
    if path.is_file():
        fix = "use another --out, or delete both files"
        old = HEADER.check(read_json_file(path, "proxy table manifest", ArtifactError, fix), path, fix).get("settings")
        if old != settings:
            raise ArtifactError(f"{out} was scored with other settings ({path}); use another --out or delete both files")
        return read_table(out).to_dict("records") if out.is_file() else []
    if out.exists():
        raise ArtifactError(f"{out} exists without {path.name}: not a proxy table of this tool; use another --out")
    atomic_write_json(path, manifest)
    return []


def _frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows).sort_values("index").reset_index(drop=True) if rows else pd.DataFrame()


def _write(out: Path, rows: list[dict]) -> None:
    frame = _frame(rows)
    if out.suffix == ".jsonl":
        atomic_write(out, lambda tmp: frame.to_json(tmp, orient="records", lines=True))
    else:
        atomic_write(out, lambda tmp: frame.to_csv(tmp, index=False))


def read_table(path: "str | Path") -> pd.DataFrame:
    """A proxy table written by :func:`score_table` (CSV or JSONL)."""
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"no proxy table at {path}; write one with `ofa proxy score`")
    try:
        return pd.read_json(path, lines=True) if path.suffix == ".jsonl" else pd.read_csv(path)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{path} is not a readable proxy table ({exc}); delete it and score again") from None


def supernet_weights_hash(supernet_dir: "str | Path") -> str:
    return sha256_file(Path(supernet_dir) / "weights.safetensors")
