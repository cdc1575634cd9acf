"""Which demuxer may read an upload, decided from its first bytes alone.

FFmpeg's own probing weighs every demuxer it has, including ones that follow references
to other files or URLs (an HLS playlist, a concat list, QuickTime data references). We
never let it probe: the leading bytes must match one of the containers a browser's
recorder (or a phone's voice memo app) produces, and that demuxer alone is forced.
"""

from pathlib import Path

from samia_chat.errors import UnsupportedType

NOT_A_RECORDING = "This file is not a voice recording we can read."

# Enough for every signature below, including the RIFF/WAVE pair at offsets 0 and 8.
HEAD_BYTES = 12

# FFmpeg's demuxer names; each one reads all the variants of its family (WebM is Matroska).
MATROSKA = "matroska"
MP4 = "mov"
OGG = "ogg"
WAV = "wav"
MP3 = "mp3"


def demuxer_for(source: Path) -> str:
    """The FFmpeg demuxer to force for `source`; raises UnsupportedType for anything else."""
    with source.open("rb") as file:
        head = file.read(HEAD_BYTES)
    demuxer = demuxer_sniff(head)
    if demuxer is None:
        raise UnsupportedType(NOT_A_RECORDING)
    return demuxer


def demuxer_sniff(head: bytes) -> str | None:
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return MATROSKA
    if head[4:8] == b"ftyp":
        return MP4
    if head.startswith(b"OggS"):
        return OGG
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return WAV
    if head.startswith(b"ID3") or _is_mp3_frame_header(head):
        return MP3
    return None


def _is_mp3_frame_header(head: bytes) -> bool:
    """An MPEG-1/2/2.5 Layer III frame header, as an untagged MP3 starts.

    The 11-bit sync word alone also matches ADTS (raw AAC, layer bits 00) and any binary
    that happens to start with 0xFFE; the layer, bit-rate and sample-rate fields must hold
    legal values too.
    """
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version = (head[1] >> 3) & 0b11
    layer = (head[1] >> 1) & 0b11
    bitrate_index = head[2] >> 4
    rate_index = (head[2] >> 2) & 0b11
    return version != 0b01 and layer == 0b01 and bitrate_index != 0b1111 and rate_index != 0b11
