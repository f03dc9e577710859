"""Which arithmetic a run uses: the CPU's vector instructions, and how to pin them.

When torch starts it picks the widest vector instructions the CPU offers (AVX-512, AVX2,
...) for its own kernels (ATen), for oneDNN's convolutions and for MKL's linear algebra.
Wider vectors add the same numbers in a different order, so the last bits of a float32
result differ from one kind of CPU to another. Most computations do not care. The faithful
DLG attack does: L-BFGS with no line search is chaotic in its first steps, so a last-bit
difference can decide whether a seed converges or diverges (notebook 05b).

Three environment variables pin the choice. They are read once, when torch first uses each
library, so a setting applies to a *fresh* process: :func:`environment` gives the
environment for one, and :func:`helpers.pool.parallel_map` starts its workers with it.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from pathlib import Path

VARIABLES = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_CBWR")


@dataclass(frozen=True)
class Arithmetic:
    """A named choice of vector instructions: the variables a worker starts with (a variable
    not named here is removed, so the worker does not inherit its parent's choice)."""

    name: str
    description: str
    variables: dict[str, str] = field(default_factory=dict)


NATIVE = Arithmetic("native", "whatever this CPU offers: nothing forced")
AVX2 = Arithmetic(
    "avx2",
    "at most AVX2 in ATen and oneDNN, MKL in its AVX2 reproducibility mode",
    {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2"},
)
PORTABLE = Arithmetic(
    "portable",
    "ATen's baseline kernels, oneDNN limited to SSE4.1, MKL in its conditional-numerical-"
    "reproducibility mode COMPATIBLE: one instruction set that every x86-64 CPU of the last "
    "fifteen years has, chosen so that the same wheels give the same digits on any of them",
    {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41", "MKL_CBWR": "COMPATIBLE"},
)
SETTINGS: dict[str, Arithmetic] = {a.name: a for a in (NATIVE, AVX2, PORTABLE)}


def get_arithmetic(setting: str | Arithmetic) -> Arithmetic:
    """A setting by name (or the setting itself)."""
    if isinstance(setting, str) and setting not in SETTINGS:
        raise ValueError(f"unknown arithmetic {setting!r}; choose one of: {', '.join(SETTINGS)}")
    return SETTINGS[setting] if isinstance(setting, str) else setting


def environment(setting: str | Arithmetic, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a fresh process that computes with ``setting``: ``base`` (default:
    this process's environment) with the three variables replaced by the setting's."""
    setting = get_arithmetic(setting)
    env = {k: v for k, v in (os.environ if base is None else base).items() if k not in VARIABLES}
    return env | setting.variables


def forced() -> dict[str, str]:
    """The instruction-set variables this process was started with (empty: native)."""
    return {k: os.environ[k] for k in VARIABLES if k in os.environ}


def cpu_model() -> str:
    """The processor's model name (Linux), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe() -> dict[str, object]:
    """This process's arithmetic: the capability ATen chose, the forced variables, the CPU."""
    import torch

    return {
        "aten_capability": torch.backends.cpu.get_cpu_capability(),
        "forced": forced(),
        "cpu": cpu_model(),
        "machine": platform.machine(),
        "torch": torch.__version__,
    }


def describe_job(_: object = None) -> dict[str, object]:
    """:func:`describe` as a pool job: what a worker process computes with."""
    return describe()
