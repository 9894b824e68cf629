"""Folds `perf script` call stacks (stdin) into one line per distinct stack, outermost frame
first, with its sample count: the input of flame graph tools (flamegraph.pl, inferno, speedscope)."""
import collections
import re
import sys

stacks = collections.Counter()
frames = []
comm = None


def flush():
    if comm is not None and frames:
        stacks[";".join([comm] + frames[::-1])] += 1


for line in sys.stdin:
    line = line.rstrip("\n")
    if not line.strip():
        flush()
        frames, comm = [], None
    elif not line.startswith((" ", "\t")):
        flush()
        frames = []
        comm = line.split()[0]
    else:
        parts = line.strip().split(None, 1)
        sym = parts[1] if len(parts) > 1 else "[unknown]"
        kernel = sym.endswith("([kernel.kallsyms])")
        sym = re.sub(r"\s+\([^()]*\)$", "", sym)  # the DSO
        if kernel:
            sym += "_[k]"
        # Rust symbols: drop the hash suffix; keep generic arguments out (they make stacks unique).
        sym = re.sub(r"::h[0-9a-f]{16}$", "", sym)
        sym = re.sub(r"\+0x[0-9a-f]+$", "", sym)
        frames.append(sym.replace(";", ":"))
flush()
for stack, n in stacks.most_common():
    print(stack, n)
