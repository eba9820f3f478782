"""Video type confusion (issue 16, item 6): every ffmpeg/ffprobe/OpenCV read of an upload names
its demuxer and allows local files only, the container must be on the allow-list, and the probe
runs on a name the server chose."""

import shutil
import subprocess
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile

from arv.testing import media as test_media
from content import media, validators

needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")


def pattern_video(out: Path, *encoding: str) -> Path:
    """Two seconds of ffmpeg's test pattern, encoded as asked."""
    source = ["-f", "lavfi", "-i", "testsrc=s=640x480:d=2:r=10"]
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *source, *encoding, str(out)], check=True)
    return out


def mjpeg_avi_dressed_as_mov(tmp_path: Path) -> bytes:
    """The review's file: an MJPEG AVI whose bytes 4–8 (the RIFF size) say `free`, a QuickTime atom."""
    avi = pattern_video(tmp_path / "clip.avi", "-c:v", "mjpeg", "-f", "avi")
    data = bytearray(avi.read_bytes())
    assert data[:4] == b"RIFF" and data[8:12] == b"AVI "
    data[4:8] = b"free"
    return bytes(data)


@needs_ffmpeg
@pytest.mark.parametrize("name", ["clip.mov", "clip.avi", "clip.mp4"])
def test_an_avi_dressed_as_a_mov_is_refused_with_a_clear_message(tmp_path, name):
    data = mjpeg_avi_dressed_as_mov(tmp_path)
    assert validators.sniff_video(data[:64]) == "mov"  # what fooled the header check
    with pytest.raises(ValidationError) as caught:
        validators.validate_video(SimpleUploadedFile(name, data))
    message = caught.value.messages[0]
    assert "not really an MP4, MOV or WebM video" in message and "Export it again as MP4" in message


@needs_ffmpeg
def test_it_is_refused_without_ffprobe_too(tmp_path, monkeypatch):
    """Without ffprobe, OpenCV's own FFmpeg decides, and it is held to the same demuxer."""
    data = mjpeg_avi_dressed_as_mov(tmp_path)
    real = shutil.which
    monkeypatch.setattr(validators.shutil, "which", lambda cmd: None if cmd == "ffprobe" else real(cmd))
    with pytest.raises(ValidationError, match="not really an MP4, MOV or WebM"):
        validators.validate_video(SimpleUploadedFile("clip.mov", data))


@needs_ffmpeg
def test_the_portal_refuses_it_and_keeps_nothing(client, tenants, tmp_path):
    from django.urls import reverse

    from arv.testing.factories import jpeg_bytes
    from content.models import Portrait

    client.force_login(tenants.editor)
    response = client.post(
        reverse("portal:portrait_upload", args=[tenants.project_a.slug]),
        {
            "title": "Disguised",
            "image": SimpleUploadedFile("p.jpg", jpeg_bytes()),
            "video": SimpleUploadedFile("clip.mov", mjpeg_avi_dressed_as_mov(tmp_path)),
        },
    )
    assert response.status_code == 400
    assert "not really an MP4, MOV or WebM video" in response.content.decode()
    assert not Portrait.objects.exists()


def test_a_format_outside_the_allow_list_is_refused(tmp_path, monkeypatch):
    """Whatever ffprobe reports beyond the demuxers we force is refused, not trusted."""
    path = test_media.mp4_file(tmp_path / "video.mp4")

    def fake_run(command, **kwargs):
        return subprocess.CompletedProcess(
            command, 0, stdout=b'{"format": {"format_name": "avi", "duration": "2"}, "streams": [{}]}', stderr=b""
        )

    monkeypatch.setattr(validators.shutil, "which", lambda cmd: "/usr/bin/ffprobe")
    monkeypatch.setattr(validators.subprocess, "run", fake_run)
    with pytest.raises(ValidationError, match="not really an MP4"):
        validators.probe_video(path)


@needs_ffmpeg
def test_real_videos_of_each_container_pass(tmp_path):
    encodings = {
        "mp4": ["-c:v", "libx264", "-pix_fmt", "yuv420p"],
        "mov": ["-c:v", "mjpeg"],
        "webm": ["-c:v", "libvpx", "-b:v", "200k"],
    }
    for ext, encoding in encodings.items():
        out = pattern_video(tmp_path / f"ok.{ext}", *encoding)
        video = validators.validate_video(SimpleUploadedFile(f"x.{ext}", out.read_bytes()))
        assert video.extension == ext and video.duration == pytest.approx(2, abs=0.2)
        video.cleanup()


@needs_ffmpeg
def test_every_ffmpeg_and_ffprobe_call_names_its_demuxer_and_only_local_files(tmp_path, monkeypatch):
    """Validation (ffprobe), posters (OpenCV's FFmpeg) and renditions (ffmpeg), on one upload."""
    calls = []
    real_run = subprocess.run

    def recording_run(command, *args, **kwargs):
        calls.append(list(command))
        return real_run(command, *args, **kwargs)

    monkeypatch.setattr(subprocess, "run", recording_run)
    import cv2

    opened = []
    real_capture = cv2.VideoCapture

    def recording_capture(path, backend):
        # OpenCV reads its FFmpeg input options from the environment as it opens the file.
        opened.append((media.os.environ[media._CV_OPTIONS], backend))
        return real_capture(path, backend)

    monkeypatch.setattr(cv2, "VideoCapture", recording_capture)

    source = test_media.mp4_file(tmp_path / "src.mp4")
    upload = TemporaryUploadedFile("clip.avi", "video/avi", source.stat().st_size, None)
    upload.write(source.read_bytes())
    upload.seek(0)
    video = validators.validate_video(upload)
    assert video.path.name == "video.mp4"  # the server's name, not the client's .avi
    media.middle_frame(video.path, video.duration)
    media.web_rendition(video.path, tmp_path / "web.mp4")
    video.cleanup()
    upload.close()

    tools = [c for c in calls if Path(c[0]).name in ("ffmpeg", "ffprobe")]
    assert {Path(c[0]).name for c in tools} == {"ffmpeg", "ffprobe"}
    for command in tools:
        i = command.index("-i")
        assert command[i - 4 : i] == ["-f", "mov", "-protocol_whitelist", "file"], command
        assert command[i + 1].startswith("file:") and command[i + 1].endswith("/video.mp4")
    assert len(opened) == 2  # the upload check and the poster
    assert set(opened) == {("input_format;mov|protocol_whitelist;file", cv2.CAP_FFMPEG)}


def test_ffmpeg_gives_up_before_the_task_is_killed(settings):
    assert media.ffmpeg_timeout() < settings.Q_CLUSTER["timeout"] == settings.TASK_TIMEOUT
    for task_timeout in (10, 60, 61, 120, 600, 3600, 86400):
        assert 0 < media.ffmpeg_timeout(task_timeout) < task_timeout


def test_a_system_check_guards_the_relation(settings):
    from content.apps import ffmpeg_timeout_check

    assert ffmpeg_timeout_check(None) == []
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "timeout": 100}
    assert ffmpeg_timeout_check(None) == []
    from unittest import mock

    with mock.patch.object(media, "ffmpeg_timeout", return_value=100):
        (error,) = ffmpeg_timeout_check(None)
    assert error.id == "content.E001"


def test_unknown_containers_have_no_demuxer():
    with pytest.raises(media.MediaError):
        media.demuxer_for(Path("x.avi"))
    assert media.demuxer_for(Path("source.WEBM")) == "matroska"
