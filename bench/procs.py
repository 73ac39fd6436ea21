"""Looking at processes through /proc: the tree under a server, its memory and CPU time."""

from __future__ import annotations

import os


def _stat_fields(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as f:
        # The command name is in parentheses and may hold spaces: split after the last ')'.
        return f.read().rsplit(")", 1)[1].split()


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (scans /proc; fine for a few hundred processes)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if int(_stat_fields(int(entry))[1]) == pid:
                out.append(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    return out


def uss_kib(pid: int) -> int:
    """Unique set size: Private_Clean + Private_Dirty from /proc/PID/smaps_rollup, in KiB."""
    total = 0
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith(("Private_Clean:", "Private_Dirty:")):
                total += int(line.split()[1])
    return total


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cmdline(pid: int) -> str:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read().replace(b"\0", b" ").decode(errors="replace").strip()


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes so far (those that are gone count as 0)."""
    hz = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = _stat_fields(pid)
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / hz


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, their children, ...), from one scan of /proc."""
    by_parent: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            by_parent.setdefault(int(_stat_fields(int(entry))[1]), []).append(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    out: list[int] = []
    todo = [pid]
    while todo:
        found = by_parent.get(todo.pop(), [])
        out += found
        todo += found
    return out


def group_uss_kib(pids: list[int]) -> int | None:
    """USS of a group of processes: pages mapped by these processes and no others, in KiB.

    A zygote forks a helper that shares most of its pages copy-on-write; each one's own USS
    misses those pages, though they exist only because of the two. This counts a page when its
    map count (/proc/kpagecount) equals its mappings inside the group (from /proc/PID/pagemap),
    smaps' rule for ``Private_*`` applied to the group. Needs root (page frame numbers): None without.
    """
    page = os.sysconf("SC_PAGE_SIZE")
    seen: dict[int, int] = {}
    for pid in pids:
        with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/pagemap", "rb") as pagemap:
            for line in maps:
                start, end = (int(x, 16) for x in line.split(None, 1)[0].split("-"))
                for first in range(start // page, end // page, 1 << 16):
                    pagemap.seek(first * 8)
                    data = pagemap.read(min(1 << 16, end // page - first) * 8)
                    for entry in memoryview(data).cast("Q"):
                        if entry >> 63 and not (entry >> 62) & 1:  # present, not swapped
                            pfn = entry & ((1 << 55) - 1)
                            seen[pfn] = seen.get(pfn, 0) + 1
    if not seen or all(pfn == 0 for pfn in seen):
        return None  # page frame numbers read as 0: not root
    unique = 0
    with open("/proc/kpagecount", "rb") as counts:
        for pfn, mapped in seen.items():
            counts.seek(pfn * 8)
            if int.from_bytes(counts.read(8), "little") == mapped:
                unique += 1
    return unique * page // 1024
