"""Make a user's REST API token from the command line (what the portal's API token page does)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from companies.models import ApiToken


class Command(BaseCommand):
    help = (
        "Make a new REST API token for USERNAME and print it once; it replaces (revokes) the user's "
        "previous token. Only a hash is stored, so a lost key cannot be shown again: make a new one."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        User = get_user_model()
        try:
            user = User.objects.get(**{User.USERNAME_FIELD: username})
        except User.DoesNotExist:
            raise CommandError(f"There is no user {username!r}.") from None
        if not user.is_active:
            raise CommandError(f"{username!r} is deactivated: a token would not work.")
        replaced = ApiToken.objects.filter(user=user).exists()
        _token, key = ApiToken.issue(user)
        if replaced:
            self.stderr.write(f"The previous token of {username} no longer works.")
        # Only the key on stdout, so scripts can capture it: KEY=$(manage.py create_api_token bob)
        self.stdout.write(key)
