"""Helpers for the Deep Leakage from Gradients tutorial series.

Layers, each importing only the ones before it:

    data -> model -> gradients -> metrics -> statistics -> attacks -> defences -> clients
         -> experiments -> federation -> plots / display -> console -> cli
    (pool, ray_pool, arithmetic, live: generic machinery that imports none of them)

The names the notebooks use most are importable from here.
"""

from . import display
from .attacks import RECIPES, Recipe, Result, get_recipe, run_attack
from .data import CIFAR100_CLASSES, DataError, Example, load_cifar100, load_image, load_sample, load_sample_set
from .experiments import Trial, attack_example
from .gradients import gradient_distance, infer_label, true_gradient
from .metrics import Metrics, evaluate
from .model import LeNet, seeded_setup

__all__ = [
    "display",
    "CIFAR100_CLASSES",
    "DataError",
    "Example",
    "LeNet",
    "Metrics",
    "RECIPES",
    "Recipe",
    "Result",
    "Trial",
    "attack_example",
    "evaluate",
    "get_recipe",
    "gradient_distance",
    "infer_label",
    "load_cifar100",
    "load_image",
    "load_sample",
    "load_sample_set",
    "run_attack",
    "seeded_setup",
    "true_gradient",
]
