"""The console's inputs as ipywidgets: image, seed (a box for any seed, a slider for a
range), recipe, steps, defence and strength, and the :class:`~.stream.Request` they describe.

One person's change is one call of ``on_change``: the controls move their own linked widgets
(the seed slider and box, the strength stops of a defence) quietly.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import replace
from typing import Callable, Iterable, Iterator, Sequence

from ..attacks import RECIPES, Recipe, get_recipe
from .stream import Request
from ..data import CIFAR100_CLASSES, DataError, Example, cifar100_available, data_dir, load_cifar100, load_image_bytes

CONTROLS = ("image", "seed", "recipe", "steps", "defence")
DEFENCES = {"none": "none", "Gaussian noise": "noise", "Laplacian noise": "laplace", "pruning": "prune",
            "fp16": "fp16", "int8": "int8"}
STRENGTHS = {  # the strength slider's stops per defence (noise: the variance added to every entry)
    "noise": ["1e-06", "3e-06", "1e-05", "3e-05", "0.0001", "0.0003", "0.001", "0.003", "0.01", "0.03", "0.1"],
    "prune": ["0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9", "0.95", "0.99"],
}
STRENGTHS["laplace"] = STRENGTHS["noise"]


class Controls:
    """The widgets, laid out in rows (:attr:`rows`), and what they ask for (:meth:`request`)."""

    def __init__(self, examples: Sequence[Example], on_change: Callable[[], object], on_error: Callable[[str], object], *,
                 seed: int, recipe: str | Recipe, steps: int, defence: str, shown: Iterable[str], seed_range: tuple[int, int]) -> None:
        import ipywidgets as w

        self.examples = list(examples)
        self.shown = tuple(shown)
        unknown = set(self.shown) - set(CONTROLS)
        if unknown:
            raise ValueError(f"unknown controls {sorted(unknown)}; choose from {CONTROLS}")
        self.on_change, self.on_error = on_change, on_error
        self.uploaded: Example | None = None
        self.quiet = False  # set while widgets are moved without starting runs (see quietly())
        self._cifar: dict[int, Example] = {}  # CIFAR-100 images already read, by index
        self.has_cifar = cifar100_available()
        where = data_dir()
        self.data_note = (f"CIFAR-100 found in {where}: pick 'CIFAR-100 train image' to attack any of its images."
                          if self.has_cifar else
                          f"No CIFAR-100 in {where} and no download: the console uses the bundled images (offline) "
                          "and any image you upload.")
        options = [(f"{e.name.partition(':')[2] or e.name} ({CIFAR100_CLASSES[e.label]})", ("example", i))
                   for i, e in enumerate(self.examples)]
        if self.has_cifar:
            options.append(("CIFAR-100 train image (index)", ("cifar", 0)))
        options.append(("uploaded image", ("upload", 0)))
        layout = w.Layout(width="360px")
        style = {"description_width": "70px"}
        self.image = w.Dropdown(options=options, value=options[0][1], description="image", layout=layout, style=style)
        self.cifar_index = w.BoundedIntText(value=25, min=0, max=49_999, description="index", style=style,
                                            layout=w.Layout(width="180px", display="none"))
        self.upload = w.FileUpload(accept="image/*", multiple=False, description="upload",
                                   layout=w.Layout(display="none"))
        self.upload_label = w.Dropdown(options=[(f"{i} {c}", i) for i, c in enumerate(CIFAR100_CLASSES)], value=0,
                                       description="its class", style=style, layout=w.Layout(width="240px", display="none"))
        low, high = seed_range
        self.seed = w.IntText(value=seed, description="seed", style=style,  # not bounded: a bad seed gets a message
                              layout=w.Layout(width="250px"))
        self.seed_slider = w.IntSlider(value=min(max(seed, low), high), min=low, max=high, description="seeds",
                                       continuous_update=False, style=style, layout=layout)
        recipe = get_recipe(recipe)
        recipes = dict(RECIPES) | {recipe.name: recipe}  # a recipe made in a notebook joins the list
        self.recipe = w.Dropdown(options=list(recipes.items()), value=recipe, description="recipe", style=style,
                                 layout=w.Layout(width="250px"))
        self.steps = w.IntSlider(value=steps, min=0, max=300, step=5, description="steps", continuous_update=False,
                                 style=style, layout=layout)
        kind, _, strength = defence.partition("=")
        kind = {"gaussian": "noise", "laplacian": "laplace"}.get(kind, kind)
        self.defence = w.Dropdown(options=list(DEFENCES.items()), value=kind, description="defence", style=style,
                                  layout=w.Layout(width="250px"))
        self.strength = w.SelectionSlider(options=STRENGTHS.get(kind, ["-"]), description="strength",
                                          continuous_update=False, style=style, layout=layout)
        if strength:
            self.strength.options = sorted(set(self.strength.options) | {strength}, key=float)
            self.strength.value = strength
        rows = []
        if "image" in self.shown:
            rows.append(w.HBox([self.image, self.cifar_index, self.upload, self.upload_label]))
        if "seed" in self.shown:
            rows.append(w.HBox([self.seed, self.seed_slider]))
        row = [c for name, c in (("recipe", self.recipe), ("steps", self.steps)) if name in self.shown]
        if row:
            rows.append(w.HBox(row))
        if "defence" in self.shown:
            rows.append(w.HBox([self.defence, self.strength]))
        self.rows = rows
        self._follow()
        for control in (self.image, self.cifar_index, self.upload_label, self.recipe, self.steps, self.strength):
            control.observe(self._changed, names="value")
        self.seed.observe(self._seed_typed, names="value")
        self.seed_slider.observe(self._seed_slid, names="value")
        self.defence.observe(self._defence_changed, names="value")
        self.upload.observe(self._uploaded, names="value")

    def named(self) -> list[tuple[str, object]]:
        """Every input widget with its name (the console gives each a CSS class from it)."""
        return [("image", self.image), ("cifar-index", self.cifar_index), ("upload", self.upload),
                ("upload-label", self.upload_label), ("seed", self.seed), ("seed-slider", self.seed_slider),
                ("recipe", self.recipe), ("steps", self.steps), ("defence", self.defence), ("strength", self.strength)]

    def request(self) -> "Request":
        """The attack the controls describe now."""
        recipe = self.recipe.value
        searched = recipe.optimiser != "closed-form"
        kind = self.defence.value
        defence = kind if kind in ("none", "fp16", "int8") else f"{kind}={self.strength.value}"
        return Request(self.example(), int(self.seed.value), recipe, int(self.steps.value) if searched else None,
                       defence)

    @contextmanager
    def quietly(self) -> Iterator[None]:
        """Move widgets without starting a run (nests: the previous state comes back)."""
        before, self.quiet = self.quiet, True
        try:
            yield
        finally:
            self.quiet = before

    def example(self) -> Example:
        source, index = self.image.value
        if source == "cifar":
            position = int(self.cifar_index.value)
            if position not in self._cifar:  # torchvision reads and checks the whole file: once per index
                self._cifar[position] = load_cifar100(position)
            return self._cifar[position]
        if source == "upload":
            if self.uploaded is None:
                raise DataError("no image uploaded yet: use the upload button")
            return replace(self.uploaded, label=int(self.upload_label.value))
        return self.examples[index]

    def _changed(self, change: dict) -> None:
        self._follow()
        if not self.quiet:
            self.on_change()

    def _seed_typed(self, change: dict) -> None:
        low, high = self.seed_slider.min, self.seed_slider.max
        if low <= change["new"] <= high and self.seed_slider.value != change["new"]:
            with self.quietly():
                self.seed_slider.value = change["new"]
        if not self.quiet:
            self.on_change()

    def _seed_slid(self, change: dict) -> None:
        if not self.quiet:
            self.seed.value = change["new"]  # the box's observer starts the run

    def _defence_changed(self, change: dict) -> None:
        options = STRENGTHS.get(change["new"], ["-"])
        with self.quietly():
            self.strength.options = options
            self.strength.value = options[len(options) // 2]
        self._changed(change)

    def _uploaded(self, change: dict) -> None:
        files = change["new"]
        if not files:
            return
        upload = files[0]
        try:
            self.uploaded = load_image_bytes(upload["content"], upload["name"], int(self.upload_label.value))
        except DataError as error:
            self.on_error(f"cannot run: {error}")
            return
        if self.image.value != ("upload", 0):
            self.image.value = ("upload", 0)  # its observer runs the attack
        else:
            self.on_change()

    def _follow(self) -> None:
        source = self.image.value[0]
        self.cifar_index.layout.display = "" if source == "cifar" else "none"
        self.upload.layout.display = "" if source == "upload" else "none"
        self.upload_label.layout.display = "" if source == "upload" else "none"
        self.steps.disabled = self.recipe.value.optimiser == "closed-form"
        self.strength.disabled = self.defence.value in ("none", "fp16", "int8")
