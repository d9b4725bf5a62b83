"""The package is typed: py.typed ships, and the lazily imported names of ``pravega`` are
declared for type checkers in a TYPE_CHECKING block that matches the lazy table."""

from __future__ import annotations

import ast
from pathlib import Path

import pravega

PACKAGE = Path(pravega.__file__).parent


def test_py_typed_marker_is_in_the_package() -> None:
    assert (PACKAGE / "py.typed").is_file()


def test_type_checking_block_declares_every_lazy_name_from_its_module() -> None:
    tree = ast.parse((PACKAGE / "__init__.py").read_text())
    block = next(node for node in tree.body if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING")
    declared = {
        alias.name: "." + (node.module or "")
        for node in block.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert declared == pravega._LAZY


def test_lazy_names_resolve_to_what_the_block_declares() -> None:
    from pravega.model import StreamCut
    from pravega.sync import Client

    assert pravega.Client is Client
    assert pravega.StreamCut is StreamCut
