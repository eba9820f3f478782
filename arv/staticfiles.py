"""The static files storage of production: content-hashed names, gzip and brotli copies (whitenoise
writes ``.br`` when the Brotli package is installed), and hashed names inside JavaScript modules.

Django rewrites references to other static files in CSS out of the box. MindAR's bundle imports its
2 MB controller chunk (TensorFlow.js) by relative name (``from "./controller-….js"``), so without
rewriting JS imports too that chunk is fetched under its plain name, which whitenoise can only let
browsers cache for ``WHITENOISE_MAX_AGE``. Only relative imports in the viewer's and the vendor
runtimes' modules are rewritten: bare names (``"three"``) go through the page's importmap, and other
apps' scripts (the admin, Swagger UI) are left as they are.
"""

from __future__ import annotations

from django.contrib.staticfiles.storage import ManifestStaticFilesStorage
from whitenoise.storage import CompressedManifestStaticFilesStorage

_JS_RELATIVE_IMPORTS = (
    (r"""(?P<matched>\bfrom\s*(?P<quote>["'])(?P<url>\.{1,2}/[^"'\s]+?)(?P=quote))""", 'from "%(url)s"'),
    (r"""(?P<matched>\bimport\s*\(\s*(?P<quote>["'])(?P<url>\.{1,2}/[^"'\s]+?)(?P=quote)\s*\))""", 'import("%(url)s")'),
)
# The modules whose relative imports are rewritten. Django matches these patterns once against the
# static path ("vendor/mind-ar/x.js") and once against the path inside the source folder ("x.js"),
# so they must fit both: MindAR's bundles and its chunks, and our own viewer modules.
JS_MODULE_FOLDERS = ("viewer/*.js", "*.prod.js", "controller-*.js", "ui-*.js")


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    patterns = (
        *ManifestStaticFilesStorage.patterns,
        *((folder, _JS_RELATIVE_IMPORTS) for folder in JS_MODULE_FOLDERS),
    )
