"""Create the demo logins, a demo company and a demo living photo; safe to run any number of times.

The logins get random passwords, printed once when they are made and stored nowhere else (the
database keeps only their hashes): `make run` on a public server must not open a back office with
a password everyone can read in the README. Passwords of earlier versions' fixed demo logins are
replaced the same way.
"""

import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from companies.models import Company, Membership, Project
from content.services import create_portrait
from content.validators import validate_image, validate_video

# The demo's photo, kept with the companies app's demo assets.
DEMO_PHOTO = Path(__file__).resolve().parents[3] / "companies" / "demo" / "coffee.jpg"

ADMIN_USERNAME, DEMO_USERNAME = "admin", "demo"
DEMO_COMPANY = "Demo Studio"
# What earlier versions set: public knowledge, so never left in place.
WELL_KNOWN_PASSWORDS = {ADMIN_USERNAME: "admin-demo-pass", DEMO_USERNAME: "demo-pass"}


def new_password() -> str:
    return secrets.token_urlsafe(12)


def password_hint(username: str) -> str:
    return f"{username} (password shown when it was made; forgot it? python manage.py changepassword {username})"


def demo_logins() -> dict[str, str]:
    """The back-office and portal demo logins as `welcome` prints them: the user name and where its
    password comes from (only its hash is stored, so it cannot be shown again)."""
    existing = set(
        get_user_model().objects.filter(username__in=[ADMIN_USERNAME, DEMO_USERNAME]).values_list("username", flat=True)
    )
    return {
        key: password_hint(username) if username in existing else "(no demo login: run manage.py seed_demo)"
        for key, username in (("admin", ADMIN_USERNAME), ("portal", DEMO_USERNAME))
    }


class Command(BaseCommand):
    help = (
        "Create (once) a staff superuser `admin`, a demo company with a project and its owner `demo`, "
        "and a demo living photo in the project. New logins get random passwords, printed only once."
    )

    def demo_portrait(self, *, project, user):
        """Upload the bundled demo photo with a short generated video, through the real services."""
        from django.core.files.uploadedfile import SimpleUploadedFile


        image = validate_image(
            SimpleUploadedFile("coffee.jpg", (DEMO_PHOTO).read_bytes())
        )
        with tempfile.TemporaryDirectory() as tmp:
            clip = Path(tmp) / "demo.mp4"
            self.make_clip(clip)
            video = validate_video(SimpleUploadedFile("demo.mp4", clip.read_bytes()))
            try:
                return create_portrait(
                    project=project, uploaded_by=user, title="Coffee (demo)", image=image, video=video
                )
            finally:
                video.cleanup()

    @staticmethod
    def make_clip(path: Path) -> None:
        """A 4-second test pattern: ffmpeg if installed, OpenCV (MPEG-4 Part 2) otherwise."""
        if shutil.which("ffmpeg"):
            subprocess.run(
                [
                    "ffmpeg",
                    "-nostdin",
                    "-loglevel",
                    "error",
                    "-y",
                    "-f",
                    "lavfi",
                    "-i",
                    "testsrc2=s=960x640:r=25:d=4",
                    "-pix_fmt",
                    "yuv420p",
                    str(path),
                ],
                check=True,
            )
            return
        import cv2
        import numpy as np

        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, (960, 640))
        for i in range(100):
            frame = np.zeros((640, 960, 3), np.uint8)
            frame[:, :, 1] = (np.arange(960) + i * 8) % 256
            frame[:, :, 2] = 140
            writer.write(frame)
        writer.release()

    def login(self, username: str, defaults: dict) -> tuple:
        """(user, new password or None): a password is set only for a new login, or one still
        using an earlier version's well-known password."""
        user, created = get_user_model().objects.get_or_create(username=username, defaults=defaults)
        if not created and not user.check_password(WELL_KNOWN_PASSWORDS[username]):
            return user, None
        if not created:
            self.stdout.write(self.style.WARNING(f"{username} still had the old demo password: it was replaced."))
        password = new_password()
        user.set_password(password)
        user.save(update_fields=["password"])
        return user, password

    @transaction.atomic
    def handle(self, *args, **options):
        admin, admin_password = self.login(
            ADMIN_USERNAME, {"email": "admin@example.com", "is_staff": True, "is_superuser": True}
        )
        demo, demo_password = self.login(DEMO_USERNAME, {"email": "demo@example.com", "first_name": "Demo"})

        company, _ = Company.objects.get_or_create(
            slug="demo-studio",
            defaults={
                "name": DEMO_COMPANY,
                "contact_email": "studio@example.com",
                "created_by": admin,
            },
        )
        Membership.objects.get_or_create(user=demo, company=company, defaults={"role": Membership.Role.OWNER})
        project, _ = Project.objects.get_or_create(
            company=company, slug="demo-project", defaults={"name": "Demo project", "created_by": demo}
        )
        if not project.portraits.exists():
            portrait = self.demo_portrait(project=project, user=demo)
            self.stdout.write(f"Demo photo uploaded; the worker makes it ready: {portrait.public_url}")

        self.stdout.write(self.style.SUCCESS("Demo data is in place. Logins:"))
        self.stdout.write(f"  back office, staff:        {self.shown(ADMIN_USERNAME, admin_password)}")
        self.stdout.write(f"  portal, owner of {company.name}: {self.shown(DEMO_USERNAME, demo_password)}")
        if admin_password or demo_password:
            self.stdout.write(
                self.style.WARNING(
                    "Write the new password(s) down now: they are shown only this once and stored nowhere else."
                )
            )

    @staticmethod
    def shown(username: str, password: str | None) -> str:
        return f"{username} / {password}" if password else password_hint(username)
