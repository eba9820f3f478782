"""The browser-test helpers themselves: routing, MIME types, path containment, the camera clip."""

import http.client
import shutil

import pytest

from arv.testing.browser import make_camera_clip, static_server


def get(base_url: str, path: str) -> tuple[int, str, bytes]:
    """GET with the path sent exactly as given (a URL library could normalise dot segments)."""
    host, port = base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.headers["Content-Type"], response.read()
    finally:
        connection.close()


def test_static_server_routes_prefixes_and_serves_modules_as_javascript(tmp_path):
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "app.js").write_text("export const x = 1;")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "t.mind").write_bytes(b"\x82")
    routes = {"/": tmp_path / "site", "/data/": tmp_path / "data"}
    with static_server(routes) as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        status, kind, body = get(base_url, "/app.js?v=1")
        assert (status, kind, body) == (200, "text/javascript", b"export const x = 1;")
        assert get(base_url, "/data/t.mind")[:2] == (200, "application/octet-stream")


def test_static_server_does_not_serve_outside_its_directories(tmp_path):
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "ok.txt").write_text("yes")
    (tmp_path / "secret.txt").write_text("no")
    with static_server({"/": tmp_path / "site"}) as base_url:
        assert get(base_url, "/ok.txt")[0] == 200
        assert get(base_url, "/../secret.txt")[0] == 404
        assert get(base_url, "/a/../../secret.txt")[0] == 404


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
def test_camera_clip_is_a_640x480_mjpeg_of_the_requested_length(tmp_path):
    from PIL import Image

    Image.new("RGB", (300, 200), (200, 30, 30)).save(tmp_path / "photo.png")
    clip = make_camera_clip(tmp_path / "photo.png", tmp_path / "clip.mjpeg", seconds=2, fps=5)
    data = clip.read_bytes()
    assert data.count(b"\xff\xd8\xff") == 10  # one JPEG start marker per frame
    first_frame = data[: data.index(b"\xff\xd9") + 2]
    (tmp_path / "frame.jpg").write_bytes(first_frame)
    with Image.open(tmp_path / "frame.jpg") as frame:
        assert frame.size == (640, 480)
