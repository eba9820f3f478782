"""Production static files: hashed names inside JavaScript modules, and brotli and gzip copies."""

import gzip
import json

import brotli
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage

from arv.staticfiles import StaticFilesStorage


def collect(tmp_path, files: dict[str, tuple[str, str]]):
    """Run the storage's post-processing as collectstatic does: *files* maps a static name to
    (its path inside a source folder, content)."""
    source = FileSystemStorage(location=tmp_path / "source")
    out = StaticFilesStorage(location=tmp_path / "out", base_url="/static/")
    paths = {}
    for name, (path, content) in files.items():
        source.save(path, ContentFile(content.encode()))
        out.save(name, ContentFile(content.encode()))
        paths[name] = (source, path)
    errors = [processed for _name, _hashed, processed in out.post_process(paths) if isinstance(processed, Exception)]
    assert errors == []
    return out, json.loads((tmp_path / "out" / "staticfiles.json").read_text())["paths"]


def test_relative_module_imports_point_at_hashed_files(tmp_path):
    out, manifest = collect(
        tmp_path,
        {
            # As STATICFILES_DIRS maps node_modules/mind-ar/dist to vendor/mind-ar: the source path
            # has no prefix.
            "vendor/mind-ar/mindar-image-three.prod.js": (
                "mindar-image-three.prod.js",
                'import { Matrix4 } from "three";\nimport { C as Fd } from "./controller-abc.js";\n'
                'import { U } from "./ui-x.js";\nconst lazy = () => import("./controller-abc.js");\n',
            ),
            "vendor/mind-ar/controller-abc.js": (
                "controller-abc.js",
                'import { O } from "./ui-x.js";\nexport const C = 1;\n',
            ),
            "vendor/mind-ar/ui-x.js": ("ui-x.js", "export const U = 2, O = 3;\n"),
            "viewer/viewer.js": ("viewer/viewer.js", 'import { attemptPlan } from "arv-viewer-contract";\n'),
        },
    )
    bundle = out.open(manifest["vendor/mind-ar/mindar-image-three.prod.js"]).read().decode()
    controller = manifest["vendor/mind-ar/controller-abc.js"].rsplit("/", 1)[-1]
    ui = manifest["vendor/mind-ar/ui-x.js"].rsplit("/", 1)[-1]
    assert controller != "controller-abc.js" and ui != "ui-x.js"
    assert f'from "./{controller}"' in bundle and f'import("./{controller}")' in bundle
    assert f'from "./{ui}"' in bundle
    assert 'from "three"' in bundle  # bare names are the importmap's, untouched
    # The chunk's own import too, so its hash changes when the file it imports changes.
    assert f'from "./{ui}"' in out.open(manifest["vendor/mind-ar/controller-abc.js"]).read().decode()
    assert 'from "arv-viewer-contract"' in out.open(manifest["viewer/viewer.js"]).read().decode()


def test_other_apps_scripts_are_left_alone(tmp_path):
    # A script outside the viewer's modules mentioning a relative import in a string must not make
    # collectstatic look for a file that does not exist.
    text = 'const help = "write: import x from \\"./missing.js\\";";\n'
    out, manifest = collect(tmp_path, {"admin/js/help.js": ("admin/js/help.js", text)})
    assert out.open(manifest["admin/js/help.js"]).read().decode() == text


def test_brotli_and_gzip_copies_are_written(tmp_path):
    content = "export const data = " + json.dumps(list(range(2000))) + ";\n"
    _out, manifest = collect(tmp_path, {"viewer/big.js": ("viewer/big.js", content)})
    hashed = tmp_path / "out" / manifest["viewer/big.js"]
    assert brotli.decompress(hashed.with_name(hashed.name + ".br").read_bytes()).decode() == content
    assert gzip.decompress(hashed.with_name(hashed.name + ".gz").read_bytes()).decode() == content
