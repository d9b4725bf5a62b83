"""Locating (and if needed building) the connector's Java jar.

A wheel carries the jar in ``pravega_flink/lib/``, put there by the build hook
(``connectors/flink/hatch_build.py``). A source tree or editable install has only the Java
sources: the jar is then compiled on first use with ``javac --release 11`` against the jars
of the installed PyFlink, into ``~/.cache/pravega-flink/<digest>/`` (``$PRAVEGA_FLINK_CACHE``
or ``$XDG_CACHE_HOME`` move it), where ``<digest>`` hashes the sources and the Flink version,
so an edit or a Flink upgrade builds a fresh jar. ``$PRAVEGA_FLINK_JAR`` names a jar to use
instead.

This module imports no PyFlink at import time and is also used by the build hook.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time
import zipfile
from pathlib import Path

JAR_NAME = "pravega-flink-connector.jar"
#: Flink minor versions the Java code is written against (the vendored gRPC package name and
#: the Sink V2 / FLIP-27 interfaces are those of Flink 2.3).
SUPPORTED_FLINK = ("2.3",)
#: Bump when the way the jar is built changes (forces a rebuild of cached jars).
BUILD_FORMAT = "1"
JAVA_RELEASE = "11"

_HERE = Path(__file__).resolve().parent
PACKAGED_JAR = _HERE / "lib" / JAR_NAME
SOURCE_ROOT = _HERE.parent / "java" / "src" / "main" / "java"
#: Test-only Java code (failing operators, a logging transaction listener, benchmark helpers,
#: the self test): compiled into a separate test jar, never into the connector.
TEST_SOURCE_ROOT = _HERE.parent / "java" / "src" / "test" / "java"
TEST_JAR_NAME = "pravega-flink-connector-tests.jar"


class ConnectorJarError(RuntimeError):
    """The connector jar is missing and cannot be built (no JDK, compile error, no PyFlink)."""


class UnsupportedFlinkVersion(RuntimeError):
    """The installed PyFlink is not a version the connector supports."""


def flink_version() -> str:
    try:
        from pyflink.version import __version__
    except ImportError as exc:
        raise ConnectorJarError(
            "PyFlink is not installed: pip install 'pravega-native[flink]' (apache-flink==2.3.0)"
        ) from exc
    return __version__


def check_flink_version(version: str | None = None) -> str:
    """The PyFlink version, or UnsupportedFlinkVersion naming the supported ones."""
    version = version or flink_version()
    if not any(version == v or version.startswith(v + ".") for v in SUPPORTED_FLINK):
        raise UnsupportedFlinkVersion(
            f"pravega_flink supports Flink {', '.join(SUPPORTED_FLINK)}.x, but PyFlink {version} is installed "
            f"(the connector uses Flink {SUPPORTED_FLINK[-1]}'s Sink V2 / FLIP-27 interfaces and the gRPC copy "
            "vendored in flink-python); install apache-flink==2.3.0"
        )
    return version


def flink_home() -> Path:
    """The directory of the installed PyFlink (with ``lib/`` and ``opt/``)."""
    env = os.environ.get("FLINK_HOME")
    if env and (Path(env) / "lib").is_dir():
        return Path(env)
    try:
        import pyflink
    except ImportError as exc:
        raise ConnectorJarError("PyFlink is not installed, so the connector jar cannot be compiled") from exc
    return Path(pyflink.__file__).resolve().parent


def flink_classpath(home: Path | None = None) -> list[Path]:
    """The Flink jars the connector compiles against: flink-dist, flink-python and the Table API
    (for the SQL connector's factories)."""
    home = home or flink_home()
    dist = sorted((home / "lib").glob("flink-dist*.jar"))
    python = sorted((home / "opt").glob("flink-python*.jar")) + sorted((home / "lib").glob("flink-python*.jar"))
    table = sorted((home / "lib").glob("flink-table-api-java-uber*.jar"))
    if not dist or not python or not table:
        raise ConnectorJarError(
            f"cannot find the flink-dist, flink-python and flink-table-api-java-uber jars under {home} "
            "(lib/ and opt/); is PyFlink installed?"
        )
    return [dist[-1], python[0], table[-1]]


def java_sources(root: Path = SOURCE_ROOT) -> list[Path]:
    return sorted(root.rglob("*.java"))


def resources(root: Path = SOURCE_ROOT) -> list[Path]:
    """Files copied into the jar as they are (``src/<set>/resources`` beside ``java``), e.g.
    the ``META-INF/services`` entry that registers the SQL connector's factory."""
    base = root.parent / "resources"
    return sorted(p for p in base.rglob("*") if p.is_file()) if base.is_dir() else []


def source_digest(root: Path = SOURCE_ROOT, version: str | None = None) -> str:
    h = hashlib.sha256()
    h.update(f"format={BUILD_FORMAT};release={JAVA_RELEASE};flink={version or flink_version()}\n".encode())
    for path in java_sources(root) + resources(root):
        h.update(str(path.relative_to(root.parent)).encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()[:20]


def cache_root() -> Path:
    env = os.environ.get("PRAVEGA_FLINK_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "pravega-flink"


def find_javac() -> str:
    java_home = os.environ.get("JAVA_HOME")
    candidates = [str(Path(java_home) / "bin" / "javac")] if java_home else []
    found = shutil.which("javac")
    if found:
        candidates.append(found)
    for c in candidates:
        if os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    raise ConnectorJarError(
        "the Pravega Flink connector jar must be compiled on first use, but no JDK was found: install a "
        "JDK 11 or newer (e.g. apt-get install openjdk-17-jdk-headless) or set JAVA_HOME; a wheel of "
        "pravega-native built with the JDK present carries a ready jar"
    )


def _javac_major(javac: str) -> int:
    out = subprocess.run([javac, "-version"], capture_output=True, text=True, check=False)
    m = re.search(r"javac (\d+)(?:\.(\d+))?", out.stdout + out.stderr)
    if not m:
        return 0
    major = int(m.group(1))
    return int(m.group(2)) if major == 1 and m.group(2) else major


def build_jar(out: Path, sources: Path = SOURCE_ROOT, classpath: list[Path] | None = None) -> Path:
    """Compile the Java sources into ``out`` (atomically). Raises ConnectorJarError."""
    javac = find_javac()
    major = _javac_major(javac)
    if major and major < int(JAVA_RELEASE):
        raise ConnectorJarError(f"{javac} is JDK {major}; the connector needs JDK {JAVA_RELEASE} or newer")
    files = java_sources(sources)
    if not files:
        raise ConnectorJarError(f"no Java sources under {sources}")
    classpath = classpath or flink_classpath()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pravega-flink-build-", dir=out.parent) as tmp:
        classes = Path(tmp) / "classes"
        classes.mkdir()
        argfile = Path(tmp) / "sources.txt"
        argfile.write_text("\n".join(f'"{p.as_posix()}"' for p in files))
        cmd = [
            javac,
            "--release",
            JAVA_RELEASE,
            "-encoding",
            "UTF-8",
            "-nowarn",
            "-g",
            "-cp",
            os.pathsep.join(str(p) for p in classpath),
            "-d",
            str(classes),
            f"@{argfile}",
        ]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise ConnectorJarError(
                "compiling the Pravega Flink connector failed:\n" + (result.stderr or result.stdout)[-4000:]
            )
        staged = Path(tmp) / JAR_NAME
        with zipfile.ZipFile(staged, "w", zipfile.ZIP_DEFLATED) as jar:
            jar.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\r\nCreated-By: pravega_flink\r\n\r\n")
            for path in sorted(classes.rglob("*.class")):
                jar.write(path, path.relative_to(classes).as_posix())
            for path in resources(sources):
                jar.write(path, path.relative_to(sources.parent / "resources").as_posix())
        os.replace(staged, out)
    return out


@contextlib.contextmanager
def _locked(path: Path):
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def jar_path() -> Path:
    """The connector jar: ``$PRAVEGA_FLINK_JAR``, the packaged one, or a cached build."""
    env = os.environ.get("PRAVEGA_FLINK_JAR")
    if env:
        path = Path(env)
        if not path.is_file():
            raise ConnectorJarError(f"PRAVEGA_FLINK_JAR names {env}, which does not exist")
        return path
    if PACKAGED_JAR.is_file():
        return PACKAGED_JAR
    if not SOURCE_ROOT.is_dir():
        raise ConnectorJarError(
            f"this installation has neither the connector jar ({PACKAGED_JAR}) nor its Java sources "
            f"({SOURCE_ROOT}); reinstall pravega-native from a wheel built with a JDK present"
        )
    version = check_flink_version()
    target = cache_root() / source_digest(SOURCE_ROOT, version) / JAR_NAME
    if target.is_file():
        return target
    with _locked(target.parent / ".lock"):
        if not target.is_file():
            build_jar(target)
            _prune_cache(target.parent)
    return target


def test_jar_path() -> Path:
    """The test jar (source trees only): ``src/test/java`` compiled against the connector jar,
    cached beside it. Tests and benchmarks add it to a job next to the connector jar."""
    if not TEST_SOURCE_ROOT.is_dir():
        raise ConnectorJarError(f"the Java test sources ({TEST_SOURCE_ROOT}) are not part of this installation")
    main = jar_path()
    version = check_flink_version()
    h = hashlib.sha256()
    h.update(source_digest(TEST_SOURCE_ROOT, version).encode())
    h.update(hashlib.sha256(main.read_bytes()).hexdigest().encode())
    target = cache_root() / ("tests-" + h.hexdigest()[:20]) / TEST_JAR_NAME
    if target.is_file():
        return target
    with _locked(target.parent / ".lock"):
        if not target.is_file():
            build_jar(target, TEST_SOURCE_ROOT, [main, *flink_classpath()])
    return target


def _prune_cache(keep: Path, max_age_days: float = 30) -> None:
    """Forget jars of other source digests not used for a month (best effort)."""
    cutoff = time.time() - max_age_days * 86400
    for other in keep.parent.iterdir():
        jar = other / JAR_NAME
        try:
            if other == keep or not other.is_dir():
                continue
            last_used = jar.stat().st_atime if jar.exists() else other.stat().st_mtime
            if last_used < cutoff:
                shutil.rmtree(other, ignore_errors=True)
        except OSError:
            pass
