"""The drift anchor: one fixed block of the space, timed between rounds of every measured model.

Its timings say how fast the device was running at that moment, so the tables' ``steady_ms``
statistic can put block and end-to-end timings taken minutes apart on the same footing (see
:mod:`devices.stats`). The anchor is a mid-network MBConv block (first block of the middle stage,
middle kernel and expand ratio, smallest resolution): it mixes pointwise and depthwise work like the
networks do, and is short enough (about 0.25 ms on one x86 core for OFA-MBv3) to add little time.
A table records its anchor by job id.

Whole networks (a table's calibration and validation networks, ``ofa device measure``) are timed against a
*network* anchor instead (:func:`network_anchor`): on a shared machine the slowdowns that matter for them come
from a neighbour's use of the shared cache and memory, which one block that fits in the core's own cache
does not feel. Measured on the project's 2-core VM (onnxruntime int8, 10 networks timed in 6 runner
processes): the networks' median over their block sum moved 1.08-1.18 from one process to the next while the
block anchor stayed within 3 %; over the network anchor the same ratio stayed within 0.347-0.357.
"""

from __future__ import annotations

from typing import Optional, Sequence

from devices.modelfile import model_job
from devices.runners import MeasureJob
from devices.session import DeviceSession
from latency.blocks import LutBlock, slot_blocks
from latency.micro import ModelCache
from latency.resnet_blocks import anchor_block as resnet_anchor
from latency.resnet_blocks import space_blocks
from latency.table import LatencyTable
from ofa.errors import ArtifactError
from ofa.spaces import SearchSpace
from ofa.spaces.resnet import ResNetConfig
from ofa.subnet import SubnetConfig

ANCHOR_JOB_ID = "__anchor__"


def anchor_block(space: SearchSpace, resolutions: Sequence[int]) -> LutBlock:
    if not isinstance(space, SearchSpace):  # OFA-ResNet: a middle bottleneck block
        return resnet_anchor(space, resolutions)
    slot = (space.n_stages // 2) * space.max_depth
    mid = lambda choices: sorted(choices)[len(choices) // 2]  # noqa: E731
    return slot_blocks(space, min(resolutions))[(slot, mid(space.ks_choices), mid(space.e_choices))]


def table_anchor(table: LatencyTable, space: SearchSpace) -> Optional[LutBlock]:
    """The anchor block a table was measured with, or None (no anchor: schema 1, vendor runners)."""
    job_id = table.manifest.get("protocol", {}).get("anchor")
    if not job_id:
        return None
    for block in space_blocks(space, table.resolutions, table.num_classes):
        if block.job_id == job_id:
            return block
    raise ArtifactError(f"{table.directory}: the manifest's anchor block {job_id!r} is not a block of {space.id}")


def anchor_job(block: Optional[LutBlock], space: SearchSpace, cache: ModelCache, session: DeviceSession) -> Optional[MeasureJob]:
    """The anchor as a measurement job for this session (None when there is none or the runner can't use it)."""
    if block is None or not session.uses_anchor:
        return None
    return model_job(ANCHOR_JOB_ID, cache.block(block, space), block.input_shape, session.layout)


def network_anchor(space) -> "SubnetConfig | ResNetConfig":
    """The drift anchor of end-to-end measurements: the middle network (middle kernel, expand, depth and
    resolution; for OFA-ResNet the middle depth, expand ratio, width and resolution). A whole network, not the
    tables' one small block (module docstring; also measured: a 0.04 ms block's timings did not follow the
    networks' drift, r = -0.04)."""
    if isinstance(space, SearchSpace):
        return SubnetConfig.middle(space)
    mid = lambda choices: sorted(choices)[len(choices) // 2]  # noqa: E731
    return ResNetConfig(d=(mid(space.d_choices),) * (1 + len(space.base_depths)), e=(mid(space.e_choices),) * space.n_blocks,
                        w=(len(space.w_choices) // 2,) * (2 + len(space.base_depths)), r=mid(space.resolutions),
                        space=space.id).validate(space)


def network_anchor_job(space, cache: ModelCache, session: DeviceSession, num_classes: int,
                       cfg: "SubnetConfig | ResNetConfig | None" = None) -> Optional[MeasureJob]:
    """The network anchor (``cfg``, default :func:`network_anchor`) as this session's measurement job (None when
    the runner times no anchor)."""
    if not session.uses_anchor:
        return None
    cfg = cfg or network_anchor(space)
    return model_job(ANCHOR_JOB_ID, cache.subnet(space, cfg, num_classes), (1, 3, cfg.r, cfg.r), session.layout)


def e2e_anchor(table: LatencyTable, space) -> "SubnetConfig | ResNetConfig | None":
    """What a table's calibration and validation networks are timed against: the network anchor, where the
    table was measured with an anchor (vendor runners time none)."""
    return network_anchor(space) if table_anchor(table, space) is not None else None
