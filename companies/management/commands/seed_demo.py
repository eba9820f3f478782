"""Create the demo logins and a demo company; safe to run any number of times."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from companies.models import Company, Membership, Project

ADMIN_USERNAME, ADMIN_PASSWORD = "admin", "admin-demo-pass"
DEMO_USERNAME, DEMO_PASSWORD = "demo", "demo-pass"


class Command(BaseCommand):
    help = "Create (once) a staff superuser `admin`, a demo company with a project and its owner `demo`."

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
        Project.objects.get_or_create(
            company=company, slug="demo-project", defaults={"name": "Demo project", "created_by": demo}
        )

        self.stdout.write(self.style.SUCCESS("Demo data is in place. Logins (unless you changed them):"))
        self.stdout.write(f"  back office, staff:        {ADMIN_USERNAME} / {ADMIN_PASSWORD}")
        self.stdout.write(f"  portal, owner of {company.name}: {DEMO_USERNAME} / {DEMO_PASSWORD}")
