"""Rebuild the bundled offline sample in helpers/sample_data/ from its sources.

The eight pictures ship inside packages that the project already installs or that are
one `pip install` away (scikit-image, matplotlib, scikit-learn); each is public domain,
CC0 or CC BY 2.0 (see helpers/sample_data/SOURCES.md). Every picture is centre-cropped
to a square, resized to 32x32 and saved as an 8-bit PNG, the same treatment as
`helpers.data.load_image`, so the sample holds CIFAR-sized, CIFAR-quantised images.

Run:  python scripts/make_sample_data.py     (needs scikit-learn for two of the pictures)
"""

import json

import matplotlib.cbook
import numpy as np
import skimage.data
from PIL import Image

from helpers.data import SAMPLE_DIR, to_tensor_32


def source_array(loader: str) -> np.ndarray:
    kind, _, name = loader.partition(":")
    if kind == "skimage":
        return getattr(skimage.data, name)()
    if kind == "matplotlib":
        with matplotlib.cbook.get_sample_data(name) as handle:
            return np.asarray(Image.open(handle).convert("RGB"))
    if kind == "sklearn":
        from sklearn.datasets import load_sample_image

        return load_sample_image(name)
    raise ValueError(loader)


def main() -> None:
    catalogue = json.loads((SAMPLE_DIR / "samples.json").read_text())
    for record in catalogue["images"]:
        tensor = to_tensor_32(Image.fromarray(source_array(record["loader"])))
        pixels = (tensor.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        Image.fromarray(pixels, "RGB").save(SAMPLE_DIR / record["file"])
        print(f"{record['file']}: {record['class']}")


if __name__ == "__main__":
    main()
