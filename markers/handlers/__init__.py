"""One handler per job kind: a function taking the claimed Job and returning an Outcome.

Adding a kind: a value in ``Job.Kind``, a module here, and its line in HANDLERS.
"""

from markers.handlers.mindar import compile_mindar
from markers.handlers.nft import compile_nft
from markers.handlers.preview import make_preview
from markers.handlers.video import process_video
from markers.models import Job

HANDLERS = {
    Job.Kind.MINDAR: compile_mindar,
    Job.Kind.NFT: compile_nft,
    Job.Kind.PREVIEW: make_preview,
    Job.Kind.VIDEO: process_video,
}
