"""What the companies app announces, for the apps above it to act on (webhooks) without the
companies app importing them. Sent inside the change's transaction; receivers run synchronously."""

from django.dispatch import Signal

# A project stops being shown soon: project=, key= (names the expiry date; once per date).
project_expiring = Signal()
# The subscription ends soon: company=, key=.
subscription_expiring = Signal()
