import dataclasses
import math
import pickle
import subprocess
import sys

import pytest
import torch

from helpers import defences as D
from helpers import experiments as E
from helpers.data import load_sample, load_sample_set
from helpers.gradients import infer_labels, label_scores, true_gradient
from helpers.model import seeded_setup

SEED = 78483847


@pytest.fixture(scope="module")
def gradient():
    setup = seeded_setup(SEED)
    example = load_sample(0)
    return true_gradient(setup.model, example.image, example.label)


GRADIENT_DEFENCES = [
    D.NoDefence(),
    D.Noise(1e-2),
    D.Noise(1e-2, "laplacian", seed=3),
    D.Prune(0.3),
    D.Quantise("fp16"),
    D.Quantise("int8"),
]


@pytest.mark.parametrize("defence", GRADIENT_DEFENCES, ids=lambda d: d.spec)
def test_shapes_dtypes_and_determinism(gradient, defence):
    before = [g.clone() for g in gradient]
    once, twice = defence(gradient), defence(gradient)
    assert [g.shape for g in once] == [g.shape for g in gradient]
    assert [g.dtype for g in once] == [g.dtype for g in gradient]
    assert all(torch.equal(a, b) for a, b in zip(once, twice))
    assert all(torch.isfinite(g).all() for g in once)
    # the input gradient is never modified in place, and a defence survives pickling (sweeps)
    assert all(torch.equal(a, b) for a, b in zip(gradient, before))
    assert pickle.loads(pickle.dumps(defence)) == defence


def _setup():
    setup = seeded_setup(SEED)
    example = load_sample(0)
    return setup.model, example.image, example.label


@pytest.mark.parametrize("defence", [D.NoDefence(), D.Noise(0.0), D.Noise(0.0, "laplacian"), D.Prune(0.0), D.Quantise("none")],
                         ids=lambda d: f"{type(d).__name__}-{d.spec}")
def test_strength_zero_is_identity_bitwise(gradient, defence):
    assert all(torch.equal(a, b) for a, b in zip(defence(gradient), gradient))


def test_noise_seed_matters_and_variance_is_right(gradient):
    a, b = D.Noise(1e-2, seed=0)(gradient), D.Noise(1e-2, seed=1)(gradient)
    assert not torch.equal(a[-2], b[-2])
    for kind in ("gaussian", "laplacian"):
        for variance in (1e-4, 1e-2, 1e-1):
            noisy = D.Noise(variance, kind)(gradient)
            noise = torch.cat([(n - g).double().flatten() for n, g in zip(noisy, gradient)])  # 85,036 draws
            assert abs(noise.mean()) < 0.02 * math.sqrt(variance)
            assert noise.var().item() == pytest.approx(variance, rel=0.05)
    lap = torch.cat([(n - g).double().flatten() for n, g in zip(D.Noise(1e-2, "laplacian")(gradient), gradient)])
    gau = torch.cat([(n - g).double().flatten() for n, g in zip(D.Noise(1e-2)(gradient), gradient)])
    kurtosis = lambda x: float(((x - x.mean()) ** 4).mean() / x.var() ** 2)  # noqa: E731
    assert kurtosis(lap) == pytest.approx(6.0, rel=0.15) and kurtosis(gau) == pytest.approx(3.0, rel=0.1)


@pytest.mark.parametrize("fraction", [0.01, 0.2, 0.5, 0.9, 1.0])
def test_pruning_zeroes_the_smallest_fraction_per_tensor(gradient, fraction):
    pruned = D.Prune(fraction)(gradient)
    for p, g in zip(pruned, gradient):
        k = int(round(fraction * g.numel()))
        zeroed = (p == 0) & (g != 0)
        assert int((p == 0).sum()) == max(k, int((g == 0).sum()))
        kept = p != 0
        assert torch.equal(p[kept], g[kept])  # survivors are unchanged
        if kept.any() and zeroed.any():
            assert g[zeroed].abs().max() <= g[kept].abs().min()  # only the smallest go


def test_quantisation_error_bounds(gradient):
    for h, g in zip(D.Quantise("fp16")(gradient), gradient):
        assert torch.all((h - g).abs() <= g.abs() * 2.0**-11 + 2.0**-25)
        assert torch.equal(h, g.half().float())
    for q, g in zip(D.Quantise("int8")(gradient), gradient):
        scale = g.abs().max() / 127
        assert torch.all((q - g).abs() <= scale / 2 * (1 + 1e-5))
        assert len(torch.unique(torch.round(q / scale))) <= 255
    assert D.Quantise("int8")([torch.zeros(3)])[0].eq(0).all()


def test_parse_defences():
    assert D.parse_defence("noise=1e-2") == D.Noise(1e-2)
    assert D.parse_defence("laplace=1e-3") == D.Noise(1e-3, "laplacian")
    assert D.parse_defence("prune=0.3") == D.Prune(0.3)
    assert D.parse_defence("fp16") == D.Quantise("fp16") and D.parse_defence("INT8") == D.Quantise("int8")
    assert E.parse_condition("batch=4") == E.LocalBatch(4) and D.parse_defence("none") == D.NoDefence()
    assert D.parse_defences("prune=0.1,0.5") == [D.Prune(0.1), D.Prune(0.5)]
    assert E.parse_conditions("batch=2,4") == [E.LocalBatch(2), E.LocalBatch(4)]
    for d in (D.Noise(1e-2), D.Noise(0.001, "laplacian"), D.Prune(0.25), D.Quantise("fp16"), E.LocalBatch(2)):
        assert E.parse_condition(d.spec) == d  # spec round-trips
    for bad in ("noise", "noise=abc", "noise=-1", "prune=1.5", "batch=0", "batch=2.5", "fp16=3", "blur=2", "prune=0.1,0.2"):
        with pytest.raises(ValueError):
            E.parse_condition(bad)
    with pytest.raises(ValueError, match="unknown defence"):
        D.parse_defence("batch=2")  # a local batch is the client's, not a gradient transform


def test_local_batch_gradient_is_the_mean_and_size_one_is_the_image():
    setup = seeded_setup(SEED, batch=4)
    examples = load_sample_set()[:4]
    images = torch.stack([e.image for e in examples])
    labels = [e.label for e in examples]
    batch = true_gradient(setup.model, images, labels)
    singles = [true_gradient(setup.model, e.image, e.label) for e in examples]
    for k, g in enumerate(batch):
        assert torch.allclose(g, sum(s[k] for s in singles) / 4, atol=1e-6)
    assert all(torch.equal(a, b) for a, b in zip(true_gradient(setup.model, images[:1], labels[:1]), singles[0]))
    assert not callable(E.LocalBatch(2))  # not a transform of a gradient


def test_infer_labels_for_several_images():
    examples = load_sample_set()  # labels: 98, 46, 17, 22, 28, 69, 98, 70 (98 twice)
    setup = seeded_setup(SEED, batch=8)
    gradient = true_gradient(setup.model, torch.stack([e.image for e in examples]), [e.label for e in examples])
    found = infer_labels(gradient)
    assert sorted(found) == sorted(set(e.label for e in examples))  # the repeat shows up once
    assert all(label_scores(gradient)[c] < 0 for c in found)
    assert len(infer_labels(gradient, count=8)) == 8 and infer_labels(gradient, count=2) == found[:2]
    single = true_gradient(seeded_setup(SEED).model, examples[0].image, examples[0].label)
    assert infer_labels(single) == [examples[0].label]


def test_cost_and_pairing(gradient):
    model, image, label = _setup()
    none = D.defence_cost(model, image, label, D.NoDefence())
    assert none.relative_change == 0 and none.cosine == pytest.approx(1.0) and none.step_efficiency == 1.0
    noisy = D.defence_cost(model, image, label, D.Noise(1e-2))
    assert noisy.relative_change > 0.5 and noisy.cosine < 0.9
    truths = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    shuffled = truths[[2, 0, 1]] + 0.01
    assert E.pair_reconstructions(shuffled, truths) == [1, 2, 0]


def test_defended_attack_tiny_and_batch_of_one_is_the_single_attack():
    from helpers.experiments import attack_example

    example = load_sample(0)
    single = attack_example(example, SEED, "dlg", iterations=2, defence=D.Prune(0.5))
    run = E.defended_attack(example, SEED, D.Prune(0.5), "dlg", iterations=2)
    assert run.grad_loss == single.result.grad_loss and run.status == single.result.status
    batch = E.defended_attack(load_sample_set()[:2], SEED, E.LocalBatch(2), "dlg", iterations=1)
    assert len(batch.psnr) == 2 and sorted(batch.pairing) == [0, 1] and batch.reconstruction.shape == (2, 3, 32, 32)
    with pytest.raises(ValueError, match="recovers one image"):  # restarts recover one image, not a batch
        E.defended_attack(load_sample_set()[:2], SEED, E.LocalBatch(2), "robust", iterations=1)


def test_defended_attack_with_restarts_matches_attack_example():
    # a recipe with restarts needs one dummy row per restart, drawn as attack_example draws them
    from helpers.experiments import attack_example
    from helpers.attacks.recipes import ROBUST

    recipe = ROBUST.with_(iterations=2)
    run = E.defended_attack(load_sample(0), SEED, D.Noise(1e-4), recipe)
    single = attack_example(load_sample(0), SEED, recipe, defence=D.Noise(1e-4))
    assert run.grad_loss == single.result.grad_loss and run.psnr[0] == single.metrics.psnr


def test_cli_defence_json(capsys):
    import json

    from helpers.cli import main

    assert main(["attack", "--seed", str(SEED), "--iters", "1", "--defence", "prune=0.2", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["spec"] == "prune=0.2" and record["iterations"] == 1
    assert main(["sweep", "--seeds", "1", "--iters", "1", "--workers", "1", "--defence", "fp16", "--defence", "noise=0,1e-2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["spec"] for r in out["runs"]] == ["fp16", "noise=0", "noise=0.01"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["attack", "--seed", "1", "--defence", "noise"], "needs a value"),
        (["attack", "--seed", "1", "--defence", "prune=2"], "[0, 1]"),
        (["attack", "--seed", "1", "--defence", "blur=3"], "unknown defence"),
        (["attack", "--seed", "1", "--defence", "noise=1e-3,1e-2"], "one strength"),
        (["attack", "--seed", "1", "--defence", "batch=2", "--image", "x.png"], "several images"),
        (["attack", "--seed", "1", "--defence", "batch=2", "--index", "7"], "bundled ones are 0..7"),
        (["attack", "--seed", "1", "--defence", "noise=1e-3", "--out", "somewhere"], "--out"),
        (["attack", "--seed", "1", "--defence", "batch=2", "--recipe", "robust"], "needs --recipe dlg or idlg"),
        (["sweep", "--seeds", "1", "--defence", "noise=1e-3", "--all-samples"], "drop --all-samples"),
        (["sweep", "--seeds", "1", "--defence", "fp16=2"], "takes no value"),
    ],
)
def test_cli_bad_defence_is_one_line_and_exit_2(args, message):
    done = subprocess.run([sys.executable, "-m", "helpers", *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], done.stderr


@pytest.mark.parametrize("spec, defence", [("noise=1e-3", D.Noise(1e-3)), ("laplace=1e-3", D.Noise(1e-3, "laplacian"))])
def test_one_seed_one_defence_gives_the_same_numbers_through_every_entry_point(spec, defence, capsys):
    """The noise of a trial is drawn from the trial's seed, whether the trial is run by the
    Python API, the defence pipeline, ``attack --defence`` or ``sweep --defence``."""
    import json

    from helpers.cli import main
    from helpers.experiments import attack_example

    seed, example = 5, load_sample(0)
    api = attack_example(example, seed, "idlg", iterations=2, defence=defence).result.grad_loss
    run = E.defended_attack(example, seed, defence, "idlg", iterations=2).grad_loss
    assert main(["attack", "--seed", str(seed), "--iters", "2", "--recipe", "idlg", "--defence", spec, "--json"]) == 0
    cli_attack = json.loads(capsys.readouterr().out)["grad_loss"]
    assert main(["sweep", "--seeds", str(seed), "--iters", "2", "--recipe", "idlg", "--workers", "1",
                 "--defence", spec, "--json"]) == 0
    cli_sweep = json.loads(capsys.readouterr().out)["runs"][0]["grad_loss"]
    assert api == run == cli_attack == cli_sweep
    undefended = attack_example(example, seed, "idlg", iterations=2).result.grad_loss
    assert api != undefended  # the noise was added


@dataclasses.dataclass(frozen=True)
class SeedSpy:
    """A defence that notes which seed each trial gave it (a sweep on one worker runs here)."""

    spec: str = "spy"
    kind: str = "spy"
    strength: float = 0.0

    def seeded(self, seed):
        SEEN.append(seed)
        return D.NoDefence()


SEEN: list = []


def test_a_sweep_draws_each_seeds_own_noise(gradient):
    SEEN.clear()
    E.defence_sweep(load_sample(0), [3, 4], [SeedSpy()], "idlg", iterations=0, workers=1)
    assert SEEN == [3, 4]
    three, four = D.Noise(1e-2).seeded(3)(gradient), D.Noise(1e-2).seeded(4)(gradient)
    assert not torch.equal(three[0], four[0])
    assert all(torch.equal(a, b) for a, b in zip(three, D.Noise(1e-2, seed=3)(gradient)))


def test_cost_restores_the_model_when_the_step_fails_halfway():
    model, image, label = _setup()
    before = [p.detach().clone() for p in model.parameters()]

    class Broken:
        def __call__(self, gradient):
            # the second tensor is [12, 1]: it broadcasts in the cosine and the norms, but cannot be
            # subtracted in place from the [12] bias, after the first layer's weights were stepped
            return [gradient[0], gradient[1][:, None]] + gradient[2:]

    with pytest.raises(RuntimeError):
        D.defence_cost(model, image, label, Broken())
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), before))
