"""Extraction quality: brands and attributes found by the extractors vs hand labels.

    python bench/extraction_quality.py            # spaCy + rules; the LLM too if configured

Reads tests/data/extraction_labels.jsonl (66 items: magazines and beauty products, each with
its brand and attributes labelled by hand) and scores every extractor on the same items.
Values match after `ingest.resolve` normalisation ("Condé Nast" = "Conde Nast", "6 Ounce" =
"6 oz") and near-duplicate merging; an attribute matches only with the same kind. Attributes
count from `--min-confidence` up, the threshold consumers apply to extracted attributes. Items
fall into two fixed halves by a hash of their id, so rules tuned on one half ("tune") can be
checked on the other ("held-out"). The LLM path runs when KGREC_LLM_BACKEND is set. Last
line: one JSON object (spaCy, the chosen half).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import typer
from rich.console import Console
from rich.table import Table

from ingest.extract.base import ATTRIBUTE_KINDS, BRAND, EntityExtractor, ItemText, Mention
from ingest.extract.llm import LLMError, build_llm_extractor
from ingest.extract.spacy_rules import SpacyExtractor
from ingest.resolve import MIN_CONFIDENCE, normal_form, similar
from kg.settings import Settings

console = Console()

LABELS = Path("tests/data/extraction_labels.jsonl")
RESULTS = Path("bench/results/extraction_quality.json")
TARGETS = {BRAND: 0.9, "attribute": 0.7}  # precision
Half = Literal["all", "tune", "held-out"]


@dataclass(frozen=True)
class Labelled:
    item: ItemText
    brand: str | None
    attributes: frozenset[tuple[str, str]]  # (kind, value)


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
        }

    def as_json(self) -> dict[str, Any]:
        rows = {BRAND: self.brand, "attribute": self.attribute, **dict(sorted(self.kinds.items()))}
        return {
            **self.summary(),
            "rows": {
                name: {"tp": s.tp, "fp": s.fp, "fn": s.fn, "precision": round(s.precision, 3),
                       "recall": round(s.recall, 3)}
                for name, s in rows.items()
            },
        }  # fmt: skip


def half_of(item_id: str) -> Half:
    """A fixed split that does not depend on the file's order."""
    return "tune" if hashlib.sha256(item_id.encode()).digest()[0] % 2 == 0 else "held-out"


def read_labels(path: Path, half: Half) -> list[Labelled]:
    labelled = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        if half != "all" and half_of(row["item_id"]) != half:
            continue
        item = ItemText(
            item_id=row["item_id"], title=row["title"], description=row["description"],
            metadata_brand=row["metadata_brand"],
        )  # fmt: skip
        attributes = frozenset((a["kind"], a["value"]) for a in row["attributes"])
        labelled.append(Labelled(item, row["brand"], attributes))
    return labelled


def matched(predicted: Iterable[str], gold: Iterable[str]) -> Score:
    """TP/FP/FN of normal forms of one kind, each gold value matched at most once."""
    unmatched = sorted(set(gold))
    score = Score()
    for form in sorted(set(predicted)):
        hit = next((g for g in unmatched if similar(form, g)), None)
        if hit is None:
            score.fp += 1
        else:
            score.tp += 1
            unmatched.remove(hit)
    score.fn = len(unmatched)
    return score


def top_brand(mentions: Sequence[Mention]) -> str | None:
    brands = [m for m in mentions if m.kind == BRAND]
    return max(brands, key=lambda m: m.confidence).text if brands else None


def evaluate(
    labelled: Sequence[Labelled], found: Sequence[list[Mention]], min_confidence: float
) -> Report:
    report = Report()
    for label, mentions in zip(labelled, found, strict=True):
        brand = top_brand(mentions)
        report.brand.add(
            matched(
                [normal_form(brand, BRAND)] if brand else [],
                [normal_form(label.brand, BRAND)] if label.brand else [],
            )
        )
        for kind in ATTRIBUTE_KINDS:
            predicted = [
                normal_form(m.text, kind)
                for m in mentions
                if m.kind == kind and m.confidence >= min_confidence
            ]
            gold = [normal_form(value, kind) for k, value in label.attributes if k == kind]
            if predicted or gold:
                report.kinds[kind].add(matched(predicted, gold))
    return report


def table(title: str, report: Report) -> Table:
    out = Table(title=title)
    for column in ("", "TP", "FP", "FN", "precision", "recall", "target", ""):
        out.add_column(column, justify="left" if column == "" else "right")
    rows = [(BRAND, report.brand), ("attribute", report.attribute)]
    rows += [(f"  {kind}", score) for kind, score in sorted(report.kinds.items())]
    for name, score in rows:
        target = TARGETS.get(name)
        verdict = "" if target is None else "PASS" if score.precision >= target else "FAIL"
        out.add_row(
            name, str(score.tp), str(score.fp), str(score.fn), f"{score.precision:.3f}",
            f"{score.recall:.3f}", "" if target is None else f"P >= {target}", verdict,
        )  # fmt: skip
    return out


def run(
    name: str, extractor: EntityExtractor, labelled: Sequence[Labelled], min_confidence: float
) -> tuple[Report, list[list[Mention]]]:
    began = time.perf_counter()
    found = extractor.extract_items([label.item for label in labelled])
    seconds = time.perf_counter() - began
    report = evaluate(labelled, found, min_confidence)
    console.print(table(f"{name}: {len(labelled)} labelled items, {seconds:.1f} s", report))
    return report, found


def main(
    labels: str = typer.Option(str(LABELS), help="Hand labels, one JSON item a line."),
    half: str = typer.Option("all", help="Items to score: all, tune or held-out."),
    min_confidence: float = typer.Option(
        MIN_CONFIDENCE, help="Attributes below this confidence are not counted."
    ),
) -> None:
    """Score the spaCy + rules extractor (and the LLM one, when configured) on hand labels."""
    if half not in ("all", "tune", "held-out"):
        raise typer.BadParameter("--half is all, tune or held-out")
    chosen: Half = "tune" if half == "tune" else "held-out" if half == "held-out" else "all"
    settings = Settings()
    labelled = read_labels(Path(labels), chosen)
    with console.status("Loading the spaCy pipeline..."):
        spacy_extractor = SpacyExtractor(settings)
    console.print(
        f"spaCy pipeline: {spacy_extractor.pipeline.name}; items: {half} ({len(labelled)})"
    )
    spacy_report, found = run("spacy + rules", spacy_extractor, labelled, min_confidence)
    results: dict[str, Any] = {
        "half": half, "min_confidence": min_confidence, "items": len(labelled),
        "pipeline": spacy_extractor.pipeline.name, "spacy": spacy_report.as_json(),
    }  # fmt: skip
    if half == "all":
        for part in ("tune", "held-out"):
            inside = [half_of(label.item.item_id) == part for label in labelled]
            subset = [label for label, keep in zip(labelled, inside, strict=True) if keep]
            subfound = [mentions for mentions, keep in zip(found, inside, strict=True) if keep]
            summary = evaluate(subset, subfound, min_confidence).summary()
            results[f"spacy_{part}"] = summary
            console.print(f"spacy + rules, {part} half ({len(subset)} items): {summary}")
    try:
        llm = build_llm_extractor(settings)
    except (ValueError, LLMError) as exc:
        llm, results["llm"] = None, {"skipped": str(exc)}
        console.print(f"LLM extractor not run: {exc}")
    if llm is None and "llm" not in results:
        results["llm"] = {"skipped": "KGREC_LLM_BACKEND is none"}
        console.print("LLM extractor not run: set KGREC_LLM_BACKEND (see ingest/extract/llm).")
    elif llm is not None:
        llm_report, _ = run(f"llm ({settings.llm_backend})", llm, labelled, min_confidence)
        results["llm"] = llm_report.as_json()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(spacy_report.summary()))


if __name__ == "__main__":
    typer.run(main)
