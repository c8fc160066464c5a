"""Extraction quality on three shops: the brands and attributes a load puts into the graph vs
hand labels.

    python bench/extraction_quality.py                     # all three shops, spaCy + rules
    python bench/extraction_quality.py --domain scientific

Labels: tests/data/extraction_labels.jsonl (64 items per shop, labelled by reading the text
before any tuning, tests/data/LABELLING.md). Each shop is extracted whole, as `kgrec ingest`
would (bench/shops.py: every item's text and brand field, the labelled items as labelled, with
the brand field withheld where the label withholds it), and resolved at once, so what is scored
is what the graph would hold: an item's Brand and Attribute entities after resolution,
discovery and the confidence floor. A predicted entity matches a label when one of its surface
forms has the label's normal form (`ingest.resolve.normal_form`, near-duplicates merged), or
names it at a coarser grain (its words among the label's, ending on the label's head word:
"glass" for "borosilicate glass"; the "exact" rows count without that); an attribute must
also have the label's kind. "name hits" counts wrong attributes whose words lie
inside the item's labelled brand name (a dictionary word read inside a proper name): the target
is none.

Items fall into two fixed halves by a hash of their id: rules are tuned on "tune" and checked
on "held-out"; both are reported, and the targets (brand precision >= 0.9, attribute precision
>= 0.8) hold only if they hold on both. The LLM extractor joins when KGREC_LLM_BACKEND is set.
Last line: one JSON object, {"domains": {shop: {brand_precision, brand_recall,
attribute_precision, attribute_recall, ...}}}.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from shops import DOMAINS, Domain, shop_items

from ingest.extract.base import BRAND, EntityExtractor, ItemText
from ingest.extract.stage import ExtractionStage, build_extractors
from ingest.resolve import normal_form, similar
from kg.records import AttributeRow, BrandRow, ItemAttributeRow, ItemBrandRow
from kg.settings import Settings

console = Console()

LABELS = Path("tests/data/extraction_labels.jsonl")
RESULTS = Path("bench/results/extraction_quality.json")
TARGETS = {BRAND: 0.9, "attribute": 0.8}  # precision
Half = Literal["tune", "held-out"]
HALVES: tuple[Half, ...] = ("tune", "held-out")


@dataclass(frozen=True)
class Labelled:
    item: ItemText
    brand: str | None
    attributes: frozenset[tuple[str, str]]  # (kind, value)


@dataclass(frozen=True)
class Entity:
    kind: str
    forms: frozenset[str]  # normal forms of its id and every surface form

    def names(self, kind: str, value: str, *, strict: bool) -> bool:
        """Whether this entity is the labelled value: the same normal form (near-duplicates
        merged) or, unless `strict`, the value at a coarser grain: its words are among the
        label's and it ends on the label's head word ("glass" for "borosilicate glass", "blue"
        for "slate blue"; never "metallic" for "metallic olive")."""
        if kind != self.kind:
            return False
        form = normal_form(value, kind)
        if any(similar(form, own) for own in self.forms):
            return True
        words = form.split()
        return not strict and any(
            own and set(own.split()) <= set(words) and own.split()[-1] == words[-1]
            for own in self.forms
        )


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    def add(self, other: Score) -> None:
        self.tp, self.fp, self.fn = self.tp + other.tp, self.fp + other.fp, self.fn + other.fn


@dataclass
class Report:
    brand: Score = field(default_factory=Score)
    kinds: dict[str, Score] = field(default_factory=lambda: defaultdict(Score))
    strict_attribute: Score = field(default_factory=Score)  # exact values only
    name_hits: int = 0
    false_positives: list[str] = field(default_factory=list)

    @property
    def attribute(self) -> Score:
        total = Score()
        for score in self.kinds.values():
            total.add(score)
        return total

    def summary(self) -> dict[str, float]:
        return {
            "brand_precision": round(self.brand.precision, 3),
            "brand_recall": round(self.brand.recall, 3),
            "attribute_precision": round(self.attribute.precision, 3),
            "attribute_recall": round(self.attribute.recall, 3),
            "strict_attribute_precision": round(self.strict_attribute.precision, 3),
            "strict_attribute_recall": round(self.strict_attribute.recall, 3),
            "name_hits": self.name_hits,
        }

    def passed(self) -> bool:
        return (
            self.brand.precision >= TARGETS[BRAND]
            and self.attribute.precision >= TARGETS["attribute"]
            and self.name_hits == 0
        )


def half_of(item_id: str) -> Half:
    """A fixed split that does not depend on the file's order."""
    return "tune" if hashlib.sha256(item_id.encode()).digest()[0] % 2 == 0 else "held-out"


def read_labels(path: Path, domain: Domain) -> list[Labelled]:
    labelled = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line) if line.strip() else None
        if row is None or row["dataset"] != DOMAINS[domain]:
            continue
        item = ItemText(
            item_id=row["item_id"], title=row["title"], description=row["description"],
            features=row.get("features", []), metadata_brand=row["metadata_brand"],
        )  # fmt: skip
        attributes = frozenset((a["kind"], a["value"]) for a in row["attributes"])
        labelled.append(Labelled(item, row["brand"], attributes))
    return labelled


def extract_shop(
    extractors: Sequence[EntityExtractor], items: Sequence[ItemText]
) -> dict[str, list[Entity]]:
    """What a load of `items` links each item to: its Brand and Attribute entities."""
    stage = ExtractionStage(extractors)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("extracting", total=len(items))
        for item in items:
            stage.add_item(item)
            progress.advance(task)
        progress.update(task, description="resolving")
        rows = [row for group in stage.rows() for row in group]
    entities: dict[str, Entity] = {}
    for row in rows:
        if isinstance(row, BrandRow | AttributeRow):
            kind = row.kind if isinstance(row, AttributeRow) else BRAND
            own = row.id.removeprefix(f"{kind}:")
            forms = {normal_form(s, kind) for s in row.surface_forms} | {own}
            entities[row.id] = Entity(kind, frozenset(forms))
    linked: dict[str, list[Entity]] = defaultdict(list)
    for row in rows:
        if isinstance(row, ItemBrandRow):
            linked[row.item_id].append(entities[row.brand_id])
        elif isinstance(row, ItemAttributeRow):
            linked[row.item_id].append(entities[row.attribute_id])
    return linked


def matched(
    predicted: Iterable[Entity], gold: Iterable[tuple[str, str]], *, strict: bool = False
) -> tuple[Score, list[Entity]]:
    """TP/FP/FN, each gold (kind, value) matched at most once; and the unmatched predictions."""
    unmatched = sorted(set(gold))
    score, wrong = Score(), []
    for entity in sorted(set(predicted), key=lambda e: sorted(e.forms)):
        hit = next((g for g in unmatched if entity.names(*g, strict=strict)), None)
        if hit is None:
            score.fp += 1
            wrong.append(entity)
        else:
            score.tp += 1
            unmatched.remove(hit)
    score.fn = len(unmatched)
    return score, wrong


def inside_name(entity: Entity, name: str | None) -> bool:
    """Whether every word of the attribute is a word of the (labelled) brand name."""
    if not name:
        return False
    words = set(normal_form(name, entity.kind).split())
    return any(form and set(form.split()) <= words for form in entity.forms)


def evaluate(labelled: Sequence[Labelled], linked: dict[str, list[Entity]]) -> Report:
    report = Report()
    for label in labelled:
        found = linked.get(label.item.item_id, [])
        brands = [e for e in found if e.kind == BRAND]
        gold_brand = [(BRAND, label.brand)] if label.brand else []
        score, wrong = matched(brands, gold_brand)
        report.brand.add(score)
        report.false_positives += [f"{label.item.item_id} brand {sorted(e.forms)}" for e in wrong]
        attributes = [e for e in found if e.kind != BRAND]
        wrong_attributes: list[Entity] = []
        for kind in sorted({e.kind for e in attributes} | {k for k, _ in label.attributes}):
            gold = [(k, v) for k, v in label.attributes if k == kind]
            predicted = [e for e in attributes if e.kind == kind]
            score, wrong = matched(predicted, gold)
            report.kinds[kind].add(score)
            report.strict_attribute.add(matched(predicted, gold, strict=True)[0])
            wrong_attributes += wrong
            report.false_positives += [
                f"{label.item.item_id} {kind} {sorted(e.forms)}" for e in wrong
            ]
        report.name_hits += sum(inside_name(e, label.brand) for e in wrong_attributes)
    return report


def table(title: str, reports: dict[str, Report]) -> Table:
    out = Table(title=title)
    for column in ("", "half", "TP", "FP", "FN", "precision", "recall", "target", ""):
        out.add_column(column, justify="left" if column in ("", "half") else "right")
    for half, report in reports.items():
        rows = [
            (BRAND, report.brand),
            ("attribute", report.attribute),
            ("  exact", report.strict_attribute),
        ]
        if half in ("all", "tune"):  # kinds of the half that rules are tuned on, not the other
            rows += [(f"  {kind}", score) for kind, score in sorted(report.kinds.items())]
        for name, score in rows:
            target = TARGETS.get(name)
            verdict = "" if target is None else "PASS" if score.precision >= target else "FAIL"
            out.add_row(
                name, half, str(score.tp), str(score.fp), str(score.fn), f"{score.precision:.3f}",
                f"{score.recall:.3f}", "" if target is None else f"P >= {target}", verdict,
            )  # fmt: skip
        out.add_row("name hits", half, "", str(report.name_hits), "", "", "", "0",
                    "PASS" if report.name_hits == 0 else "FAIL")  # fmt: skip
        out.add_section()
    return out


def run_domain(
    domain: Domain, extractors: Sequence[EntityExtractor], labels: Path
) -> dict[str, Report]:
    labelled = read_labels(labels, domain)
    own = {label.item.item_id: label.item for label in labelled}
    # A labelled item as labelled, in its shop's category.
    shop = [
        own.pop(item.item_id).model_copy(update={"category": item.category})
        if item.item_id in own
        else item
        for item in shop_items(domain)
    ] + list(own.values())
    began = time.perf_counter()
    linked = extract_shop(extractors, shop)
    seconds = time.perf_counter() - began
    reports = {"all": evaluate(labelled, linked)}
    for half in HALVES:
        reports[half] = evaluate([x for x in labelled if half_of(x.item.item_id) == half], linked)
    console.print(
        table(
            f"{domain}: {len(labelled)} labelled items of {len(shop):,}, "
            f"{seconds:.0f} s ({len(shop) / seconds:.0f} items/s)",
            reports,
        )
    )
    return reports


def main(
    domain: str = typer.Option("all", help="magazine, beauty, scientific or all."),
    labels: str = typer.Option(str(LABELS), help="Hand labels, one JSON item a line."),
    show_errors: bool = typer.Option(False, help="List the false positives (tune half only)."),
) -> None:
    """Score what extraction puts into the graph against hand labels, shop by shop."""
    if domain != "all" and domain not in DOMAINS:
        raise typer.BadParameter("--domain is magazine, beauty, scientific or all")
    domains = list(DOMAINS) if domain == "all" else [cast(Domain, domain)]
    settings = Settings()
    with console.status("Loading the extractors..."):
        extractors = build_extractors(settings)
    console.print(f"extractors: {', '.join(e.name for e in extractors)}")
    results: dict[str, Any] = {}
    for name in domains:
        reports = run_domain(name, extractors, Path(labels))
        if show_errors:
            tune = [e for e in reports["all"].false_positives if half_of(e.split()[0]) == "tune"]
            console.print("\n".join(tune))
        results[name] = {
            **reports["all"].summary(),
            **{half.replace("-", "_"): reports[half].summary() for half in HALVES},
            "passed": all(report.passed() for report in reports.values()),
        }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"domains": results}, indent=2) + "\n")
    print(json.dumps({"domains": results}))


if __name__ == "__main__":
    typer.run(main)
