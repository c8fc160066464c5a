"""The `kgrec` command. Sub-commands live next to the code they run and register through the
`kgrec.commands` entry-point group (see pyproject.toml), so `kg` imports none of them."""

from __future__ import annotations

import sys
import webbrowser
from importlib.metadata import entry_points

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from kg import provision
from kg.connection import Graph
from kg.errors import GraphError, GraphUnavailableError
from kg.provision import ProvisionError
from kg.schema import apply_schema, drop_schema
from kg.settings import get_settings, prefer_huge_pages
from kg.write import delete_all

console = Console()
err_console = Console(stderr=True)

app = typer.Typer(
    name="kgrec",
    help=(
        "kgrec: knowledge-graph recommendations for e-commerce.\n\n"
        "Start here: `kgrec neo4j start` brings up the graph database, `kgrec ingest ...` "
        "loads data into it (`make demo` does both for the sample shop), `kgrec train` trains "
        "the recommender on it. Every setting is an environment variable with the prefix "
        "KGREC_ (or a line in .env), e.g. KGREC_NEO4J_URI=bolt://host:7687 to use your own "
        "server."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

neo4j_app = typer.Typer(
    name="neo4j",
    help=(
        "Run or locate the Neo4j 5.26 server kgrec uses.\n\n"
        "Where it comes from, in order: KGREC_NEO4J_URI (+ KGREC_NEO4J_PASSWORD) names an "
        "external server and nothing is started; else Docker, when an engine answers "
        "(`docker compose up -d neo4j`); else a local Neo4j Community assembled from Maven "
        "Central jars into .kgrec/ and run with Java 17, bound to 127.0.0.1. Force one with "
        "KGREC_NEO4J_MODE=external|docker|local. Ports: KGREC_NEO4J_BOLT_PORT (7687) and "
        "KGREC_NEO4J_HTTP_PORT (7474)."
    ),
    no_args_is_help=True,
)


def fail(message: str, code: int = 1) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


def _status_table(status: provision.ServerStatus) -> Table:
    table = Table(show_header=False, box=None)
    table.add_row("mode", status.mode)
    table.add_row("running", "[green]yes[/]" if status.running else "[red]no[/]")
    table.add_row("bolt", status.uri)
    table.add_row("browser", status.browser_url or "-")
    table.add_row("user", status.user)
    table.add_row("password", status.password_hint)
    table.add_row("detail", status.detail)
    return table


@neo4j_app.command()
def start() -> None:
    """Start Neo4j (downloading the jars on first use) and wait until Bolt answers.
    A server that is already running is found and left as it is."""
    settings = get_settings()
    try:
        with console.status("Starting Neo4j (the first start downloads ~140 MB of jars)..."):
            status, started = provision.start(settings)
    except ProvisionError as exc:
        raise fail(str(exc)) from exc
    console.print("Neo4j started." if started else "Neo4j is already running.")
    console.print(_status_table(status))


@neo4j_app.command()
def stop() -> None:
    """Stop the Neo4j server kgrec started (SIGTERM, then SIGKILL after 60 s).
    An external server (KGREC_NEO4J_URI) is never stopped."""
    settings = get_settings()
    try:
        with console.status("Stopping Neo4j..."):
            stopped = provision.stop(settings)
    except ProvisionError as exc:
        raise fail(str(exc)) from exc
    if provision.resolve_mode(settings) == "external":
        console.print("Neo4j is external (KGREC_NEO4J_URI); kgrec does not stop it.")
    else:
        console.print("Neo4j stopped." if stopped else "Neo4j was not running.")


@neo4j_app.command()
def status() -> None:
    """Say which Neo4j kgrec uses, where, and whether it answers (exit code 3 if not)."""
    try:
        current = provision.status(get_settings())
    except ProvisionError as exc:
        raise fail(str(exc)) from exc
    console.print(_status_table(current))
    if not current.running:
        console.print("Start it with `kgrec neo4j start`.")
        raise typer.Exit(3)


@neo4j_app.command()
def browser(
    open_browser: bool = typer.Option(
        False, "--open", help="Also open Neo4j Browser in this machine's web browser."
    ),
) -> None:
    """Print how to open Neo4j Browser: its URL, the connect URL and the credentials."""
    settings = get_settings()
    try:
        current = provision.status(settings)
        info = provision.resolve_connection(settings)
    except ProvisionError as exc:
        raise fail(str(exc)) from exc
    if current.browser_url is None:
        raise fail(
            f"Neo4j is external ({current.uri}); open its own Browser. kgrec knows no URL for it."
        )
    console.print(f"Neo4j Browser:  {current.browser_url}")
    console.print(f"Connect URL:    {current.uri}")
    console.print(f"Username:       {info.user}")
    console.print(f"Password:       {info.password}")
    if current.guide_url and current.style_url:
        # Browser commands to paste: one line each, whatever the terminal's width.
        console.print(f"Guide:          :guide {current.guide_url}", soft_wrap=True)
        console.print(f"Style:          :style {current.style_url}", soft_wrap=True)
    if not current.running:
        console.print("[yellow]Neo4j is not running: `kgrec neo4j start` first.[/]")
    if open_browser:
        webbrowser.open(current.browser_url)


@neo4j_app.command()
def reset(
    yes: bool = typer.Option(False, "--yes", help="Do not ask first (scripts, `make`)."),
) -> None:
    """Start over with an empty database: delete every node and relationship, drop every
    index and constraint, then create kgrec's schema again. The server, its password, .venv,
    the saved models and the extraction caches stay. Asks first unless --yes."""
    settings = get_settings()
    try:
        info = provision.resolve_connection(settings)
    except ProvisionError as exc:
        raise fail(str(exc)) from exc
    where = f"database '{settings.neo4j_database}' at {info.uri}"
    if not yes and not typer.confirm(f"Delete everything in {where}?", default=False):
        raise fail("nothing deleted (pass --yes to skip this question)")
    try:
        with Graph.connect(settings, wait_s=5) as graph:
            (before,) = graph.read(
                "CALL () { MATCH (n) RETURN count(n) AS nodes } "
                "CALL () { MATCH ()-[r]->() RETURN count(r) AS relationships } "
                "RETURN nodes, relationships"
            )
            delete_all(graph)
            drop_schema(graph)
            apply_schema(graph, settings.cypher_dir / "schema.cypher")
    except GraphUnavailableError as exc:
        raise fail(f"{exc}. Is Neo4j running? `kgrec neo4j start` first.") from exc
    except GraphError as exc:
        raise fail(f"the reset failed part-way ({exc}); run it again.") from exc
    console.print(
        f"Emptied {where}: {before['nodes']:,} nodes and {before['relationships']:,} "
        "relationships deleted; schema created again."
    )


def main() -> None:
    prefer_huge_pages()  # before the sub-commands import torch
    for entry in entry_points(group="kgrec.commands"):
        command = entry.load()
        if isinstance(command, typer.Typer):
            app.add_typer(command, name=entry.name)
        else:
            app.command(name=entry.name)(command)
    try:
        app()
    except ValidationError as exc:  # a bad KGREC_* variable or .env line
        problems = "; ".join(
            f"KGREC_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()
        )
        fail(f"invalid setting {problems}. Fix that environment variable or .env line.")
        sys.exit(2)


if __name__ == "__main__":
    main()
