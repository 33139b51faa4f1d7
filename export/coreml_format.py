"""The ``coreml`` format: an ML Program ``.mlpackage`` (iOS 17+) converted with coremltools from ``torch.export``.

* fp32: ``compute_precision=FLOAT32``; fp16: ``compute_precision=FLOAT16`` (fp16 weights and compute, what
  the Neural Engine runs); int8: the fp32 program with int8 weights (``coremltools.optimize.coreml.
  linear_quantize_weights``, per-channel symmetric, every conv/linear weight; dequantised at load,
  activations stay float).

Core ML predictions only run on macOS, so nothing here runs the model. What can be checked on Linux is
checked, and a failure is loud: the spec is an ML Program, input and output names/shapes/types, the op
list (as many ``conv``/``linear`` ops as the PyTorch model has Conv2d/Linear layers; fp16 and int8 ops
where the precision needs them), and the metadata round trip. The export report says
``runtime_parity: "unverified (Core ML predictions need macOS)"`` for every Core ML file.
"""

from __future__ import annotations

import json
from pathlib import Path

from torch import nn

from export.context import ExportContext, Exported
from export.exporter import check_precision, register_exporter
from ofa.errors import ArtifactError, ExportError

METADATA_KEY = "ofa_metadata"
UNVERIFIED = "Core ML predictions need macOS"
INSTALL = "pip install 'ofa-deploy[coreml]'"
FLOAT32 = 65568  # ArrayFeatureType.FLOAT32 in the Core ML spec


def coremltools():
    try:
        from ofa.quiet import quiet

        return quiet(lambda: __import__("coremltools"))  # it prints notices about macOS-only proxies
    except ImportError:
        raise ExportError(f"the coreml format needs coremltools: {INSTALL}") from None


def convert(model: nn.Module, example, precision: str, metadata: dict):
    """The ``MLModel`` of ``model`` in ``precision`` with ``metadata`` under ``ofa_metadata``."""
    import torch

    ct = coremltools()
    from ofa.quiet import quiet

    with torch.no_grad():
        program = torch.export.export(model.eval(), (example,)).run_decompositions({})
    compute = ct.precision.FLOAT16 if precision == "fp16" else ct.precision.FLOAT32
    mlmodel = quiet(lambda: ct.convert(program, convert_to="mlprogram", minimum_deployment_target=ct.target.iOS17,
                                       compute_precision=compute))
    if precision == "int8":
        from coremltools.optimize.coreml import OpLinearQuantizerConfig, OptimizationConfig, linear_quantize_weights

        config = OptimizationConfig(global_config=OpLinearQuantizerConfig(
            mode="linear_symmetric", dtype="int8", granularity="per_channel", weight_threshold=0))  # every weight
        mlmodel = quiet(lambda: linear_quantize_weights(mlmodel, config))
    mlmodel.user_defined_metadata[METADATA_KEY] = json.dumps(metadata)
    mlmodel.short_description = f"ofa-deploy sub-network ({metadata.get('space')}, {precision})"
    return mlmodel


def program_ops(spec) -> list[str]:
    """Every op type of the ML Program's main function, in order."""
    ops = []
    for function in spec.mlProgram.functions.values():
        for block in function.block_specializations.values():
            ops.extend(op.type for op in block.operations)
    return ops


def check_mlpackage(path: Path, model: nn.Module, precision: str, metadata: dict) -> dict:
    """Validate what Linux can: spec, shapes, ops, metadata. Returns the checks; raises ExportError listing problems."""
    ct = coremltools()
    loaded = ct.models.MLModel(str(path), skip_model_load=True)  # loading for prediction needs macOS
    spec = loaded.get_spec()
    problems = []
    if spec.WhichOneof("Type") != "mlProgram":
        problems.append(f"spec type {spec.WhichOneof('Type')!r}, expected 'mlProgram'")
    inputs, outputs = list(spec.description.input), list(spec.description.output)
    shape_in = [list(i.type.multiArrayType.shape) for i in inputs]
    shape_out = [list(o.type.multiArrayType.shape) for o in outputs]
    if shape_in != [metadata["input_shape"]] or inputs[0].type.multiArrayType.dataType != FLOAT32:
        problems.append(f"inputs {shape_in} (type {[i.type.multiArrayType.dataType for i in inputs]}), expected "
                        f"one float32 {metadata['input_shape']}")
    if shape_out != [[1, metadata["num_classes"]]]:
        problems.append(f"outputs {shape_out}, expected [[1, {metadata['num_classes']}]]")
    ops = program_ops(spec)
    problems += _op_problems(ops, model, precision)
    stored = dict(loaded.user_defined_metadata).get(METADATA_KEY)
    if stored is None or json.loads(stored) != json.loads(json.dumps(metadata)):
        problems.append(f"metadata '{METADATA_KEY}' did not round-trip")
    if problems:
        raise ExportError(f"Core ML package {path.name} failed its checks: " + "; ".join(problems))
    return {"spec": "mlProgram", "specification_version": spec.specificationVersion,
            "input": {"name": inputs[0].name, "shape": shape_in[0]}, "output": {"name": outputs[0].name,
            "shape": shape_out[0]}, "ops": {op: ops.count(op) for op in sorted(set(ops))}, "metadata": "round-trip ok"}


def _op_problems(ops: list[str], model: nn.Module, precision: str) -> list[str]:
    problems = []
    for op, layer in (("conv", nn.Conv2d), ("linear", nn.Linear)):
        expected = sum(isinstance(m, layer) for m in model.modules())
        if ops.count(op) != expected:
            problems.append(f"{ops.count(op)} '{op}' ops, the PyTorch model has {expected} {layer.__name__} layers")
    if precision == "fp16" and "cast" not in ops:
        problems.append("fp16 program has no input/output cast: compute is not fp16")
    layers = ops.count("conv") + ops.count("linear")
    dequantised = sum(op.startswith("constexpr_") for op in ops)
    if precision == "int8" and dequantised != layers:
        problems.append(f"int8 program dequantises {dequantised} weights at load, expected one per conv/linear ({layers})")
    return problems


def read_coreml_metadata(path: "str | Path") -> dict:
    ct = coremltools()
    stored = dict(ct.models.MLModel(str(path), skip_model_load=True).user_defined_metadata).get(METADATA_KEY)
    if stored is None:
        raise ArtifactError(f"{path} carries no '{METADATA_KEY}' metadata; was it exported by `ofa export`?")
    return json.loads(stored)


class CoreMLExporter:
    name = "coreml"
    precisions = ("fp32", "fp16", "int8")

    def export(self, ctx: ExportContext, precision: str) -> Exported:
        check_precision(self, precision)
        metadata = ctx.metadata(precision)
        try:
            mlmodel = convert(ctx.model, ctx.example, precision, metadata)
        except ExportError:
            raise
        except Exception as exc:
            raise ExportError(f"coremltools conversion failed: {str(exc).splitlines()[0]}") from exc
        path = ctx.out_dir / f"model_{precision}.mlpackage"
        mlmodel.save(str(path))
        checks = check_mlpackage(path, ctx.model, precision, metadata)
        notes = [f"runtime parity unverified: {UNVERIFIED}; time it on a Mac or iPhone (docs/export.md)"]
        return Exported(path, None, "coreml (not run here)", precision, checks=checks, notes=notes,
                        unverified=UNVERIFIED)


register_exporter(CoreMLExporter())
