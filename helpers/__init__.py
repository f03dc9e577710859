"""Helpers for the Deep Leakage from Gradients tutorial series.

One module per step of the attack, in the order the notebooks walk them:

    data -> model -> gradients -> recipes / attack -> metrics -> plots
                       (experiment chains them; cli exposes the chain)
"""

from . import display
from .attack import Result, run_attack
from .data import CIFAR100_CLASSES, DataError, Example, load_cifar100, load_image, load_sample, load_sample_set
from .experiment import Trial, attack_example
from .gradients import gradient_distance, infer_label, true_gradient
from .metrics import Metrics, evaluate
from .model import LeNet, seeded_setup
from .recipes import RECIPES, Recipe, get_recipe

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
