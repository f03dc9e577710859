"""Figures of the series, one module per kind of figure; every name is importable from here
(``from helpers import plots; plots.compare(...)``)."""

from .bars import grouped_bars, label_bars, rate_bars, recipe_bars
from .curves import function_panels, log_x_panels, loss_curves, psnr_curves, trace_panels
from .distributions import histograms, outcome_scatter, psnr_histogram, scatter_groups, strength_panels
from .images import compare, image_grid, image_rows, recovered_vs_true, snapshot_strip, trial_title
from .tradeoff import privacy_tradeoff
from .style import FAIL_COLOR, RECON_COLOR, SEED_COLORS, STYLE, TRUE_COLOR, show_image, to_picture, use_style
from .verdicts import verdict_grid

__all__ = [
    "FAIL_COLOR", "RECON_COLOR", "SEED_COLORS", "STYLE", "TRUE_COLOR",
    "compare", "function_panels", "grouped_bars", "histograms", "image_grid", "image_rows", "label_bars",
    "log_x_panels", "loss_curves", "outcome_scatter", "privacy_tradeoff", "psnr_curves", "psnr_histogram", "rate_bars",
    "recipe_bars", "recovered_vs_true", "scatter_groups", "show_image", "snapshot_strip", "strength_panels",
    "to_picture", "trace_panels", "trial_title", "use_style", "verdict_grid",
]
