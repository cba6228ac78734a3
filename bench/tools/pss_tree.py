#!/usr/bin/env python3
"""pss_tree.py ROOT_PID...: total proportional set size (KiB) of the given processes and all
their descendants, from /proc/PID/smaps_rollup. PSS splits shared pages between the processes
that map them, so a runtime's shared binaries are not counted once per process. Prints
`pss_kib=N procs=M`."""
import os
import sys


def children_map():
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
        except OSError:
            continue
        ppid = int(s[s.rfind(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(d))
    return kids


def pss_kib(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def main():
    roots = [int(a) for a in sys.argv[1:]]
    kids = children_map()
    seen, todo = set(), list(roots)
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        todo.extend(kids.get(p, []))
    print(f"pss_kib={sum(pss_kib(p) for p in seen)} procs={len(seen)}")


if __name__ == "__main__":
    main()
