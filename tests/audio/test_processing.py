"""Voice-note transcoding: what a recorder's file becomes, and what is refused and how.

Every sample is written by tests.samples.audio at test time. The outcomes for damaged
files are FFmpeg's as observed (FFmpeg 8 in PyAV 18.1), pinned here so a change shows.
"""

import tempfile
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pytest

from audio import processing
from audio.processing import VoiceRendition, voice_note_transcode, waveform_from_peaks
from audio.sniff import demuxer_sniff
from samia_chat.errors import Invalid, UnsupportedType
from tests.samples import audio as samples

TOLERANCE_MS = 60
CONTAINERS = list(samples.RECIPES)


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    directory = tmp_path / "in"
    directory.mkdir()
    return directory


@pytest.fixture
def temp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The folder tempfile hands out, so a test can see every file left behind."""
    directory = tmp_path / "tmp"
    directory.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    return directory


@pytest.fixture(scope="module")
def long_note(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return samples.long_note(tmp_path_factory.mktemp("long"), seconds=360)


def decoded(path: Path) -> tuple[av.AudioCodecContext, str, np.ndarray]:
    """The rendition's codec context, container names and samples, as a player sees them."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        chunks = [frame.to_ndarray()[0] for frame in container.decode(stream)]
        return stream.codec_context, container.format.name, np.concatenate(chunks)


def top_level_boxes(path: Path) -> list[str]:
    data = path.read_bytes()
    boxes, offset = [], 0
    while offset + 8 <= len(data):
        size = int.from_bytes(data[offset : offset + 4], "big")
        boxes.append(data[offset + 4 : offset + 8].decode("latin-1"))
        if size < 8:
            break
        offset += size
    return boxes


# --- what comes out ----------------------------------------------------------------------


@pytest.mark.parametrize("container", CONTAINERS)
def test_each_recorder_format_becomes_mono_aac_lc_in_m4a(container, inputs, temp_dir):
    rendition = voice_note_transcode(samples.sine_file(inputs, container=container))

    context, formats, _ = decoded(rendition.path)
    assert "mp4" in formats.split(",")
    assert (context.name, context.profile) == ("aac", "LC")
    assert (context.channels, context.sample_rate) == (1, processing.OUTPUT_RATE)
    assert rendition.content_type == "audio/mp4"
    assert rendition.size_bytes == rendition.path.stat().st_size


@pytest.mark.parametrize("container", CONTAINERS)
def test_duration_is_the_recordings_true_length(container, inputs, temp_dir):
    rendition = voice_note_transcode(samples.sine_file(inputs, container=container, seconds=2.5))

    _, _, played = decoded(rendition.path)
    assert abs(rendition.duration_ms - 2_500) <= TOLERANCE_MS
    assert abs(played.size * 1000 / processing.OUTPUT_RATE - 2_500) <= TOLERANCE_MS


@pytest.mark.parametrize("container", CONTAINERS)
def test_waveform_has_64_bars_with_the_loudest_at_100(container, inputs, temp_dir):
    rendition = voice_note_transcode(samples.sine_file(inputs, container=container))

    assert len(rendition.waveform) == 64
    assert max(rendition.waveform) == 100
    assert all(0 <= bar <= 100 for bar in rendition.waveform)


def test_rendition_is_a_new_m4a_in_the_temp_dir_with_its_index_first(inputs, temp_dir):
    source = samples.sine_file(inputs)
    original = source.read_bytes()

    rendition = voice_note_transcode(source)

    assert rendition.path.parent == temp_dir
    assert rendition.path.suffix == ".m4a"
    assert source.read_bytes() == original
    # faststart: a browser can play from the first bytes, before the audio data ends.
    boxes = top_level_boxes(rendition.path)
    assert boxes[0] == "ftyp"
    assert boxes.index("moov") < boxes.index("mdat")


def test_duration_comes_from_the_samples_not_the_header(inputs, temp_dir):
    # The WAV header still announces two seconds; only the first one arrived.
    source = samples.truncated(samples.sine_file(inputs, container="wav", seconds=2.0), 0.5)

    rendition = voice_note_transcode(source)

    assert abs(rendition.duration_ms - 1_000) <= TOLERANCE_MS


def test_waveform_follows_the_loudness(inputs, temp_dir):
    def quiet_then_loud(times: np.ndarray) -> np.ndarray:
        return np.where(times < 1.0, 0.1, 0.8) * np.sin(2 * np.pi * 300 * times)

    source = samples.recording(inputs / "steps.wav", samples.RECIPES["wav"], quiet_then_loud, 2.0)

    waveform = voice_note_transcode(source).waveform

    assert all(12 <= bar <= 13 for bar in waveform[:31])
    assert all(bar == 100 for bar in waveform[33:])


def test_silence_gives_a_flat_waveform(inputs, temp_dir):
    rendition = voice_note_transcode(samples.silence_file(inputs, seconds=1.0))

    assert rendition.waveform == [0] * 64
    assert abs(rendition.duration_ms - 1_000) <= TOLERANCE_MS


@pytest.mark.parametrize(("frequency", "amplitude"), [(440, 0.5), (440, 1.0), (4_000, 0.5)])
def test_loud_pure_tones_are_not_taken_for_noise(frequency, amplitude, inputs, temp_dir):
    source = samples.sine_file(inputs, container="wav", frequency=frequency, amplitude=amplitude)

    assert voice_note_transcode(source).duration_ms == 2_000


def test_a_sample_rate_change_mid_stream_is_followed(inputs, temp_dir):
    # One second at 44.1 kHz, one at 22.05 kHz. Untagged MP3s cannot tell the decoder to
    # trim the encoder's padding, so each part brings some 50 ms of silence with it.
    rendition = voice_note_transcode(samples.mp3_with_rate_change(inputs))

    assert 2_000 <= rendition.duration_ms <= 2_150


def test_a_note_just_over_the_limit_is_allowed(inputs, temp_dir):
    source = samples.sine_file(inputs, container="wav", seconds=2.0)

    rendition = voice_note_transcode(source, max_duration_ms=1_500)

    assert rendition.duration_ms == 2_000


def test_a_note_of_100_ms_is_accepted(inputs, temp_dir):
    source = samples.sine_file(inputs, container="wav", seconds=0.1)

    assert voice_note_transcode(source).duration_ms == 100


def test_caller_owns_and_removes_the_rendition(inputs, temp_dir):
    rendition = voice_note_transcode(samples.sine_file(inputs))
    assert isinstance(rendition, VoiceRendition)

    rendition.path.unlink()

    assert list(temp_dir.iterdir()) == []


# --- what is refused ---------------------------------------------------------------------

Build = Callable[[Path], Path]
SIGNATURES = {
    "webm": b"\x1a\x45\xdf\xa3",
    "mp4": b"\0\0\0\x18ftypisom",
    "ogg": b"OggS",
    "mp3": b"ID3",
}


def _cut(container: str, fraction: float) -> Build:
    return lambda d: samples.truncated(samples.sine_file(d, container=container), fraction)


def _damaged(container: str) -> Build:
    return lambda d: samples.corrupted(samples.sine_file(d, container=container))


def _sound(seconds: float) -> Build:
    return lambda d: samples.sine_file(d, container="wav", seconds=seconds)


def _playlist_behind(container: str) -> Build:
    signature = SIGNATURES[container]
    return lambda d: samples.playlist_behind_signature(d, signature, f"list.{container}")


HOSTILE: dict[str, tuple[Build, str]] = {
    "empty file": (samples.empty_file, "EMPTY_FILE"),
    "html renamed .webm": (
        lambda d: samples.text_file(d, "page.webm", samples.HTML_PAGE),
        "UNSUPPORTED_TYPE",
    ),
    "hls playlist": (
        lambda d: samples.text_file(d, "list.m3u8", samples.HLS_PLAYLIST),
        "UNSUPPORTED_TYPE",
    ),
    "hls playlist renamed .webm": (
        lambda d: samples.text_file(d, "list.webm", samples.HLS_PLAYLIST),
        "UNSUPPORTED_TYPE",
    ),
    # Behind a container's signature a playlist reaches only that container's demuxer.
    **{
        f"playlist behind {container} signature": (_playlist_behind(container), "INVALID_AUDIO")
        for container in SIGNATURES
    },
    "webm with video only": (samples.video_only, "UNSUPPORTED_TYPE"),
    "wav holding adpcm": (samples.adpcm_wav, "UNSUPPORTED_TYPE"),
    "wav header over random bytes": (samples.wav_header_over_random_bytes, "INVALID_AUDIO"),
    "wav header over random bytes at 8 kHz": (
        lambda d: samples.wav_header_over_random_bytes(d, rate=8_000),
        "INVALID_AUDIO",
    ),
    # Random 32-bit floats include NaN and infinity.
    "float wav header over random bytes": (
        lambda d: samples.wav_header_over_random_bytes(d, float_samples=True),
        "INVALID_AUDIO",
    ),
    # The default MP4 muxer writes its index (moov) last: half a file has none.
    "mp4 cut in half": (_cut("mp4", 0.5), "INVALID_AUDIO"),
    # Fragmented (Safari): the index is up front, but the last fragment's samples point
    # past the end of the file and the decoder fails on them.
    "fragmented mp4 cut in half": (_cut("fmp4", 0.5), "INVALID_AUDIO"),
    # FFmpeg's Ogg muxer writes about a second per page; half the file ends inside the
    # first audio page, and the demuxer gives up on the incomplete page.
    "ogg cut in half": (_cut("ogg", 0.5), "INVALID_AUDIO"),
    "mp4 corrupted in the middle": (_damaged("mp4"), "INVALID_AUDIO"),
    "mp3 corrupted in the middle": (_damaged("mp3"), "INVALID_AUDIO"),
    "ogg corrupted in the middle": (_damaged("ogg"), "INVALID_AUDIO"),
    # A valid chained Ogg stream, but FFmpeg does not implement the rate change.
    "chained ogg changing rate": (samples.chained_ogg, "INVALID_AUDIO"),
    "50 ms of sound": (_sound(0.05), "INVALID_AUDIO"),
    "99 ms of sound": (_sound(0.099), "INVALID_AUDIO"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_input_is_refused_and_leaves_no_file(case, inputs, temp_dir):
    build, code = HOSTILE[case]
    error_class = UnsupportedType if code == "UNSUPPORTED_TYPE" else Invalid
    source = build(inputs)

    with pytest.raises(error_class) as raised:
        voice_note_transcode(source)

    assert raised.value.code == code
    assert list(temp_dir.iterdir()) == []


def test_refusals_speak_plain_english(inputs, temp_dir):
    with pytest.raises(UnsupportedType) as raised:
        voice_note_transcode(samples.text_file(inputs, "page.webm", samples.HTML_PAGE))

    assert raised.value.message == "This file is not a voice recording we can read."


def test_six_minute_note_is_too_long(long_note, temp_dir):
    with pytest.raises(Invalid) as raised:
        voice_note_transcode(long_note, max_duration_ms=300_000)

    assert raised.value.code == "AUDIO_TOO_LONG"
    assert raised.value.message == "Voice notes can be at most 5 minutes long."
    assert list(temp_dir.iterdir()) == []


def test_decoding_stops_once_the_limit_is_passed(inputs, temp_dir, monkeypatch):
    measured = []
    original_add = processing._SignalMeter.add

    def counting_add(meter, samples_: np.ndarray) -> None:
        measured.append(samples_.size)
        original_add(meter, samples_)

    monkeypatch.setattr(processing._SignalMeter, "add", counting_add)
    source = samples.sine_file(inputs, container="wav", seconds=10.0)

    with pytest.raises(Invalid, match="at most 2 seconds"):
        voice_note_transcode(source, max_duration_ms=2_000)

    # The limit plus the one-second overshoot, and the one frame that crossed it.
    assert sum(measured) <= 3 * processing.OUTPUT_RATE + processing.FRAME_SAMPLES


def test_too_long_message_names_the_limit(inputs, temp_dir):
    source = samples.sine_file(inputs, container="wav", seconds=3.0)

    with pytest.raises(Invalid) as raised:
        voice_note_transcode(source, max_duration_ms=1_000)

    assert raised.value.message == "Voice notes can be at most 1 second long."


# --- damage FFmpeg reads past --------------------------------------------------------------


def test_corrupted_webm_keeps_the_audio_before_the_damage(inputs, temp_dir):
    # The damage starts 0.8 s in, inside the file's only cluster. The Matroska demuxer
    # gives up on that cluster, finds no later one, and ends the stream: the note is
    # shorter, not refused.
    source = samples.corrupted(samples.sine_file(inputs, container="webm", seconds=2.0))

    rendition = voice_note_transcode(source)

    assert 500 < rendition.duration_ms < 1_000


def test_corrupted_wav_plays_in_full_with_a_burst_of_noise(inputs, temp_dir):
    # PCM has no structure to break: the damaged bytes are simply loud samples.
    source = samples.corrupted(samples.sine_file(inputs, container="wav", seconds=2.0))

    rendition = voice_note_transcode(source)

    assert rendition.duration_ms == 2_000
    assert rendition.waveform.index(100) in range(28, 36)
    # The tone at half scale, next to the full-scale burst (the resampler's filter may
    # move a peak by a level or two).
    assert abs(rendition.waveform[0] - 50) <= 3 and abs(rendition.waveform[-1] - 50) <= 3


def test_cut_off_webm_keeps_what_arrived(inputs, temp_dir):
    source = samples.truncated(samples.sine_file(inputs, container="webm", seconds=2.0), 0.5)

    rendition = voice_note_transcode(source)

    assert abs(rendition.duration_ms - 1_000) <= TOLERANCE_MS


# --- the pieces ----------------------------------------------------------------------------


def test_waveform_spreads_few_peaks_over_all_bars():
    assert waveform_from_peaks([0.2, 0.4], bars=4) == [50, 50, 100, 100]


def test_waveform_takes_the_peak_of_each_span():
    assert waveform_from_peaks([0.1, 0.5, 0.2, 0.2, 1.0, 0.0], bars=3) == [50, 20, 100]


def test_waveform_of_nothing_audible_is_flat():
    assert waveform_from_peaks([0.0005] * 100) == [0] * 64
    assert waveform_from_peaks([]) == [0] * 64


@pytest.mark.parametrize(
    ("head", "demuxer"),
    [
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81", "matroska"),
        (b"\x00\x00\x00\x1cftypM4A \x00\x00", "mov"),
        (b"OggS\x00\x02\x00\x00\x00\x00\x00\x00", "ogg"),
        (b"RIFF\x24\x00\x00\x00WAVE", "wav"),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00\x00\x00", "mp3"),
        (b"\xff\xfb\x90\x64\x00\x00\x00\x00\x00\x00\x00\x00", "mp3"),
        (b"\xff\xf1\x50\x80\x00\x1f\xfc\x00\x00\x00\x00\x00", None),  # ADTS (raw AAC)
        (b"RIFF\x24\x00\x00\x00AVI ", None),
        (b"#EXTM3U\n#EXT-X-", None),
        (b"", None),
    ],
)
def test_sniffing_allows_only_recorder_containers(head, demuxer):
    assert demuxer_sniff(head) == demuxer
