"""Summarise a py-spy ``--format raw`` (folded stacks) profile: top self and inclusive frames.

py-spy record -p PID -d 5 -r 200 -f raw -o prof.folded --nonblocking
python bench/_profile_summary.py prof.folded [--top 30] [--filter chatkit]
"""

from __future__ import annotations

import argparse
import collections
import re

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>.*?)(?::(?P<line>\d+))?\)$")


def _short(frame: str) -> str:
    m = _FRAME.match(frame)
    if not m:
        return frame
    f = m.group("file")
    for marker in ("site-packages/", "lib/python3.", "/work/main/"):
        if marker in f:
            f = f.split(marker, 1)[1]
            break
    return f"{m.group('func')} ({f})"


def summarise(path: str, top: int, filt: str | None, exclude: str | None = None) -> str:
    self_c: collections.Counter[str] = collections.Counter()
    incl_c: collections.Counter[str] = collections.Counter()
    total = 0
    idle = 0
    with open(path) as fh:
        for line in fh:
            line = line.rstrip("\n")
            if not line:
                continue
            stack, _, count_s = line.rpartition(" ")
            n = int(count_s)
            if exclude and exclude in stack:
                continue
            frames = [_short(f) for f in stack.split(";") if f and not f.startswith("process ")]
            frames = [f for f in frames if not f.startswith("thread ")]
            total += n
            if frames and ("select (selectors" in frames[-1] or "run_forever" in frames[-1]):
                idle += n
            if frames:
                self_c[frames[-1]] += n
            for f in set(frames):
                incl_c[f] += n
            if any("gc_collect" in f or "collect_with_callback" in f for f in frames):
                incl_c["__gc__"] += n
    out = [f"samples: {total}  (event-loop idle/poll leaf: {idle})"]
    gc_n = incl_c.get("__gc__", 0)
    if gc_n:
        out.append(f"in the cyclic GC (native frames): {100 * gc_n / total:.1f}%")
    out += ["", "top self:"]
    for f, n in self_c.most_common(top):
        out.append(f"  {100 * n / total:5.1f}%  {f}")
    out += ["", "top inclusive" + (f" (matching {filt!r})" if filt else "") + ":"]
    shown = 0
    for f, n in incl_c.most_common():
        if filt and filt not in f:
            continue
        out.append(f"  {100 * n / total:5.1f}%  {f}")
        shown += 1
        if shown >= top:
            break
    return "\n".join(out)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("path")
    p.add_argument("--top", type=int, default=30)
    p.add_argument("--filter", default=None, help="inclusive list: only frames containing this")
    p.add_argument("--exclude", default=None, help="drop stacks containing this (e.g. a thread)")
    a = p.parse_args()
    print(summarise(a.path, a.top, a.filter, a.exclude))


if __name__ == "__main__":
    main()
