"""What an ingest did: per source file, lines kept and set aside by reason; per row kind, what
the graph writes created."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from ingest.records import Rejected
from kg.write import WriteSummary

MAX_EXAMPLES = 5
# A reason's detail follows ": " or " (" ("not JSON: Expecting value"); counting by the part
# before keeps one row per kind of problem in the summary.
_DETAIL = re.compile(r": | \(")


def reason_kind(reason: str) -> str:
    return _DETAIL.split(reason, maxsplit=1)[0]


@dataclass
class SourceTally:
    """The records of one source file: each is either kept or set aside for a reason."""

    source: str
    kept: int = 0
    set_aside: Counter[str] = field(default_factory=Counter)
    examples: list[Rejected] = field(default_factory=list)  # the first few unreadable lines

    @property
    def read(self) -> int:
        return self.kept + self.set_aside.total()

    def reject(self, rejected: Rejected) -> None:
        self.set_aside[reason_kind(rejected.reason)] += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(rejected)

    def drop(self, reason: str) -> None:
        """Set aside a record that was read fine (a duplicate, a value the graph refuses)."""
        self.set_aside[reason_kind(reason)] += 1


@dataclass
class IngestSummary:
    sources: list[SourceTally]
    writes: dict[str, WriteSummary] = field(default_factory=dict)  # by row kind, in write order
    entities: Counter[str] = field(default_factory=Counter)  # extracted, by kind ("brand", ...)
    texts_extracted: int = 0  # item and review texts an extractor read
    texts_cached: int = 0  # ... answered from the extraction cache instead
    seconds: float = 0.0

    def add(self, part: WriteSummary) -> None:
        total = self.writes.setdefault(part.kind, WriteSummary(part.kind))
        total.rows += part.rows
        total.batches += part.batches
        total.nodes_created += part.nodes_created
        total.relationships_created += part.relationships_created
        total.properties_set += part.properties_set

    @property
    def nodes_created(self) -> int:
        return sum(write.nodes_created for write in self.writes.values())

    @property
    def relationships_created(self) -> int:
        return sum(write.relationships_created for write in self.writes.values())
