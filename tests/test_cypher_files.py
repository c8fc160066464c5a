"""The files of cypher/explore/ follow their format (a header, example parameters for every
`$name` the query uses, one statement), bad files are refused with the file and the fault
named, and the Browser guide holds every query. They run on the demo graph in
test_explore_demo.py."""

from __future__ import annotations

import html
from pathlib import Path

import pytest

from kg import Settings
from kg.explore import ExploreFileError, explore_queries, guide_html, read_explore_file

CYPHER_DIR = Settings().cypher_dir


def test_every_exploration_file_asks_one_documented_question() -> None:
    queries = explore_queries(CYPHER_DIR)
    assert len(queries) >= 8
    for query in queries:
        assert query.question and query.about, query.path
        assert query.params or "$" not in query.statement, query.path
    assert not (CYPHER_DIR / "explore.cypher").exists()  # replaced by the folder


def test_a_file_pasted_whole_sets_its_parameters_then_runs() -> None:
    (query,) = [q for q in explore_queries(CYPHER_DIR) if "why_recommended" in q.path.name]
    lines = query.text.splitlines()
    assert lines[:2] == [f":param user => {query.params['user']};",
                         f":param item => {query.params['item']};"]  # fmt: skip
    assert query.text.endswith(";") and query.statement in query.text


@pytest.mark.parametrize(
    ("text", "fault"),
    [
        ("// Q\nMATCH (n {id: $item}) RETURN n;", r"uses \$item but has no `:param item"),
        ("// Q\n:param item => 'x';\nMATCH (n) RETURN n;", "parameters item are not used"),
        ("// Q\n:param item = 'x';\nMATCH (n {id: $item}) RETURN n;", "malformed parameter"),
        ("// Q\nMATCH (n) RETURN n;\n:param k => 1;", "after the query"),
        ("// Q\nMATCH (n) RETURN n;\nMATCH (m) RETURN m;", "more than one statement"),
        ("MATCH (n) RETURN n;", "has no `//` header line"),
        ("// Q only\n", "has no query"),
    ],
)
def test_a_bad_file_is_refused_naming_the_file_and_fault(
    tmp_path: Path, text: str, fault: str
) -> None:
    path = tmp_path / "bad.cypher"
    path.write_text(text)
    with pytest.raises(ExploreFileError, match=fault) as raised:
        read_explore_file(path)
    assert str(path) in str(raised.value)


def test_an_empty_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "explore").mkdir()
    with pytest.raises(ExploreFileError, match=r"no \.cypher files"):
        explore_queries(tmp_path)


def test_the_guide_has_a_runnable_slide_per_query() -> None:
    queries = explore_queries(CYPHER_DIR)
    guide = guide_html(queries, "http://127.0.0.1:7474/browser/kgrec/style.grass")
    assert guide.count("<slide>") == len(queries) + 1
    assert guide.count('class="pre-scrollable code runnable"') == len(queries) + 1
    for query in queries:
        assert html.escape(query.text) in guide
    assert ":style http://127.0.0.1:7474/browser/kgrec/style.grass" in guide
