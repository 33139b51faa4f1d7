import pytest
import torch
from PIL import Image

from ofa import DataError
from ofa.bn_calib import recalibrate_bn
from ofa.data import open_dataset


@pytest.fixture(scope="module")
def builtin():
    return open_dataset("builtin")


def test_builtin_digits_are_real_images(builtin):
    assert builtin.num_classes == 10
    assert len(builtin.split("train").labels) + len(builtin.split("val").labels) == 1797
    x, y = builtin.dataset("val")[0]
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32 and 0 <= y < 10
    assert x.std() > 0.3  # not blank
    # every class is in both splits
    assert set(builtin.split("val").labels) == set(range(10)) == set(builtin.split("train").labels)


def test_builtin_split_is_deterministic(builtin):
    assert open_dataset("builtin").split("val").labels == builtin.split("val").labels


def test_loader_batches_and_augmentation_is_seeded(builtin):
    a = next(iter(builtin.loader("train", batch_size=16, seed=1)))
    torch.manual_seed(0)
    b = next(iter(builtin.loader("train", batch_size=16, seed=1)))
    assert a[0].shape == (16, 3, 32, 32)
    assert torch.equal(a[1], b[1])  # same shuffle order for the same seed


def _write(path, color=(10, 200, 30), size=(40, 30)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)


def _folder(tmp_path):
    for split in ("train", "val"):
        for cls in ("cat", "dog"):
            for i in range(3):
                _write(tmp_path / split / cls / f"{i}.jpg")
    return tmp_path


def test_imagefolder_layout(tmp_path):
    source = open_dataset(_folder(tmp_path), image_size=24)
    assert source.classes == ["cat", "dog"]
    x, y = source.dataset("train", train=False)[4]
    assert x.shape == (3, 24, 24) and y == 1


def test_imagefolder_errors_name_the_problem(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        open_dataset(tmp_path / "missing")
    root = _folder(tmp_path / "a")
    (root / "train" / "bird").mkdir()
    with pytest.raises(DataError, match="bird has no images"):
        open_dataset(root)
    root = _folder(tmp_path / "b")
    _write(root / "val" / "bird" / "0.jpg")
    with pytest.raises(DataError, match="only in val \\['bird'\\]"):
        open_dataset(root)
    root = _folder(tmp_path / "c")
    (root / "train" / "cat" / "0.jpg").write_bytes(b"not a jpeg")
    source = open_dataset(root, image_size=16)
    with pytest.raises(DataError, match="cat/0.jpg"):
        source.dataset("train")[0]


def test_corrupt_image_error_crosses_worker_processes(tmp_path):
    root = _folder(tmp_path)
    (root / "train" / "dog" / "1.jpg").write_bytes(b"\x00" * 10)
    source = open_dataset(root, image_size=16)
    with pytest.raises(DataError, match="dog/1.jpg"):
        for _ in source.loader("train", batch_size=2, workers=1):
            pass


def test_bn_recalibration_is_deterministic_and_changes_stats(builtin, tiny_supernet):
    from ofa import SubnetConfig

    cfg = SubnetConfig.sample(tiny_supernet.space, 0)
    a, b = tiny_supernet.extract(cfg), tiny_supernet.extract(cfg)
    before = a.stem.bn.running_mean.clone()
    n = recalibrate_bn(a, builtin.calibration_batches(200, 50, resolution=cfg.r, seed=3))
    recalibrate_bn(b, builtin.calibration_batches(200, 50, resolution=cfg.r, seed=3))
    assert n == 200 and not a.training
    assert not torch.allclose(a.stem.bn.running_mean, before)
    for (name, ta), tb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(ta, tb), name
    # the stats are the real batch statistics of the stem's output
    x = torch.cat(list(builtin.calibration_batches(200, 50, resolution=cfg.r, seed=3)))
    with torch.no_grad():
        stem_out = a.stem.conv(x)
    torch.testing.assert_close(a.stem.bn.running_mean, stem_out.mean((0, 2, 3)), rtol=1e-4, atol=1e-5)


def test_bn_recalibration_needs_images(tiny_supernet):
    from ofa import SubnetConfig

    net = tiny_supernet.extract(SubnetConfig.smallest(tiny_supernet.space))
    with pytest.raises(DataError, match="no images"):
        recalibrate_bn(net, iter([]))
