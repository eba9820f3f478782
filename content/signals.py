"""What happens to photos, videos and batches, announced for the apps above (webhooks) without
content or markers importing them. Sent inside the change's transaction; receivers run
synchronously, so a receiver's failure rolls the change back as a direct call would."""

from django.dispatch import Signal

# A photo's status moved (markers.status.refresh_portrait_status): portrait=, status=.
portrait_status_changed = Signal()
# A video can be played (markers.handlers.video): video=.
video_ready = Signal()
# A batch became ready (content.batches.batch_ready): batch=.
batch_ready = Signal()
