"""What the companies app announces, for the apps above it to act on (webhooks, markers) without
the companies app importing them. Sent inside the change's transaction; receivers run synchronously."""

from django.dispatch import Signal

# A project stops being shown soon: project=, key= (names the expiry date; once per date).
project_expiring = Signal()
# The subscription ends soon: company=, key=.
subscription_expiring = Signal()
# The company's default viewer engine changed, and with it which markers a photo waits for: company=.
viewer_engine_changed = Signal()
# A project is about to be deleted (inside the transaction): project=. Content deletes its photos
# and their files here; a database cascade alone would leave the files behind.
project_deleting = Signal()
