"""Which legacy row became what (chat.LegacyRecord), held in memory for the run.

Every lookup the import makes (was this row imported? which session did this booking
become? which message does this id name?) is answered here without a query. Records
written during a conversation are staged and join the index only once its transaction has
committed, so a conversation that fails leaves no trace in it either.
"""

from collections import defaultdict
from typing import NamedTuple

from chat.models import LegacyRecord


class Target(NamedTuple):
    type: str
    id: int | None


class RecordIndex:
    def __init__(self) -> None:
        self.by_row: dict[tuple[str, str], Target] = {}
        self.by_id: dict[str, list[tuple[str, Target]]] = defaultdict(list)
        rows = LegacyRecord.objects.values_list(
            "source_table", "legacy_id", "target_type", "target_id"
        )
        for table, legacy_id, target_type, target_id in rows.iterator(chunk_size=5000):
            self._index(table, legacy_id, Target(target_type, target_id))
        self.staged: list[LegacyRecord] = []

    def _index(self, table: str, legacy_id: str, target: Target) -> None:
        self.by_row[(table, legacy_id)] = target
        self.by_id[legacy_id].append((table, target))

    def get(self, table: str, legacy_id: str) -> Target | None:
        return self.by_row.get((table, legacy_id))

    def find(self, legacy_id: str, *, table: str = "", target_type: str = "") -> Target | None:
        """What a legacy id became, preferring `table`'s record, of `target_type` if given."""
        found = [
            (t, target)
            for t, target in self.by_id.get(legacy_id, ())
            if not target_type or target.type == target_type
        ]
        for t, target in found:
            if t == table:
                return target
        return found[0][1] if found else None

    def stage(
        self,
        table: str,
        legacy_id: str,
        target_type: str,
        target_id: int | None,
        *,
        merged_into: str = "",
        outcome: str = "created",
    ) -> None:
        self.staged.append(
            LegacyRecord(
                source_table=table,
                legacy_id=legacy_id,
                target_type=target_type,
                target_id=target_id,
                merged_into=merged_into,
                outcome=outcome,
            )
        )

    def flush(self) -> None:
        """Write the staged records (inside the caller's transaction)."""
        LegacyRecord.objects.bulk_create(self.staged, batch_size=1000, ignore_conflicts=True)

    def commit(self) -> None:
        """The transaction that wrote the staged records committed: index them."""
        for record in self.staged:
            self._index(
                record.source_table, record.legacy_id, Target(record.target_type, record.target_id)
            )
        self.staged = []

    def discard(self) -> None:
        self.staged = []
