"""Command line: the same chain as the notebooks, scriptable, numbers as JSON.

    python -m helpers attack --seed 78483847 --json
    python -m helpers attack --seed 1234 --index 4 --out out/
    python -m helpers attack --seed 1 --image photo.jpg --label 17 --recipe idlg
    python -m helpers sweep --seeds 0-99 --recipe dlg --json
    python -m helpers attack --seed 78483847 --defence noise=1e-2        # or prune=0.3, fp16, int8, batch=4
    python -m helpers sweep --seeds 0,2 --defence prune=0.1,0.3,0.5 --save out/prune
    python -m helpers fl --clients 4 --rounds 2 --local-steps 1 --recipe closed-form --json
    python -m helpers sweep --seeds 0-99 --backend ray --address HEAD:6379
    python -m helpers samples
"""

from __future__ import annotations

import sys
from typing import Sequence

from ..data import DataError
from ..ray_pool import ClusterError
from .commands import list_samples, run_attack_command, run_sweep_command
from .parser import INTERNAL_EXIT, USAGE_EXIT, UsageError, build_parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; bad input is one line on stderr and exit 2, an internal error one line
    and exit 1 (``--debug``: the traceback instead)."""
    args = None
    try:
        args = build_parser().parse_args(argv)
        args.argv = list(sys.argv[1:] if argv is None else argv)  # what was asked, for stored records
        if args.command == "samples":
            return list_samples()
        if args.command == "sweep":
            return run_sweep_command(args)
        if args.command == "fl":
            from .federated import run_fl_command

            return run_fl_command(args)
        return run_attack_command(args)
    except (UsageError, DataError, ClusterError) as err:
        print(f"error: {err}", file=sys.stderr)
        return USAGE_EXIT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        if args is not None and args.debug:
            raise
        print(f"internal error: {type(err).__name__}: {err} (run again with --debug for the traceback)", file=sys.stderr)
        return INTERNAL_EXIT



if __name__ == "__main__":
    sys.exit(main())
