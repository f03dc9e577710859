"""Notebook conveniences: show a helper's source once, where the lesson introduces it."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import IPython.display


def show_source(obj: object) -> "IPython.display.Code":
    """The source of a helper function or class, syntax-highlighted in a notebook."""
    from IPython.display import Code

    return Code(inspect.getsource(obj), language="python")
