"""Hatchling build hook: compile the PyFlink connector's Java code into the wheel.

Referenced from ``pyproject.toml`` (``[tool.hatch.build.targets.wheel.hooks.custom]``). For a
regular wheel it compiles ``connectors/flink/java`` with ``javac --release 11`` against the
installed PyFlink's jars (or ``$FLINK_HOME``) and adds the result as
``pravega_flink/lib/pravega-flink-connector.jar``. Editable installs get no jar: they build
it lazily on first use (see ``pravega_flink/_jar.py``).

Without a JDK or PyFlink in the build environment (e.g. an isolated build) the wheel is
built without the jar, with a warning, and the jar is then built on first use; set
``PRAVEGA_FLINK_REQUIRE_JAR=1`` to make that an error instead (release builds:
``pip wheel --no-build-isolation .`` in an environment with ``apache-flink`` and a JDK).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

_JAR_MODULE = Path(__file__).resolve().parent / "pravega_flink" / "_jar.py"


def _load_jar_module() -> Any:
    # Load by path: importing the package would need PyFlink and the package on sys.path.
    spec = importlib.util.spec_from_file_location("_pravega_flink_build_jar", _JAR_MODULE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class PravegaFlinkJarHook(BuildHookInterface):
    PLUGIN_NAME = "pravega-flink-jar"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable":
            return
        jar_module = _load_jar_module()
        self._tmp = tempfile.mkdtemp(prefix="pravega-flink-wheel-")
        target = Path(self._tmp) / jar_module.JAR_NAME
        try:
            jar_module.check_flink_version()
            jar_module.build_jar(target)
        except (jar_module.ConnectorJarError, jar_module.UnsupportedFlinkVersion) as exc:
            if os.environ.get("PRAVEGA_FLINK_REQUIRE_JAR") == "1":
                raise
            self.app.display_warning(
                f"pravega_flink: building the wheel without the connector jar ({exc}); "
                "it will be compiled on first use (needs a JDK then)"
            )
            return
        build_data["force_include"][str(target)] = f"pravega_flink/lib/{jar_module.JAR_NAME}"
        self.app.display_info(f"pravega_flink: added {jar_module.JAR_NAME} ({target.stat().st_size} bytes)")

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        tmp = getattr(self, "_tmp", None)
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
