"""The documentation site builds with warnings as errors (a broken link, a page left out of the nav,
a docstring griffe cannot read), as CI builds it; skipped without the docs extra."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("mkdocstrings") is None, reason='no docs extra (pip install -e ".[docs]")')
def test_site_builds_strict(tmp_path):
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-3000:]
    assert (tmp_path / "site" / "api" / "index.html").read_text().count("estimate_mi") > 0


def test_readme_links_resolve():
    """Every relative link of the README names a file of the repository."""
    import re

    text = (ROOT / "README.md").read_text()
    links = [m for m in re.findall(r"\]\(([^)#\s]+)", text) if "://" not in m]
    assert links and all((ROOT / link).exists() for link in links), [x for x in links if not (ROOT / x).exists()]
