"""Recipes are checked when made, and the registry runs the attack a recipe names."""

import pytest
import torch

import helpers.attacks.registry as registry
from helpers.attacks import ATTACKS, RECIPES, run_attack
from helpers.attacks.recipes import CLOSED_FORM, DLG, HONOURED, IDLG, ROBUST
from helpers.data import load_sample
from helpers.gradients import true_gradient
from helpers.model import seeded_setup


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: DLG.with_(restarts=3), "does not use restarts"),  # would attack 3 dummies against 1 image
        (lambda: DLG.with_(label="joitn"), "label='joitn' is not one of"),
        (lambda: DLG.with_(init="zeros"), "init='zeros'"),
        (lambda: DLG.with_(optimiser="adam"), "optimiser='adam'"),
        (lambda: DLG.with_(loss="l1"), "loss='l1'"),
        (lambda: DLG.with_(line_search="armijo"), "line_search='armijo'"),
        (lambda: IDLG.with_(init_scale=0.2), "does not use init_scale"),  # randn start ignores the scale
        (lambda: ROBUST.with_(lr=0.5), "does not use lr"),  # batched restarts pick their own step
        (lambda: ROBUST.with_(line_search="strong_wolfe"), "does not use line_search"),
        (lambda: ROBUST.with_(label="joint"), "needs label='infer'"),
        (lambda: CLOSED_FORM.with_(restarts=2), "does not use restarts"),
        (lambda: CLOSED_FORM.with_(init="pixel-range"), "does not use init"),
        (lambda: DLG.with_(iterations=-1), "iterations must be a whole number >= 0"),
        (lambda: DLG.with_(max_iter=2.5), "max_iter must be a whole number"),
        (lambda: ROBUST.with_(restarts=0), "restarts must be a whole number >= 1"),
        (lambda: DLG.with_(lr=float("nan")), "lr must be a finite number > 0"),
        (lambda: DLG.with_(tolerance=-1.0), "tolerance must be a finite number >= 0"),
    ],
)
def test_a_setting_the_attack_cannot_honour_is_refused(make, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("[", r"\[")):
        make()


def test_settings_the_attack_reads_are_accepted():
    assert ROBUST.with_(restarts=1, iterations=60).restarts == 1
    assert IDLG.with_(init="pixel-range", init_scale=0.2).init_scale == 0.2
    assert CLOSED_FORM.with_(iterations=5, line_search="strong_wolfe").iterations == 5
    for recipe in RECIPES.values():  # every registered recipe passes its own checks
        assert recipe.with_() == recipe


def test_every_optimiser_a_recipe_may_name_has_an_attack():
    assert set(ATTACKS) == set(HONOURED)
    assert {r.optimiser for r in RECIPES.values()} <= set(ATTACKS)


def test_run_attack_dispatches_on_the_optimiser_with_the_asked_steps(monkeypatch):
    calls = []

    def fake(problem):
        calls.append((problem.recipe.name, problem.steps, sorted(problem.keep)))
        return "ran"

    monkeypatch.setitem(registry.ATTACKS, "batched-lbfgs", fake)
    setup = seeded_setup(1, batch=2)
    assert run_attack(setup.model, [], setup.dummy_image, None, "robust", iterations=7, snapshot_steps=[3]) == "ran"
    assert calls == [("robust", 7, [3])]


def test_dlg_uses_torch_lbfgs_defaults():
    """The reference builds ``torch.optim.LBFGS([dummy_data, dummy_label])`` with no arguments:
    dlg's optimiser settings must be torch's defaults (read from torch, not restated)."""
    defaults = torch.optim.LBFGS([torch.zeros(1, requires_grad=True)]).defaults
    assert (DLG.lr, DLG.max_iter, DLG.history_size, DLG.line_search) == (
        defaults["lr"], defaults["max_iter"], defaults["history_size"], defaults["line_search_fn"]
    )
    assert DLG.optimiser == "torch-lbfgs" and DLG.tolerance == 0 and DLG.restarts == 1


@pytest.mark.parametrize("steps", [0, 3])
def test_closed_form_polish_takes_the_asked_steps_and_snapshots(steps):
    """``--recipe closed-form+lbfgs --iters N`` polishes N steps, keeping the asked snapshots."""
    example = load_sample(4)
    setup = seeded_setup(1234)
    gradient = true_gradient(setup.model, example.image, example.label)
    result = run_attack(setup.model, gradient, setup.dummy_image, None, "closed-form+lbfgs", iterations=steps,
                        snapshot_steps=range(steps + 1))
    assert result.iterations == steps and len(result.losses) == steps + 1
    assert sorted(result.snapshots) == list(range(steps + 1))
