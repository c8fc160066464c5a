"""The exploration queries of `cypher/explore/` and the Neo4j Browser guide made from them.

Each file asks one question. Its opening `//` lines are the header (the first is the question,
the rest says what the answer holds), then `:param name => <Cypher expression>;` lines with
example values from the demo graph, then one Cypher statement. Pasted whole into Browser, the
file sets its parameters and runs; `guide_html` makes one guide slide per file.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

EXPLORE_DIR = "explore"
_PARAM = re.compile(r":param\s+([A-Za-z_]\w*)\s*=>\s*(.+?)\s*;?\s*")
_USED = re.compile(r"\$([A-Za-z_]\w*)")


class ExploreFileError(ValueError):
    """A file of cypher/explore/ that does not follow the format above."""


@dataclass(frozen=True)
class ExploreQuery:
    path: Path
    question: str
    about: str
    params: dict[str, str]  # name -> the Cypher expression of its example value
    statement: str

    @property
    def text(self) -> str:
        """What an analyst pastes into Browser: the parameters, then the query."""
        params = "".join(f":param {name} => {value};\n" for name, value in self.params.items())
        return f"{params}\n{self.statement};" if params else f"{self.statement};"


def read_explore_file(path: Path) -> ExploreQuery:
    """Parse one file; an `ExploreFileError` names the file and what is wrong with it."""
    header: list[str] = []
    params: dict[str, str] = {}
    body: list[str] = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("//") and not body and not params:
            header.append(stripped.removeprefix("//").strip())
        elif stripped.startswith(":param"):
            match = _PARAM.fullmatch(stripped)
            if match is None or body:
                where = "after the query" if body else "malformed"
                raise ExploreFileError(
                    f"{path}:{number}: {where} parameter line {stripped!r}; write "
                    "`:param name => <value>;` lines between the header and the query"
                )
            params[match.group(1)] = match.group(2)
        elif stripped and not stripped.startswith("//"):
            body.append(line)
    statement = "\n".join(body).strip().removesuffix(";").strip()
    if not header or not statement:
        missing = "`//` header line saying what it answers" if not header else "query"
        raise ExploreFileError(f"{path}: has no {missing}")
    if ";" in statement:
        raise ExploreFileError(f"{path}: more than one statement; one question a file")
    used = set(_USED.findall(statement))
    if unset := sorted(used - params.keys()):
        raise ExploreFileError(
            f"{path}: the query uses {', '.join('$' + p for p in unset)} but has no "
            f"`:param {unset[0]} => ...;` line giving an example value"
        )
    if unused := sorted(params.keys() - used):
        raise ExploreFileError(f"{path}: parameters {', '.join(unused)} are not used")
    return ExploreQuery(path, header[0], " ".join(filter(None, header[1:])), params, statement)


def explore_queries(cypher_dir: Path) -> list[ExploreQuery]:
    """Every file of `<cypher_dir>/explore/`, in file name order."""
    files = sorted((cypher_dir / EXPLORE_DIR).glob("*.cypher"))
    if not files:
        raise ExploreFileError(f"no .cypher files in {cypher_dir / EXPLORE_DIR}")
    return [read_explore_file(path) for path in files]


def guide_html(queries: list[ExploreQuery], style_url: str) -> str:
    """A Neo4j Browser guide (`:guide <url>`): a slide per query, whose code block puts the
    parameters and the query into the editor when clicked."""
    slides = [
        "<slide><h3>Exploring the kgrec graph</h3>"
        "<p>Each of the next slides asks one question of the graph. Click its code to put it "
        "into the editor (with example parameters from the demo shop), then run it. Item "
        "captions show each item's display name once this style is loaded:</p>"
        f'<pre class="pre-scrollable code runnable">:style {html.escape(style_url)}</pre>'
        "<ul>" + "".join(f"<li>{html.escape(q.question)}</li>" for q in queries) + "</ul></slide>"
    ]
    slides += [
        f"<slide><h3>{html.escape(q.question)}</h3><p>{html.escape(q.about)}</p>"
        f'<pre class="pre-scrollable code runnable">{html.escape(q.text)}</pre>'
        f"<p><small>cypher/{EXPLORE_DIR}/{html.escape(q.path.name)}</small></p></slide>"
        for q in queries
    ]
    return (
        "<!DOCTYPE html>\n<html><head><title>kgrec: explore the graph</title></head><body>\n"
        '<article class="guide"><carousel class="deck container-fluid">\n'
        + "\n".join(slides)
        + "\n</carousel></article>\n</body></html>\n"
    )
