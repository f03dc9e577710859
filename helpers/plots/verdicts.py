"""Verdicts per seed and setting: which runs succeeded, failed or diverged, and which seeds
change verdict with the setting."""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt

from .style import FAIL_COLOR, RECON_COLOR


def verdict_grid(
    rows: Mapping[str, Sequence[str]],
    seeds: Sequence[int],
    title: str = "",
    colours: Mapping[str, str] | None = None,
) -> plt.Figure:
    """One row per setting, one square per seed, coloured by that run's verdict (``"success"``,
    ``"failure"``: an image below the mark, or ``"diverged"``: no image); a column in which the
    seed succeeds in one setting and not in another is marked above the grid."""
    colours = dict(colours or {"success": RECON_COLOR, "failure": "#bdbdbd", "diverged": FAIL_COLOR})
    names_of = {"success": "success (≥ 30 dB)", "failure": "image below 30 dB", "diverged": "diverged (no image)"}
    names = list(rows)
    fig, ax = plt.subplots(figsize=(max(8.0, 0.32 * len(seeds) + 2.5), 0.75 * len(names) + 2.2))
    for r, name in enumerate(names):
        for c, verdict in enumerate(rows[name]):
            ax.add_patch(plt.Rectangle((c, r), 0.92, 0.92, color=colours[verdict]))
    for c in range(len(seeds)):
        if len({rows[name][c] == "success" for name in names}) > 1:
            ax.plot(c + 0.46, -0.35, marker="^", color="black", markersize=9, clip_on=False)
    ax.set_xlim(0, len(seeds))
    ax.set_ylim(-0.6, len(names))
    ax.invert_yaxis()
    ax.set_yticks([r + 0.46 for r in range(len(names))], names)
    step = 1 if len(seeds) <= 40 else max(1, len(seeds) // 20)
    ax.set_xticks([c + 0.46 for c in range(0, len(seeds), step)], [str(seeds[c]) for c in range(0, len(seeds), step)],
                  fontsize=10)
    ax.set_xlabel("seed (▲: succeeds in one setting and not in another)")
    ax.tick_params(length=0)
    for side in ("left", "bottom"):
        ax.spines[side].set_visible(False)
    handles = [plt.Rectangle((0, 0), 1, 1, color=colour) for colour in colours.values()]
    ax.legend(handles, [names_of.get(k, k) for k in colours], loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    ax.set_title(title)
    fig.tight_layout()
    return fig
