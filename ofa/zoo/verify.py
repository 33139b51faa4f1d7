"""``ofa verify PATH``: tell an artifact's kind from its manifest (or zoo card) and run that kind's checks.

Supernet and sub-network directories: every recorded file hash, then a strict load (tensor names and shapes
against the manifest's architecture). Latency tables: the load's timing checks, every block present, the
end-to-end rows readable. Fitted latency predictors: the weights' sha256, shapes, a positive minimum.
Zoo entries: every file hash of the card, then the entry's sub-network as above.
Accuracy predictors: a full load (every layer's shape against the space's encoding, finite weights) and one
prediction. Export directories: every written file's size and sha256 against ``export_report.json``. A
zoo: every entry its index lists, as above. Each check that fails raises the
:class:`~ofa.errors.ArtifactError` that names the file and the fix.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ofa.errors import ArtifactError

KNOWN = ("a supernet or sub-network directory, a latency table directory (`ofa lut build`), a fitted latency "
         "predictor (`ofa latency fit`), an accuracy "
         "predictor (`ofa acc build`), an export directory (`ofa export`), a zoo entry, or a zoo (its index.json)")


@dataclass
class Verified:
    path: Path
    kind: str
    checks: list[str] = field(default_factory=list)


def verify_artifact(path: str | Path) -> Verified:
    """Run the checks of the artifact at ``path``; returns what was checked, raises on the first problem."""
    from ofa.artifacts import verify_model
    from ofa.zoo.card import CARD_JSON

    path = Path(path)
    if not path.is_dir():
        raise ArtifactError(f"{path} is not a directory; `ofa verify` checks {KNOWN}")
    if (path / CARD_JSON).is_file():
        return Verified(path, "zoo-entry", _zoo_entry(path))
    if (path / "index.json").is_file():
        return Verified(path, "zoo", _zoo(path))
    if (path / "export_report.json").is_file():
        return Verified(path, "export", _export_dir(path))
    if (path / "predictor.json").is_file() and not (path / "manifest.json").is_file():
        return Verified(path, "accuracy-predictor", _accuracy_predictor(path))
    kind = _json(path / "manifest.json", f"{path} has no manifest.json or card.json: it is not {KNOWN}").get("kind")
    if kind in ("supernet", "subnet"):
        return Verified(path, kind, verify_model(path))
    if kind == "latency-lut":
        return Verified(path, kind, _latency_table(path))
    if kind == "latency-predictor":
        return Verified(path, kind, _fitted_latency(path))
    raise ArtifactError(f"{path} holds a {kind!r} artifact, which `ofa verify` does not check; it checks {KNOWN}")


def _json(file: Path, missing: str) -> dict:
    if not file.is_file():
        raise ArtifactError(missing)
    try:
        data = json.loads(file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{file} is not valid JSON ({exc}); restore it, or re-create the artifact") from None
    if not isinstance(data, dict):
        raise ArtifactError(f"{file} is not a JSON object; restore it, or re-create the artifact")
    return data


def _latency_table(path: Path) -> list[str]:
    from latency.e2e import load_e2e
    from latency.table import LatencyTable

    table = LatencyTable.load(path)  # refuses cut-off rows and impossible timings
    missing = table.missing_blocks()
    if missing:
        r, key = missing[0]
        raise ArtifactError(f"{path} is incomplete: {len(missing)} block(s) have no timing, e.g. {key} at r={r}; "
                            f"re-run `ofa lut build` with the same arguments and --out {path} (it measures only "
                            "the missing blocks)")
    rows = load_e2e(path)
    return [f"{len(table.frame)} blocks of {table.space_id} at {table.resolutions}: none missing, timings valid",
            f"{len(rows)} end-to-end rows readable"]


def _fitted_latency(path: Path) -> list[str]:
    from latency.fitted import FittedLatencyPredictor

    model = FittedLatencyPredictor.load(path)  # re-hashes the weights, checks shapes and the smallest prediction
    return [f"weights sha256 as in the manifest ({model.manifest['family']} fit of {model.space.id} at "
            f"{list(model.index.resolutions)}, {model.manifest['statistic']})",
            f"fastest network predicted at {model.minimum_ms():.4g} ms (positive)"]


def _accuracy_predictor(path: Path) -> list[str]:
    import numpy as np

    from ofa.search.acc_predictor import AccuracyPredictor
    from ofa.subnet import SubnetConfig

    predictor = AccuracyPredictor.load(path)
    value = predictor.predict_configs([SubnetConfig.smallest(predictor.space)])
    if not np.isfinite(value).all():
        raise ArtifactError(f"{path} predicts {value[0]} for the smallest sub-network; rebuild it with `ofa acc build`")
    return [f"{len(predictor.members)} ensemble member(s) for {predictor.space.id}: shapes and values valid",
            f"predicts {100 * float(value[0]):.1f} % for the smallest sub-network"]


def _export_dir(path: Path) -> list[str]:
    """Every file the export report says was written: present, with the recorded size and sha256."""
    from export.report import artifact_size_and_sha256
    from ofa.io import read_json_file

    report = read_json_file(path / "export_report.json", "export report", ArtifactError)
    results = report.get("results")
    if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
        raise ArtifactError(f"{path / 'export_report.json'} lists no results; re-run `ofa export`")
    fix = f"re-run `ofa export ... --out {path}` to write it again"
    checks = []
    for result in results:
        if not result.get("file") or not result.get("sha256"):
            checks.append(f"{result.get('format')}/{result.get('precision')}: {result.get('status')}, no file")
            continue
        file = path / Path(str(result["file"])).name  # relative to the report (older reports: a full path)
        if not file.exists():  # a file, or a directory artifact (.mlpackage); an IR's .bin counts with its .xml
            raise ArtifactError(f"{file} is listed in {path / 'export_report.json'} but missing; {fix}")
        if artifact_size_and_sha256(file) != (result.get("size_bytes"), result["sha256"]):
            raise ArtifactError(f"{file} does not match the size/sha256 in {path / 'export_report.json'}: it was "
                                f"changed after the export; {fix}")
        checks.append(f"{file.name}: sha256 as exported ({result.get('format')}/{result.get('precision')}, "
                      f"{result.get('status')})")
    return checks


def _zoo(path: Path) -> list[str]:
    from ofa.io import read_json_file

    rows = read_json_file(path / "index.json", "zoo index", ArtifactError, mapping=False)
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ArtifactError(f"{path / 'index.json'} is not a list of entries; re-run `ofa zoo` to rebuild it")
    checks = []
    for row in rows:
        if not row.get("path"):
            checks.append(f"{row.get('name')}: no files ({row.get('status')})")
            continue
        entry = path / str(row["path"])
        if not (entry / "card.json").is_file():
            raise ArtifactError(f"{entry} is listed in {path / 'index.json'} but has no card.json; re-run `ofa zoo`")
        checks.append(f"{row['path']}: " + "; ".join(_zoo_entry(entry)))
    return checks


def _zoo_entry(path: Path) -> list[str]:
    from ofa.artifacts import MANIFEST, verify_model
    from ofa.io import sha256_file
    from ofa.zoo.card import CARD_HEADER, CARD_JSON

    fix = f"delete {path} and re-run `ofa zoo` to rebuild the entry"
    files = CARD_HEADER.check(_json(path / CARD_JSON, ""), path / CARD_JSON, fix).get("files")
    if not files:
        raise ArtifactError(f"{path / CARD_JSON} records no file hashes (an older zoo); delete {path} and re-run "
                            "`ofa zoo` to rebuild it")
    for rel, meta in files.items():
        file = path / rel
        if not file.is_file():
            raise ArtifactError(f"{file} is listed in {path / CARD_JSON} but missing; {fix}")
        if file.stat().st_size != meta.get("bytes") or sha256_file(file) != meta.get("sha256"):
            raise ArtifactError(f"{file} does not match the size/sha256 recorded in {path / CARD_JSON}: it was "
                                f"changed after the entry was built; {fix}")
    checks = [f"sha256 of the {len(files)} files listed in {CARD_JSON}"]
    if (path / "subnet" / MANIFEST).is_file():
        checks += [f"subnet: {check}" for check in verify_model(path / "subnet")]
    return checks
