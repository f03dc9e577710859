"""The live attack console: any image, seed, recipe, step count and defence, attacked while
you watch, streamed step by step and stoppable at once.

    stream (a request -> frames, through the trial pipeline) -> view (a frame -> a figure)
        -> app (the ipywidgets console: controls, a worker thread, a static view)
"""

from .app import TARGETS, AttackConsole
from .stream import Frame, Request, defended_frame, final_frame, stream_attack

__all__ = ["TARGETS", "AttackConsole", "Frame", "Request", "defended_frame", "final_frame", "stream_attack"]
