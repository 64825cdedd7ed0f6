"""The README's Python examples run as written, and its two commands stay what CI runs."""

from __future__ import annotations

import re

from .conftest import ROOT

README = (ROOT / "README.md").read_text()


def test_python_examples_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"```python\n(.*?)```", README, re.S)
    assert len(blocks) >= 2
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})
    assert (tmp_path / "runs" / "always-right" / "metrics.json").exists()
    assert "'n': 20" in capsys.readouterr().out


def test_ci_runs_the_readme_commands():
    ci = (ROOT / ".ci" / "run").read_text()
    commands = re.findall(r"```bash\n(.*?)\n```", README, re.S)
    assert "mmsafe eval" in commands[0] and "pip install ." in commands[0]
    assert commands[1].endswith("&& pytest")
    assert 'pip install -q -c constraints.txt -e ".[dev]"' in ci and "\npytest" in ci
