"""gcc's vectorisation report of the kernels, one line per loop of their own code.

gcc -fopt-info-vec-all writes a line for every loop in every place it was inlined into, Cython's
glue included. This keeps the loops of the headers (_pointwise_impl.h, _update.h,
_microkernels_impl.h) and of _kernels.pyx (found through the "_kernels.pyx":N comments Cython
writes into _kernels.c) and says for each whether it was vectorised anywhere, with which vector
width, or else gcc's first reason. The register tiles use vector types by construction, so their
loops show up as "no vectype" (already vectors), not as misses.

    tools/arm64_check.sh --vec-report           # arm64 (NEON), written beside the build
    # x86-64 with SSE2 only (the base build), after a build has generated cnncore/_kernels.c:
    gcc -O3 -fno-math-errno -fno-trapping-math -fopenmp -march=x86-64 -fPIC -Icnncore \\
        -I$(python -c "import numpy; print(numpy.get_include())") \\
        -I$(python -c "import sysconfig; print(sysconfig.get_paths()['include'])") \\
        -c cnncore/_kernels.c -o /tmp/k.o -fopt-info-vec-all=/tmp/x86.txt
    python tools/vec_report.py /tmp/x86.txt cnncore/_kernels.c
"""
from __future__ import annotations

import collections
import re
import sys
from pathlib import Path

LINE = re.compile(r"^(?:.*/)?(cnncore/[\w.]+):(\d+):\d+: (optimized|missed): (.*)$")
HEADERS = ("_pointwise_impl.h", "_update.h", "_microkernels_impl.h")


def pyx_lines(c_file: Path) -> list:
    """For each line of _kernels.c, the _kernels.pyx line Cython generated it from (or None)."""
    out, current = [], None
    for line in c_file.read_text(encoding="utf-8").splitlines():
        found = re.search(r'"cnncore/_kernels\.pyx":(\d+)', line)
        if found:
            current = int(found.group(1))
        out.append(current)
    return out


def summarise(report: Path, c_file: Path) -> list:
    """``[(place, verdict)]``: place ``file:line``, verdict "vectorised (16-byte)" or a reason."""
    to_pyx = pyx_lines(c_file)
    done, missed = collections.defaultdict(set), collections.defaultdict(list)
    for line in report.read_text(encoding="utf-8", errors="replace").splitlines():
        m = LINE.match(line)
        if not m:
            continue
        name, number, kind, text = m.group(1), int(m.group(2)), m.group(3), m.group(4)
        if name.endswith("_kernels.c"):
            if number > len(to_pyx) or to_pyx[number - 1] is None:
                continue
            place = f"cnncore/_kernels.pyx:{to_pyx[number - 1]}"
        elif name.endswith(HEADERS):
            place = f"{name}:{number}"
        else:
            continue
        width = re.match(r"loop vectorized using (\d+) byte vectors", text)
        if kind == "optimized" and width:
            done[place].add(int(width.group(1)))
        elif kind == "missed" and text.startswith("not vectorized:") and "no vectype" not in text:
            missed[place].append(text[len("not vectorized: "):])
    places = sorted(set(done) | set(missed), key=lambda p: (p.split(":")[0], int(p.split(":")[1])))
    return [(p, f"vectorised ({'/'.join(str(w) for w in sorted(done[p], reverse=True))}-byte)" if p in done
             else "not vectorised: " + missed[p][0]) for p in places]


def main(argv: list) -> int:
    if len(argv) != 2:
        print("usage: python tools/vec_report.py GCC_REPORT cnncore/_kernels.c", file=sys.stderr)
        return 2
    for place, verdict in summarise(Path(argv[0]), Path(argv[1])):
        print(f"{place:36s} {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
