"""kgrec's Neo4j Browser guide and style, served by the local server itself.

Neo4j 5.26 serves Browser from `<home>/web/neo4j-browser*.zip` when there is one (the archive's
first entry is the folder it serves), else from the Browser jar on its class path. A local
server gets a copy of the jar's `browser/` folder with `kgrec/guide.html` (made from
`cypher/explore/`) and `kgrec/style.grass` (`cypher/style.grass`) added, so both come from
Browser's own origin: no CORS and no other server to run. The archive is rebuilt only when
what goes into it changed.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path, PurePosixPath

from kg.errors import ProvisionError
from kg.explore import ExploreFileError, explore_queries, guide_html

EXTRAS_DIR = "kgrec"  # served at /browser/kgrec/
GUIDE_FILE = "guide.html"
STYLE_FILE = "style.grass"
ARCHIVE = "neo4j-browser.zip"  # the name Neo4j looks for in <home>/web/
_SERVED = "browser/"


def extras_url(http_port: int, file: str) -> str:
    return f"http://127.0.0.1:{http_port}/{_SERVED}{EXTRAS_DIR}/{file}"


def browser_extras(cypher_dir: Path, http_port: int) -> dict[str, bytes]:
    """The files added to Browser: the guide (its style command points at this server) and
    the style."""
    style = cypher_dir / STYLE_FILE
    if not style.is_file():
        raise ProvisionError(f"the Browser style {style} is missing")
    try:
        queries = explore_queries(cypher_dir)
    except ExploreFileError as exc:
        raise ProvisionError(f"cannot make the Browser guide: {exc}") from exc
    guide = guide_html(queries, extras_url(http_port, STYLE_FILE))
    return {GUIDE_FILE: guide.encode(), STYLE_FILE: style.read_bytes()}


def write_browser_archive(browser_jar: Path, web_dir: Path, extras: dict[str, bytes]) -> Path:
    """`<web_dir>/neo4j-browser.zip`: the jar's Browser plus `extras` under `kgrec/`."""
    digest = hashlib.sha256(browser_jar.name.encode())
    for name, content in sorted(extras.items()):
        digest.update(name.encode() + b"\0" + content)
    archive, stamp = web_dir / ARCHIVE, web_dir / f".{ARCHIVE}.sha256"
    if archive.exists() and stamp.exists() and stamp.read_text() == digest.hexdigest():
        return archive
    web_dir.mkdir(parents=True, exist_ok=True)
    partial = web_dir / f".{ARCHIVE}.partial"
    with zipfile.ZipFile(browser_jar) as jar, zipfile.ZipFile(partial, "w") as out:
        files = [i for i in jar.infolist() if i.filename.startswith(_SERVED) and not i.is_dir()]
        added = [f"{_SERVED}{EXTRAS_DIR}/{name}" for name in extras]
        # Neo4j unpacks entry by entry without creating parents, and serves the first entry:
        # every folder gets an entry of its own, `browser/` first, each before its contents.
        folders = {str(p) + "/" for f in [i.filename for i in files] + added
                   for p in PurePosixPath(f).parents if str(p) != "."}  # fmt: skip
        for folder in sorted(folders):
            out.writestr(folder, b"")
        for info in files:
            # Stored, not compressed: Neo4j unpacks it at every start anyway.
            out.writestr(info.filename, jar.read(info), zipfile.ZIP_STORED)
        for path, content in zip(added, extras.values(), strict=True):
            out.writestr(path, content, zipfile.ZIP_STORED)
    partial.replace(archive)
    stamp.write_text(digest.hexdigest())
    return archive
