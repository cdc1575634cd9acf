"""Recordings for the audio tests and the benchmark, written by code rather than committed.

Each function writes one file into `directory` and returns its path. The well-formed ones
are encoded by FFmpeg (through PyAV) the way a recorder would: Opus in WebM (Chromium,
Firefox), AAC in MP4 (Safari), Vorbis in Ogg, PCM in WAV, MP3. The hostile ones are
built byte by byte. Random bytes come from fixed seeds, so every run sees the same files.
"""

import math
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

# Maps sample times in seconds to samples in [-1, 1], one row per channel.
Signal = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Recipe:
    muxer: str
    codec: str
    rate: int
    layout: str = "mono"
    options: dict[str, str] = field(default_factory=dict)
    bit_rate: int | None = None
    muxer_options: dict[str, str] = field(default_factory=dict)
    suffix: str = ""  # the file name's, when it is not the RECIPES key


RECIPES = {
    "webm": Recipe("webm", "libopus", 48_000),
    # FFmpeg's default AAC coder (two-loop) rings on a pure tone near the end of the
    # stream, at nearly twice the tone's level; the fast coder does not.
    "mp4": Recipe("mp4", "aac", 44_100, options={"aac_coder": "fast"}),
    # Safari's MediaRecorder writes fragmented MP4: an empty index up front, then
    # self-describing fragments.
    "fmp4": Recipe(
        "mp4",
        "aac",
        48_000,
        options={"aac_coder": "fast"},
        muxer_options={"movflags": "frag_keyframe+empty_moov+default_base_moof"},
        suffix="mp4",
    ),
    # FFmpeg's own Vorbis encoder is experimental and writes stereo only.
    "ogg": Recipe("ogg", "vorbis", 44_100, "stereo", {"strict": "experimental"}),
    # Firefox can record audio/ogg as well as WebM.
    "ogg-opus": Recipe("ogg", "libopus", 48_000, suffix="ogg"),
    "wav": Recipe("wav", "pcm_s16le", 48_000),
    "mp3": Recipe("mp3", "libmp3lame", 44_100),
}

# The quickest Opus FFmpeg makes: 6 kb/s, 60 ms frames, least effort. Six minutes of it
# take about a second to write and 180 kB on disk.
CHEAP_OPUS = Recipe(
    "webm",
    "libopus",
    48_000,
    options={"application": "voip", "frame_duration": "60", "compression_level": "0"},
    bit_rate=6_000,
)

FADE_SECONDS = 0.01

HTML_PAGE = "<!doctype html>\n<html><head><title>Not audio</title></head><body>Hi</body></html>\n"
# A playlist that would make FFmpeg's HLS demuxer read a local file and fetch a URL.
HLS_PLAYLIST = (
    "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile:///etc/passwd\n"
    "#EXTINF:10,\nhttp://169.254.169.254/latest/meta-data/\n#EXT-X-ENDLIST\n"
)


def sine_file(
    directory: Path,
    *,
    container: str = "webm",
    seconds: float = 2.0,
    frequency: float = 440.0,
    amplitude: float = 0.5,
) -> Path:
    """A pure tone, faded in and out over 10 ms as a recording starts and stops.

    The codec is the one the container's usual recorder uses.
    """

    def tone(times: np.ndarray) -> np.ndarray:
        fade = np.clip(np.minimum(times, seconds - times) / FADE_SECONDS, 0, 1)
        return amplitude * fade * np.sin(2 * np.pi * frequency * times)

    path = directory / _file_name(f"sine-{frequency:g}Hz-{amplitude:g}-{seconds:g}s", container)
    return recording(path, RECIPES[container], tone, seconds)


def silence_file(directory: Path, *, container: str = "webm", seconds: float = 1.0) -> Path:
    return recording(
        directory / _file_name("silence", container), RECIPES[container], np.zeros_like, seconds
    )


def speech_like_file(directory: Path, *, seconds: float = 300.0, container: str = "webm") -> Path:
    """A voiced buzz at speaking pitch, shaped into syllables and pauses, over faint noise.

    A stand-in for a voice where the cost of coding is measured: harmonics up to about a
    kilohertz, a level that rises and falls four times a second, pauses, a noise floor.
    """
    rng = np.random.default_rng(7)

    def speech(times: np.ndarray) -> np.ndarray:
        # The pitch glides between 120 and 180 Hz; the phase is its integral over time.
        phase = 2 * np.pi * (150 * times - 30 / (2 * np.pi * 0.3) * np.cos(2 * np.pi * 0.3 * times))
        voice = sum(np.sin(k * phase) / k for k in range(1, 6))
        syllables = np.clip(np.sin(2 * np.pi * 4 * times), 0, None)
        phrases = (np.sin(2 * np.pi * 0.25 * times) > -0.5).astype(np.float64)
        noise = rng.normal(0, 0.003, times.size)
        return 0.25 * voice * syllables * phrases + noise

    return recording(
        directory / _file_name("speech", container), RECIPES[container], speech, seconds
    )


def long_note(directory: Path, *, seconds: float = 360.0) -> Path:
    """Opus in WebM, longer than the five-minute limit, made cheaply (see CHEAP_OPUS)."""

    def hum(times: np.ndarray) -> np.ndarray:
        return 0.2 * np.sin(2 * np.pi * 100 * times)

    return recording(directory / "long.webm", CHEAP_OPUS, hum, seconds, frame_samples=2_880)


def recording(
    path: Path, recipe: Recipe, signal: Signal, seconds: float, *, frame_samples: int = 960
) -> Path:
    """Encode `signal` for `seconds` with `recipe` into `path`."""
    channels = 2 if recipe.layout == "stereo" else 1
    total = round(seconds * recipe.rate)
    with av.open(
        str(path), mode="w", format=recipe.muxer, options=recipe.muxer_options
    ) as container:
        stream = container.add_stream(
            recipe.codec, rate=recipe.rate, layout=recipe.layout, options=recipe.options
        )
        if recipe.bit_rate:
            stream.bit_rate = recipe.bit_rate
        sample_format = stream.codec_context.format.name
        for start in range(0, total, frame_samples):
            count = min(frame_samples, total - start)
            times = np.arange(start, start + count) / recipe.rate
            samples = np.broadcast_to(signal(times), (channels, count))
            frame = _frame(samples, sample_format, recipe.layout, recipe.rate)
            frame.pts = start
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def _frame(samples: np.ndarray, sample_format: str, layout: str, rate: int) -> av.AudioFrame:
    """A frame in the encoder's own sample format (when it is one of these three), so that
    PyAV has nothing to convert: converting costs more than encoding cheap Opus."""
    if sample_format == "s16":
        data = (np.clip(samples, -1, 1) * 32767).astype(np.int16).T.reshape(1, -1)
    elif sample_format == "s32p":
        data = (np.clip(samples, -1, 1) * 2_147_483_647).astype(np.int32)
    else:
        sample_format = "fltp"
        data = np.ascontiguousarray(samples, dtype=np.float32)
    frame = av.AudioFrame.from_ndarray(data, format=sample_format, layout=layout)
    frame.sample_rate = rate
    frame.time_base = Fraction(1, rate)
    return frame


# --- hostile samples ----------------------------------------------------------------------


def wav_header_over_random_bytes(
    directory: Path, *, seconds: float = 2.0, rate: int = 48_000, float_samples: bool = False
) -> Path:
    """A well-formed WAV header (mono, 16-bit PCM or 32-bit float) followed by random bytes."""
    sample_bytes = 4 if float_samples else 2
    data_size = round(seconds * rate) * sample_bytes
    format_tag = 3 if float_samples else 1
    header = b"RIFF" + struct.pack("<I", 36 + data_size) + b"WAVE"
    header += b"fmt " + struct.pack(
        "<IHHIIHH", 16, format_tag, 1, rate, rate * sample_bytes, sample_bytes, 8 * sample_bytes
    )
    header += b"data" + struct.pack("<I", data_size)
    path = directory / ("random-float.wav" if float_samples else "random.wav")
    path.write_bytes(header + np.random.default_rng(11).bytes(data_size))
    return path


def truncated(path: Path, fraction: float) -> Path:
    """A copy of `path` cut after `fraction` of its bytes, as an interrupted upload is."""
    data = path.read_bytes()
    cut = path.with_name(f"{path.stem}-truncated{path.suffix}")
    cut.write_bytes(data[: math.floor(len(data) * fraction)])
    return cut


def corrupted(path: Path, *, span: int = 4_096) -> Path:
    """A copy of `path` with `span` bytes in the middle overwritten by random ones."""
    data = bytearray(path.read_bytes())
    start = max(0, len(data) // 2 - span // 2)
    end = min(len(data), start + span)
    data[start:end] = np.random.default_rng(13).bytes(end - start)
    damaged = path.with_name(f"{path.stem}-corrupted{path.suffix}")
    damaged.write_bytes(bytes(data))
    return damaged


def text_file(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text)
    return path


def playlist_behind_signature(directory: Path, signature: bytes, name: str) -> Path:
    """HLS_PLAYLIST after a container's magic bytes, to get past the sniffing."""
    path = directory / name
    path.write_bytes(signature + HLS_PLAYLIST.encode())
    return path


def empty_file(directory: Path, name: str = "empty.webm") -> Path:
    path = directory / name
    path.write_bytes(b"")
    return path


def chained_ogg(directory: Path) -> Path:
    """Two Ogg Vorbis files back to back: a valid chained stream whose rate changes midway."""
    first = recording(directory / "link-44k.ogg", RECIPES["ogg"], _tone(440), 1.0)
    second_recipe = Recipe("ogg", "vorbis", 22_050, "stereo", {"strict": "experimental"})
    second = recording(directory / "link-22k.ogg", second_recipe, _tone(660), 1.0)
    chained = directory / "chained.ogg"
    chained.write_bytes(first.read_bytes() + second.read_bytes())
    return chained


def adpcm_wav(directory: Path) -> Path:
    """A WAV file holding Microsoft ADPCM: a real codec, but no recorder we take uses it."""
    return recording(directory / "adpcm.wav", Recipe("wav", "adpcm_ms", 16_000), _tone(440), 1.0)


def video_only(directory: Path) -> Path:
    """A WebM file with half a second of VP8 video and no audio track."""
    path = directory / "video-only.webm"
    with av.open(str(path), mode="w", format="webm") as container:
        stream = container.add_stream("libvpx", rate=10)
        stream.width = stream.height = 64
        stream.pix_fmt = "yuv420p"
        for index in range(5):
            image = np.full((64, 64, 3), 40 * index, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def mp3_with_rate_change(directory: Path) -> Path:
    """One second of MP3 frames at 44.1 kHz, then one at 22.05 kHz, with no tags between.

    Concatenated MP3s are common, and the decoder switches rate mid-stream to follow them.
    """
    # Without ID3 and Xing headers the second file's frames follow the first's directly.
    untagged = {"id3v2_version": "0", "write_xing": "0"}
    parts = [
        recording(
            directory / f"part-{rate}.mp3",
            Recipe("mp3", "libmp3lame", rate, muxer_options=untagged),
            _tone(440),
            1.0,
            frame_samples=1_152,
        )
        for rate in (44_100, 22_050)
    ]
    joined = directory / "rate-change.mp3"
    joined.write_bytes(b"".join(part.read_bytes() for part in parts))
    return joined


def _file_name(stem: str, container: str) -> str:
    return f"{stem}.{RECIPES[container].suffix or container}"


def _tone(frequency: float) -> Signal:
    return lambda times: 0.5 * np.sin(2 * np.pi * frequency * times)
