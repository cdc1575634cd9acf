"""Voice notes in, one playable rendition out: AAC-LC in M4A, with true duration and waveform.

Every note is decoded and re-encoded, never passed through: the duration then comes from
the samples rather than from a header the client wrote, a damaged upload fails here
rather than in someone's player, and every browser gets a format it plays (Safari cannot
play Opus in WebM). Work is done frame by frame, so memory stays flat however long the
upload turns out to be.
"""

import contextlib
import os
import queue
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.container
import av.error
import numpy as np

from audio.sniff import NOT_A_RECORDING, demuxer_for
from samia_chat.errors import Invalid, UnsupportedType

# Speech needs nothing above 12 kHz, and encoding is most of a note's cost: at 24 kHz the
# AAC encoder has half the samples to code (five minutes measured here: 3.8 s of CPU at
# 48 kHz). Every browser plays AAC-LC at 24 kHz.
OUTPUT_RATE = 24_000
OUTPUT_BIT_RATE = 48_000
# FFmpeg 8 defaults to the two-loop quantiser search. The "fast" coder encodes five
# minutes here in 1.9 s instead of 3.3 s (encoding is most of a note's cost), and its
# author found it the better-sounding of the two at high rates; 64 kb/s for one channel
# is a high rate. The two-loop search also rang at twice the level near the end of a
# pure tone in our tests.
AAC_OPTIONS = {"aac_coder": "fast"}
CONTENT_TYPE = "audio/mp4"

WAVEFORM_BARS = 64
WINDOW_SAMPLES = OUTPUT_RATE // 20  # one peak per 50 ms: 6,000 floats for five minutes
# Recorders send 20 ms packets; handling the signal in 100 ms frames instead keeps the
# per-frame Python work (measuring, encoding calls) a fifth of what it would be.
FRAME_SAMPLES = 2 * WINDOW_SAMPLES
TIME_BASE = Fraction(1, OUTPUT_RATE)
# Below -60 dBFS nothing is audible; scaling codec noise up to full bars would draw a
# loud-looking waveform for a silent note.
SILENT_PEAK = 0.001

MIN_DURATION_MS = 100
# Recorders stop a little after the limit the page enforces (a timer tick, the last
# encoder frame), so the server allows this much beyond it.
OVERSHOOT_MS = 1_000

# Decoders a recorder can produce inside the allowed containers. Everything else FFmpeg
# would happily decode (video codecs, decades of obscure formats) stays out of reach.
ALLOWED_CODECS = frozenset(
    {
        "opus",
        "vorbis",
        "aac",
        "mp3",
        "flac",
        "pcm_s16le",
        "pcm_s24le",
        "pcm_s32le",
        "pcm_f32le",
        "pcm_u8",
        "pcm_alaw",
        "pcm_mulaw",
    }
)

# A WAV header in front of random bytes is a valid file: it decodes to white noise at
# full scale, RMS 0.58 (-5 dBFS), changing sign on about half of its samples. Recordings
# are far from that as a whole: speech averages near -20 dBFS (0.1) even when loud, and
# what crosses zero that often (hiss, breath, pauses) is quiet. A loud pure tone has the
# level but few crossings (a 440 Hz sine at amplitude 0.5: RMS 0.35, crossing rate 0.02;
# only a tone above 10 kHz reaches the rate below), so the rule needs both. Crossings
# count per second as a fraction of the source's own rate (capped at ours): resampling
# random 8 kHz samples to 48 kHz smooths them but leaves them just as random. Measured on
# random samples from 8 to 96 kHz: RMS 0.40-0.58, crossing rate 0.48-0.54.
NOISE_MIN_RMS = 0.3
NOISE_MIN_CROSSING_RATE = 0.45

EMPTY = "The voice note is empty."
DAMAGED = "This voice recording is damaged and cannot be played."
TOO_SHORT = "This voice note is too short to play."
NOISE = "This file holds only noise, not a voice recording."


@dataclass(frozen=True)
class VoiceRendition:
    path: Path  # a temporary .m4a file; the caller owns it and must unlink it
    duration_ms: int
    waveform: list[int]  # WAVEFORM_BARS peaks, 0..100, the loudest at 100
    size_bytes: int
    content_type: str = CONTENT_TYPE


def voice_note_transcode(source: Path, *, max_duration_ms: int = 300_000) -> VoiceRendition:
    """Decode the recording at `source` and write its AAC-LC/M4A rendition to a new temp file.

    The duration is counted from the decoded samples. Raises Invalid (EMPTY_FILE,
    INVALID_AUDIO, AUDIO_TOO_LONG) or UnsupportedType; when it raises, no file is left
    behind. `source` is only read.
    """
    if source.stat().st_size == 0:
        raise Invalid(EMPTY, code="EMPTY_FILE")
    demuxer = demuxer_for(source)
    descriptor, name = tempfile.mkstemp(suffix=".m4a")
    os.close(descriptor)
    target = Path(name)
    try:
        meter = _transcode(source, demuxer, target, max_duration_ms=max_duration_ms)
        _check_signal(meter)
        return VoiceRendition(
            path=target,
            duration_ms=meter.duration_ms,
            waveform=waveform_from_peaks(meter.window_peaks),
            size_bytes=target.stat().st_size,
        )
    except BaseException:
        target.unlink(missing_ok=True)
        raise


def waveform_from_peaks(peaks: list[float], bars: int = WAVEFORM_BARS) -> list[int]:
    """The loudest peak in each of `bars` equal spans, scaled so the loudest bar is 100."""
    if not peaks or max(peaks) < SILENT_PEAK:
        return [0] * bars
    count = len(peaks)
    spans = []
    for bar in range(bars):
        start = bar * count // bars
        # With fewer peaks than bars, neighbouring bars share a peak.
        end = max(start + 1, (bar + 1) * count // bars)
        spans.append(max(peaks[start:end]))
    loudest = max(spans)
    return [round(100 * span / loudest) for span in spans]


class _SignalMeter:
    """What the checks and the waveform need from the mono signal, in bounded memory:
    running sums, and one peak per 50 ms window."""

    def __init__(self, source_rate: int) -> None:
        self.source_rate = source_rate
        self.samples = 0
        self.window_peaks: list[float] = []
        self._sum_squares = 0.0
        self._crossings = 0
        self._last_negative: bool | None = None
        self._window_peak = 0.0
        self._window_filled = 0

    def add(self, samples: np.ndarray) -> None:
        if samples.size == 0:
            return
        self.samples += samples.size
        self._sum_squares += float(np.dot(samples, samples))
        negative = np.signbit(samples)
        self._crossings += int(np.count_nonzero(negative[1:] != negative[:-1]))
        if self._last_negative is not None and self._last_negative != negative[0]:
            self._crossings += 1
        self._last_negative = bool(negative[-1])
        self._add_peaks(np.abs(samples))

    def _add_peaks(self, magnitudes: np.ndarray) -> None:
        start = 0
        while start < magnitudes.size:
            take = min(WINDOW_SAMPLES - self._window_filled, magnitudes.size - start)
            peak = float(magnitudes[start : start + take].max())
            self._window_peak = max(self._window_peak, peak)
            self._window_filled += take
            start += take
            if self._window_filled == WINDOW_SAMPLES:
                self._close_window()

    def _close_window(self) -> None:
        self.window_peaks.append(self._window_peak)
        self._window_peak = 0.0
        self._window_filled = 0

    def finish(self) -> None:
        if self._window_filled:
            self._close_window()

    @property
    def duration_ms(self) -> int:
        return self.samples * 1000 // OUTPUT_RATE

    @property
    def rms(self) -> float:
        return (self._sum_squares / self.samples) ** 0.5 if self.samples else 0.0

    @property
    def crossing_rate(self) -> float:
        """Sign changes per second, as a fraction of the source's sample rate."""
        if not self.samples:
            return 0.0
        per_second = self._crossings * OUTPUT_RATE / self.samples
        return per_second / min(self.source_rate, OUTPUT_RATE)


def _transcode(source: Path, demuxer: str, target: Path, *, max_duration_ms: int) -> _SignalMeter:
    limit_samples = (max_duration_ms + OVERSHOOT_MS) * OUTPUT_RATE // 1000
    try:
        with _open_input(source, demuxer) as container:
            stream = _audio_stream(container)
            meter = _SignalMeter(stream.codec_context.sample_rate or OUTPUT_RATE)
            output = av.open(
                str(target), mode="w", format="ipod", options={"movflags": "+faststart"}
            )
            try:
                encoder = output.add_stream(
                    "aac", rate=OUTPUT_RATE, layout="mono", options=AAC_OPTIONS
                )
                encoder.bit_rate = OUTPUT_BIT_RATE
                for frame in _decoded_ahead(_mono_frames(container, stream)):
                    samples = frame.to_ndarray()[0]
                    if not np.isfinite(samples).all():
                        raise Invalid(DAMAGED, code="INVALID_AUDIO")
                    # Our own clock: the source's timestamps may be missing or wrong.
                    frame.pts = meter.samples
                    frame.time_base = TIME_BASE
                    meter.add(samples)
                    if meter.samples > limit_samples:
                        raise Invalid(_too_long_message(max_duration_ms), code="AUDIO_TOO_LONG")
                    output.mux(encoder.encode(frame))
                output.mux(encoder.encode(None))
            except BaseException:
                # Closing writes the trailer, which may fail too; the first error is the
                # one to report, and the half-written file is deleted by the caller.
                with contextlib.suppress(av.error.FFmpegError):
                    output.close()
                raise
            # Closing writes the index and, with faststart, moves it before the audio so
            # a browser can start playing before the whole file has arrived.
            output.close()
    except av.error.FFmpegError as error:
        raise Invalid(DAMAGED, code="INVALID_AUDIO") from error
    meter.finish()
    return meter


_END = object()
AHEAD_FRAMES = 16  # 1.6 s of decoded audio at most waits for the encoder


def _decoded_ahead(frames: Iterator[av.AudioFrame]) -> Iterator[av.AudioFrame]:
    """Decode in a thread of its own while the caller encodes: PyAV releases the GIL in
    both, so a note costs about the longer of the two instead of their sum. The queue is
    bounded, so memory stays bounded; errors reach the caller; if the caller stops early
    (a note too long), the decoding thread stops too before the input is closed."""
    ready: queue.Queue = queue.Queue(maxsize=AHEAD_FRAMES)
    stop = threading.Event()

    def offer(item) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def decode() -> None:
        try:
            for frame in frames:
                if not offer(frame):
                    return
            offer(_END)
        except BaseException as error:  # handed to the caller, which raises it
            offer(error)

    worker = threading.Thread(target=decode, name="voice-note-decoder", daemon=True)
    worker.start()
    try:
        while (item := ready.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


def _open_input(source: Path, demuxer: str) -> av.container.InputContainer:
    return av.open(
        # An absolute path cannot be read as a protocol prefix ("concat:", "http:").
        str(source.resolve()),
        format=demuxer,
        container_options={"protocol_whitelist": "file"},
        metadata_errors="replace",
    )


def _audio_stream(container: av.container.InputContainer) -> av.AudioStream:
    for stream in container.streams.audio:
        context = stream.codec_context
        if context is not None and context.codec.canonical_name in ALLOWED_CODECS:
            return stream
    raise UnsupportedType(NOT_A_RECORDING)


def _mono_frames(
    container: av.container.InputContainer, stream: av.AudioStream
) -> Iterator[av.AudioFrame]:
    """Every decoded frame as 48 kHz mono float, whatever the source's format and layout."""
    resampler: av.AudioResampler | None = None
    shape: tuple[str, str, int] | None = None
    for packet in container.demux(stream):
        for frame in packet.decode():
            # One resampler accepts only the format it started with, and MP3 files joined
            # end to end change rate or layout wherever the next one starts.
            frame_shape = (frame.format.name, frame.layout.name, frame.sample_rate)
            if frame_shape != shape:
                if resampler is not None:
                    yield from resampler.resample(None)
                resampler = av.AudioResampler(
                    format="fltp", layout="mono", rate=OUTPUT_RATE, frame_size=FRAME_SAMPLES
                )
                shape = frame_shape
            frame.pts = None
            yield from resampler.resample(frame)
    if resampler is not None:
        yield from resampler.resample(None)


def _check_signal(meter: _SignalMeter) -> None:
    if meter.samples == 0:
        raise Invalid(DAMAGED, code="INVALID_AUDIO")
    if meter.duration_ms < MIN_DURATION_MS:
        raise Invalid(TOO_SHORT, code="INVALID_AUDIO")
    if meter.rms >= NOISE_MIN_RMS and meter.crossing_rate >= NOISE_MIN_CROSSING_RATE:
        raise Invalid(NOISE, code="INVALID_AUDIO")


def _too_long_message(max_duration_ms: int) -> str:
    seconds = max(1, max_duration_ms // 1000)
    if seconds % 60:
        return f"Voice notes can be at most {_count(seconds, 'second')} long."
    return f"Voice notes can be at most {_count(seconds // 60, 'minute')} long."


def _count(number: int, unit: str) -> str:
    return f"{number} {unit}" if number == 1 else f"{number} {unit}s"
