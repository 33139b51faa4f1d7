"""The ``openvino`` format: OpenVINO IR (``.xml`` graph + ``.bin`` weights), validated in the OpenVINO runtime.

* fp32: ``ov.convert_model`` of the shared fp32 ONNX, saved uncompressed.
* fp16: the same graph with fp16-compressed weights (``save_model(compress_to_fp16=True)``); the CPU
  plugin decompresses them at load and computes in fp32.
* int8: NNCF post-training quantisation of the IR, calibrated on the context's real images.

Inference precision is always forced to f32 (``INFERENCE_PRECISION_HINT``): on CPUs with bf16 support
(AVX512-BF16 / AMX, like this machine's) the CPU plugin otherwise silently runs bf16 and fp32 parity
fails by ~1e-2. The runner reads the hint back from the compiled model and refuses any other value.
Metadata travels in the IR's ``rt_info`` under ``ofa/<key>`` (JSON values).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from export.context import ExportContext, Exported
from export.exporter import check_precision, onnx_fp32, register_exporter
from ofa.errors import ArtifactError, ExportError
from ofa.optional import require

RT_INFO_SECTION = "ofa"


def openvino():
    return require("openvino", "the openvino format", "openvino")


def compile_f32(ov, model_or_path, threads: int = 1):
    """Compile on CPU with f32 inference precision, one stream, ``threads`` threads; check the hint stuck."""
    import openvino.properties as props
    import openvino.properties.hint as hints

    config = {hints.inference_precision: ov.Type.f32, props.inference_num_threads: threads, props.num_streams: 1}
    compiled = ov.Core().compile_model(model_or_path, "CPU", config)
    applied = compiled.get_property(hints.inference_precision)
    if applied != ov.Type.f32:
        raise ExportError(f"OpenVINO ignored INFERENCE_PRECISION_HINT=f32 (compiled model runs {applied}); "
                          "fp32 parity would not hold")
    return compiled


class OpenVINORunner:
    """An OpenVINO CPU compiled model over an IR (or ONNX) file, f32 inference precision enforced."""

    runtime = "openvino"

    def __init__(self, path: "str | Path", threads: int = 1):
        ov = openvino()
        try:
            self.compiled = compile_f32(ov, str(path), threads)
        except ExportError:
            raise
        except Exception as exc:
            raise ExportError(f"OpenVINO cannot load {path}: {str(exc).splitlines()[0]}") from exc
        self.inference_precision = self.compiled.get_property("INFERENCE_PRECISION_HINT").to_string()  # "f32"
        self.request = self.compiled.create_infer_request()

    def __call__(self, image_nchw: np.ndarray) -> np.ndarray:
        result = self.request.infer([np.ascontiguousarray(image_nchw, dtype=np.float32)])
        return np.asarray(result[self.compiled.outputs[0]], dtype=np.float32)


def write_ir(ctx: ExportContext, precision: str, xml: Path) -> Path:
    """Convert the fp32 ONNX to IR in ``precision`` and save it as ``xml`` + ``xml.with_suffix('.bin')``."""
    ov = openvino()
    model = ctx.cached("openvino_fp32_model", lambda: ov.convert_model(str(onnx_fp32(ctx))))
    if precision == "int8":
        model = _quantize_int8(model, ctx.calibration)
    model = model.clone()
    for key, value in ctx.metadata(precision).items():
        model.set_rt_info(json.dumps(value), [RT_INFO_SECTION, key])
    ov.save_model(model, str(xml), compress_to_fp16=(precision == "fp16"))
    return xml


def _quantize_int8(model, calibration: np.ndarray):
    nncf = require("nncf", "openvino int8", "openvino")
    from ofa.quiet import quiet

    samples = [calibration[i : i + 1] for i in range(len(calibration))]
    return quiet(lambda: nncf.quantize(model, nncf.Dataset(samples), subset_size=len(samples)))


def read_openvino_metadata(xml: "str | Path") -> dict:
    """The ``ofa`` metadata stored in an IR's rt_info (raises ArtifactError when absent)."""
    model = openvino().Core().read_model(str(xml))
    if not model.has_rt_info([RT_INFO_SECTION]):
        raise ArtifactError(f"{xml} carries no ofa metadata (rt_info '{RT_INFO_SECTION}'); was it exported by `ofa export`?")
    keys = model.get_rt_info([RT_INFO_SECTION]).astype(dict)
    return {key: json.loads(model.get_rt_info([RT_INFO_SECTION, key]).astype(str)) for key in keys}


class OpenVINOExporter:
    name = "openvino"
    precisions = ("fp32", "fp16", "int8")

    def export(self, ctx: ExportContext, precision: str) -> Exported:
        check_precision(self, precision)
        xml = write_ir(ctx, precision, ctx.out_dir / f"model_{precision}.xml")
        runner = OpenVINORunner(xml, ctx.threads)
        weights = xml.with_suffix(".bin")
        checks = {"inference_precision": runner.inference_precision, "weights_file": weights.name,
                  "weights_bytes": weights.stat().st_size, "graph_bytes": xml.stat().st_size,
                  "openvino": openvino().__version__}
        notes = {"fp16": ["fp16-compressed weights, decompressed at load; f32 compute (INFERENCE_PRECISION_HINT)"],
                 "int8": ["NNCF post-training quantisation (int8 weights and activations), calibrated on real images"],
                 }.get(precision, ["f32 compute (INFERENCE_PRECISION_HINT=f32; the CPU default here would be bf16)"])
        return Exported(xml, lambda: runner, "openvino", precision, checks=checks, notes=notes)


register_exporter(OpenVINOExporter())
