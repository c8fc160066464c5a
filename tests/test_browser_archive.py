"""The Browser archive a local server serves (`kg.provision.browser`): Browser as its jar has
it plus kgrec's guide and style, laid out as Neo4j unpacks it (entry by entry, the first one
the folder it serves, every folder before what it holds). That the real server serves it is
checked in test_explore_demo.py."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from kg import Settings
from kg.errors import ProvisionError
from kg.provision.browser import ARCHIVE, browser_extras, write_browser_archive


@pytest.fixture()
def jar(tmp_path: Path) -> Path:
    path = tmp_path / "org.neo4j.client.neo4j-browser-5.24.0.jar"
    with zipfile.ZipFile(path, "w") as out:
        out.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
        out.writestr("browser/index.html", "<html>Browser</html>")
        out.writestr("browser/assets/js/app.js", "run()")  # no folder entries, as jars may
    return path


def test_the_archive_holds_browser_and_the_extras_in_unpacking_order(
    jar: Path, tmp_path: Path
) -> None:
    archive = write_browser_archive(jar, tmp_path / "web", {"guide.html": b"<slide/>"})
    with zipfile.ZipFile(archive) as built:
        names = built.namelist()
        assert built.read("browser/kgrec/guide.html") == b"<slide/>"
        assert built.read("browser/assets/js/app.js") == b"run()"
    assert archive.name == ARCHIVE and names[0] == "browser/"
    assert not any(name.startswith("META-INF") for name in names)
    for position, name in enumerate(names):
        parent = name.rstrip("/").rpartition("/")[0] + "/"
        assert name == "browser/" or names.index(parent) < position, name


def test_the_archive_is_rebuilt_only_when_its_content_changes(jar: Path, tmp_path: Path) -> None:
    archive = write_browser_archive(jar, tmp_path / "web", {"guide.html": b"one"})
    built = archive.stat().st_mtime_ns
    assert (
        write_browser_archive(jar, tmp_path / "web", {"guide.html": b"one"}).stat().st_mtime_ns
        == built
    )
    write_browser_archive(jar, tmp_path / "web", {"guide.html": b"two"})
    with zipfile.ZipFile(archive) as rebuilt:
        assert rebuilt.read("browser/kgrec/guide.html") == b"two"


def test_the_extras_are_the_guide_and_the_style() -> None:
    extras = browser_extras(Settings().cypher_dir, 7474)
    assert set(extras) == {"guide.html", "style.grass"}
    assert b":style http://127.0.0.1:7474/browser/kgrec/style.grass" in extras["guide.html"]
    assert (
        b"node.Item {" in extras["style.grass"] and b'caption: "{name}";' in extras["style.grass"]
    )


def test_a_broken_exploration_file_stops_the_server_start_with_its_name(tmp_path: Path) -> None:
    (tmp_path / "style.grass").write_text("node {}\n")
    (tmp_path / "explore").mkdir()
    (tmp_path / "explore" / "01_bad.cypher").write_text("// Q\nMATCH (n {id: $item}) RETURN n;\n")
    with pytest.raises(ProvisionError, match=r"01_bad\.cypher: the query uses \$item"):
        browser_extras(tmp_path, 7474)
