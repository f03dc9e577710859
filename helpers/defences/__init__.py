"""Gradient defences: what a client does to its gradient before sharing it, and what that
costs it. (What the client shares a gradient *of*, e.g. a local batch, is the client's
business: :mod:`helpers.experiments.client`.)"""

from .cost import Cost, defence_cost
from .spec import SPEC_HELP, parse_defence, parse_defences
from .transforms import Defence, NoDefence, Noise, Prune, Quantise

__all__ = ["Cost", "Defence", "NoDefence", "Noise", "Prune", "Quantise", "SPEC_HELP", "defence_cost",
           "parse_defence", "parse_defences"]
