"""PyTorch -> TFLite through litert-torch (no TensorFlow needed): fp32, fp16 weights, full int8.

fp32 is litert-torch's conversion. fp16 and int8 are applied to the fp32 flatbuffer with
ai-edge-quantizer: fp16 stores conv/linear weights as float16 (dequantised at load, fp32 compute);
int8 is full-integer static quantisation (int8 weights per channel, int8 activations, int8 input and
output tensors) calibrated on real images.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import torch
from torch import nn

from ofa.errors import ConfigError, ExportError
from ofa.optional import require
from ofa.quiet import quiet

TFLITE_PRECISIONS = ("fp32", "fp16", "int8")
_FP16_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


def require_litert_torch():
    return require("litert_torch", "TFLite export", "tflite")


def convert_fp32(model: nn.Module, example: torch.Tensor, nhwc: bool = False) -> bytes:
    """The fp32 flatbuffer of ``model`` (example input NCHW; ``nhwc`` makes the input channels-last)."""
    litert_torch = require_litert_torch()
    model = model.eval()
    if nhwc:
        model = litert_torch.to_channel_last_io(model, args=[0]).eval()
        example = example.permute(0, 2, 3, 1).contiguous()
    try:
        edge = quiet(lambda: litert_torch.convert(model, (example,)))
    except Exception as exc:
        raise ExportError(f"litert-torch conversion failed: {str(exc).splitlines()[0]}") from exc
    return bytes(quiet(edge.model_content))


def quantize_tflite(content: bytes, precision: str, calibration: Iterable[np.ndarray] | None = None,
                    nhwc: bool = False) -> bytes:
    """fp16-weight or full-int8 version of the fp32 flatbuffer ``content``."""
    if precision not in TFLITE_PRECISIONS:
        raise ConfigError(f"TFLite precision {precision!r} is not one of {', '.join(TFLITE_PRECISIONS)}")
    if precision == "fp32":
        return content
    from ai_edge_quantizer import quantizer

    quant = quantizer.Quantizer(bytearray(content))
    try:
        if precision == "fp16":
            _fp16_recipe(quant)
            result = quiet(lambda: quant.quantize(enable_progress_report=False))
        else:
            from ai_edge_quantizer import recipe

            quant.load_quantization_recipe(recipe.static_wi8_ai8())
            data = _calibration_set(content, calibration, nhwc)
            result = quiet(lambda: quant.quantize(quiet(lambda: quant.calibrate(data)), enable_progress_report=False))
    except ExportError:
        raise
    except Exception as exc:
        raise ExportError(f"ai-edge-quantizer {precision} quantisation failed: {str(exc).splitlines()[0]}") from exc
    return bytes(result.quantized_model)


def _fp16_recipe(quant) -> None:
    from ai_edge_quantizer import algorithm_manager, qtyping

    config = qtyping.OpQuantizationConfig(
        weight_tensor_config=qtyping.TensorQuantizationConfig(num_bits=16, dtype=qtyping.TensorDataType.FLOAT),
        compute_precision=qtyping.ComputePrecision.FLOAT, explicit_dequantize=True)
    for op in _FP16_OPS:
        quant.update_quantization_recipe(".*", qtyping.TFLOperationName[op], config,
                                         algorithm_manager.AlgorithmName.FLOAT_CASTING)


def _calibration_set(content: bytes, calibration: Iterable[np.ndarray] | None, nhwc: bool) -> dict:
    from export.runtimes import interpreter_class

    if calibration is None:
        raise ConfigError("int8 TFLite needs calibration images: pass --calib-data (a dataset path or 'builtin')")
    signatures = interpreter_class()(model_content=content).get_signature_list()
    key = next(iter(signatures))
    name = signatures[key]["inputs"][0]
    samples = []
    for image in calibration:
        batch = image[None] if image.ndim == 3 else image
        batch = batch.transpose(0, 2, 3, 1) if nhwc else batch
        samples.append({name: np.ascontiguousarray(batch, dtype=np.float32)})
    if not samples:
        raise ExportError("int8 quantisation got no calibration images; give --calib-data with training images")
    return {key: samples}
