"""Create the demo logins, a demo company and a demo living photo; safe to run any number of times."""

import shutil
import subprocess
import tempfile
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from companies.models import Company, Membership, Project

ADMIN_USERNAME, ADMIN_PASSWORD = "admin", "admin-demo-pass"
DEMO_USERNAME, DEMO_PASSWORD = "demo", "demo-pass"
DEMO_COMPANY = "Demo Studio"


def demo_logins() -> dict[str, str]:
    """"username / password" of the back-office and portal demo logins, or a hint where the
    operator has changed the password since (a changed password is never shown)."""
    from django.contrib.auth import get_user_model

    users = {u.username: u for u in get_user_model().objects.filter(username__in=[ADMIN_USERNAME, DEMO_USERNAME])}
    logins = {}
    demos = (("admin", ADMIN_USERNAME, ADMIN_PASSWORD), ("portal", DEMO_USERNAME, DEMO_PASSWORD))
    for key, username, password in demos:
        user = users.get(username)
        if user is None:
            logins[key] = "(no demo login: run manage.py seed_demo)"
        elif user.check_password(password):
            logins[key] = f"{username} / {password}"
        else:
            logins[key] = f"{username} / (the password you set)"
    return logins


class Command(BaseCommand):
    help = (
        "Create (once) a staff superuser `admin`, a demo company with a project and its owner `demo`, "
        "and a demo living photo in the project."
    )

    def demo_portrait(self, *, project, user):
        """Upload the bundled demo photo with a short generated video, through the real services."""
        from django.core.files.uploadedfile import SimpleUploadedFile

        from content.services import create_portrait
        from content.validators import validate_image, validate_video

        image = validate_image(
            SimpleUploadedFile("coffee.jpg", (Path(__file__).parents[2] / "demo" / "coffee.jpg").read_bytes())
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

    @transaction.atomic
    def handle(self, *args, **options):
        User = get_user_model()
        admin, admin_created = User.objects.get_or_create(
            username=ADMIN_USERNAME,
            defaults={"email": "admin@example.com", "is_staff": True, "is_superuser": True},
        )
        if admin_created:
            admin.set_password(ADMIN_PASSWORD)
            admin.save(update_fields=["password"])

        demo, demo_created = User.objects.get_or_create(
            username=DEMO_USERNAME, defaults={"email": "demo@example.com", "first_name": "Demo"}
        )
        if demo_created:
            demo.set_password(DEMO_PASSWORD)
            demo.save(update_fields=["password"])

        company, _ = Company.objects.get_or_create(
            slug="demo-studio",
            defaults={
                "name": "Demo Studio",
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

        self.stdout.write(self.style.SUCCESS("Demo data is in place. Logins (unless you changed them):"))
        self.stdout.write(f"  back office, staff:        {ADMIN_USERNAME} / {ADMIN_PASSWORD}")
        self.stdout.write(f"  portal, owner of {company.name}: {DEMO_USERNAME} / {DEMO_PASSWORD}")
