"""The README's Python examples run as written, its two commands stay what CI runs, and the
tests docs/guarantees.md cites exist. (tests/test_docs.py runs every command of every page.)"""

from __future__ import annotations

import re

from .conftest import ROOT

README = (ROOT / "README.md").read_text()
GUARANTEES = (ROOT / "docs" / "guarantees.md").read_text()


def test_python_examples_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"```python\n(.*?)```", README, re.S)
    assert len(blocks) >= 1
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})
    assert (tmp_path / "runs" / "always-right" / "metrics.json").exists()
    assert "'n': 40" in capsys.readouterr().out  # 10 seeds, two scenarios of two arms


def test_ci_runs_the_readme_commands():
    ci = (ROOT / ".ci" / "run").read_text()
    commands = re.findall(r"```bash\n(.*?)\n```", README, re.S)
    assert "mmsafe eval" in commands[0] and "pip install ." in commands[0]
    assert commands[1].endswith("&& pytest")
    assert 'pip install -q -c constraints.txt -e ".[dev]"' in ci and "\npytest" in ci


def test_every_test_the_guarantees_cite_exists():
    """Each `file.py::name` (or `::name`, of the file before it; "R " is tests/reliability/)
    in docs/guarantees.md names a test function in that file."""
    section = GUARANTEES.split("| promise | shown by |", 1)[1]
    cited, path = [], None
    for prefix, token in re.findall(r"(R )?`([\w/.:\[\]-]+)`", section):
        if ".py" not in token and not token.startswith("::"):
            continue  # a setting or a file name, not a test
        name = ""
        if not token.startswith("::"):
            file, _, name = token.partition("::")
            path = ROOT / ("tests/reliability" if prefix else "") / file
        else:
            name = token[2:]
        assert path is not None and path.exists(), f"{token}: no file {path}"
        if name:
            cited.append((path, name.split("[")[0]))
    assert len(cited) >= 20
    for path, name in cited:
        assert re.search(rf"^def {name}\(", path.read_text(), re.M), f"{path.name}::{name}"
