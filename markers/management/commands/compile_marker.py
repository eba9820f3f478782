"""``manage.py compile_marker IMAGE [IMAGE ...] --out FILE.mind``: compile photos into one .mind.

A thin shell over :mod:`markers.mindar` for operators and debugging: it needs no database and no
project settings beyond Django's defaults.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from markers.mindar import ImageDecodeError, compile_mind, decode_image, read_mind, to_grey


class Command(BaseCommand):
    help = (
        "Compile photos into a MindAR .mind file, one target per photo in the order given, and "
        "print how trackable each one is."
    )
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("images", nargs="+", metavar="IMAGE", help="photo files")
        parser.add_argument("--out", required=True, metavar="FILE.mind", help="output file")
        parser.add_argument(
            "--no-exif",
            action="store_true",
            help="ignore EXIF orientation, as the official Node compiler does (for comparisons)",
        )

    def handle(self, *args, images, out, no_exif, **options):
        greys = [to_grey(self._decode(Path(name), apply_exif=not no_exif)) for name in images]
        result = compile_mind(greys)
        out_path = Path(out)
        try:
            out_path.write_bytes(result.data)
        except OSError as exc:
            raise CommandError(f"{out}: cannot write the .mind file ({exc.strerror})") from exc

        summary = read_mind(result.data)
        for name, target, report in zip(images, summary.targets, result.reports, strict=True):
            features = sum(k.maxima_count + k.minima_count for k in target.keyframes)
            self.stdout.write(
                f"{name}: {target.width}x{target.height} px, {len(target.keyframes)} keyframes, "
                f"{features} features, {report.tracking_points} tracking points, "
                f"score {report.score}/100"
            )
            for warning in report.warnings:
                self.stdout.write(f"  warning [{warning['code']}] {warning['message']}")
        targets = "target" if len(images) == 1 else "targets"
        self.stdout.write(self.style.SUCCESS(f"Wrote {out} ({len(result.data):,} bytes, {len(images)} {targets})"))

    def _decode(self, path: Path, *, apply_exif: bool):
        try:
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise CommandError(f"{path}: no such file") from exc
        except OSError as exc:
            raise CommandError(f"{path}: cannot read the file ({exc.strerror})") from exc
        try:
            return decode_image(data, apply_exif=apply_exif)
        except ImageDecodeError as exc:
            raise CommandError(f"{path}: {exc}") from exc
