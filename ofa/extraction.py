"""Extraction as a file-to-file operation: a supernet directory and a sub-network config in, a sub-network
artifact (optionally BN-recalibrated) out. ``ofa extract`` is a thin command over it. An OFA-ResNet supernet
takes the official selection (``d``/``e``/``w`` lists and ``r``, :class:`~ofa.spaces.resnet.ResNetConfig`)."""

from __future__ import annotations

from pathlib import Path

from ofa.artifacts import ModelInfo, load_supernet, save_subnet
from ofa.bn_calib import recalibrate_bn
from ofa.complexity import subnet_cost
from ofa.io import sha256_file
from ofa.subnet import SubnetConfig


def extract_to_dir(supernet_dir: "str | Path", subnet: "str | Path | SubnetConfig", out_dir: "str | Path",
                   bn_calib: str | None = None, calib_images: int = 2000, seed: int = 0) -> dict:
    """Extract ``subnet`` from ``supernet_dir`` into ``out_dir``, optionally BN-recalibrated."""
    from ofa.nn.resnet import OFAResNet

    supernet = load_supernet(supernet_dir)
    if isinstance(supernet, OFAResNet):
        from ofa.nn.resnet import resnet_cost
        from ofa.resnet_artifacts import config_summary, read_resnet_config, save_resnet_subnet

        cfg = read_resnet_config(subnet, supernet.space)
        arch, cost, save = config_summary(cfg), resnet_cost(supernet.space, cfg, supernet.num_classes), save_resnet_subnet
    else:
        cfg = subnet if isinstance(subnet, SubnetConfig) else SubnetConfig.load(subnet, supernet.space)
        arch, cost, save = cfg.arch_string(supernet.space), subnet_cost(supernet.space, cfg, supernet.num_classes), save_subnet
    net = supernet.extract(cfg)
    result = {"arch": arch}
    if bn_calib:
        from ofa.data import open_dataset

        source = open_dataset(bn_calib)
        result["bn_calib_images"] = recalibrate_bn(net, source.calibration_batches(calib_images, resolution=cfg.r, seed=seed))
    result |= {"mflops": cost.mflops, "params_m": cost.params_m}
    base: ModelInfo = supernet.info
    info = ModelInfo(num_classes=base.num_classes, mean=base.mean, std=base.std, labels=base.labels,
                     config={"command": "extract", "bn_calib": bn_calib, "calib_images": calib_images, "seed": seed},
                     inputs={"supernet": {"path": str(supernet_dir), "sha256": sha256_file(Path(supernet_dir) / "weights.safetensors")}})
    save(net, out_dir, info, extra={"complexity": result})
    return result
