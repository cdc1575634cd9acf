"""The import's account of itself: per source table, every row read and what became of it,
and every anomaly with its legacy id. Printed, and saved as JSON and Markdown.

Each row read ends in exactly one outcome, so for every table
    read = created + merged + used + skipped + dropped + already imported
and the report says so (or names the table where it does not hold).
"""

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

OUTCOMES = ("created", "merged", "used", "skipped", "dropped", "already")


@dataclass
class Anomaly:
    kind: str
    table: str
    legacy_id: str
    detail: str
    dropped: bool


@dataclass
class Report:
    dry_run: bool = False
    started_at: datetime = field(default_factory=datetime.now)
    rows: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    anomalies: list[Anomaly] = field(default_factory=list)
    merges: list[tuple[str, str, str]] = field(default_factory=list)  # table, id, into
    made: Counter = field(default_factory=Counter)  # users, sessions, messages, files...
    status_mapping: Counter = field(default_factory=Counter)
    failed_conversations: list[tuple[str, str]] = field(default_factory=list)

    # --- what happened to a row -----------------------------------------------------------
    def read(self, table: str) -> None:
        self.rows[table]["read"] += 1

    def outcome(self, table: str, outcome: str, n: int = 1) -> None:
        self.rows[table][outcome] += n

    def merge(self, table: str, legacy_id: str, into: str, *, count: bool = True) -> None:
        """A duplicate found. `count=False` when its row is counted once written."""
        if count:
            self.rows[table]["merged"] += 1
        self.merges.append((table, legacy_id, into))

    def anomaly(
        self, kind: str, table: str, legacy_id: str, detail: str, *, dropped: bool = False
    ) -> None:
        """Record an oddity. `dropped`: the row itself is not imported (say why)."""
        self.anomalies.append(Anomaly(kind, table, legacy_id, detail, dropped))
        if dropped:
            self.rows[table]["dropped"] += 1

    # --- the account ------------------------------------------------------------------------
    def unbalanced(self) -> dict[str, Counter]:
        """Tables where read != the sum of outcomes (empty when every row is accounted)."""
        return {
            table: counts
            for table, counts in self.rows.items()
            if counts["read"] != sum(counts[o] for o in OUTCOMES)
        }

    def as_dict(self) -> dict:
        anomalies_by_kind = Counter(a.kind for a in self.anomalies)
        return {
            "dry_run": self.dry_run,
            "started_at": self.started_at.isoformat(),
            "finished_at": datetime.now().isoformat(),
            "tables": {
                table: {k: counts.get(k, 0) for k in ("read", *OUTCOMES)}
                for table, counts in sorted(self.rows.items())
            },
            "balanced": not self.unbalanced(),
            "made": dict(self.made),
            "merges": [{"table": t, "legacy_id": i, "into": into} for t, i, into in self.merges],
            "anomalies_by_kind": dict(sorted(anomalies_by_kind.items())),
            "anomalies": [a.__dict__ for a in self.anomalies],
            "session_statuses": dict(self.status_mapping),
            "failed_conversations": [
                {"conversation": c, "error": e} for c, e in self.failed_conversations
            ],
        }

    def markdown(self) -> str:
        data = self.as_dict()
        lines = [
            f"# Legacy import{' (dry run: nothing written)' if self.dry_run else ''}",
            "",
            f"Started {data['started_at']}, finished {data['finished_at']}.",
            "",
            "## Rows per source table",
            "",
            "| table | read | created | merged | used | skipped | dropped | already imported |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for table, c in data["tables"].items():
            lines.append(
                f"| {table} | {c['read']} | {c['created']} | {c['merged']} | {c['used']} | "
                f"{c['skipped']} | {c['dropped']} | {c['already']} |"
            )
        lines += [
            "",
            "Every row is accounted for." if data["balanced"] else "**Rows unaccounted for.**",
        ]
        lines += ["", "## Created", ""] + [f"- {k}: {v}" for k, v in sorted(data["made"].items())]
        lines += ["", "## Session statuses (legacy → ours)", ""]
        lines += [f"- {k}: {v}" for k, v in sorted(data["session_statuses"].items())]
        lines += ["", f"## Merged duplicates ({len(self.merges)})", ""]
        lines += [f"- {t} `{i}` → `{into}`" for t, i, into in self.merges]
        lines += ["", f"## Anomalies ({len(self.anomalies)})", ""]
        lines += [
            f"- **{a.kind}** {a.table} `{a.legacy_id}`: {a.detail}"
            + (" (not imported)" if a.dropped else "")
            for a in self.anomalies
        ]
        if self.failed_conversations:
            lines += ["", "## Conversations skipped after an error", ""]
            lines += [f"- `{c}`: {e}" for c, e in self.failed_conversations]
        return "\n".join(lines) + "\n"

    def save(self, directory: Path) -> tuple[Path, Path]:
        directory.mkdir(parents=True, exist_ok=True)
        stamp = self.started_at.strftime("%Y%m%dT%H%M%S")
        json_path = directory / f"import-{stamp}.json"
        md_path = directory / f"import-{stamp}.md"
        json_path.write_text(json.dumps(self.as_dict(), indent=2, default=str))
        md_path.write_text(self.markdown())
        return json_path, md_path
