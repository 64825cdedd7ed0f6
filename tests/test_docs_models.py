"""The docs pages whose commands build model agents and judges (tiny local models), run as
test_docs.py runs every other page: a file of its own so that the test run's two workers
share the slowest pages (each file goes to one worker, `--dist loadfile`)."""

from __future__ import annotations

import pytest

from .test_docs import MODEL_PAGES, page_id, run_page


@pytest.mark.slow
@pytest.mark.parametrize("page", MODEL_PAGES, ids=page_id)
def test_every_command_on_the_page_runs(page, request, tmp_path):
    scratch = tmp_path / "work"
    scratch.mkdir()
    ran = run_page(page, request, scratch)
    print("\n".join(ran))  # shown with -s or on failure: what ran, as rewritten
