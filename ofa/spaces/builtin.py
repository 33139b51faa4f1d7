"""The search spaces that ship with the project."""

from __future__ import annotations

from ofa.spaces.space import LayerSpec, SearchSpace, StageSpec

#: OFA-MobileNetV3 stages exactly as the official supernet (widths at width 1.0).
_MBV3_STAGES = (
    StageSpec(width=24, stride=2, act="relu", se=False),
    StageSpec(width=40, stride=2, act="relu", se=True),
    StageSpec(width=80, stride=2, act="h_swish", se=False),
    StageSpec(width=112, stride=1, act="h_swish", se=True),
    StageSpec(width=160, stride=2, act="h_swish", se=True),
)


def ofa_mbv3(width_mult: float) -> SearchSpace:
    """The official OFA-MobileNetV3 space (`ofa_mbv3_d234_e346_k357_w{width_mult}`)."""
    return SearchSpace(
        id=f"ofa_mbv3_d234_e346_k357_w{width_mult}",
        description=f"Official Once-for-All MobileNetV3 space, width multiplier {width_mult} (ImageNet-size input)",
        width_mult=width_mult,
        stem=LayerSpec(width=16, stride=2, act="h_swish"),
        first_block=StageSpec(width=16, stride=1, act="relu", se=False),
        stages=_MBV3_STAGES,
        final_expand_width=960,
        feature_mix_width=1280,
        ks_choices=(3, 5, 7),
        e_choices=(3, 4, 6),
        d_choices=(2, 3, 4),
        resolutions=tuple(range(128, 225, 4)),
    )


def ofa_proxyless(width_mult: float = 1.3, resolutions: tuple[int, ...] = tuple(range(128, 225, 4))) -> SearchSpace:
    """The official OFA-ProxylessNAS space (`ofa_proxyless_d234_e346_k357_w1.3`).

    ProxylessNAS stage widths 24/40/80/96/192/320 (x1.3), ReLU6 throughout, no squeeze-excite, BN eps 1e-3,
    a fixed first block (k3, expand 1) and a last stage of one block (elastic k/e, its ``d`` entry clamped to
    1 as the official supernet does); the head is a 1x1 conv + BN + ReLU6 (1664 channels) before pooling.
    Other widths (and resolution lists) build the same family, as the official class does for any width.
    """
    relu6 = dict(act="relu6", se=False)
    return SearchSpace(
        id=f"ofa_proxyless_d234_e346_k357_w{width_mult}",
        description=f"Official Once-for-All ProxylessNAS space, width multiplier {width_mult} (ImageNet-size input)",
        family="proxyless",
        width_mult=width_mult,
        stem=LayerSpec(width=32, stride=2, act="relu6"),
        first_block=StageSpec(width=16, stride=1, **relu6),
        stages=(
            StageSpec(width=24, stride=2, **relu6),
            StageSpec(width=40, stride=2, **relu6),
            StageSpec(width=80, stride=2, **relu6),
            StageSpec(width=96, stride=1, **relu6),
            StageSpec(width=192, stride=2, **relu6),
            StageSpec(width=320, stride=1, max_blocks=1, **relu6),
        ),
        final_expand_width=1280,
        feature_mix_width=None,
        head_act="relu6",
        ks_choices=(3, 5, 7),
        e_choices=(3, 4, 6),
        d_choices=(2, 3, 4),
        resolutions=tuple(resolutions),
        bn_eps=1e-3,
    )


def ofa_mbv3_in32() -> SearchSpace:
    """Small-input member of the family for 32x32 data (CIFAR-10, the built-in digits).

    Stem and first stage keep full resolution, widths are smaller and the head lighter, so the
    largest sub-network costs ~20 MMACs at 32x32 and a supernet trains on a laptop CPU in minutes.
    """
    return SearchSpace(
        id="ofa_mbv3_in32_d234_e346_k357_w1.0",
        description="OFA-MobileNetV3 family for 32x32 inputs (CIFAR-10 / built-in digits); CPU-trainable",
        stem=LayerSpec(width=16, stride=1, act="h_swish"),
        first_block=StageSpec(width=16, stride=1, act="relu", se=False),
        stages=(
            StageSpec(width=24, stride=2, act="relu", se=False),
            StageSpec(width=32, stride=2, act="relu", se=True),
            StageSpec(width=64, stride=2, act="h_swish", se=False),
            StageSpec(width=96, stride=1, act="h_swish", se=True),
            StageSpec(width=128, stride=2, act="h_swish", se=True),
        ),
        final_expand_width=384,
        feature_mix_width=512,
        ks_choices=(3, 5, 7),
        e_choices=(3, 4, 6),
        d_choices=(2, 3, 4),
        resolutions=(24, 28, 32),
    )


def ofa_tiny() -> SearchSpace:
    """A deliberately tiny space for tests and smoke runs (3 stages, depth 1-2, k 3/5, e 3/4)."""
    return SearchSpace(
        id="ofa_tiny_in32_d12_e34_k35_w1.0",
        description="Tiny 3-stage space for tests and smoke runs (seconds per epoch on a CPU)",
        stem=LayerSpec(width=8, stride=1, act="h_swish"),
        first_block=StageSpec(width=8, stride=1, act="relu", se=False),
        stages=(
            StageSpec(width=16, stride=2, act="relu", se=False),
            StageSpec(width=24, stride=2, act="h_swish", se=True),
            StageSpec(width=32, stride=2, act="h_swish", se=True),
        ),
        final_expand_width=96,
        feature_mix_width=128,
        ks_choices=(3, 5),
        e_choices=(3, 4),
        d_choices=(1, 2),
        resolutions=(16, 24, 32),
    )


def ofa_tiny_proxyless() -> SearchSpace:
    """The ProxylessNAS family in miniature, for tests and smoke runs: ReLU6, no SE, BN eps 1e-3, a one-block last
    stage (its ``d`` entry clamped) and the pre-pool head (no conv after pooling)."""
    relu6 = dict(act="relu6", se=False)
    return SearchSpace(
        id="ofa_tiny_proxyless_in32_d12_e34_k35_w1.0",
        description="Tiny ProxylessNAS-family space for tests and smoke runs (seconds per epoch on a CPU)",
        family="proxyless",
        stem=LayerSpec(width=8, stride=1, act="relu6"),
        first_block=StageSpec(width=8, stride=1, **relu6),
        stages=(
            StageSpec(width=16, stride=2, **relu6),
            StageSpec(width=24, stride=2, **relu6),
            StageSpec(width=32, stride=1, max_blocks=1, **relu6),
        ),
        final_expand_width=128,
        feature_mix_width=None,
        head_act="relu6",
        ks_choices=(3, 5),
        e_choices=(3, 4),
        d_choices=(1, 2),
        resolutions=(16, 24, 32),
        bn_eps=1e-3,
    )


BUILTIN_SPACES = (ofa_mbv3(1.0), ofa_mbv3(1.2), ofa_proxyless(1.3), ofa_mbv3_in32(), ofa_tiny(), ofa_tiny_proxyless())
