"""The attack console: ipywidgets controls over a live attack.

Every change of an input starts the attack it describes in a worker thread
(:class:`helpers.live.LiveRunner`) and cancels the one running; frames stream into the view
while the kernel stays free; Stop cancels at the attack's next evaluation. A request the
caller already has a result for (``known``) is replayed at once instead of rerun.

Displayed, the console is a widget and, for a page without a kernel (GitHub, nbviewer, an
HTML export), also a PNG of its current view in the same output.
"""

from __future__ import annotations

import base64
import html
import time
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable, Sequence

from ..attacks import Recipe, get_recipe
from ..data import DataError, Example, load_sample_set
from ..experiments import Trial
from ..live import LiveRunner, Run
from .controls import CONTROLS, Controls
from .stream import STOPPED, Frame, Request, final_frame, stream_attack
from .view import STATUS_COLOR, ConsoleView, metrics_line, status_line

Known = Callable[[Request], "Trial | Frame | None"]
# How fast the console must answer, in seconds (benchmarks/console_latency.py measures them; the
# browser test checks what a page sees): the new run's first frame after a change, the closed
# form's final frame, the longest gap between frames of a search, and the old attack's end.
TARGETS = {"first frame": 1.0, "closed-form finished": 2.0, "frame interval": 2.0, "stop": 0.5}


@dataclass
class Shown:
    """One frame that reached the view: when, from which run, and what it said."""

    at: float  # time.perf_counter() when the view was updated
    run: int
    frame: Frame


class AttackConsole:
    """Controls, a live view and a Stop button over :func:`.stream.stream_attack`.

    ``examples``: the images offered (default: the bundled sample; CIFAR-100 by index when
    it is on disk; an upload); ``controls``: which inputs to show (the others keep their
    starting values); ``known(request)``: a stored :class:`~helpers.experiments.Trial` (or a
    ready :class:`~.stream.Frame`, e.g. :func:`~.stream.defended_frame`) to replay for a
    request, or ``None`` to run it."""

    def __init__(
        self,
        examples: Sequence[Example] | None = None,
        *,
        seed: int = 78483847,
        recipe: str | Recipe = "dlg",
        steps: int = 100,
        defence: str = "none",
        controls: Iterable[str] = CONTROLS,
        seed_range: tuple[int, int] = (0, 1000),
        known: Known | None = None,
        interval: float = 0.25,
        title: str = "",
    ) -> None:
        import ipywidgets as w

        self.known = known
        self.interval = interval
        self.view = ConsoleView()
        self.runner = LiveRunner(self._show, self._failed)
        self.shown: list[Shown] = []  # every frame that reached the view (the benchmark and tests read it)
        self.last: Frame | None = None
        self.last_run = 0  # the run whose frame self.last is
        self.png = b""
        images = list(examples) if examples is not None else load_sample_set()
        self.controls = Controls(images, self.run, self._refuse, seed=seed, recipe=recipe, steps=steps, defence=defence,
                                 shown=controls, seed_range=seed_range)
        self.run_button = w.Button(description="Run", button_style="primary", icon="play", layout=w.Layout(width="90px"))
        self.stop_button = w.Button(description="Stop", button_style="danger", icon="stop", layout=w.Layout(width="90px"))
        self.status = w.HTML()
        self.note = w.HTML()
        self.picture = w.Image(format="png", layout=w.Layout(width="960px", max_width="100%"))
        heading = w.HTML(f"<b style='font-size:120%'>{html.escape(title)}</b>" if title else "")
        buttons = w.HBox([self.run_button, self.stop_button, self.status])
        self.widget = w.VBox([heading, *self.controls.rows, buttons, self.picture, self.note])
        for name, widget in (("status", self.status), ("view", self.picture), ("run", self.run_button),
                             ("stop", self.stop_button), ("note", self.note), *self.controls.named()):
            widget.add_class(f"dlg-console-{name}")  # stable handles for a browser test and custom CSS
        self.run_button.on_click(lambda _: self.run())
        self.stop_button.on_click(lambda _: self.stop())

    def request(self) -> Request:
        """The attack the controls describe now."""
        return self.controls.request()

    # ------------------------------------------------------------------ running

    def run(self) -> Run | None:
        """Start the attack the controls describe (cancelling the running one); returns its run."""
        try:
            request = self.request()
        except (DataError, ValueError) as error:
            self._refuse(f"cannot run: {error}")
            return None
        stored = self.known(request) if self.known is not None else None
        if stored is not None:
            return self.runner.start(lambda run: self._replay(run, request, stored))
        return self.runner.start(lambda run: stream_attack(
            request, lambda frame: self._emit(run, frame), run.checkpoint, interval=self.interval))

    def stop(self) -> None:
        """Cancel the running attack; its thread ends at the attack's next evaluation (the closed
        form: its next layer). The view keeps the last frame, marked stopped."""
        run = self.runner.stop()
        if run is None or run.ended is not None:
            return
        if self.last is not None and self.last_run == run.number and not self.last.done:
            stopped = replace(self.last, status=STOPPED)
            self._draw(stopped, self.view.render(stopped), run.number)
        else:  # stopped before its first frame: the view still shows an earlier run
            self._set_status("stopped before the attack's first frame", STATUS_COLOR[STOPPED])

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the running attack to end; returns whether it has."""
        return self.runner.wait(timeout)

    def close(self, timeout: float = 10.0) -> bool:
        """Stop the attack and wait for its thread; returns whether nothing is left running."""
        return self.runner.close(timeout)

    def set(self, **values: Any) -> None:
        """Move controls as a person would (``seed=``, ``recipe=``, ``steps=``, ``defence=``,
        ``strength=``, ``image=`` an index into the images): each change starts a run."""
        for name, value in values.items():
            widget = getattr(self.controls, name)
            if name == "image":
                value = ("example", value)
            elif name == "recipe":
                value = get_recipe(value)
            widget.value = value

    def show(self, wait: bool = True) -> "AttackConsole":
        """Display the console and run the attack its controls describe. With ``wait`` the
        cell waits for that first run, then leaves its final view as the static picture; while it
        waits the kernel is busy, so the controls (Stop included) answer once that run is done.
        Keep the first run short."""
        from IPython.display import display

        handle = display(self, display_id=True)
        self.run()
        if wait:
            self.wait()
            if handle is not None:
                handle.update(self)
        return self

    def snapshot(self) -> Any:
        """The current view as an ordinary picture (what a page without a kernel can show)."""
        from IPython.display import Image

        return Image(self.png)

    # ------------------------------------------------------------------ drawing

    def _emit(self, run: Run, frame: Frame) -> None:
        png = self.view.render(frame)
        run.emit((frame, png))

    def _replay(self, run: Run, request: Request, stored: Trial | Frame) -> None:
        frame = stored if isinstance(stored, Frame) else final_frame(request, stored, stored.result.seconds, stored=True)
        run.emit((frame, self.view.render(frame)))

    def _show(self, run: Run, payload: tuple[Frame, bytes]) -> None:
        frame, png = payload
        self._draw(frame, png, run.number)

    def _draw(self, frame: Frame, png: bytes, number: int) -> None:
        self.last, self.last_run, self.png = frame, number, png
        self.picture.value = png
        self._set_status(f"{frame.request.describe()}\n{status_line(frame)} · {metrics_line(frame)}",
                         STATUS_COLOR.get(frame.status, "black"))
        note = [self.controls.data_note]
        if frame.done and not frame.stored and frame.request.command(frame.threads):
            note.append(f"The same attack from a terminal: <code>{html.escape(frame.request.command(frame.threads))}</code>")
        self.note.value = "<br>".join(note)
        self.shown.append(Shown(time.perf_counter(), number, frame))
        del self.shown[:-2000]

    def _failed(self, run: Run, error: BaseException) -> None:
        self._set_status(f"error: {type(error).__name__}: {error}", STATUS_COLOR["diverged"])

    def _refuse(self, text: str) -> None:
        """Bad input: stop what runs (so no frame overwrites the message) and say why in one line."""
        self.stop()
        self._set_status(text, STATUS_COLOR["diverged"])

    def _set_status(self, text: str, color: str) -> None:
        lines = "<br>".join(html.escape(line) for line in text.split("\n"))
        self.status.value = f"<span style='color:{color}; font-size:110%'>{lines}</span>"

    # ------------------------------------------------------------------ display

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict:
        bundle = dict(self.widget._repr_mimebundle_(include=include, exclude=exclude))
        if self.png:
            bundle["image/png"] = base64.b64encode(self.png).decode("ascii")
        bundle["text/plain"] = f"attack console: {status_line(self.last)}" if self.last else "attack console"
        return bundle
