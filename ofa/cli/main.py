"""Entry point of the ``ofa`` command."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from ofa.cli.common import DEBUG, handle_errors, out, print_json, print_table, setup_logging

app = typer.Typer(help="Hardware-aware Once-for-All: supernets, device latency tables, search, verified export.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  epilog="Exit codes: 0 ok, 1 internal error (a bug), 2 usage, 3 config, 4 data, 5 artifact, "
                         "6 device, 7 export, 8 infeasible constraints, 130 interrupted.")
space_app = typer.Typer(help="Inspect the search spaces.", no_args_is_help=True)
app.add_typer(space_app, name="space")


@app.callback()
def _root(verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging."),
          debug: bool = typer.Option(False, "--debug", help="Show the traceback of an error (also OFA_DEBUG=1).")) -> None:
    DEBUG["on"] = debug or bool(os.environ.get("OFA_DEBUG"))
    setup_logging(verbose)


@app.command()
@handle_errors
def env(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Print versions of this tool, torch, ONNX, runtimes, TensorRT, and the CPU (for bug reports)."""
    from ofa.env import environment

    info = environment()
    if as_json:
        print_json(info)
    else:
        print_table("environment", [{"component": k, "version": v} for k, v in info.items()])


@space_app.command("list")
@handle_errors
def space_list() -> None:
    """List the built-in search spaces."""
    from ofa.spaces import list_spaces

    print_table("search spaces", [{"id": s.id, "description": s.description} for s in list_spaces()])


@space_app.command("show")
@handle_errors
def space_show(space: str = typer.Argument(..., help="Space id or a JSON/YAML space file."),
               as_json: bool = typer.Option(False, "--json", help="Print the full definition as JSON.")) -> None:
    """Show a space: stages, choices, number of sub-networks."""
    from ofa.spaces import get_space

    sp = get_space(space)
    print_json(sp.model_dump(mode="json") if as_json else sp.summary())


@app.command("import-official")
@handle_errors
def import_official_cmd(
    checkpoint: Path = typer.Argument(..., help="Official OFA checkpoint (.pth/.pt state dict or {'state_dict': ...})."),
    out_dir: Path = typer.Option(..., "--out", help="Supernet directory to write."),
    space: Optional[str] = typer.Option(None, help="Space id, or a ResNet space JSON/YAML file (default: inferred from "
                                        "the checkpoint; OFA-ResNet checkpoints default to ofa_resnet50)."),
    labels: Optional[Path] = typer.Option(None, help="Text file with one class name per line."),
) -> None:
    """Convert an official Once-for-All checkpoint (MobileNetV3, ProxylessNAS or ResNet50) into a supernet directory."""
    from ofa.artifacts import ModelInfo, save_supernet
    from ofa.io import sha256_file
    from ofa.nn.resnet import OFAResNet
    from ofa.official_resnet import import_official_any
    from ofa.resnet_artifacts import save_resnet_supernet

    net = import_official_any(checkpoint, space)
    names = _read_labels(labels, net.num_classes)
    info = ModelInfo(num_classes=net.num_classes, labels=names,
                     config={"command": "import-official", "space": net.space.id},
                     inputs={"checkpoint": {"path": str(checkpoint), "sha256": sha256_file(checkpoint)}})
    save = save_resnet_supernet if isinstance(net, OFAResNet) else save_supernet
    save(net, out_dir, info)
    out.print(f"imported {checkpoint} -> {out_dir} (space {net.space.id}, {net.num_classes} classes)")


@app.command()
@handle_errors
def extract(
    supernet: Path = typer.Argument(..., help="Supernet directory."),
    subnet: Path = typer.Option(..., "--subnet", help="Sub-network config JSON (ks/e/d/r; ResNet: the official d/e/w lists and r)."),
    out_dir: Path = typer.Option(..., "--out", help="Directory for the static sub-network."),
    bn_calib: Optional[str] = typer.Option(None, "--bn-calib", help="Recalibrate BN on 'builtin', 'cifar10' or a dataset path."),
    calib_images: int = typer.Option(2000, help="Images for BN recalibration."),
    seed: int = typer.Option(0, help="Seed of the calibration image subset."),
) -> None:
    """Extract a static sub-network (weights + config + manifest) from a supernet."""
    from ofa.extraction import extract_to_dir

    result = extract_to_dir(supernet, subnet, out_dir, bn_calib, calib_images, seed)
    out.print(f"wrote {out_dir}: {result['arch']}  {result['mflops']:.1f} MFLOPs  {result['params_m']:.3f} M params"
              + (f"  (BN recalibrated on {result['bn_calib_images']} images)" if result.get("bn_calib_images") else ""))


@app.command()
@handle_errors
def info(path: Path = typer.Argument(..., help="A supernet or sub-network directory.")) -> None:
    """Summarise a supernet or sub-network artifact."""
    from ofa.artifacts import read_manifest

    manifest = read_manifest(path)
    summary = {k: manifest.get(k) for k in ("kind", "tool_version", "created", "num_classes", "subnet", "labels")}
    summary["space"] = manifest["space"]["id"]
    print_json(summary)


def _read_labels(path: Optional[Path], num_classes: int) -> Optional[list[str]]:
    from ofa.errors import ConfigError

    if path is None:
        return None
    names = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if len(names) != num_classes:
        raise ConfigError(f"{path} lists {len(names)} labels but the model has {num_classes} classes")
    return names


# Commands of the other packages: each module defines ``register(app)`` (imports stay lazy inside commands).
# Every one is part of the tool: one that fails to import is a broken install, and its error surfaces.
_PLUGINS = ("ofa.train.cli", "devices.cli", "latency.cli", "export.cli", "ofa.search.cli", "ofa.zoo.cli")


def _register_plugins() -> None:
    import importlib

    for module in _PLUGINS:
        importlib.import_module(module).register(app)


_register_plugins()

if __name__ == "__main__":
    app()
