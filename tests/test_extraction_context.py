"""Extraction on shops nobody tuned for: each class of error seen on unseen catalogues, on text
written here. Real spaCy pipeline, no graph needed (the stage's rows are what a load writes)."""

from __future__ import annotations

import pytest

from ingest.extract.base import BRAND, ItemText, Mention
from ingest.extract.spacy_rules import SpacyExtractor
from ingest.extract.stage import ExtractionStage
from ingest.resolve import MIN_CONFIDENCE, normal_form
from kg.records import AttributeRow, BrandRow, ItemAttributeRow, ItemBrandRow, Row


@pytest.fixture(scope="module")
def extractor() -> SpacyExtractor:
    return SpacyExtractor()


def kept(mentions: list[Mention]) -> set[tuple[str, str]]:
    return {
        (m.kind, normal_form(m.text, m.kind))
        for m in mentions
        if m.kind != BRAND and m.confidence >= MIN_CONFIDENCE
    }


def loaded(extractor: SpacyExtractor, items: list[ItemText]) -> list[Row]:
    stage = ExtractionStage([extractor])
    for item in items:
        stage.add_item(item)
    return [row for rows in stage.rows() for row in rows]


def test_dictionary_words_inside_proper_names_are_not_attributes(
    extractor: SpacyExtractor,
) -> None:
    texts = {
        "olive": "Treat a friend to dinner at Olive Garden, the family restaurant.",
        "ribs": "Our smokehouse serves baby back ribs and brisket every day.",
        "scratch": "Every loaf is made from scratch in our bakery.",
        "law": "A thoughtful gift for your sister-in-law.",
        "bear": "Teddy Bear - Free One-Day Shipping",
    }
    items = [ItemText(item_id=key, description=text) for key, text in texts.items()]
    found = dict(zip(texts, extractor.extract_items(items), strict=True))
    assert ("colour", "olive") not in kept(found["olive"])
    assert ("audience", "baby") not in kept(found["ribs"])
    assert ("material", "scratch") not in kept(found["scratch"])
    assert ("topic", "law") not in kept(found["law"])
    assert not any(value.endswith("free") for _, value in kept(found["bear"]))
    # The same words still count where they describe the product.
    (plain,) = extractor.extract_items(
        [ItemText(item_id="p", description="An olive green scarf for babies, made of wool.")]
    )
    assert {("colour", "olive green"), ("material", "wool")} <= kept(plain) or {
        ("colour", "olive"),
        ("material", "wool"),
    } <= kept(plain)


def test_a_size_needs_a_unit_and_must_measure_the_product(extractor: SpacyExtractor) -> None:
    item = ItemText(
        item_id="f",
        title="Acme 1.75mm PLA Filament, 1kg Spool - Accuracy +/- 0.05mm, "
        "with a Free 25 pc Nozzle Set, XL",
    )
    (mentions,) = extractor.extract_items([item])
    sizes = {value for kind, value in kept(mentions) if kind == "size"}
    assert sizes == {"1.75 mm", "1 kg"}


def test_a_retailers_spellings_are_one_brand_with_every_surface_form(
    extractor: SpacyExtractor,
) -> None:
    items = [
        ItemText(item_id="g1", title="Starbucks Gift Card", metadata_brand="Starbucks"),
        ItemText(item_id="g2", title="Starbucks.com eGift", metadata_brand="Starbucks.com"),
        ItemText(item_id="g3", title="Coffee card", metadata_brand="Starbucks eGift Card"),
        ItemText(item_id="g4", title="Gift Card for any occasion", metadata_brand="Gift Card"),
    ]
    rows = loaded(extractor, items)
    brands = [row for row in rows if isinstance(row, BrandRow)]
    assert [brand.id for brand in brands] == ["starbucks"]
    assert {"Starbucks", "Starbucks.com", "Starbucks eGift Card"} <= set(brands[0].surface_forms)
    links = {(row.item_id, row.brand_id) for row in rows if isinstance(row, ItemBrandRow)}
    assert links == {("g1", "starbucks"), ("g2", "starbucks"), ("g3", "starbucks")}


def test_no_brand_is_invented_from_a_title_without_support(extractor: SpacyExtractor) -> None:
    one_off = [
        ItemText(item_id="p1", title="Paris Eau de Parfum Spray for Women, 3.4 Ounce"),
        ItemText(item_id="p2", title="Ed Hardy Love Kills Slowly Perfume, 1.7 oz"),
        # On many items, a specification opening titles is still no maker, though one item's
        # brand field says it is.
        *(ItemText(item_id=f"f{n}", title=f"3D Printer Filament {n}, 1kg") for n in range(4)),
        ItemText(item_id="f4", title="3D Printer Nozzle", metadata_brand="3D"),
    ]
    rows = loaded(extractor, one_off)
    links = {(row.item_id, row.brand_id) for row in rows if isinstance(row, ItemBrandRow)}
    assert links == {("f4", "3 d")}
    # Named on several items, or named in the brand field elsewhere, a brand is kept.
    repeated = [
        ItemText(item_id=f"s{n}", title=f"SHARKK Hair Brush, Model {n}, Black") for n in range(3)
    ]
    field = [
        ItemText(item_id="n1", title="Nioxin System 3 Cleanser, 10 oz"),
        ItemText(item_id="n2", title="Scalp Therapy Conditioner, 10 oz", metadata_brand="Nioxin"),
    ]
    rows = loaded(extractor, repeated + field)
    links = {(row.item_id, row.brand_id) for row in rows if isinstance(row, ItemBrandRow)}
    assert {("s0", "sharkk"), ("s1", "sharkk"), ("s2", "sharkk")} <= links
    assert ("n1", "nioxin") in links


def test_attributes_are_discovered_from_the_shops_own_text(extractor: SpacyExtractor) -> None:
    """A property no gazetteer lists becomes an attribute when it marks out a subset of the
    shop: on three items of forty, not on one."""
    titles = [f"Sanding Roll, {n * 20 + 40} Grit, 10 Yard" for n in range(40)]
    titles[:3] = [f"Adhesive-Backed Sanding Roll, {g} Grit" for g in (60, 80, 120)]
    titles[3] = "Self-Centering Drill Guide"
    items = [ItemText(item_id=f"i{n}", title=title) for n, title in enumerate(titles)]
    rows = loaded(extractor, items)
    attributes = {row.id: row for row in rows if isinstance(row, AttributeRow)}
    assert "feature:adhesive backed" in attributes
    assert "feature:self centering" not in attributes
    links = [
        row
        for row in rows
        if isinstance(row, ItemAttributeRow) and row.attribute_id == "feature:adhesive backed"
    ]
    assert {row.item_id for row in links} == {"i0", "i1", "i2"}
    assert all(row.extractor == "discovered" for row in links)


def test_a_brand_the_shop_knows_opening_a_title_is_that_items_brand(
    extractor: SpacyExtractor,
) -> None:
    """The shop's brand field, over all items, is what titles are read against: a title with
    no brand field, and one whose brand field names the parent company, both get the brand
    that opens them, when some item's brand field names it."""
    items = [
        ItemText(item_id="k1", title="Bel-Art Spinbar Magnetic Stir Bar", metadata_brand="Bel-Art"),
        ItemText(item_id="k2", title="Bel-Art Labmat Bench Liner, 50 Feet"),
        ItemText(item_id="k3", title="Bel-Art Desiccator Plate", metadata_brand="SP Scienceware"),
        ItemText(item_id="k4", title="Kimble Glass Beaker, 250 ml", metadata_brand="Kimble"),
        ItemText(item_id="k5", title="Mystery Widget, Blue"),
    ]
    rows = loaded(extractor, items)
    links = {(row.item_id, row.brand_id) for row in rows if isinstance(row, ItemBrandRow)}
    assert links == {("k1", "bel art"), ("k2", "bel art"), ("k3", "bel art"), ("k4", "kimble")}


def test_a_discovered_property_must_mark_out_items_within_a_category(
    extractor: SpacyExtractor,
) -> None:
    """Found as often in every category as in the shop, a word marks out nothing."""
    items = [
        ItemText(item_id=f"{c}{n}", title=f"Sanding Roll {c} model {n}", category=f"Tools > {c}")
        for c in "ABCD"
        for n in range(10)
    ]
    for n in range(3):
        items[n] = ItemText(
            item_id=f"A{n}", title=f"Adhesive-Backed Sanding Roll {n}", category="Tools > A"
        )
    for c in range(4):
        index = 10 * c + 5
        items[index] = ItemText(
            item_id=items[index].item_id,
            title=f"Universal-Fit Sanding Roll {c}",
            category=items[index].category,
        )
    attributes = {row.id for row in loaded(extractor, items) if isinstance(row, AttributeRow)}
    assert "feature:adhesive backed" in attributes
    assert "feature:universal fit" not in attributes


def test_a_compound_that_opens_the_titles_it_is_in_is_a_name(extractor: SpacyExtractor) -> None:
    """In a shop whose titles open with the brand (most catalogues'), a compound that opens
    the titles it is in names a maker or a line, not a property."""
    titles = [f"Kimble Beaker {n}, 250 ml" for n in range(40)]
    titles[:4] = [f"Bel-Art Spinbar Stir Bar, size {n}" for n in range(4)]
    titles[4:7] = [f"Kimble Adhesive-Backed Label Set {n}" for n in range(3)]
    items = [
        ItemText(item_id=f"t{n}", title=title, metadata_brand=None if n < 4 else "Kimble")
        for n, title in enumerate(titles)
    ]
    attributes = {row.id for row in loaded(extractor, items) if isinstance(row, AttributeRow)}
    assert "feature:adhesive backed" in attributes
    assert "feature:bel art" not in attributes


def test_a_topic_must_be_presented_as_a_subject(extractor: SpacyExtractor) -> None:
    """A topic word counts where a publication lists it or a cue names it, not as a word of
    ordinary prose or a gerund doing something to an object."""
    text = (
        "Each issue covers gardening, travel and food. Readers save time and money with handy "
        "hints, and the top names in the business write for us. Techniques range from brining "
        "shrimp to baking ham. Expect in-depth articles on all types of motorcycles."
    )
    (mentions,) = extractor.extract_items([ItemText(item_id="m", description=text)])
    topics = {value for kind, value in kept(mentions) if kind == "topic"}
    assert {"gardening", "travel", "food"} <= topics
    assert not {"money", "business", "baking"} & topics


def test_an_audience_word_listed_with_topics_is_a_topic(extractor: SpacyExtractor) -> None:
    texts = {
        "topic": "It covers the traditional values of home, family and children.",
        "audience": "A magazine for women and children.",
    }
    items = [ItemText(item_id=key, description=text) for key, text in texts.items()]
    found = dict(zip(texts, extractor.extract_items(items), strict=True))
    assert ("topic", "child") in kept(found["topic"])
    assert ("audience", "child") not in kept(found["topic"])
    assert ("audience", "child") in kept(found["audience"])


def test_what_a_product_is_for_or_comes_with_is_not_its_property(
    extractor: SpacyExtractor,
) -> None:
    """A feature or material in a "for ..." phrase names what the product is used on; a word
    discovery proposes in a "with ..." phrase describes a part."""
    items = [
        ItemText(
            item_id="for",
            title="Blue Glass Spray Bottle is Great for Essential Oils, Organic Beauty Products "
            "and Aromatherapy",
        ),
        ItemText(
            item_id="with", title="Ceramic Hair Dryer with Folding Handle and Retractable Cord"
        ),
        ItemText(item_id="own", title="Retractable Extension Cord Reel, 25 Feet"),
    ]
    found = dict(zip(("for", "with", "own"), extractor.extract_items(items), strict=True))
    assert {("colour", "blue"), ("material", "glass")} <= kept(found["for"])
    assert not {("feature", "organic"), ("feature", "aromatherapy")} & kept(found["for"])
    assert ("material", "ceramic") in kept(found["with"])

    def discovered(mentions: list[Mention]) -> set[str]:
        return {m.text.lower() for m in mentions if m.extractor == "discovered"}

    assert "retractable" not in discovered(found["with"])
    assert "retractable" in discovered(found["own"])


def test_a_finish_before_a_hue_is_one_shade(extractor: SpacyExtractor) -> None:
    (mentions,) = extractor.extract_items(
        [ItemText(item_id="e", title="Acme Cream Eyeliner, Metallic Olive, 0.17 Ounce")]
    )
    colours = {value for kind, value in kept(mentions) if kind == "colour"}
    assert colours == {"metallic olive"}


def test_a_description_does_not_grow_into_a_name(extractor: SpacyExtractor) -> None:
    text = "Subscribers also get The Daily IQ newsletter, which delivers insights every day."
    (mentions,) = extractor.extract_items([ItemText(item_id="n", description=text)])
    features = {value for kind, value in kept(mentions) if kind == "feature"}
    assert "newsletter" in features
    assert not any("iq" in value.split() for value in features)


def test_a_product_line_is_not_the_maker(extractor: SpacyExtractor) -> None:
    """Titles name the maker, then the line. A brand field holding the line yields to the
    maker that opens the title; of two known openings, the maker is the one the shop's brand
    field names more often. A line opening the title does not displace a maker that the shop
    names more often ("Travel Smart by Conair")."""
    items = [
        ItemText(item_id="j1", title="John Frieda Frizz-Ease Serum, 1.69 Ounces",
                 metadata_brand="Frizz-Ease"),
        *(ItemText(item_id=f"j{n}", title=f"John Frieda Sheer Blonde Shampoo {n}",
                   metadata_brand="John Frieda") for n in (2, 3)),
        *(ItemText(item_id=f"t{n}", title=f"TIGI Catwalk Shampoo {n}", metadata_brand="TIGI")
          for n in range(3)),
        ItemText(item_id="t3", title="TIGI Bed Head Conditioner", metadata_brand="TIGI Bed Head"),
        ItemText(item_id="t4", title="TIGI Bed Head Superstar Thickening Spray"),
        *(ItemText(item_id=f"c{n}", title=f"Conair Hair Dryer {n}", metadata_brand="Conair")
          for n in range(3)),
        ItemText(item_id="c3", title="Travel Smart by Conair Sundry Kit", metadata_brand="Conair"),
        ItemText(item_id="c4", title="Travel Smart Adapter Plug", metadata_brand="Travel Smart"),
    ]  # fmt: skip
    rows = loaded(extractor, items)
    links = {(row.item_id, row.brand_id) for row in rows if isinstance(row, ItemBrandRow)}
    assert {("j1", "john frieda"), ("j2", "john frieda"), ("t4", "tigi")} <= links
    assert {("t3", "tigi bed head"), ("c3", "conair")} <= links  # their own fields: kept
    assert not {("j1", "frizz ease"), ("t4", "tigi bed head")} & links


def test_a_known_brand_placed_shop_wide_is_a_name_not_attributes(
    extractor: SpacyExtractor,
) -> None:
    """A title's opening brand that only the whole shop knows (its brand field names it on
    another item, extracted in another batch) is a name: no colour is read inside it."""
    stage = ExtractionStage([extractor], batch_size=1)
    for item in (
        ItemText(item_id="b1", title="Blue Buffalo Dog Food, 30 lb", metadata_brand="Blue Buffalo"),
        ItemText(item_id="b2", title="Blue Buffalo wilderness cat food, 11 lb"),
        ItemText(item_id="b3", title="Blue dog bowl, 2 quart", metadata_brand="Acme"),
    ):
        stage.add_item(item)
    rows = [row for group in stage.rows() for row in group]
    brands = {(row.item_id, row.brand_id) for row in rows if isinstance(row, ItemBrandRow)}
    colours = {
        row.item_id
        for row in rows
        if isinstance(row, ItemAttributeRow) and row.attribute_id == "colour:blue"
    }
    assert ("b2", "blue buffalo") in brands
    assert colours == {"b3"}


def test_a_maker_the_brand_field_never_names_opens_the_titles(extractor: SpacyExtractor) -> None:
    """A brand field holding the parent company or distributor ("Acme Holdings") yields to
    the maker that several of its titles open with, up to where they part; an opening that
    describes the product ("Glass ..."), a spelling of the field's own name ("Acme ...") or a
    distributor's scattered openings are no maker."""

    def item(n: int, title: str, field: str) -> ItemText:
        return ItemText(item_id=f"m{n}", title=title, metadata_brand=field)

    items = [
        item(0, "Zorvex Single Scale Cylinder, 50 ml", "Acme Holdings"),
        item(1, "Zorvex Single Scale Cylinder, 250 ml", "Acme Holdings"),
        item(2, "Zorvex Labmat Bench Liner, 50 Feet", "Acme Holdings"),
        item(3, "Glass Beaker Set, 3 piece", "Bolt Supply"),
        item(4, "Glass Funnel, 60 mm", "Bolt Supply"),
        *(item(5 + n, f"Heavy Glass Jar {n}", "Other") for n in range(3)),
        item(8, "Acme Stir Bar", "Acme Holdings"),
        item(9, "Acme Stir Rod", "Acme Holdings"),
    ]
    rows = loaded(extractor, items)
    links = {(row.item_id, row.brand_id) for row in rows if isinstance(row, ItemBrandRow)}
    assert {("m0", "zorvex"), ("m1", "zorvex"), ("m2", "zorvex")} <= links
    assert {("m3", "bolt supply"), ("m4", "bolt supply")} <= links
    assert {("m8", "acme holdings"), ("m9", "acme holdings")} <= links


def test_a_makers_spellings_decide_alike_whichever_item_comes_first() -> None:
    """Two titles of one brand field open with one form spelt apart ("No Rinse Shampoo",
    "No-Rinse Body Bath"): one spelling reads as a name, the other holds a word many titles
    use. The verdict takes the most common spelling, the first in sorted order on a tie, so
    it never depends on which item a set of ids yields first (that follows the hash seed: a
    Beauty load got the brand field's "Clean Life Products" on some runs, a maker on others).
    Many id pairs, each in both arrangements of the spellings, all decide alike."""
    from ingest.extract.brands import OPENING_CONFIDENCE, place_known_brands

    def mentions(opening: str) -> list[Mention]:
        field = Mention(kind=BRAND, text="Clean Life Products", source="metadata",
                        extractor="metadata", confidence=0.9)  # fmt: skip
        return [field, *(
            Mention(kind=BRAND, text=text, source="title", extractor="rule",
                    confidence=OPENING_CONFIDENCE, start=0, end=len(text))
            for text in ("No", opening)
        )]  # fmt: skip

    inside_titles = {"rinse": 7, "shampoo": 1, "body": 3}  # "rinse": not a maker's word
    for n in range(32):
        for spellings in (("No Rinse", "No-Rinse"), ("No-Rinse", "No Rinse")):
            ids = (f"B{n:03d}A", f"B{n:03d}B")
            items = {item_id: mentions(text) for item_id, text in zip(ids, spellings, strict=True)}
            placed = place_known_brands(items, inside_titles)
            brands = {
                item_id: tuple(sorted(m.text for m in found if m.kind == BRAND))
                for item_id, found in placed.items()
            }
            assert brands == dict.fromkeys(ids, ("Clean Life Products",)), (ids, spellings)


def test_a_part_or_model_number_is_no_brand(extractor: SpacyExtractor) -> None:
    from ingest.extract.brands import model_number, usable_brand

    assert model_number("B60800-3100") and model_number("18UL1007STRKIT")
    assert not model_number("3M") and not model_number("AMZ3D") and not model_number("Bel-Art")
    long_field = "Zorvex 5m USB Waterproof Endoscope Borescope Inspection Camera"
    assert usable_brand(long_field) is None  # a product title in the brand field


def item_attributes(rows: list[Row], kind: str) -> set[tuple[str, str]]:
    """(item id, attribute id) of the loaded item-attribute links of one kind."""
    return {
        (row.item_id, row.attribute_id)
        for row in rows
        if isinstance(row, ItemAttributeRow) and row.attribute_id.startswith(f"{kind}:")
    }


def test_a_scent_needs_a_scent_context(extractor: SpacyExtractor) -> None:
    """A scent word counts where the item or its product type speaks of scent: not in a
    toothpaste whose category never does, not before a material or "shaped"."""
    items = [
        ItemText(item_id="t1", title="Acme Toothpaste, Tea Tree Oil & Cinnamon, 6 oz",
                 category="Oral Care > Toothpaste"),
        ItemText(item_id="t2", title="Acme Whitening Toothpaste, 4 oz",
                 category="Oral Care > Toothpaste"),
        ItemText(item_id="c1", title="Acme Soy Candle, Cinnamon, 8 oz", category="Home > Candles"),
        ItemText(item_id="c2", title="Acme Scented Candle, Lavender", category="Home > Candles"),
        ItemText(item_id="c3", title="Acme Candle, Fresh Fragrance", category="Home > Candles"),
        ItemText(item_id="b1", title="Amber Glass Dropper Bottle, 2 oz, Scented Oils",
                 category="Lab > Bottles"),
        ItemText(item_id="f1", title="Pear shaped Separating Funnel, 500 ml, for scented oils",
                 category="Lab > Funnels"),
    ]  # fmt: skip
    rows = loaded(extractor, items)
    scents = item_attributes(rows, "scent")
    assert ("c1", "scent:cinnamon") in scents and ("c2", "scent:lavender") in scents
    assert not {item for item, _ in scents} & {"t1", "b1", "f1"}


def test_the_first_word_of_a_product_type_is_no_feature(extractor: SpacyExtractor) -> None:
    """A discovered word that, with the noun after it, names a product type of the shop (a
    category says "Variable Resistors"; "hook-up" is always followed by "wire") is not a
    feature of its own; the same kind of word elsewhere still is."""
    titles = [f"Copper Cable {n}, 10 ft" for n in range(120)]
    titles[0:3] = [f"Variable Resistor Kit {n}" for n in range(3)]
    titles[3:13] = [f"Stranded Hook-Up Wire Kit, {n} colours" for n in range(10)]
    titles[13:16] = ["Adhesive-Backed Cable Clip", "Adhesive-Backed Label", "Adhesive-Backed Hook"]
    categories = ["Electrical > Cables"] * 120
    categories[0:3] = ["Electrical > Resistors > Variable Resistors"] * 3
    categories[3:13] = ["Electrical > Wire"] * 10
    categories[13:16] = ["Electrical > Fasteners"] * 3
    items = [
        ItemText(item_id=f"r{n}", title=title, category=category)
        for n, (title, category) in enumerate(zip(titles, categories, strict=True))
    ]
    attributes = {row.id for row in loaded(extractor, items) if isinstance(row, AttributeRow)}
    assert "feature:adhesive backed" in attributes
    assert not {"feature:variable", "feature:hook up"} & attributes


def test_a_fraction_before_a_unit_is_one_size_and_a_code_is_none(
    extractor: SpacyExtractor,
) -> None:
    (mentions,) = extractor.extract_items(
        [ItemText(item_id="s", title="Acme P6/20L Brad Nails, 5/8-Inch, 1-1/2 Inch Crown")]
    )
    sizes = {value for kind, value in kept(mentions) if kind == "size"}
    assert sizes == {normal_form("5/8 inch", "size"), normal_form("1-1/2 inch", "size")}


def test_words_next_to_colours_sizes_and_names(extractor: SpacyExtractor) -> None:
    """Two colour words are one shade unless both are basic hues; a dimension word after a
    size names what it measures; "Stainless" alone is stainless steel cut short; "compatible"
    says what the product fits."""
    (mentions,) = extractor.extract_items(
        [ItemText(item_id="w", title="Cobalt Blue Bottle, Red Black Cap, 90 ml Volume")]
    )
    assert {("colour", "cobalt blue"), ("colour", "red"), ("colour", "black")} <= kept(mentions)
    assert not any(kind == "use" for kind, _ in kept(mentions))
    proposed = extractor.extract_items(
        [ItemText(item_id="x", title="Stainless Hose Clamp, Compatible with Acme, Waterproof")]
    )[0]
    discovered = {m.text.lower() for m in proposed if m.extractor == "discovered"}
    assert "waterproof" in discovered or ("feature", "waterproof") in kept(proposed)
    assert not {"stainless", "compatible"} & discovered


def test_title_words_of_the_brand_fields_name_are_no_attributes(
    extractor: SpacyExtractor,
) -> None:
    """A title that opens with part of its brand field's name ("Brown & Sharpe" for the
    field "Tesa Brown & Sharpe") holds no colour there, and names that brand."""
    items = [
        ItemText(item_id="d1", title="Brown & Sharpe Dial Caliper, Black Face",
                 metadata_brand="Tesa Brown & Sharpe"),
        ItemText(item_id="d2", title="Brown Leather Tool Pouch", metadata_brand="Acme"),
    ]  # fmt: skip
    rows = loaded(extractor, items)
    colours = item_attributes(rows, "colour")
    assert ("d1", "colour:brown") not in colours
    assert {("d1", "colour:black"), ("d2", "colour:brown")} <= colours
    # The title's spelling is one more surface form of the field's brand, not a second brand.
    links = {(row.item_id, row.brand_id) for row in rows if isinstance(row, ItemBrandRow)}
    (brand,) = [brand for item, brand in links if item == "d1"]
    (row,) = [row for row in rows if isinstance(row, BrandRow) and row.id == brand]
    assert {"Brown & Sharpe", "Tesa Brown & Sharpe"} <= set(row.surface_forms)
