"""Experiments: one trial pipeline (a seed, a client, an optional defence, an attack, a
score), sweeps of it over seeds and defences, their summaries and their storage.

    client -> trial -> defended -> sweeps -> summaries / storage / timing
    storage, summaries -> long_runs (the shipped full-length runs) -> long_run_tables (the README's)
"""

from .client import LocalBatch, batch_size, pair_reconstructions, parse_condition, parse_conditions
from .defended import DefenceRun, defended_attack
from .storage import load_runs, save_runs, to_json
from .summaries import Point, SweepSummary, points, summarise, threshold
from .sweeps import attack_job, defence_job, defence_sweep, parse_seeds, run_sweep, timed_sweep
from .timing import Timing, time_to_psnr, timing_job
from .trial import Trial, attack_example, attack_shared, attacks_batches, score

__all__ = [
    "DefenceRun", "LocalBatch", "Point", "SweepSummary", "Timing", "Trial", "attack_example", "attack_job",
    "attack_shared", "attacks_batches", "batch_size", "defence_job", "defence_sweep", "defended_attack", "load_runs",
    "pair_reconstructions", "parse_condition", "parse_conditions", "parse_seeds", "points", "run_sweep",
    "save_runs", "score", "summarise", "threshold", "time_to_psnr", "timed_sweep", "timing_job", "to_json",
]
