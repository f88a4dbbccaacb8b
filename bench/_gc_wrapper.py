"""What-if wrapper for bench/relay.py --gc-experiment: run `python -m chatkit ...` with the
cyclic GC tuned from outside, without touching chatkit's code.

    python bench/_gc_wrapper.py MODE -- serve --host ... (arguments of `python -m chatkit`)

MODE: ``freeze`` (import chatkit's whole server stack, collect, ``gc.freeze()`` so the startup
heap is never traversed again), ``threshold`` (``gc.set_threshold(50_000, 20, 100)``), or
``both``. Profiles showed the GC taking a large share of chatkit's event-loop thread under load.
"""

from __future__ import annotations

import gc
import sys


def main() -> int:
    mode = sys.argv[1]
    argv = sys.argv[3:] if sys.argv[2:3] == ["--"] else sys.argv[2:]
    if mode in ("threshold", "both"):
        gc.set_threshold(50_000, 20, 100)
    # import everything the server uses before freezing
    import chatkit.app
    import chatkit.cli

    if mode in ("freeze", "both"):
        gc.collect()
        gc.freeze()
    return int(chatkit.cli.main(argv) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
