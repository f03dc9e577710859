"""The private training example: the bundled offline sample, CIFAR-100, or any image file.

Every loader returns an :class:`Example`: a ``[3, 32, 32]`` float tensor in ``[0, 1]``
(``ToTensor()`` only, no normalisation, exactly as the reference DLG code) and a
CIFAR-100 class index.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
from PIL import Image, UnidentifiedImageError

SAMPLE_DIR = Path(__file__).with_name("sample_data")
DATA_DIR_ENV = "DLG_DATA_DIR"
DEFAULT_DATA_DIR = "~/.torch"  # where the reference code keeps CIFAR-100
IMAGE_SIZE = 32
PIXEL_LIMIT = 1e3  # a dummy with a pixel this far outside [0, 1] has diverged: it is no image any more

# The 100 fine labels of CIFAR-100, in label order.
CIFAR100_CLASSES: tuple[str, ...] = (
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle",
    "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle",
    "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab", "crocodile", "cup", "dinosaur",
    "dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster", "house", "kangaroo", "keyboard",
    "lamp", "lawn_mower", "leopard", "lion", "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain",
    "mouse", "mushroom", "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree",
    "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road", "rocket",
    "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake", "spider",
    "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank", "telephone", "television", "tiger", "tractor",
    "train", "trout", "tulip", "turtle", "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm",
)
NUM_CLASSES = len(CIFAR100_CLASSES)


class DataError(ValueError):
    """Raised with a one-line, human-readable reason when an example cannot be loaded."""


@dataclass(frozen=True)
class Example:
    """One private training example: what the federated client holds."""

    image: torch.Tensor  # [3, 32, 32], float32 in [0, 1]
    label: int  # CIFAR-100 class index
    name: str  # where it came from, e.g. "sample:astronaut" or "cifar100:25"

    @property
    def class_name(self) -> str:
        return CIFAR100_CLASSES[self.label]


def to_tensor_32(picture: Image.Image) -> torch.Tensor:
    """Centre-crop to a square, resize to 32x32 and apply ``ToTensor`` (range [0, 1])."""
    picture = picture.convert("RGB")
    side = min(picture.size)
    from torchvision import transforms  # imported here: torchvision costs about 1 s, and most runs need only ToTensor

    prepare = transforms.Compose(
        [
            transforms.CenterCrop(side),
            transforms.Resize((IMAGE_SIZE, IMAGE_SIZE), antialias=True),
            transforms.ToTensor(),
        ]
    )
    return prepare(picture)


# ----------------------------------------------------------------------------- bundled sample


def sample_catalogue() -> list[dict]:
    """The bundled images' records: file, CIFAR-100 label, source and licence."""
    return json.loads((SAMPLE_DIR / "samples.json").read_text())["images"]


def sample_size() -> int:
    """How many images the bundled offline sample holds."""
    return len(sample_catalogue())


def sample_names() -> list[str]:
    return [record["name"] for record in sample_catalogue()]


def load_sample(index: int = 0) -> Example:
    """Image ``index`` of the bundled offline sample (index 0 is the series' default)."""
    records = sample_catalogue()
    if not isinstance(index, int) or not 0 <= index < len(records):
        raise DataError(f"sample index {index} is out of range: the bundled sample has images 0..{len(records) - 1}")
    record = records[index]
    with Image.open(SAMPLE_DIR / record["file"]) as picture:
        image = _to_tensor(picture.convert("RGB"))
    return Example(image=image, label=CIFAR100_CLASSES.index(record["class"]), name=f"sample:{record['name']}")


def load_sample_set() -> list[Example]:
    """Every image of the bundled sample, in order."""
    return [load_sample(i) for i in range(sample_size())]


# ----------------------------------------------------------------------------- any image file


def load_image(path: str | os.PathLike, label: int | None = None) -> Example:
    """Any image file as a private example (centre crop, resize to 32x32, ``ToTensor``).

    ``label`` is the CIFAR-100 class the attacker should try to recover; 0 if not given.
    """
    path = Path(path)
    try:
        with Image.open(path) as picture:
            image = to_tensor_32(picture)
    except FileNotFoundError:
        raise DataError(f"image file not found: {path}") from None
    except (UnidentifiedImageError, OSError) as err:
        raise DataError(f"cannot read {path} as an image: {err}") from None
    return Example(image=image, label=check_label(0 if label is None else label), name=f"file:{path.name}")


def load_image_bytes(data: bytes, name: str = "upload", label: int | None = None) -> Example:
    """An image file's bytes (e.g. an upload) as a private example, prepared as :func:`load_image`."""
    import io

    try:
        with Image.open(io.BytesIO(bytes(data))) as picture:
            image = to_tensor_32(picture)
    except (UnidentifiedImageError, OSError) as err:
        raise DataError(f"cannot read {name} as an image: {err}") from None
    return Example(image=image, label=check_label(0 if label is None else label), name=f"upload:{name}")


def check_label(label: int) -> int:
    if not 0 <= int(label) < NUM_CLASSES:
        raise DataError(f"label {label} is out of range: CIFAR-100 labels are 0..{NUM_CLASSES - 1}")
    return int(label)


# ----------------------------------------------------------------------------- CIFAR-100


def data_dir(path: str | os.PathLike | None = None) -> Path:
    """The CIFAR-100 folder: ``path``, else ``$DLG_DATA_DIR``, else ``~/.torch`` (the reference's)."""
    return Path(os.path.expanduser(str(path or os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR)))


def cifar100_available(path: str | os.PathLike | None = None) -> bool:
    """Whether the extracted CIFAR-100 python files are on disk."""
    root = data_dir(path) / "cifar-100-python"
    return (root / "train").is_file() and (root / "meta").is_file()


def load_cifar100(
    index: int = 25,
    path: str | os.PathLike | None = None,
    download: bool = False,
    train: bool = True,
    timeout: float = 20.0,
) -> Example:
    """CIFAR-100 image ``index`` through ``torchvision.datasets.CIFAR100``.

    Reads it from disk; downloads only when ``download=True`` (torchvision checks the
    archive's MD5, and certificate checks stay on). No network means a ``DataError``
    within ``timeout`` seconds, never a hang.
    """
    return load_cifar100_images([index], path, download, train, timeout)[0]


def load_cifar100_images(
    indices: Sequence[int],
    path: str | os.PathLike | None = None,
    download: bool = False,
    train: bool = True,
    timeout: float = 20.0,
) -> list[Example]:
    """Several CIFAR-100 images, the data set read once (see :func:`load_cifar100`)."""
    from torchvision.datasets import CIFAR100

    root = data_dir(path)
    if not download and not cifar100_available(root):
        raise DataError(
            f"CIFAR-100 is not in {root}; download it once (download=True, or --download on the "
            f"command line) or set {DATA_DIR_ENV} to a folder that holds cifar-100-python/"
        )
    try:
        if download and not cifar100_available(root):
            _fetch_archive(root, timeout)
        dataset = CIFAR100(str(root), train=train, download=download)
    except Exception as err:  # network errors, bad archive, interrupted download
        raise DataError(f"could not get CIFAR-100 into {root}: {type(err).__name__}: {err}") from None
    examples = []
    for index in indices:
        if not 0 <= index < len(dataset):
            raise DataError(f"CIFAR-100 index {index} is out of range: 0..{len(dataset) - 1}")
        picture, label = dataset[index]
        examples.append(Example(image=_to_tensor(picture), label=int(label), name=f"cifar100:{index}"))
    return examples


def _fetch_archive(root: Path, timeout: float) -> None:
    """Download torchvision's CIFAR-100 archive into ``root`` with a per-connection timeout
    (no process-wide socket setting); torchvision then checks its MD5 and extracts it."""
    import shutil
    import urllib.request

    from torchvision.datasets import CIFAR100
    from torchvision.datasets.utils import check_integrity

    archive = root / CIFAR100.filename
    if check_integrity(str(archive), CIFAR100.tgz_md5):
        return
    root.mkdir(parents=True, exist_ok=True)
    partial = archive.with_suffix(archive.suffix + ".part")
    with urllib.request.urlopen(CIFAR100.url, timeout=timeout) as response, open(partial, "wb") as out:
        shutil.copyfileobj(response, out)
    partial.replace(archive)


def _to_tensor(picture: Image.Image) -> torch.Tensor:
    """``torchvision.transforms.ToTensor()``: pixels to [0, 1], channels first (the reference's only
    preprocessing). torchvision is imported on first use, so worker processes that never
    load an image start faster."""
    from torchvision.transforms import functional

    return functional.to_tensor(picture)
