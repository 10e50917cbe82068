"""Which bronze versions a silver batch read, from the bronze table's commit history.

Every bronze commit's ``userMetadata`` records the Kafka offsets it holds per partition
(``[first, last + 1)``). A silver batch reads a contiguous run of bronze versions, so the bronze
commits whose ranges meet the batch's per-partition offset span are exactly the versions it
read. The history is read with delta-rs (no JVM) and cached: each batch reads only new commits.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["BronzeVersions"]

Ranges = dict[tuple[str, int], tuple[int, int]]  # (topic, partition) -> (min, max) offset


class BronzeVersions:
    """The bronze commits of ``app_id`` at ``path`` by version, read incrementally."""

    def __init__(self, path: Path, app_id: str, *, max_scan: int = 5000) -> None:
        self.path = path
        self.app_id = app_id
        self.max_scan = max_scan
        self._offsets: dict[int, dict[str, dict[str, list[int]]]] = {}
        self._newest = -1

    def _refresh(self) -> None:
        from txn_lake.facts import commits

        newest, entries = commits(self.path, self._newest, self.max_scan)
        for info in entries:
            meta = info.user_metadata or {}
            if meta.get("app_id") == self.app_id and isinstance(meta.get("offsets"), dict):
                self._offsets[info.version] = meta["offsets"]
        self._newest = newest

    def versions(self, ranges: Ranges) -> list[int]:
        """Sorted bronze versions whose offsets meet ``ranges`` (the batch's offset spans)."""
        if not ranges:
            return []
        self._refresh()
        out = []
        for version, offsets in self._offsets.items():
            for (topic, part), (low, high) in ranges.items():
                span = offsets.get(topic, {}).get(str(part))
                if span and span[0] <= high and low < span[1]:
                    out.append(version)
                    break
        return sorted(out)
