"""A Neo4j Community server assembled from Maven Central jars and run with Java 17, no Docker.

Layout (all git-ignored, under the project's `.kgrec/`):
    jars/neo4j-<version>/      every runtime jar, shared by all local servers of that version
    neo4j/                     the default <home>:
    <home>/conf/neo4j.conf     written on every start (ports may change)
    <home>/data, logs, run/    the database, Neo4j's logs, pid + console log
    <home>/password            the generated password of user `neo4j` (mode 0600)
    <home>/web/                Browser with kgrec's guide and style (kg.provision.browser)
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import FrameType

from kg.connect_info import local_password, local_password_file
from kg.connection import Graph
from kg.errors import GraphUnavailableError, ProvisionError
from kg.provision.browser import (
    GUIDE_FILE,
    STYLE_FILE,
    browser_extras,
    extras_url,
    write_browser_archive,
)
from kg.settings import Settings

# The JVM flags of Neo4j 5.26's default configuration (the tarball's launcher passes these).
JVM_FLAGS = [
    "-XX:+UseG1GC",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:+UnlockExperimentalVMOptions",
    "-XX:+TrustFinalNonStaticFields",
    "-XX:+DisableExplicitGC",
    "-Djdk.nio.maxCachedBufferSize=1024",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Dlog4j2.disable.jmx=true",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--enable-native-access=ALL-UNNAMED",
    "-Dfile.encoding=UTF-8",
]
ENTRY_POINT = "org.neo4j.server.CommunityEntryPoint"
ADMIN_ENTRY_POINT = "org.neo4j.server.startup.Neo4jAdminCommand"
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies"
STOP_GRACE_S = 60.0
OWNER_FILE = "owner"  # in a throwaway home: "<pid> <host>" of the process it belongs to
# What ends Python without unwinding `finally` blocks (SIGTERM, SIGHUP), or may not (SIGINT:
# its KeyboardInterrupt can be caught).
CLEANUP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
SignalHandler = Callable[[int, FrameType | None], object] | int


class PortInUseError(ProvisionError):
    def __init__(self, port: int, setting: str) -> None:
        super().__init__(
            f"Port {port} on 127.0.0.1 is already taken by another program, so Neo4j cannot "
            f"listen there. Stop that program, or choose a free port with {setting}=<port>."
        )
        self.port = port


@dataclass(frozen=True)
class LocalStatus:
    running: bool
    pid: int | None
    home: Path
    bolt_uri: str
    browser_url: str
    guide_url: str
    style_url: str
    password_file: Path
    version: str
    installed: bool


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As a server binds: connections of a just-stopped server lingering in TIME_WAIT do
        # not make the port taken.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def port_answers(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still "exists" for kill(0); treat it as gone.
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ", 1)[-1].startswith("Z"))


def find_tool(name: str, fix: str) -> str:
    java_home = os.environ.get("JAVA_HOME")
    if name == "java" and java_home and (Path(java_home) / "bin" / "java").exists():
        return str(Path(java_home) / "bin" / "java")
    path = shutil.which(name)
    if path is None:
        raise ProvisionError(f"`{name}` was not found on PATH. {fix}")
    return path


def java_major_version(java: str) -> int:
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False).stderr
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not match:
        raise ProvisionError(f"Could not read the Java version from `{java} -version`: {out!r}")
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


class LocalNeo4j:
    """One local server: its jars, home folder, ports and process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.neo4j_home.resolve()
        self.jars = settings.neo4j_jars_dir.resolve() / f"neo4j-{settings.neo4j_version}"
        self.bolt_port = settings.neo4j_bolt_port
        self.http_port = settings.neo4j_http_port
        self.password_file = local_password_file(settings)
        self.pid_file = self.home / "run" / "neo4j.pid"
        self.console_log = self.home / "logs" / "console.log"

    @property
    def bolt_uri(self) -> str:
        return f"bolt://127.0.0.1:{self.bolt_port}"

    @property
    def browser_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/browser/"

    # -- install ---------------------------------------------------------------------------

    @property
    def installed(self) -> bool:
        return (self.jars / ".complete").exists()

    def install(self) -> None:
        """Download every runtime jar once (Maven caches them in ~/.m2). The jars land in a
        temporary folder that is renamed into place, so a failed run leaves nothing behind."""
        if self.installed:
            return
        mvn = find_tool(
            "mvn",
            "Install Apache Maven (`apt-get install maven`), or use Docker or KGREC_NEO4J_URI.",
        )
        self.jars.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.jars.parent, prefix=".download-") as tmp:
            pom = Path(tmp) / "pom.xml"
            template = resources.files("kg.provision").joinpath("pom.xml").read_text()
            pom.write_text(
                template.replace("@NEO4J_VERSION@", self.settings.neo4j_version).replace(
                    "@BROWSER_VERSION@", self.settings.neo4j_browser_version
                )
            )
            lib = Path(tmp) / "lib"
            command = [
                mvn, "-B", "-q", "-f", str(pom), DEPENDENCY_PLUGIN, "-DincludeScope=runtime",
                "-Dmdep.prependGroupId=true", f"-DoutputDirectory={lib}",
            ]  # fmt: skip
            result = subprocess.run(command, capture_output=True, text=True, check=False)
            if result.returncode != 0 or not any(lib.glob("*.jar")):
                tail = "\n".join((result.stdout + result.stderr).splitlines()[-20:])
                raise ProvisionError(
                    f"Downloading Neo4j {self.settings.neo4j_version} jars from Maven Central "
                    f"failed:\n{tail}\nCheck that Maven Central is reachable (proxy settings in "
                    "~/.m2/settings.xml) and that the version exists, then run "
                    "`kgrec neo4j start` again."
                )
            (lib / ".complete").write_text(self.settings.neo4j_version + "\n")
            lib.rename(self.jars)

    # -- configure -------------------------------------------------------------------------

    def password(self) -> str:
        return local_password(self.settings)

    def _write_config(self) -> None:
        conf = self.home / "conf"
        conf.mkdir(parents=True, exist_ok=True)
        for folder in ("data", "logs", "run", "plugins", "import"):
            (self.home / folder).mkdir(exist_ok=True)
        (conf / "neo4j.conf").write_text(
            "# Written by `kgrec neo4j start` on every start; change the KGREC_NEO4J_* settings.\n"
            "server.default_listen_address=127.0.0.1\n"
            f"server.bolt.listen_address=127.0.0.1:{self.bolt_port}\n"
            f"server.bolt.advertised_address=127.0.0.1:{self.bolt_port}\n"
            f"server.http.listen_address=127.0.0.1:{self.http_port}\n"
            f"server.http.advertised_address=127.0.0.1:{self.http_port}\n"
            "server.https.enabled=false\n"
            "dbms.security.auth_enabled=true\n"
            "dbms.usage_report.enabled=false\n"
            f"server.memory.pagecache.size={self.settings.neo4j_pagecache}\n"
            "db.tx_log.rotation.retention_policy=2 files\n"
            # Browser fetches guides and styles only from hosts listed here; kgrec's come from
            # this server, and Browser loads the style as it connects.
            "browser.remote_content_hostname_whitelist=guides.neo4j.com,localhost,127.0.0.1\n"
            f"browser.post_connect_cmd=style {self.style_url}\n"
        )

    @property
    def guide_url(self) -> str:
        return extras_url(self.http_port, GUIDE_FILE)

    @property
    def style_url(self) -> str:
        return extras_url(self.http_port, STYLE_FILE)

    def _write_browser(self) -> None:
        jar = next(self.jars.glob("org.neo4j.client.neo4j-browser-*.jar"), None)
        if jar is None:
            raise ProvisionError(
                f"no Neo4j Browser jar in {self.jars}; delete that folder to download again"
            )
        extras = browser_extras(self.settings.cypher_dir, self.http_port)
        write_browser_archive(jar, self.home / "web", extras)

    def _set_initial_password(self, java: str) -> None:
        """Generate the password and set it before the first start (Neo4j reads it only then)."""
        if self.password_file.exists():
            return
        if (self.home / "data" / "dbms").exists():
            raise ProvisionError(
                f"{self.home / 'data'} holds a database but {self.password_file} is missing, so "
                f"its password is unknown. Delete {self.home} to start afresh."
            )
        # Hex: a url-safe token may start with '-', which neo4j-admin reads as an option.
        password = secrets.token_hex(18)
        env = {**os.environ, "NEO4J_HOME": str(self.home), "NEO4J_CONF": str(self.home / "conf")}
        result = subprocess.run(
            [java, "-cp", f"{self.jars}/*", ADMIN_ENTRY_POINT,
             "dbms", "set-initial-password", password],
            capture_output=True, text=True, env=env, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise ProvisionError(f"Setting the initial Neo4j password failed:\n{result.stderr}")
        fd = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(password + "\n")

    # -- run -------------------------------------------------------------------------------

    def running_pid(self) -> int | None:
        """The pid of this home's server if it runs, else None (a stale pid file is removed)."""
        if not self.pid_file.exists():
            return None
        try:
            pid = int(self.pid_file.read_text().strip())
        except ValueError:
            pid = -1
        cmdline = Path(f"/proc/{pid}/cmdline")
        if (
            pid > 0
            and pid_alive(pid)
            and (not cmdline.exists() or f"--home-dir={self.home}".encode() in cmdline.read_bytes())
        ):
            return pid
        self.pid_file.unlink(missing_ok=True)
        return None

    def start(self) -> bool:
        """Install, configure and start the server; wait until Bolt answers with our password.
        Returns False when it was already running."""
        if self.running_pid() is not None:
            return False
        for port, setting in (
            (self.bolt_port, "KGREC_NEO4J_BOLT_PORT"),
            (self.http_port, "KGREC_NEO4J_HTTP_PORT"),
        ):
            if not port_is_free(port):
                raise PortInUseError(port, setting)
        java = find_tool("java", "Install Java 17 or 21 (e.g. `apt-get install openjdk-17-jre`).")
        major = java_major_version(java)
        if major < 17:
            raise ProvisionError(
                f"Neo4j 5.26 needs Java 17 or 21, but {java} is Java {major}. "
                "Point JAVA_HOME at a Java 17 or 21 installation."
            )
        self.install()
        self._write_config()
        self._write_browser()
        self._set_initial_password(java)
        heap = self.settings.neo4j_heap
        command = [
            java, "-cp", f"{self.home}/plugins/*:{self.home}/conf/*:{self.jars}/*",
            f"-Xms{heap}", f"-Xmx{heap}", *JVM_FLAGS, ENTRY_POINT,
            f"--home-dir={self.home}", f"--config-dir={self.home / 'conf'}", "--console-mode",
        ]  # fmt: skip
        with self.console_log.open("ab") as log:
            process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,  # survives the CLI that started it
            )  # fmt: skip
        self.pid_file.write_text(f"{process.pid}\n")
        try:
            self._wait_until_ready(process)
        except ProvisionError:
            self.stop()
            raise
        return True

    def _wait_until_ready(self, process: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + self.settings.neo4j_start_timeout_s
        while not port_answers(self.bolt_port):
            if process.poll() is not None:
                raise ProvisionError(
                    f"Neo4j exited with code {process.returncode} while starting.\n"
                    f"{self.log_tail()}\nFix the cause above (see {self.console_log}), then run "
                    "`kgrec neo4j start` again."
                )
            if time.monotonic() > deadline:
                raise ProvisionError(
                    f"Neo4j did not open Bolt on port {self.bolt_port} within "
                    f"{self.settings.neo4j_start_timeout_s:.0f} s.\n{self.log_tail()}\n"
                    "Raise KGREC_NEO4J_START_TIMEOUT_S on a slow machine, or read "
                    f"{self.console_log}."
                )
            time.sleep(0.25)
        remaining = max(deadline - time.monotonic(), 5.0)
        try:
            with Graph(self.bolt_uri, "neo4j", self.password()) as graph:
                graph.wait_until_ready(remaining)
        except GraphUnavailableError as exc:
            raise ProvisionError(f"{exc}\n{self.log_tail()}") from exc

    def stop(self, grace_s: float = STOP_GRACE_S) -> bool:
        """SIGTERM, wait up to `grace_s` for a clean shutdown, then SIGKILL. Returns False if it
        was not running."""
        pid = self.running_pid()
        if pid is None:
            return False
        # A signal handler or another run cleaning up orphans may end it at the same time.
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + grace_s
            while pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.2)
                _reap(pid)
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
                while pid_alive(pid):
                    time.sleep(0.1)
        _reap(pid)
        self.pid_file.unlink(missing_ok=True)
        return True

    @contextlib.contextmanager
    def owned(self) -> Iterator[None]:
        """Tie a throwaway server to the calling process. Leaving the block, or SIGTERM, SIGINT
        or SIGHUP to this process (any of which would otherwise end Python and leave Java
        running), kills the server and deletes its home. The home names its owner, so that
        `remove_orphans` cleans up after an owner killed by SIGKILL, which no handler sees."""
        (self.home / OWNER_FILE).write_text(f"{os.getpid()} {socket.gethostname()}\n")

        def dispose() -> None:
            self.stop(grace_s=0)  # its database is deleted: no clean shutdown needed
            shutil.rmtree(self.home, ignore_errors=True)

        with on_signals(dispose):
            try:
                yield
            finally:
                dispose()

    @classmethod
    def remove_orphans(cls, settings: Settings) -> list[Path]:
        """Kill and delete the throwaway servers beside `settings.neo4j_home` (homes with an
        owner file, `.kgrec/<folder>/<run>/`) whose owner process on this host is gone.
        Returns the homes removed."""
        removed = []
        for owner_file in sorted(settings.neo4j_home.resolve().parent.glob(f"*/*/{OWNER_FILE}")):
            try:
                pid_text, _, host = owner_file.read_text().partition(" ")
                owner = int(pid_text)
            except (FileNotFoundError, ValueError):
                continue  # another run is writing or removing it right now
            if host.strip() != socket.gethostname() or pid_alive(owner):
                continue  # a live run, or one whose processes this host cannot see
            home = owner_file.parent
            # running_pid checks the pid is this home's Java before anything is killed.
            cls(settings.model_copy(update={"neo4j_home": home})).stop(grace_s=0)
            shutil.rmtree(home, ignore_errors=True)
            removed.append(home)
        return removed

    def status(self) -> LocalStatus:
        pid = self.running_pid()
        return LocalStatus(
            running=pid is not None,
            pid=pid,
            home=self.home,
            bolt_uri=self.bolt_uri,
            browser_url=self.browser_url,
            guide_url=self.guide_url,
            style_url=self.style_url,
            password_file=self.password_file,
            version=self.settings.neo4j_version,
            installed=self.installed,
        )

    def log_tail(self, lines: int = 25) -> str:
        if not self.console_log.exists():
            return "(no console log yet)"
        text = self.console_log.read_text(errors="replace").splitlines()[-lines:]
        return "--- last lines of the Neo4j console log ---\n" + "\n".join(text)


def _reap(pid: int) -> None:
    """Collect the exit status when the server is our own child (CLI and tests both start it)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


@contextlib.contextmanager
def on_signals(cleanup: Callable[[], None]) -> Iterator[None]:
    """Run `cleanup` when one of CLEANUP_SIGNALS arrives, then hand the signal on to the
    handler that was there before (by default the process then dies of it, as it would have)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers; remove_orphans covers these owners
        return
    previous: dict[int, SignalHandler] = {}

    def handle(signum: int, frame: FrameType | None) -> None:
        cleanup()
        before = previous[signum]
        if callable(before):
            before(signum, frame)
        else:
            signal.signal(signum, before)
            signal.raise_signal(signum)

    for signum in CLEANUP_SIGNALS:
        before = signal.getsignal(signum)
        if before is None or before == signal.SIG_IGN:
            continue  # ignored (nohup) or set outside Python: leave it alone
        previous[signum] = before
        signal.signal(signum, handle)
    try:
        yield
    finally:
        for number, handler in previous.items():
            if signal.getsignal(number) == handle:  # nobody replaced ours meanwhile
                signal.signal(number, handler)
