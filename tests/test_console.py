"""The live attack console, headless: the runner's cancel and stale-frame rules, the console's
numbers against the trial pipeline's, replay, stop, bad input and the static view."""

import io
import math
import threading
import time

import pytest
import torch
from PIL import Image

from helpers.attacks import Progress, run_attack
from helpers.console import Request, stream_attack
from helpers.console.app import AttackConsole
from helpers.console.view import ConsoleView
from helpers.data import DataError, load_image_bytes, load_sample
from helpers.experiments import attack_example
from helpers.gradients import true_gradient
from helpers.live import Cancelled, LiveRunner
from helpers.model import seeded_setup

COFFEE = 4


def wait_for(condition, timeout: float = 60.0) -> None:
    """Poll ``condition`` until it holds; fail (not hang) after ``timeout`` seconds."""
    end = time.perf_counter() + timeout
    while not condition():
        assert time.perf_counter() < end, "timed out waiting"
        time.sleep(0.005)


@pytest.fixture(scope="module")
def coffee():
    return load_sample(COFFEE)


# ----------------------------------------------------------------------------- the generic runner


def ticking_job(ticks: int, pause: float = 0.01):
    def job(run):
        for k in range(ticks):
            run.checkpoint()
            run.emit(k)
            time.sleep(pause)
    return job


def test_a_new_job_cancels_the_old_and_no_old_frame_lands_after_it():
    seen = []
    runner = LiveRunner(lambda run, payload: seen.append((run.number, payload)))
    first = runner.start(ticking_job(10_000))
    wait_for(lambda: seen)
    second = runner.start(ticking_job(5))
    assert second.wait(10) and first.ended is not None
    assert first.outcome == "cancelled" and second.outcome == "finished"
    numbers = [n for n, _ in seen]
    assert numbers == sorted(numbers), "a frame of the old run arrived after the new run's"
    assert [p for n, p in seen if n == 2] == list(range(5))
    assert runner.close()


def test_stop_cancels_and_the_thread_ends():
    seen = []
    runner = LiveRunner(lambda run, payload: seen.append(payload))
    run = runner.start(ticking_job(10_000))
    wait_for(lambda: seen)
    runner.stop()
    assert run.wait(10)
    count = len(seen)
    time.sleep(0.05)
    assert run.outcome == "cancelled" and len(seen) == count
    assert not run.thread.is_alive()


def test_a_failing_job_is_reported_not_lost():
    errors = []
    runner = LiveRunner(lambda run, payload: None, lambda run, error: errors.append(error))

    def job(run):
        raise RuntimeError("boom")

    run = runner.start(job)
    assert run.wait(10)
    assert run.outcome == "failed" and [str(e) for e in errors] == ["boom"]


def test_close_leaves_no_thread_running():
    runner = LiveRunner(lambda run, payload: None)
    runner.start(ticking_job(10_000))
    assert runner.close()
    assert not any(t.name.startswith("live-run-") and t.is_alive() for t in threading.enumerate())


# ----------------------------------------------------------------------------- the attack's hooks


@pytest.mark.parametrize("recipe", ["dlg", "robust", "ig", "closed-form+lbfgs"])
def test_every_attack_reports_its_start_and_each_step(coffee, recipe):
    seen = []
    trial = attack_example(coffee, 1, recipe, iterations=3, on_step=seen.append)
    steps = [p.step for p in seen]
    assert steps[0] == 0 and steps == list(range(len(steps))) and steps[-1] == trial.result.iterations
    assert all(isinstance(p, Progress) and p.image.shape == (3, 32, 32) for p in seen)
    assert seen[-1].label == trial.result.label[0]


@pytest.mark.parametrize("recipe", ["dlg", "robust", "ig", "closed-form"])
def test_a_checkpoint_that_raises_abandons_the_attack(coffee, recipe):
    calls = []

    def checkpoint():
        calls.append(1)
        if len(calls) > 2:
            raise Cancelled("stop")

    setup = seeded_setup(1, batch=2 if recipe in ("robust", "ig") else 1)
    shared = true_gradient(setup.model, coffee.image[None], [coffee.label])
    with pytest.raises(Cancelled):
        run_attack(setup.model, shared, setup.dummy_image, setup.dummy_label, recipe, iterations=50, checkpoint=checkpoint)
    assert len(calls) == 3


# ----------------------------------------------------------------------------- frames and the view


def test_the_stream_ends_with_the_trial_pipelines_numbers(coffee):
    frames = []
    request = Request(coffee, 78483847, "dlg", 12, "noise=1e-4")
    trial = stream_attack(request, frames.append, interval=0)
    direct = attack_example(coffee, 78483847, "dlg", iterations=12, defence=request.gradient_defence())
    final = frames[-1]
    assert final.done and final.trial is trial
    assert trial.result.losses == direct.result.losses
    assert (final.psnr, final.ssim, final.label) == (direct.metrics.psnr, direct.metrics.ssim, direct.metrics.label_recovered)
    assert frames[0].dummy is None and not frames[0].done
    assert [f.step for f in frames[1:-1]] == list(range(13))


def test_a_request_refuses_what_it_cannot_run(coffee):
    for bad in ({"seed": -1}, {"seed": 2**32}, {"recipe": "nope"}, {"steps": -3}, {"defence": "noise=-1"}):
        with pytest.raises(ValueError):
            Request(coffee, **{"seed": 1, **bad})
    assert Request(coffee, 7, "idlg", None).command().endswith("--index 4 --seed 7 --recipe idlg --threads 1 --json")


def test_a_diverged_dummy_is_not_drawn_as_an_image(coffee):
    frames = []
    stream_attack(Request(coffee, 1, "dlg", 1), frames.append, interval=0)
    view = ConsoleView()
    broken = frames[-1]
    broken.dummy = torch.full((3, 32, 32), float("nan"))
    view.render(broken)
    assert not view.dummy_art.get_visible() and "diverged" in view.dummy_note.get_text()


def test_an_upload_is_read_or_refused_in_one_line():
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (255, 0, 0)).save(buffer, format="PNG")
    example = load_image_bytes(buffer.getvalue(), "red.png", label=3)
    assert example.image.shape == (3, 32, 32) and example.label == 3 and example.name == "upload:red.png"
    assert torch.allclose(example.image[0], torch.ones(32, 32))
    with pytest.raises(DataError, match="cannot read junk.png"):
        load_image_bytes(b"not an image", "junk.png")


# ----------------------------------------------------------------------------- the console


def test_the_console_runs_what_its_controls_say_and_matches_the_pipeline(coffee):
    console = AttackConsole([coffee], seed=5, recipe="idlg", steps=6, interval=0)
    try:
        run = console.run()
        assert run.wait(60) and run.outcome == "finished"
        final = console.last
        direct = attack_example(coffee, 5, "idlg", iterations=6)
        assert final.done and final.trial.result.losses == direct.result.losses
        assert final.psnr == direct.metrics.psnr
        assert console.png.startswith(b"\x89PNG")
        bundle = console._repr_mimebundle_()
        assert {"image/png", "application/vnd.jupyter.widget-view+json"} <= set(bundle)
    finally:
        assert console.close()


def test_a_new_input_cancels_the_running_attack_and_its_frames(coffee):
    console = AttackConsole([coffee], seed=1, recipe="dlg", steps=300, interval=0)
    try:
        first = console.run()
        wait_for(lambda: any(s.run == first.number and s.frame.step >= 1 for s in console.shown))
        console.set(steps=10)  # a person moving the steps slider mid-attack
        second = console.runner.current
        assert second is not first
        assert second.wait(120) and first.outcome == "cancelled" and second.outcome == "finished"
        runs = [s.run for s in console.shown]
        assert runs == sorted(runs), "a stale frame landed after the new run's first frame"
        assert console.last.request.steps == 10 and console.last.done
    finally:
        assert console.close()


def test_stop_leaves_a_stopped_view_and_no_thread(coffee):
    console = AttackConsole([coffee], seed=1, recipe="dlg", steps=300, interval=0)
    try:
        run = console.run()
        wait_for(lambda: any(s.frame.step >= 1 for s in console.shown))
        console.stop()
        assert run.wait(30) and run.outcome == "cancelled"
        count = len(console.shown)
        assert console.last.status == "stopped"
        time.sleep(0.2)
        assert len(console.shown) == count
    finally:
        assert console.close()


def test_a_known_request_is_replayed_not_rerun(coffee):
    stored = attack_example(coffee, 9, "idlg", iterations=3)
    asked = []

    def known(request):
        asked.append(request)
        return stored if request.seed == 9 else None

    console = AttackConsole([coffee], seed=9, recipe="idlg", steps=3, known=known)
    try:
        run = console.run()
        assert run.wait(30)
        assert console.last.stored and console.last.trial is stored and len(console.shown) == 1
        assert asked[-1].seed == 9
    finally:
        assert console.close()


def test_the_seed_box_and_slider_agree_and_bad_controls_are_refused(coffee):
    console = AttackConsole([coffee], seed=3, recipe="closed-form", seed_range=(0, 10))
    try:
        console.controls.seed_slider.value = 7
        assert console.controls.seed.value == 7
        console.controls.seed.value = 2**32 - 1  # past the slider's range: the box still takes it
        assert console.controls.seed_slider.value == 7 and console.request().seed == 2**32 - 1
        assert console.controls.steps.disabled and console.request().steps is None  # closed form: no search steps
        console.set(defence="prune")
        assert console.request().defence.startswith("prune=") and not console.controls.strength.disabled
        console.controls.image.value = ("upload", 0)
        assert console.run() is None and "no image uploaded" in console.status.value
        console.wait(60)
    finally:
        assert console.close()
    with pytest.raises(ValueError, match="unknown controls"):
        AttackConsole([coffee], controls=("seed", "colour"))


def test_a_recipe_made_in_a_notebook_and_a_stored_defence_run(coffee):
    from helpers.attacks import ROBUST
    from helpers.console import defended_frame
    from helpers.experiments import defended_attack

    short = ROBUST.with_(name="robust, 1 start, 4 steps", restarts=1, iterations=4)
    request = Request(coffee, 3, short, 4, "noise=0.001")
    assert request.recipe_name == short.name and request.command() == ""  # the command line does not know it
    run = defended_attack(coffee, 3, "noise=0.001", short)
    frame = defended_frame(request, run)
    assert frame.stored and frame.done and frame.psnr == run.psnr[0] and frame.label == run.labels_recovered[0]
    console = AttackConsole([coffee], seed=3, recipe=short, steps=4, defence="noise=0.001",
                            known=lambda r: defended_frame(r, run) if r.recipe == short else None)
    try:
        assert console.run().wait(30) and console.last is not None and console.last.stored
        console.set(recipe="idlg")  # a registered recipe: attacked live
        assert console.wait(60) and not console.last.stored and console.last.request.recipe_name == "idlg"
    finally:
        assert console.close()


def test_offline_without_cifar_the_console_says_so_and_with_it_offers_an_index(coffee, monkeypatch, tmp_path):
    from helpers.console import controls

    monkeypatch.setenv("DLG_DATA_DIR", str(tmp_path))
    console = AttackConsole([coffee], recipe="closed-form")
    labels = [label for label, _ in console.controls.image.options]
    assert "No CIFAR-100 in" in console.controls.data_note and not any("CIFAR-100" in x for x in labels)
    console.close()

    monkeypatch.setattr(controls, "cifar100_available", lambda: True)
    asked = []
    monkeypatch.setattr(controls, "load_cifar100", lambda index: asked.append(index) or coffee)
    console = AttackConsole([coffee], recipe="closed-form")
    try:
        assert "CIFAR-100 found" in console.controls.data_note
        with console.controls.quietly():
            console.controls.image.value = ("cifar", 0)
            console.controls.cifar_index.value = 77
        assert console.request().example is coffee and console.request().example is coffee and asked == [77]  # read once
        assert not console.controls.cifar_index.layout.display  # the index box is shown
    finally:
        assert console.close()


@pytest.mark.parametrize("recipe, steps, defence", [("dlg", 8, "noise=0.0001"), ("robust", 5, "prune=0.5"),
                                                    ("closed-form", None, "none")])
def test_the_command_the_console_shows_gives_its_numbers(coffee, capsys, recipe, steps, defence):
    """The line under the view, run through the command line's own entry point, reproduces the
    console's run exactly (same image, seed, recipe, steps, defence and torch threads)."""
    import json
    import shlex

    from helpers.cli import main

    frames = []
    trial = stream_attack(Request(coffee, 11, recipe, steps, defence), frames.append)
    command = frames[-1].request.command(frames[-1].threads)
    assert main(shlex.split(command)[3:]) == 0
    printed = json.loads(capsys.readouterr().out)

    def first(key):  # a defended run prints one value per private image; NaN is written as null
        value = printed[key][0] if isinstance(printed[key], list) else printed[key]
        return math.nan if value is None else value

    same = lambda a, b: a == b or (math.isnan(a) and math.isnan(b))  # noqa: E731
    assert same(first("grad_loss"), trial.result.grad_loss) and same(first("psnr"), trial.metrics.psnr)
    assert printed["status"] == trial.result.status
    assert first("labels_recovered" if "labels_recovered" in printed else "label_recovered") == trial.metrics.label_recovered


def test_the_live_loss_curve_is_the_final_one_as_it_grows(coffee):
    """Frame k's losses are the losses of steps 0..k (NaN where not yet computed): the live curve
    never jumps when the final frame replaces it."""
    for recipe in ("dlg", "robust"):
        frames = []
        trial = stream_attack(Request(coffee, 2, recipe, 6), frames.append, interval=0)
        final = trial.result.losses
        for frame in frames[1:-1]:
            assert len(frame.losses) == frame.step + 1
            for k, value in enumerate(frame.losses):
                assert value != value or value == final[k] or recipe == "robust"  # robust: the lead may change restarts
        assert frames[-1].losses == final


def test_bad_input_stops_the_run_and_keeps_its_message(coffee):
    console = AttackConsole([coffee], seed=1, recipe="dlg", steps=300, interval=0)
    try:
        run = console.run()
        wait_for(lambda: any(s.frame.step >= 1 for s in console.shown))
        console.controls.seed.value = 2**32  # one past the last seed
        assert run.wait(30) and run.outcome == "cancelled"
        assert "a seed is a whole number from 0 to 2**32 - 1" in console.status.value
        assert console.last.status == "stopped"
        time.sleep(0.2)
        assert "a seed is a whole number" in console.status.value  # no frame overwrote it
    finally:
        assert console.close()
