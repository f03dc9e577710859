"""What Flower's simulation and Ray cost on this machine, and a sweep on the process pool
against the same sweep as Ray tasks.

    python benchmarks/flower_ray.py                          # both parts, the defaults below
    python benchmarks/flower_ray.py --fl "--clients 2 --rounds 1" --seeds 0-19

1. ``python -m helpers fl <--fl options> --json`` in a child process, watched every half
   second: its wall time, the simulation's own wall time (from its JSON), the most processes
   it and Ray ran at once, and the most memory they held together (proportional set size,
   so shared libraries count once), then whether any Ray process outlived it. The PSNR of
   every attack, by round and client.
2. ``python -m helpers sweep --seeds <--seeds> --recipe <--recipe> --json`` with
   ``--backend pool`` and with ``--backend ray`` (a local Ray started for the sweep): the
   wall time of each command, the sweep's own wall time, and whether every seed gave the same
   numbers on both.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import threading
import time

import psutil

RAY = ("raylet", "gcs_server", "ray::", "ray/dashboard", "log_monitor.py", "ray/autoscaler")


def ray_pids() -> set[int]:
    found = set()
    for p in psutil.process_iter(["cmdline", "status"]):
        try:
            if p.info["status"] != psutil.STATUS_ZOMBIE and any(k in " ".join(p.info["cmdline"] or []) for k in RAY):
                found.add(p.pid)
        except psutil.Error:
            pass
    return found


def watched(argv: list[str]) -> tuple[dict, str]:
    """Run ``argv``; sample its process tree and Ray's processes until it ends."""
    before = ray_pids()
    start = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = {"processes": 0, "pss_mb": 0.0}
    out: list[str] = []
    errors: list[str] = []
    reader = threading.Thread(target=lambda: out.append(child.stdout.read()), daemon=True)
    reader.start()
    threading.Thread(target=lambda: errors.append(child.stderr.read()), daemon=True).start()
    while child.poll() is None:
        try:
            tree = {child.pid} | {c.pid for c in psutil.Process(child.pid).children(recursive=True)}
        except psutil.Error:
            tree = set()
        pids = (tree | ray_pids()) - before
        total = 0.0
        for pid in pids:
            try:
                total += psutil.Process(pid).memory_full_info().pss / 2**20
            except psutil.Error:
                pass
        peak["processes"] = max(peak["processes"], len(pids))
        peak["pss_mb"] = max(peak["pss_mb"], total)
        time.sleep(0.5)
    reader.join()
    wall = time.perf_counter() - start
    if child.returncode != 0:
        time.sleep(0.5)
        raise SystemExit(f"{' '.join(argv[1:])} failed: {''.join(errors).strip()[-500:]}")
    time.sleep(5)
    return peak | {"wall_seconds": round(wall, 1), "left_running": len(ray_pids() - before),
                   "returncode": child.returncode}, "".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fl", default="--clients 4 --rounds 2 --local-steps 1 --recipe closed-form")
    parser.add_argument("--seeds", default="0-99")
    parser.add_argument("--recipe", default="closed-form")
    parser.add_argument("--skip", choices=("fl", "sweep"), action="append", default=[])
    args = parser.parse_args()
    print(f"{psutil.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB")
    python = [sys.executable, "-m", "helpers"]
    if "fl" not in args.skip:
        stats, out = watched(python + ["fl", *shlex.split(args.fl), "--json"])
        record = json.loads(out)
        print(f"fl {args.fl}: {stats['wall_seconds']} s for the command, {record['wall_seconds']} s of simulation; "
              f"at most {stats['processes']} processes holding {stats['pss_mb']:.0f} MB together (PSS); "
              f"Ray processes left running afterwards: {stats['left_running']}")
        for a in record["attacks"]:
            psnr = "none" if a["psnr"] is None else f"{float(a['psnr']):.1f} dB"
            ssim = "none" if a["ssim"] is None else f"{a['ssim']:.3f}"
            print(f"  round {a['round']} client {a['client']} {a['image']:<20} PSNR {psnr} SSIM {ssim} "
                  f"label {a['label_true']}->{a['label_recovered']}")
    if "sweep" not in args.skip:
        results = {}
        for backend in ("pool", "ray"):
            argv = python + ["sweep", "--seeds", args.seeds, "--recipe", args.recipe, "--json", "--backend", backend]
            stats, out = watched(argv)
            record = json.loads(out)
            results[backend] = [{k: v for k, v in t.items() if k != "seconds"} for t in record["trials"]]
            print(f"sweep {args.seeds} {args.recipe} --backend {backend}: {stats['wall_seconds']} s for the command, "
                  f"{record['summary']['wall_seconds']} s of sweep on {os.cpu_count()} workers; at most "
                  f"{stats['processes']} processes, {stats['pss_mb']:.0f} MB (PSS); Ray left running: {stats['left_running']}")
        print("every seed the same on both backends:", results["pool"] == results["ray"])


if __name__ == "__main__":
    main()
