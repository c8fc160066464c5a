"""The Industrial & Scientific shop (../shared/data/amazon2018-scientific-text) in a throwaway
local Neo4j, loaded as a user would load their own tables (`kgrec ingest table`, extraction on).

The release has no timestamps, only each user's order (`position`); it becomes `ts` (one day
apart, from a fixed epoch), so the temporal leave-last-out split is the release's own protocol:
the last item of each user is test, the one before validation. The brand column may be empty;
the category path is one string (the release joined its levels with spaces).
"""

from __future__ import annotations

import csv
import gzip
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from beauty_setup import shop_graph
from rich.console import Console

from ingest.extract.stage import ExtractionStage
from ingest.sources.table.load import TableFiles, load_tables
from kg import Graph, Settings
from kg.write import GraphWriter

SCIENTIFIC = Path(__file__).resolve().parents[2] / "shared" / "data" / "amazon2018-scientific-text"
EPOCH = 1_500_000_000  # position 0's time; each later position one day on
DAY = 86_400


def scientific_tables(source: Path, folder: Path) -> TableFiles:
    """The release's two TSVs as the table loader's items and interactions CSVs in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    items, interactions = folder / "items.csv", folder / "interactions.csv"
    with _tsv(source / "items.tsv.gz") as rows, items.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["item_id", "title", "brand", "category"])
        for row in rows:
            category = row["categories"].strip()
            path = f"Industrial & Scientific > {category}" if category else ""
            writer.writerow([row["item_id"], row["title"], row["brand"], path])
    with _tsv(source / "interactions.tsv.gz") as rows, interactions.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["user_id", "item_id", "kind", "ts"])
        for row in rows:
            ts = EPOCH + DAY * int(row["position"])
            writer.writerow([row["user_id"], row["item_id"], "purchase", ts])
    return TableFiles(items=items, interactions=interactions)


@contextmanager
def _tsv(path: Path) -> Iterator[Iterator[dict[str, str]]]:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as stream:
        yield csv.DictReader(stream, delimiter="\t", quoting=csv.QUOTE_NONE)


def scientific_graph(
    console: Console, *, wipe: bool = False, source: Path = SCIENTIFIC
) -> AbstractContextManager[tuple[Settings, Graph]]:
    """The shop (items, interactions, extraction on) in a throwaway server."""

    def load(settings: Settings, writer: GraphWriter, stage: ExtractionStage) -> None:
        files = scientific_tables(source, settings.cache_dir / "scientific-tables")
        load_tables(writer, files, extraction=stage)

    return shop_graph(console, "neo4j-bench-scientific", "the Industrial & Scientific shop",
                      load, wipe=wipe)  # fmt: skip
