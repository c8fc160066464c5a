"""Load the Amazon 2014 Beauty benchmark into the graph: the PGPR/CAFE knowledge graph and split
joined with the seq-text folder's timestamps and item text.

- Items: items.tsv.gz rows (title, price) with the brand of brand_p_b + brand.txt and the
  category path of items.tsv under the root "Beauty" (which items.tsv leaves out; the 2014
  metadata paths start with it), so ids read like the 2018 loader's: "beauty > makeup > face".
- Cross-checks, each a row of the summary: the items.tsv brand against brand_p_b (brand_p_b
  wins), and every category_p_c name against the item's path. The flat category_p_c names are
  not linked themselves: apart from the root, they are the names on the items.tsv path, and
  the few that are not come from a second, non-Beauty department path ("Clothing, Shoes &
  Jewelry", "Women") and would float without a parent.
- Item links: also_bought / also_viewed / bought_together lines point into related_product.txt;
  a related product outside the catalogue becomes an Item with only its id.
- Interactions: every CAFE label pair is a "purchase" with `split` train or test and the
  timestamp of the same (reviewerID, ASIN) pair in interactions.tsv. The two folders hold the
  same pairs; any pair only one side has is set aside with its reason.

Memory holds the id lists, a timestamp per pair and one chunk of rows; everything else streams.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.categories import category_leaf, category_rows
from ingest.clean import clean_title, normalise_name, parse_price
from ingest.extract.base import ItemText
from ingest.extract.brands import usable_brand
from ingest.extract.stage import ExtractionStage, MetadataExtractor
from ingest.records import Rejected
from ingest.sources.beauty.read import (
    BeautyFiles,
    IndexLine,
    LabelPair,
    SeqItem,
    read_index_lines,
    read_interactions,
    read_items,
    read_label_pairs,
    read_names,
)
from ingest.stream import Progress, SetAside, feeding, mapped, quiet, readable, reported
from ingest.summary import IngestSummary, SourceTally
from ingest.write import ITEM_WRITES, SharedIds, write_extracted, write_rows
from kg.names import item_name
from kg.records import InteractionRow, ItemLinkRow, ItemLinkType, ItemRow, Row, Split, UserRow
from kg.write import INTERACTIONS, ITEM_LINKS, USERS, GraphWriter, WriteSpec

ROOT_CATEGORY = "Beauty"
ID_LISTS, ITEMS_STAGE, TIMESTAMPS = "id lists", "items", "timestamps"
LINK_FILES: tuple[tuple[str, ItemLinkType], ...] = (
    ("also_bought_p_p", "ALSO_BOUGHT"),
    ("also_viewed_p_p", "ALSO_VIEWED"),
    ("bought_together_p_p", "BOUGHT_TOGETHER"),
)
LINK_WRITES: tuple[WriteSpec[Any], ...] = (ITEM_LINKS,)
INTERACTION_WRITES: tuple[WriteSpec[Any], ...] = (USERS, INTERACTIONS)
BRAND_CHECK = "brand: items.tsv vs brand_p_b"
CATEGORY_CHECK = "category: category_p_c vs items.tsv path"
TRAIN: Split = "train"
TEST: Split = "test"
_USED = -1  # the timestamp of a pair a label has taken (timestamps are >= 0)


def load_beauty(
    graph_writer: GraphWriter,
    kg: Path,
    seq: Path,
    progress: Progress | None = None,
    extraction: ExtractionStage | None = None,
) -> IngestSummary:
    """Write the Beauty benchmark of the folders `kg` (amazon-beauty-pgpr-cafe) and `seq`
    (amazon-beauty-2014-seq-text) to the graph: items, brands, categories, item links, users
    and their train/test purchases, and what `extraction` finds in the titles (without it,
    brands come from the brand files only)."""
    started = time.perf_counter()
    files = BeautyFiles(kg=kg, seq=seq)
    files.check()  # before anything is written
    stage = extraction or ExtractionStage([MetadataExtractor()])
    load = _Load(files, graph_writer, progress or quiet)
    ids = load.id_lists()
    load.items(ids, stage)
    load.links(ids)
    load.interactions(ids)
    write_extracted(stage, graph_writer, load.summary, load.seen, load.report)
    load.summary.seconds = time.perf_counter() - started
    return load.summary


@dataclass
class _Ids:
    """Entity lists by line index (None where a line names nothing), and lookups by name."""

    products: list[str | None]
    users: list[str | None]
    brands: list[str | None]
    categories: list[str | None]
    related: list[str | None]
    product_index: dict[str, int] = field(init=False)
    user_index: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        self.product_index = _index(self.products)
        self.user_index = _index(self.users)

    def pair_key(self, user: int, item: int) -> int:
        return user * len(self.products) + item  # one int per pair keeps the map small


@dataclass
class _Load:
    files: BeautyFiles
    writer: GraphWriter
    report: Progress
    summary: IngestSummary = field(default_factory=lambda: IngestSummary(sources=[]))
    seen: SharedIds = field(default_factory=set)
    _id_lines: int = 0

    def tally(self, source: str | Path) -> SourceTally:
        tally = SourceTally(source.name if isinstance(source, Path) else source)
        self.summary.sources.append(tally)
        return tally

    def id_lists(self) -> _Ids:
        names = (self._names(self.files.pgpr(name)) for name in
                 ("product", "users", "brand", "category", "related_product"))  # fmt: skip
        return _Ids(*names)

    def _names(self, path: Path) -> list[str | None]:
        tally = self.tally(path)
        names: list[str | None] = []
        for record in read_names(path):
            self._id_lines += 1
            self.report(ID_LISTS, self._id_lines, None)
            if isinstance(record, Rejected):
                tally.reject(record)
                names.append(None)
            else:
                tally.kept += 1
                names.append(record.name)
        return names

    def items(self, ids: _Ids, stage: ExtractionStage) -> None:
        brand_lines = self._index_lines(self.files.pgpr("brand_p_b"), ids, ids.brands, "brand", 1)
        brand_of = {line.index: ids.brands[line.targets[0]] for line in brand_lines if line.targets}
        categories_of = {
            line.index: line.targets
            for line in self._index_lines(
                self.files.pgpr("category_p_c"), ids, ids.categories, "category"
            )
        }
        brand_check, category_check = self.tally(BRAND_CHECK), self.tally(CATEGORY_CHECK)

        def item_rows(item: SeqItem) -> list[Row]:
            index = ids.product_index.get(item.item_id)
            if index is None:
                raise SetAside("item not in product.txt")
            path = [ROOT_CATEGORY, *filter(None, item.categories.split("|"))]
            on_path = {normalise_name(name) for name in path}
            for category in categories_of.get(index, ()):
                name = ids.categories[category]
                if normalise_name(name) in on_path:
                    category_check.kept += 1
                else:
                    category_check.drop("not on the items.tsv path (not linked)")
            brand = brand_of.get(index)
            if brand and item.brand:
                if normalise_name(brand) == normalise_name(item.brand):
                    brand_check.kept += 1
                else:
                    brand_check.drop("differs (brand_p_b kept)")
            categories = category_rows(item.item_id, path)
            title = clean_title(item.title)
            name = item_name(title, brand=usable_brand(brand or item.brand),
                             category=category_leaf(categories))  # fmt: skip
            return [ItemRow(id=item.item_id, title=title, name=name,
                            price=parse_price(item.price)), *categories]  # fmt: skip

        def item_text(item: SeqItem) -> ItemText:
            # The extraction step turns the brand field into the brand ("Unknown" into none).
            brand = brand_of.get(ids.product_index[item.item_id]) or item.brand
            return ItemText(item_id=item.item_id, title=clean_title(item.title),
                            metadata_brand=brand, category=item.categories or None)  # fmt: skip

        tally = self.tally(self.files.items)
        records = reported(
            read_items(self.files.items), ITEMS_STAGE, len(ids.products), self.report
        )
        to_rows = feeding(item_rows, item_text, stage.add_item)
        write_rows(mapped(readable(records, tally), to_rows, tally), ITEM_WRITES, self.writer,
                   self.summary, self.seen)  # fmt: skip

    def _index_lines(
        self, path: Path, ids: _Ids, names: list[str | None], what: str, most: int | None = None
    ) -> Iterator[IndexLine]:
        """The lines of a product -> entity file whose product and entities all have names."""
        tally = self.tally(path)
        for line in readable(read_index_lines(path, len(names), path.name), tally):
            if line.index >= len(ids.products) or ids.products[line.index] is None:
                tally.drop(f"line {line.index + 1} is no product of product.txt")
            elif most is not None and len(line.targets) > most:
                tally.drop(f"more than {most} {what}")
            elif any(names[target] is None for target in line.targets):
                tally.drop(f"a {what} index with no name")
            else:
                tally.kept += 1
                yield line

    def links(self, ids: _Ids) -> None:
        for name, link_type in LINK_FILES:
            path = self.files.pgpr(name)
            tally = self.tally(path)

            def link_rows(line: IndexLine, link_type: ItemLinkType = link_type) -> list[Row]:
                source = ids.products[line.index] if line.index < len(ids.products) else None
                if source is None:
                    raise SetAside(f"line {line.index + 1} is no product of product.txt")
                targets = (ids.related[target] for target in line.targets)
                # A link to itself says nothing (one also_bought line has one).
                return [
                    ItemLinkRow(source_id=source, target_id=target, type=link_type)
                    for target in dict.fromkeys(targets)
                    if target is not None and target != source
                ]

            lines = read_index_lines(path, len(ids.related), "related_product.txt")
            records = reported(lines, name, len(ids.products), self.report)
            write_rows(mapped(readable(records, tally), link_rows, tally), LINK_WRITES,
                       self.writer, self.summary, self.seen)  # fmt: skip

    def interactions(self, ids: _Ids) -> None:
        source_tally = self.tally(self.files.interactions)
        timestamps = self._timestamps(ids, source_tally)
        for path, split in ((self.files.train_labels, TRAIN), (self.files.test_labels, TEST)):
            tally = self.tally(path)

            def purchase_rows(pair: LabelPair, split: Split = split) -> list[Row]:
                user_id, item_id = ids.users[pair.user], ids.products[pair.item]
                if user_id is None or item_id is None:
                    raise SetAside("user or item index with no name")
                key = ids.pair_key(pair.user, pair.item)
                ts = timestamps.get(key)
                if ts is None:
                    raise SetAside("pair not in interactions.tsv (no timestamp)")
                if ts == _USED:
                    raise SetAside("pair listed twice (in both files, or twice in one)")
                timestamps[key] = _USED
                source_tally.kept += 1
                return [
                    UserRow(id=user_id),
                    InteractionRow(user_id=user_id, item_id=item_id, kind="purchase", ts=ts,
                                   weight=1.0, split=split),
                ]  # fmt: skip

            pairs = read_label_pairs(path, len(ids.users), len(ids.products))
            records = reported(pairs, f"{split} purchases", None, self.report)
            write_rows(mapped(readable(records, tally), purchase_rows, tally), INTERACTION_WRITES,
                       self.writer, self.summary, self.seen)  # fmt: skip
        for ts in timestamps.values():
            if ts != _USED:
                source_tally.drop("pair in neither label file")

    def _timestamps(self, ids: _Ids, tally: SourceTally) -> dict[int, int]:
        """The timestamp of every (user, item) pair of interactions.tsv, by `pair_key`. Rows are
        counted as kept when a label takes their pair."""
        timestamps: dict[int, int] = {}
        rows = reported(read_interactions(self.files.interactions), TIMESTAMPS, None, self.report)
        for row in readable(rows, tally):
            user, item = ids.user_index.get(row.user_id), ids.product_index.get(row.item_id)
            if user is None:
                tally.drop("user not in users.txt")
            elif item is None:
                tally.drop("item not in product.txt")
            elif (key := ids.pair_key(user, item)) in timestamps:
                tally.drop("duplicate (user_id, item_id) pair")
            else:
                timestamps[key] = row.timestamp
        return timestamps


def _index(names: list[str | None]) -> dict[str, int]:
    """Line index by name; the first line wins if a name repeats."""
    index: dict[str, int] = {}
    for position, name in enumerate(names):
        if name is not None:
            index.setdefault(name, position)
    return index
