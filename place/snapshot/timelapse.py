"""`place snapshot timelapse`: the timelapse frames in the store as an H.264 video, or as files.

Two passes. The first downloads every frame of the range (a few in flight) into one spool
file beside `--out`, or into `--frames-dir`, and reads each frame's size from its header: the
canvas may have grown during the event and the video's size must be known before its first
frame. The second pipes the PNGs to the ffmpeg inside the imageio-ffmpeg wheel, which decodes
them, puts each top-left on the largest canvas (black around a smaller one), scales by
`--scale` with nearest neighbour (pixels stay sharp squares), pads to even sizes for yuv420p
and encodes. Python holds a few frames at a time and ffmpeg its lookahead, so an event of
thousands of frames needs no more memory than a short one; the spool needs as much disk as
the frames take in the store, and is gone when the command ends, however it ends.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import functools
import math
import re
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from place.errors import PlaceError, SettingsError
from place.snapshot.backup import stamp
from place.snapshot.fetch import fetch_in_order
from place.snapshot.frames import PREFIX, parse_frame_key
from place.snapshot.outfile import OutputError, atomic_output, output_dir
from place.snapshot.png import png_size
from place.snapshot.progress import progress
from place.store import Store

# H.264's largest frames (level 6.2): 139,264 macroblocks of 16x16, at most sqrt(8 * that) of
# them a side. Most players stop sooner: browsers and phones at 4096 pixels a side or so.
MAX_PIXELS = 139_264 * 16 * 16
MAX_SIDE = math.isqrt(8 * 139_264) * 16
# H.264 encoders in order of preference, then a last resort every ffmpeg build has
_ENCODERS = ("libx264", "libopenh264", "mpeg4")
_CODEC_NAMES = {"libx264": "H.264 (libx264)", "libopenh264": "H.264 (OpenH264)"}


class TimelapseError(PlaceError):
    """No frames to encode, or ffmpeg cannot encode them."""


@dataclasses.dataclass(frozen=True, slots=True)
class _Frame:
    key: str
    width: int
    height: int
    length: int  # of its PNG, in the spool
    path: Path | None  # its file in --frames-dir


def make_timelapse(
    store: Store,
    *,
    out: str | None,
    frames_dir: str | None,
    start: str | None,
    end: str | None,
    fps: int,
    scale: int,
) -> str:
    """Encode (`out`) and/or download (`frames_dir`) the frames from `start` to `end`
    (ISO 8601, inclusive, UTC without an offset); the line the CLI prints."""
    if fps < 1:
        raise SettingsError(f"--fps must be 1 or more, got {fps}")
    if scale < 1:
        raise SettingsError(f"--scale must be 1 or more, got {scale}")
    start_ms, end_ms = parse_time(start, "--from"), parse_time(end, "--to")
    if start_ms is not None and end_ms is not None and start_ms > end_ms:
        raise SettingsError(f"--from ({start}) is after --to ({end})")
    directory = output_dir(frames_dir) if frames_dir is not None else None
    if out is None:
        if directory is None:
            raise SettingsError("give --out FILE.mp4 for a video, or --frames-dir DIR for PNGs")
        keys = _frame_keys(store, start_ms, end_ms, start, end)
        frames, skipped = _download(store, keys, None, directory, scale=None)
        return _downloaded(frames, skipped, directory)
    with (
        atomic_output(out) as temporary,  # fails now, not after the download, if unwritable
        _spool(temporary.parent, directory) as spool,
    ):
        keys = _frame_keys(store, start_ms, end_ms, start, end)
        frames, skipped = _download(store, keys, spool, directory, scale)
        size, codec = _encode(frames, spool, temporary, fps, scale)
    seconds = len(frames) / fps
    line = (
        f"wrote {out}: {len(frames)} frames, {size} at {fps} fps,"
        f" {seconds:.{1 if seconds < 10 else 0}f} s, {codec}"
    )
    if directory is not None:
        return f"{_downloaded(frames, skipped, directory)}; {line}"
    return line + (f" ({_skipped(skipped)})" if skipped else "")


def parse_time(text: str | None, flag: str) -> int | None:
    """An ISO 8601 time as Unix ms (UTC when it has no offset); None for None."""
    if text is None:
        return None
    try:
        when = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise SettingsError(
            f"{flag} must be an ISO 8601 time such as 2026-12-01T15:00:00Z, got {text!r}"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return round(when.timestamp() * 1000)


def _frame_keys(
    store: Store, start_ms: int | None, end_ms: int | None, start: str | None, end: str | None
) -> list[str]:
    keys = []
    for item in store.list(PREFIX):
        at_ms = parse_frame_key(item.key)
        if at_ms is None:
            continue
        if (start_ms is None or at_ms >= start_ms) and (end_ms is None or at_ms <= end_ms):
            keys.append(item.key)
    if not keys:
        span = "" if start is None and end is None else f" from {start or 'the start'}"
        span += "" if end is None else f" to {end}"
        raise TimelapseError(f"no timelapse frames in {store.url}{span}")
    return keys


def _download(
    store: Store,
    keys: list[str],
    spool: IO[bytes] | None,
    directory: Path | None,
    scale: int | None,
) -> tuple[list[_Frame], int]:
    """Every frame of `keys` into the spool and/or the directory, in order; (frames, how many
    were skipped: damaged, or deleted since they were listed). With a `scale` (a video to
    encode), a frame too large for H.264 at that scale stops it now, not after the rest."""
    frames: list[_Frame] = []
    skipped = 0
    digits = max(6, len(str(len(keys))))
    for key, data in progress(fetch_in_order(store, keys), "frames", total=len(keys)):
        size = png_size(data) if data is not None else None
        if data is None or size is None:
            skipped += 1
            continue
        if scale is not None:
            _check_size(size[0] * scale, size[1] * scale, scale)
        path = None
        if directory is not None:
            path = directory / f"{len(frames) + 1:0{digits}d}.png"
            _write_file(path, data)
        if spool is not None:
            try:
                spool.write(data)
            except OSError as error:
                raise OutputError(f"cannot keep the frames for ffmpeg: {error.strerror}") from None
        frames.append(_Frame(key, size[0], size[1], len(data), path))
    if not frames:
        raise TimelapseError(f"no readable timelapse frames in {store.url} ({skipped} damaged)")
    return frames, skipped


def _check_size(width: int, height: int, scale: int) -> None:
    if max(width, height) > MAX_SIDE or width * height > MAX_PIXELS:
        raise SettingsError(
            f"--scale {scale} makes a {width}x{height} video: H.264 allows at most"
            f" {MAX_PIXELS / 1e6:.1f} megapixels and {MAX_SIDE} pixels a side (level 6.2);"
            " use a smaller --scale"
        )


def _write_file(path: Path, data: bytes) -> None:
    partial = path.with_name(f".{path.name}.part")
    try:
        partial.write_bytes(data)
        partial.replace(path)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise OutputError(f"cannot write {path}: {error.strerror}") from None


def _downloaded(frames: list[_Frame], skipped: int, directory: Path) -> str:
    first, last = (
        f"{Path(str(frame.path)).name} ({stamp(parse_frame_key(frame.key) or 0)})"
        for frame in (frames[0], frames[-1])
    )
    line = f"downloaded {len(frames)} frames to {directory}: {first} to {last}"
    return line + (f" ({_skipped(skipped)})" if skipped else "")


def _skipped(skipped: int) -> str:
    return f"skipped {skipped} damaged or missing frame{'s' if skipped != 1 else ''}"


def _encode(
    frames: list[_Frame], spool: IO[bytes] | None, out: Path, fps: int, scale: int
) -> tuple[str, str]:
    """Pipe the downloaded PNGs through ffmpeg into `out` (MP4); the video's "WxH" and codec."""
    width = max(frame.width for frame in frames)
    height = max(frame.height for frame in frames)
    command, size, codec = encode_command(_ffmpeg(), _encoders(), width, height, fps, scale, out)
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log
        )
        assert process.stdin is not None
        try:
            try:
                for data in progress(_frame_data(frames, spool), "frames encoded", len(frames)):
                    process.stdin.write(data)
                process.stdin.close()
            except BrokenPipeError:  # ffmpeg stopped reading: its status and log say why
                with contextlib.suppress(BrokenPipeError):
                    process.stdin.close()
            status = process.wait()
        finally:
            if process.poll() is None:  # Ctrl-C or a store error: do not leave it running
                process.kill()
                process.wait()
        if status != 0:
            log.seek(0)
            raise TimelapseError(f"ffmpeg failed: {_reason(log.read(), status)}")
    return size, codec


def encode_command(
    ffmpeg: str, encoders: str, width: int, height: int, fps: int, scale: int, out: Path
) -> tuple[list[str], str, str]:
    """The ffmpeg command reading PNGs on stdin and writing an MP4 at `out`, the video's "WxH"
    and its codec's name. `encoders` is the output of `ffmpeg -encoders`."""
    available = [name for name in _ENCODERS if re.search(rf"^ V\S* {name} ", encoders, re.M)]
    if not available:
        raise TimelapseError(f"this ffmpeg ({ffmpeg}) has none of the encoders {_ENCODERS}")
    encoder = available[0]
    video_width = width * scale + (width * scale) % 2
    video_height = height * scale + (height * scale) % 2
    filters = ",".join(
        (
            "format=rgb24",
            f"pad={width}:{height}:0:0:black",  # a smaller, earlier canvas sits top-left
            f"scale={width * scale}:{height * scale}:flags=neighbor",
            f"pad={video_width}:{video_height}:0:0:black",  # yuv420p needs even sizes
            "scale=out_color_matrix=bt709:out_range=tv",  # what the tags below say
            "format=yuv420p",
        )
    )
    if encoder == "libx264":
        # a lookahead of 20 frames, not medium's 40: a third less memory (about 700 MiB for
        # 2000x2000), hardly a difference on a picture that changes a little each frame
        quality = ["-preset", "medium", "-crf", "18", "-tune", "animation", "-rc-lookahead", "20"]
    else:  # no constant-quality mode: a bitrate for flat pixel art, about 0.2 bit a pixel
        bitrate = max(1_000_000, video_width * video_height * fps // 5)
        quality = ["-b:v", str(bitrate)]
    command = [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-xerror",  # a frame it cannot decode fails the video: no silently shorter timelapse
        "-f",
        "image2pipe",
        "-framerate",
        str(fps),
        "-c:v",
        "png",
        "-i",
        "pipe:0",
        "-vf",
        filters,
        "-c:v",
        encoder,
        *quality,
        "-pix_fmt",
        "yuv420p",
        "-colorspace",
        "bt709",
        "-color_primaries",
        "bt709",
        "-color_trc",
        "bt709",
        "-color_range",
        "tv",
        "-movflags",
        "+faststart",  # the index first: a browser plays it before it has all of it
        "-f",
        "mp4",
        "-y",
        str(out),
    ]
    return command, f"{video_width}x{video_height}", _CODEC_NAMES.get(encoder, encoder)


def _spool(
    folder: Path, directory: Path | None
) -> contextlib.AbstractContextManager[IO[bytes] | None]:
    """Where the frames wait for ffmpeg: `--frames-dir` if given, else one temporary file
    beside the video (not /tmp, which may be memory), deleted when closed."""
    if directory is not None:
        return contextlib.nullcontext()
    return tempfile.TemporaryFile(dir=folder, prefix=".place-frames-")


def _frame_data(frames: list[_Frame], spool: IO[bytes] | None) -> Iterator[bytes]:
    if spool is not None:
        spool.seek(0)
    for frame in frames:
        yield spool.read(frame.length) if spool is not None else Path(str(frame.path)).read_bytes()


@functools.cache
def _ffmpeg() -> str:
    try:
        import imageio_ffmpeg

        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except (ImportError, RuntimeError) as error:
        raise TimelapseError(f"no ffmpeg to encode with: {error}") from None


@functools.cache
def _encoders() -> str:
    try:
        listing = subprocess.run(
            [_ffmpeg(), "-hide_banner", "-encoders"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise TimelapseError(f"cannot run ffmpeg ({_ffmpeg()}): {error}") from None
    return listing.stdout


def _reason(log: bytes, status: int) -> str:
    """The first line ffmpeg logged, without its "[component @ 0x...]" prefix."""
    for line in log.decode(errors="replace").splitlines():
        line = re.sub(r"^\[[^\]]* @ 0x[0-9a-f]+\] ", "", line.strip())
        if line:
            return line
    if status < 0:
        return f"stopped by {signal.Signals(-status).name}"
    if status == 255:  # what ffmpeg exits with after SIGINT or SIGTERM (Ctrl-C)
        return "interrupted"
    return f"exit status {status}"
