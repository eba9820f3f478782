"""What happens to photos, videos and batches, announced for the apps above (markers queues jobs,
webhooks sends events) without content importing them. Sent inside the change's transaction;
receivers run synchronously, so a receiver's failure rolls the change back as a direct call
would."""

from django.dispatch import Signal

# A photo's status moved (markers.status.refresh_portrait_status): portrait=, status=.
portrait_status_changed = Signal()
# A video can be played (markers.handlers.video): video=.
video_ready = Signal()
# A batch became ready (content.batches.batch_ready): batch=.
batch_ready = Signal()

# What the markers app (above) must act on: content announces, markers does the work, so content
# never imports markers. Sent inside the change's transaction; the receivers queue their tasks
# on commit.
# A photo was stored and needs its markers and preview: portrait=.
portrait_uploaded = Signal()
# A video was stored and needs its rendition: video=.
video_uploaded = Signal()
# Something a photo's status is derived from changed (its videos, its engine): portrait=.
portrait_inputs_changed = Signal()
# The set of photos an album marker combines may have changed: project_id=.
album_changed = Signal()
