"""Write throughput: batched UNWIND/MERGE upserts through `kg.write` vs one MERGE per transaction.

    python bench/write_throughput.py            # 200k interactions, 20k users, 20k items

Runs on its own throwaway local Neo4j (under .kgrec/neo4j-bench/, free ports) so it never
touches the demo's graph; with KGREC_NEO4J_URI set it uses that server and needs --wipe.
Both variants run in this process on the same generated rows (seeded); the naive variant
writes a prefix of them (--naive-rows), since it is ~100x slower. Last line: one JSON object.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from kg import Graph, Settings, Transaction, provision
from kg.records import INTERACTION_KINDS, InteractionRow
from kg.schema import apply_schema
from kg.write import INTERACTION_QUERY, GraphWriter, delete_all

console = Console()


def make_rows(n_rows: int, n_users: int, n_items: int, seed: int) -> list[InteractionRow]:
    rng = random.Random(seed)
    start = 1_400_000_000
    return [
        InteractionRow(
            user_id=f"U{rng.randrange(n_users):06d}",
            item_id=f"I{rng.randrange(n_items):06d}",
            kind=rng.choice(INTERACTION_KINDS),
            ts=start + index,  # distinct times: every row is one relationship
            rating=float(rng.randint(1, 5)),
            weight=1.0,
            split="train",
        )
        for index in range(n_rows)
    ]


Work = Callable[[Callable[[int], None]], object]


def timed(progress: Progress, label: str, total: int, work: Work) -> float:
    """Run `work(advance)` under a progress bar; return its wall time in seconds."""
    task = progress.add_task(label, total=total)
    began = time.perf_counter()
    work(lambda n: progress.advance(task, n))
    return time.perf_counter() - began


def write_one(tx: Transaction, params: list[dict[str, Any]]) -> None:
    tx.run(INTERACTION_QUERY, rows=params).consume()


def naive_writes(graph: Graph, rows: list[InteractionRow]) -> Work:
    """The same MERGE, one row per transaction: what a hand-rolled loop does."""

    def run(advance: Callable[[int], None]) -> None:
        for row in rows:
            params = [row.model_dump()]
            graph.write_transaction(partial(write_one, params=params))
            advance(1)

    return run


def batched_writes(writer: GraphWriter, rows: list[InteractionRow], expect_created: int) -> Work:
    def run(advance: Callable[[int], None]) -> None:
        writer.on_batch = lambda _, n: advance(n)
        created = writer.interactions(rows).relationships_created
        assert created == expect_created, f"created {created}, expected {expect_created}"

    return run


def main(
    rows: int = typer.Option(200_000, help="Interactions to upsert."),
    users: int = typer.Option(20_000, help="Distinct users."),
    items: int = typer.Option(20_000, help="Distinct items."),
    naive_rows: int = typer.Option(3_000, help="Rows for the one-MERGE-per-transaction baseline."),
    batch_size: int = typer.Option(10_000, help="Rows per batch (one transaction each)."),
    warmup_rows: int = typer.Option(20_000, help="Rows written (both ways) before timing."),
    seed: int = typer.Option(7, help="Seed of the generated rows."),
    wipe_external: bool = typer.Option(
        False, "--wipe", help="Allow clearing an external/Docker database (KGREC_NEO4J_URI)."
    ),
) -> None:
    """Benchmark batched vs naive relationship upserts against a real Neo4j."""
    data = make_rows(rows, users, items, seed)
    warmup = make_rows(warmup_rows, users, items, seed + 1)
    console.print(f"Generated {rows:,} interactions over {users:,} users and {items:,} items.")
    with (
        provision.scratch_server(Settings(), "neo4j-bench", wipe=wipe_external) as settings,
        Graph.connect(settings) as graph,
        Progress(
            "{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=console,
        ) as progress,
    ):  # fmt: skip
        delete_all(graph)
        apply_schema(graph, settings.cypher_dir / "schema.cypher")
        writer = GraphWriter(graph, batch_size=batch_size)
        # Warm the JVM's JIT and the page cache for both paths, then start from empty.
        timed(progress, "warm-up (not measured)", warmup_rows,
              batched_writes(writer, warmup, warmup_rows))  # fmt: skip
        timed(progress, "warm-up naive (not measured)", 300, naive_writes(graph, data[:300]))
        delete_all(graph)
        naive_s = timed(
            progress, "naive: 1 MERGE / transaction", naive_rows,
            naive_writes(graph, data[:naive_rows]),
        )  # fmt: skip
        delete_all(graph)
        batched_s = timed(
            progress, "batched: UNWIND + MERGE", rows, batched_writes(writer, data, rows)
        )
        rerun_s = timed(
            progress, "batched rerun (all exist)", rows, batched_writes(writer, data, 0)
        )
    naive_rate = naive_rows / naive_s
    batched_rate = rows / batched_s
    rerun_rate = rows / rerun_s
    table = Table(title="Relationship upserts (INTERACTED): same process, same rows, same server")
    for column in ("variant", "rows", "seconds", "rels/s", "vs naive"):
        table.add_column(column, justify="left" if column == "variant" else "right")
    for name, count, seconds, rate in (
        ("naive: 1 MERGE / tx", naive_rows, naive_s, naive_rate),
        (f"batched: {batch_size:,} rows / tx", rows, batched_s, batched_rate),
        ("batched rerun (no change)", rows, rerun_s, rerun_rate),
    ):
        table.add_row(
            name, f"{count:,}", f"{seconds:.2f}", f"{rate:,.0f}", f"{rate / naive_rate:.1f}x"
        )
    console.print(table)
    result = {
        "batched_rels_per_s": round(batched_rate, 1),
        "naive_rels_per_s": round(naive_rate, 1),
        "speedup": round(batched_rate / naive_rate, 2),
    }
    out = Path("bench/results")
    out.mkdir(parents=True, exist_ok=True)
    (out / "write_throughput.json").write_text(json.dumps(result) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    typer.run(main)
