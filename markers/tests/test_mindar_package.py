"""The compiler package stays framework-free: workers, commands and benchmarks import it without
Django settings, and nothing in it can reach the database or the request cycle."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import markers.mindar

PACKAGE_DIR = Path(markers.mindar.__file__).parent
REPO_ROOT = PACKAGE_DIR.parent.parent


def test_importing_the_package_loads_no_django_module():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    script = (
        "import sys, markers.mindar\n"
        "print(sorted(m for m in sys.modules if m == 'django' or m.startswith('django.')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
        check=True,
    )
    assert result.stdout.strip() == "[]"


def test_no_module_of_the_package_imports_django():
    offenders = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] == "django"]
    assert offenders == []


def test_public_api_is_exported():
    expected = {
        "COMPILER_VERSION", "CompileResult", "ImageDecodeError", "MindFile", "MindFormatError",
        "TrackabilityReport", "compile_mind", "compile_target", "decode_image", "merge_mind",
        "pack_mind", "read_mind", "to_grey", "CompactFormatError", "compact_from_mind", "pack_compact",
        "read_compact",
    }
    assert expected <= set(markers.mindar.__all__)
    assert isinstance(markers.mindar.COMPILER_VERSION, str)
    assert "1.2.5" in markers.mindar.COMPILER_VERSION
