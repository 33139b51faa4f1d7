"""Latency tables time the graph users run: the fast TorchScript export of micro-models (opset 17,
~0.1 s) and the dynamo export of shipped models (opset 20, ``optimize=True``) give the same graph once
onnxruntime has optimised it (the level a session uses: BN folded into Conv, activations fused, NCHWc).

Differences allowed: TorchScript writes the flatten before the classifier as ``Flatten``, dynamo as
``Reshape`` (both a metadata-only copy; their attributes are not compared), and ReduceMean's axes move
from an attribute to an input at opset 18."""

from __future__ import annotations

import random
from pathlib import Path

import onnx
import onnxruntime as ort
import pytest
import torch

from devices.modelfile import export_module
from export.onnx_export import export_onnx
from ofa.nn.static import StaticSubnet
from ofa.spaces import get_space
from ofa.subnet import SubnetConfig

SAME_OP = {"Flatten": "Reshape"}
MOVED_TO_INPUTS = {"axes", "noop_with_empty_axes"}  # ReduceMean's axes: an attribute to opset 17, an input from 18


def optimized_nodes(path: Path) -> list[tuple]:
    """(op type, attributes) of every node after onnxruntime's full optimisation, in graph order."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.optimized_model_filepath = str(path.with_suffix(".opt.onnx"))
    options.log_severity_level = 3
    ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    graph = onnx.load(options.optimized_model_filepath).graph
    return [(SAME_OP.get(n.op_type, n.op_type),
             sorted((a.name, str(onnx.helper.get_attribute_value(a))) for a in n.attribute
                    if n.op_type not in {*SAME_OP, *SAME_OP.values()} and a.name not in MOVED_TO_INPUTS))
            for n in graph.node]


@pytest.mark.slow
def test_micro_model_and_shipped_exports_optimise_to_the_same_graph(tmp_path):
    """A random MobileNetV3 sub-network: every block kind of the tables (stem, MBConv with SE and h-swish,
    final expand, pool, feature mix, classifier)."""
    space = get_space("ofa_mbv3_in32_d234_e346_k357_w1.0")
    sub = SubnetConfig.sample(space, random.Random(3))
    net = StaticSubnet(space, sub, 10, 0.0).eval()
    example = torch.randn(1, 3, sub.r, sub.r)
    table_side = export_module(net, example, tmp_path / "micro.onnx", "onnx")
    shipped = export_onnx(net, example, tmp_path / "shipped.onnx")
    opsets = [m.opset_import[0].version for m in (onnx.load(str(table_side)), onnx.load(str(shipped)))]
    assert opsets == [17, 20]  # two different exports ...
    micro, ship = optimized_nodes(table_side), optimized_nodes(shipped)
    assert [op for op, _ in micro].count("Conv") >= 3
    assert micro == ship  # ... and one graph at run time
