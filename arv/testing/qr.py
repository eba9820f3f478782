"""Reading the QR codes the app draws, as a phone would."""

import cv2
import numpy as np
from PIL import Image


def decode_qr(image: Image.Image) -> str:
    """What a QR reader sees. OpenCV's detector misreads a small share of codes at one size (about
    2% of random UUIDs), so it looks at a few sizes, as a phone does moving closer."""
    image = image.convert("RGB")
    for scale in (1.0, 2.0, 0.5, 3.0, 0.75):
        resized = image.resize(
            (max(1, int(image.width * scale)), max(1, int(image.height * scale))), Image.Resampling.NEAREST
        )
        text = cv2.QRCodeDetector().detectAndDecode(cv2.cvtColor(np.array(resized), cv2.COLOR_RGB2BGR))[0]
        if text:
            return text
    return ""
