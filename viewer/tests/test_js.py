"""The viewer's JavaScript modules that need no browser, under Node's own test runner."""

import shutil
import subprocess
from pathlib import Path

import pytest

JS_TESTS = Path(__file__).parent / "js"


def test_viewer_modules_under_node():
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (Debian package 'nodejs')")
    result = subprocess.run(
        [node, "--no-warnings", "--test", *sorted(str(p) for p in JS_TESTS.glob("*.test.mjs"))],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "# fail 0" in result.stdout, result.stdout
