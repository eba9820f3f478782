"""manage.py compile_marker: a thin command over markers.mindar."""

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from PIL import Image

from markers.management.commands.compile_marker import Command
from markers.mindar import read_mind

FIXTURES = Path(__file__).parent / "fixtures" / "mindar"
REPO_ROOT = Path(__file__).resolve().parents[2]


def run(*args) -> str:
    out = io.StringIO()
    call_command(Command(), *args, stdout=out)
    return out.getvalue()


def test_compiles_several_photos_into_one_file_in_order(tmp_path):
    target = tmp_path / "project.mind"
    output = run(str(FIXTURES / "card.png"), str(FIXTURES / "pictarize.jpg"), "--out", str(target))
    mind = read_mind(target.read_bytes())
    # card.png is stored rotated (EXIF orientation 6): the product compiles it upright.
    assert [(t.width, t.height) for t in mind.targets] == [(372, 674), (800, 800)]
    lines = output.splitlines()
    assert lines[0].startswith(f"{FIXTURES / 'card.png'}: 372x674 px, ")
    assert "keyframes" in lines[0]
    assert "tracking points" in lines[0]
    assert "score" in lines[0]
    assert lines[-1].startswith(f"Wrote {target} (")
    assert "2 targets" in lines[-1]


def test_no_exif_reproduces_the_official_compiler(tmp_path):
    target = tmp_path / "card.mind"
    run(str(FIXTURES / "card.png"), "--no-exif", "--out", str(target))
    assert target.read_bytes() == (FIXTURES / "card.mind").read_bytes()


def test_prints_the_warnings_of_a_poor_photo(tmp_path):
    plain = tmp_path / "plain.png"
    Image.fromarray(np.full((300, 400, 3), 200, dtype=np.uint8)).save(plain)
    output = run(str(plain), "--out", str(tmp_path / "plain.mind"))
    assert "score 0/100" in output
    assert "warning [too_few_details] This photo has too few details" in output


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match=r"nope\.jpg: no such file"):
        run(str(tmp_path / "nope.jpg"), "--out", str(tmp_path / "x.mind"))
    assert not (tmp_path / "x.mind").exists()


def test_bad_image_is_a_clear_error(tmp_path):
    fake = tmp_path / "photo.jpg"
    fake.write_text("<html>not really a photo</html>")
    with pytest.raises(CommandError, match=r"photo\.jpg: This file is not a photo we can read"):
        run(str(fake), "--out", str(tmp_path / "x.mind"))


def test_unwritable_output_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="cannot write"):
        run(str(FIXTURES / "card.png"), "--out", str(tmp_path / "missing-dir" / "x.mind"))


def test_manage_py_exits_non_zero_with_the_message(tmp_path):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "arv.settings_test"}
    ok = subprocess.run(
        [sys.executable, "manage.py", "compile_marker", str(FIXTURES / "card.png"),
         "--out", str(tmp_path / "card.mind")],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert "score" in ok.stdout
    bad = subprocess.run(
        [sys.executable, "manage.py", "compile_marker", str(tmp_path / "missing.png"),
         "--out", str(tmp_path / "x.mind")],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False,
    )
    assert bad.returncode != 0
    assert "missing.png: no such file" in bad.stderr
