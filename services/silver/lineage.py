"""Which bronze versions a silver batch read, from the bronze table's commit history.

Every bronze commit's ``userMetadata`` records the Kafka offsets it holds per partition
(``[first, last + 1)``). A silver batch reads a contiguous run of bronze versions, so the bronze
commits whose ranges meet the batch's per-partition offset span are exactly the versions it
read. The history is read with delta-rs (no JVM) and cached: each batch reads only new commits.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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
        from deltalake import DeltaTable
        from deltalake.exceptions import DeltaProtocolError

        dt = DeltaTable(str(self.path))
        newest = dt.version()
        if newest <= self._newest:
            return
        limit = min(newest - self._newest, self.max_scan)
        try:
            entries = dt.history(limit)
        except DeltaProtocolError:
            # delta-rs cannot parse the version 0 that CONVERT TO DELTA writes (no job's commit).
            entries = dt.history(min(limit, newest)) if newest > 0 else []
        for entry in entries:
            meta = _user_metadata(entry)
            if meta.get("app_id") == self.app_id and isinstance(meta.get("offsets"), dict):
                self._offsets[int(entry["version"])] = meta["offsets"]
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


def _user_metadata(entry: dict[str, Any]) -> dict[str, Any]:
    raw = entry.get("userMetadata")
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}
