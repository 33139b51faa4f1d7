"""Model cards: what a zoo entry is, how well it does, how it was made (JSON + Markdown)."""

from __future__ import annotations

from pathlib import Path

from ofa.io import atomic_write_json, atomic_write_text, sha256_file
from ofa.manifest import ManifestHeader

CARD_JSON = "card.json"
CARD_HEADER = ManifestHeader("zoo_card", 2, kind_optional=True)  # no kind before 0.1.0
CARD_MD = "card.md"


def file_hashes(directory: Path) -> dict[str, dict]:
    """sha256 and size of every file in an entry (the card itself excluded)."""
    out = {}
    for path in sorted(directory.rglob("*")):
        if path.is_file() and path.name not in (CARD_JSON, CARD_MD) and not path.name.startswith("."):
            out[str(path.relative_to(directory))] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    return out


def write_card(directory: Path, card: dict) -> dict:
    card = CARD_HEADER.fields() | dict(card)
    card["files"] = file_hashes(directory)
    atomic_write_json(directory / CARD_JSON, card)
    atomic_write_text(directory / CARD_MD, render_markdown(card))
    return card


def _fmt(value, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def render_markdown(card: dict) -> str:
    lat = card.get("latency_ms", {})
    acc = card.get("accuracy", {})
    stat = lat.get("stat", "median")
    lines = [
        f"# {card['name']}",
        "",
        f"Sub-network of `{card['space']}` for device **{card['device']}** under a {card['budget_ms']:g} ms budget "
        f"on the **{stat}** of plain timed runs. Status: **{card.get('status', 'ok')}**"
        + (f" ({card['reason']})" if card.get("reason") else "") + ".",
        "",
        "| figure | value |",
        "|---|---|",
        f"| top-1 accuracy (measured, {acc.get('split', 'val')} split, {acc.get('images', '?')} images) | {_pct(acc.get('top1'))} |",
        f"| top-1 accuracy (predicted, ensemble mean ± std) | {_pct(acc.get('predicted_top1'))} ± "
        f"{_pct(acc.get('predicted_top1_std'))} |",
        *_quantised_rows(acc),
        f"| latency budget ({stat}) / limit with the {100 * lat.get('margin', 0):g} % noise margin | "
        f"{_fmt(card['budget_ms'])} / {_fmt(lat.get('limit_ms'))} ms |",
        f"| latency predicted ({stat}) | {_fmt(lat.get('predicted_mean'))} ± {_fmt(lat.get('predicted_std'), 2)} ms |",
        f"| latency measured on the device ({lat.get('measured_format', '?')}), {stat}, slowest of "
        f"{len(lat.get('measured_passes', [])) or '?'} runs | {_fmt(lat.get('measured'))} ms |",
        f"| latency measured, all runs pooled: median / min of {lat.get('measured_count', '?')} | "
        f"{_fmt(lat.get('measured_median'))} / {_fmt(lat.get('measured_min'))} ms |",
        f"| search rounds (target ms -> measured ms) | {_rounds(lat.get('rounds', []))} |",
        f"| MFLOPs (MACs) | {_fmt(card['mflops'], 4)} |",
        f"| parameters | {_fmt(card['params_m'], 4)} M |",
        f"| input | {card['input']['layout']} {card['input']['shape']}, mean {card['input']['mean']}, std {card['input']['std']} |",
        "",
        f"Candidates measured (search ranked by the predicted {acc.get('rank_by', 'mean')}; the best measured is kept):",
        "",
        "| rank | predicted top-1 | measured top-1 | predicted ms |",
        "|---|---|---|---|",
        *[f"| {c['rank']} | {_pct(c['predicted_top1'])} | {_pct(c['top1'])} | {_fmt(c.get('latency_predicted_ms'))} |"
          for c in acc.get("candidates", [])],
        "",
        "## Exports",
        "",
        "| file | format | precision | bytes | max abs diff | top-1 agreement | parity |",
        "|---|---|---|---|---|---|---|",
    ]
    for exp in card.get("exports", []):
        lines.append(f"| `{exp['file']}` | {exp['format']} | {exp['precision']} | {exp.get('bytes', '')} | "
                     f"{_fmt(exp.get('max_abs_diff'))} | {_fmt(exp.get('top1_agreement'))} | {exp.get('status', '')} |")
    lines += ["", "## Sub-network", "", f"`{card['arch']}`", "", "```json", _json(card["subnet"]), "```", "",
              "## Tool versions", ""]
    lines += [f"- {k}: {v}" for k, v in card.get("versions", {}).items()]
    lines += ["", "## Files (sha256)", ""]
    lines += [f"- `{name}` {info['sha256'][:16]}… ({info['bytes']} bytes)" for name, info in card.get("files", {}).items()]
    return "\n".join(lines) + "\n"


def _quantised_rows(acc: dict) -> list[str]:
    """Card rows of an int8 entry: the deployed file's top-1, its agreement with fp32, and the drop."""
    q = acc.get("int8")
    if not q:
        return []
    calib = q.get("calibration") or {}
    return [f"| top-1 accuracy, int8 {q.get('format', '')} file (post-training quantisation, {calib.get('images', '?')} "
            f"{calib.get('split', 'train')} images of {calib.get('data', '?')}; {q.get('images', '?')} val images) | "
            f"{_pct(q.get('top1'))} |",
            f"| int8 vs fp32: top-1 agreement / accuracy drop | {_pct(q.get('top1_agreement_with_fp32'))} / "
            f"{_points(q.get('accuracy_drop'))} |"]


def _points(value) -> str:
    return "n/a" if value is None else f"{100 * value:+.2f} points"


def _pct(value) -> str:
    return "n/a" if value is None else f"{100 * value:.2f} %"


def _rounds(rounds: list[dict]) -> str:
    return ", ".join(f"{r['target_ms']:.4g} -> {r['measured_ms']:.4g}" for r in rounds) or "n/a"


def _json(obj) -> str:
    import json

    return json.dumps(obj)
