# SPDX-License-Identifier: MIT
# CPython recursing DEPTH deep through a C builtin: every level is
# rec -> sum() -> map() -> rec, so each Python call also nests a handful of
# C frames of the interpreter (sum, map_next, the vectorcall path, the eval
# loop): the stack is far deeper than its 300 Python frames suggest.
# SECONDS is CPU time (the machine may be busy): the share of samples taken
# while the interpreter starts and exits stays small.
#   python3 cap_pymap.py [SECONDS] [DEPTH]
import sys
import time


def burn():
    x = 0
    for i in range(30000):
        x += i * i
    return x


def rec(n):
    if n == 0:
        return burn()
    return sum(map(rec, [n - 1]))


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
    depth = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    sys.setrecursionlimit(depth * 4 + 100)
    end = time.process_time() + seconds
    n = 0
    while time.process_time() < end:
        rec(depth)
        n += 1
    print("rounds: %d of rec(%d)" % (n, depth))


main()
