"""What an ingest did: per source file, lines kept and set aside by reason (and category path
parts set aside); per row kind, rows written, and how many were new or already in the graph."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from ingest.records import CategoryPartSetAside, Rejected
from kg.write import WriteSummary

MAX_EXAMPLES = 5
AFTER_A_CUT = "after a part set aside"
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
    # Parts of the kept records' category paths that were no category names, by reason.
    category_parts: Counter[str] = field(default_factory=Counter)
    category_cuts: list[CategoryPartSetAside] = field(default_factory=list)  # the first few

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

    def cut_category(self, cut: CategoryPartSetAside) -> None:
        """Count the parts a kept record's category path lost: the one that was no category
        name, and those after it."""
        self.category_parts[cut.reason] += 1
        if cut.following:
            self.category_parts[AFTER_A_CUT] += cut.following
        if len(self.category_cuts) < MAX_EXAMPLES:
            self.category_cuts.append(cut)


@dataclass
class IngestSummary:
    sources: list[SourceTally]
    writes: dict[str, WriteSummary] = field(default_factory=dict)  # by row kind, in write order
    entities: Counter[str] = field(default_factory=Counter)  # extracted, by kind ("brand", ...)
    texts_extracted: int = 0  # item and review texts an extractor read
    texts_cached: int = 0  # ... answered from the extraction cache instead
    seconds: float = 0.0

    def add(self, part: WriteSummary) -> None:
        self.writes.setdefault(part.kind, WriteSummary(part.kind)).add(part)

    @property
    def nodes_created(self) -> int:
        return sum(write.nodes_created for write in self.writes.values())

    @property
    def relationships_created(self) -> int:
        return sum(write.relationships_created for write in self.writes.values())
