"""The archive unpack cache is keyed by content, and unreadable images are DataErrors naming the file."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
from PIL import Image

from ofa.data import open_dataset
from ofa.errors import DataError


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("OFA_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _jpeg(color) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (12, 12), color).save(buf, format="JPEG")
    return buf.getvalue()


def _folder(root: Path, classes: tuple[str, ...]) -> Path:
    for split in ("train", "val"):
        for i, cls in enumerate(classes):
            (root / split / cls).mkdir(parents=True, exist_ok=True)
            (root / split / cls / "0.jpg").write_bytes(_jpeg((40 * i, 100, 200)))
    return root


def _archive(tar_path: Path, tree: Path) -> Path:
    """A .tar.gz of ``tree``'s content; stored without compression, so its size depends only on the
    member sizes (which lets two archives of different content have exactly the same size)."""
    tar_path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tar_path, "w:gz", compresslevel=0) as tar:
        for path in sorted(tree.rglob("*")):
            info = tar.gettarinfo(path, arcname=str(path.relative_to(tree)))
            info.mtime = 0
            if path.is_file():
                with open(path, "rb") as fh:
                    tar.addfile(info, fh)
            else:
                tar.addfile(info)
    return tar_path


def test_same_name_same_size_archives_do_not_share_a_cache(tmp_path):
    first = _archive(tmp_path / "a" / "pets.tar.gz", _folder(tmp_path / "tree-a", ("cat", "dog")))
    second = _archive(tmp_path / "b" / "pets.tar.gz", _folder(tmp_path / "tree-b", ("cow", "pig")))
    assert first.name == second.name and first.stat().st_size == second.stat().st_size
    assert first.read_bytes() != second.read_bytes()
    assert open_dataset(first).classes == ["cat", "dog"]
    assert open_dataset(second).classes == ["cow", "pig"]  # the old cache served ["cat", "dog"] here
    assert open_dataset(first).classes == ["cat", "dog"]


def test_unpacked_tree_is_reused_for_the_same_content(tmp_path, _cache):
    archive = _archive(tmp_path / "pets.tar.gz", _folder(tmp_path / "tree", ("cat", "dog")))
    root = Path(open_dataset(archive).fingerprint["root"])
    (root / "marker-left-by-test").write_text("x")
    copy = tmp_path / "copy" / "pets.tar.gz"
    copy.parent.mkdir()
    copy.write_bytes(archive.read_bytes())
    assert Path(open_dataset(copy).fingerprint["root"]) == root  # same bytes, same tree
    assert (root / "marker-left-by-test").is_file()  # not extracted again
    assert [p.name for p in _cache.iterdir() if not p.name.startswith(".")] == [root.name]


def test_a_tree_left_by_the_old_size_keyed_cache_is_not_used(tmp_path, _cache):
    archive = _archive(tmp_path / "pets.tar.gz", _folder(tmp_path / "tree", ("cat", "dog")))
    _folder(_cache / f"pets-{archive.stat().st_size}", ("owl", "rat"))  # what the old key pointed to
    assert open_dataset(archive).classes == ["cat", "dog"]


def test_a_cached_tree_without_its_marker_is_extracted_again(tmp_path, _cache):
    archive = _archive(tmp_path / "pets.tar.gz", _folder(tmp_path / "tree", ("cat", "dog")))
    root = Path(open_dataset(archive).fingerprint["root"])
    (root / ".source.json").unlink()
    (root / "train" / "cat" / "0.jpg").unlink()  # a damaged tree
    assert open_dataset(archive).split("train").labels == [0, 1]
    assert (root / "train" / "cat" / "0.jpg").is_file()


@pytest.mark.parametrize("content", [b"not a jpeg", b""], ids=["garbage", "empty"])
def test_corrupt_first_image_is_a_data_error_naming_file_and_fix(tmp_path, content):
    root = _folder(tmp_path / "tree", ("cat", "dog"))
    (root / "train" / "cat" / "0.jpg").write_bytes(content)  # the image that sets the default size
    with pytest.raises(DataError, match="cat/0.jpg") as err:
        open_dataset(root)
    assert "replace it, or delete it" in str(err.value)


def test_truncated_first_image_is_a_data_error(tmp_path):
    root = _folder(tmp_path / "tree", ("cat", "dog"))
    path = root / "train" / "cat" / "0.jpg"
    path.write_bytes(path.read_bytes()[:200])  # a valid header, cut-off pixel data
    with pytest.raises(DataError, match="cat/0.jpg"):
        open_dataset(root)


def test_corrupt_image_inside_an_archive_names_the_unpacked_file(tmp_path):
    tree = _folder(tmp_path / "tree", ("cat", "dog"))
    (tree / "val" / "dog" / "0.jpg").write_bytes(b"\x89PNG broken")
    source = open_dataset(_archive(tmp_path / "pets.tar.gz", tree), image_size=8)
    with pytest.raises(DataError, match=r"val/dog/0.jpg .*replace it"):
        source.dataset("val")[1]
