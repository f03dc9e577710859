import pytest
import torch
from PIL import Image

from helpers import data
from helpers.data import DataError, load_cifar100, load_image, load_sample, load_sample_set


def test_bundled_sample_is_cifar_shaped_and_labelled():
    examples = load_sample_set()
    assert len(examples) >= 8
    for example in examples:
        assert example.image.shape == (3, 32, 32)
        assert example.image.dtype == torch.float32
        assert 0.0 <= float(example.image.min()) and float(example.image.max()) <= 1.0
        assert 0 <= example.label < 100
        # ToTensor of 8-bit pixels: every value is k / 255, as for CIFAR-100
        assert torch.allclose(example.image * 255, (example.image * 255).round(), atol=1e-4)


def test_every_sample_image_has_a_source_and_licence():
    catalogue = data.sample_catalogue()
    sources = (data.SAMPLE_DIR / "SOURCES.md").read_text()
    for record in catalogue:
        assert record["licence"] and record["credit"]
        assert record["class"] in data.CIFAR100_CLASSES
        assert record["file"] in sources


def test_sample_index_out_of_range_is_a_clear_error():
    with pytest.raises(DataError, match="out of range"):
        load_sample(data.sample_size())
    with pytest.raises(DataError, match="out of range"):
        load_sample(-1)


def test_any_image_file_is_centre_cropped_and_resized(tmp_path):
    # a 40x80 picture: left half red, right half blue; the centre crop keeps both halves
    picture = Image.new("RGB", (80, 40), (255, 0, 0))
    picture.paste((0, 0, 255), (40, 0, 80, 40))
    path = tmp_path / "pic.png"
    picture.save(path)
    example = load_image(path, label=17)
    assert example.image.shape == (3, 32, 32)
    assert example.label == 17
    assert example.image[0, :, :10].mean() > 0.95 and example.image[2, :, -10:].mean() > 0.95


def test_unreadable_image_and_bad_label_are_clear_errors(tmp_path):
    (tmp_path / "not.png").write_text("hello")
    with pytest.raises(DataError, match="cannot read"):
        load_image(tmp_path / "not.png")
    with pytest.raises(DataError, match="not found"):
        load_image(tmp_path / "missing.png")
    Image.new("RGB", (8, 8)).save(tmp_path / "ok.png")
    with pytest.raises(DataError, match="label 100"):
        load_image(tmp_path / "ok.png", label=100)


def test_missing_cifar100_fails_fast_without_downloading(tmp_path):
    with pytest.raises(DataError, match="--download"):
        load_cifar100(25, tmp_path)


def test_failed_download_is_one_clear_error(tmp_path, monkeypatch):
    from torchvision.datasets import CIFAR100

    monkeypatch.setattr(CIFAR100, "url", "http://127.0.0.1:9/cifar-100-python.tar.gz")
    with pytest.raises(DataError, match="could not get CIFAR-100"):
        load_cifar100(25, tmp_path, download=True, timeout=5)


def test_cifar100_is_read_through_torchvision_when_on_disk(tmp_path, monkeypatch):
    """A tiny stand-in with CIFAR-100's on-disk format (the real one cannot be fetched here)."""
    import pickle

    import numpy as np

    from torchvision.datasets import CIFAR100, cifar

    root = tmp_path / "cifar-100-python"
    root.mkdir()
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(30, 3 * 32 * 32), dtype=np.uint8)
    labels = list(range(30))
    for name in ("train", "test"):
        with open(root / name, "wb") as f:
            pickle.dump({"data": pixels, "fine_labels": labels}, f)
    with open(root / "meta", "wb") as f:
        pickle.dump({"fine_label_names": list(data.CIFAR100_CLASSES)}, f)
    # torchvision verifies the files' MD5 before reading: accept the stand-in's
    monkeypatch.setattr(CIFAR100, "_check_integrity", lambda self: True)
    monkeypatch.setattr(cifar, "check_integrity", lambda *args, **kwargs: True)
    example = load_cifar100(25, tmp_path)
    assert example.label == 25 and example.name == "cifar100:25"
    expected = torch.from_numpy(pixels[25].reshape(3, 32, 32)).float() / 255
    assert torch.allclose(example.image, expected)
    with pytest.raises(DataError, match="out of range"):
        load_cifar100(30, tmp_path)


def test_a_download_never_sets_the_process_wide_socket_timeout(tmp_path, monkeypatch):
    """The network timeout belongs to the download's own connection; other threads of the
    process keep theirs."""
    import socket
    import urllib.request

    from helpers.data import DataError, load_cifar100

    def no_global(value):
        raise AssertionError("socket.setdefaulttimeout was called")

    def offline(url, timeout=None):
        assert timeout == 0.5
        raise OSError("network unreachable")

    monkeypatch.setattr(socket, "setdefaulttimeout", no_global)
    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(DataError, match="network unreachable"):
        load_cifar100(0, tmp_path, download=True, timeout=0.5)
