# SPDX-License-Identifier: MIT
# A CPython workload that calls into libc and libpython through the PLT all
# the time: with LD_BIND_NOT=1 every such call goes through ld.so's
# lazy-binding trampoline (_dl_runtime_resolve_*, CFA = rbx + 32).
# usage: python3 unw_pybusy.py SECONDS
import sys
import time

end = time.time() + float(sys.argv[1])
x = 0
while time.time() < end:
    for i in range(2000):
        x += len(str(i)) + hash((i, x))
