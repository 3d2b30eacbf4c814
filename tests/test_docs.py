"""The documentation site builds with warnings as errors (a broken link, a page left out of the nav,
a docstring griffe cannot read), as CI builds it; skipped without the docs extra."""

import ast
import importlib.util
import re
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
    text = (ROOT / "README.md").read_text()
    links = [m for m in re.findall(r"\]\(([^)#\s]+)", text) if "://" not in m]
    assert links and all((ROOT / link).exists() for link in links), [x for x in links if not (ROOT / x).exists()]


EXAMPLES = ("README.md", "docs/estimator.md", "docs/multivariate.md", "docs/differentiable.md")
TRUTH = re.compile(r"#.*\(true: ([0-9.]+)\)")  # an example line's stated true MI, e.g. "# one pair, nats (true: 0.511)"


def python_blocks(path: Path) -> list[str]:
    """The fenced ```python blocks of a Markdown file."""
    return re.findall(r"^```python\n(.*?)^```", path.read_text(), flags=re.S | re.M)


@pytest.mark.slow
@pytest.mark.parametrize("name", EXAMPLES)
def test_documented_examples_run(name):
    """Every Python example of the README and the estimator's pages runs as printed, and a line whose
    comment states the true MI ("(true: 0.511)") returns an estimate within 0.1 nats of it."""
    import numpy as np
    import torch

    blocks = python_blocks(ROOT / name)
    assert blocks, f"{name} has no python example"
    np.random.seed(0)
    torch.manual_seed(0)
    for block in blocks:
        namespace: dict = {}
        for statement in ast.parse(block).body:
            source = ast.get_source_segment(block, statement)
            line = block.splitlines()[statement.end_lineno - 1]
            if isinstance(statement, ast.Expr):
                value = eval(compile(ast.Expression(statement.value), name, "eval"), namespace)
                if truth := TRUTH.search(line):
                    assert abs(float(value) - float(truth.group(1))) < 0.1, (source, value)
            else:
                exec(compile(ast.Module([statement], []), name, "exec"), namespace)
