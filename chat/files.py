"""Decide what an uploaded file is from its bytes, and make it safe to store.

The client's file name and MIME type are never trusted: the type comes from the content.
Images are decoded and re-encoded, so nothing but pixels survives (no EXIF, GPS, comments,
or a script riding along in a polyglot); PDFs and text are checked and copied as they are,
because they are served as downloads with `nosniff`.

Pure functions: no models, no HTTP. The caller has already enforced the upload size limit.
"""

import io
import math
import os
import re
import shutil
import struct
import tempfile
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from PIL import ExifTags, Image, ImageCms, ImageSequence

from samia_chat.errors import Invalid, UnsupportedType

# One budget for everything we decode, still or animated (summed over frames): it bounds
# both the memory of the decoded pixels and the time spent on them.
MAX_PIXELS = 40_000_000
MAX_SIDE_PX = 2560
JPEG_QUALITY = 85
WEBP_QUALITY = 85
PDF_EOF_WINDOW_BYTES = 1024
TEXT_CONTENT_TYPE = "text/plain; charset=utf-8"
ALLOWED_SUMMARY = "only JPEG, PNG, GIF and WebP images, PDF documents and UTF-8 text"

# What Pillow raises on damaged or hostile image data; anything else is our own bug.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error)
_ANIMATED_FORMATS = frozenset({"GIF", "PNG", "WEBP"})

# EXIF orientation -> the transposition `exif_transpose` would apply; whether the rows of
# the upright picture are the source's columns; whether they count from its far end.
_T = Image.Transpose
_UPRIGHT = {
    2: (_T.FLIP_LEFT_RIGHT, False, False),
    3: (_T.ROTATE_180, False, True),
    4: (_T.FLIP_TOP_BOTTOM, False, True),
    5: (_T.TRANSPOSE, True, False),
    6: (_T.ROTATE_270, True, False),
    7: (_T.TRANSVERSE, True, True),
    8: (_T.ROTATE_90, True, True),
}
# A frame is shrunk a band of about this many source pixels (2 MiB as RGB) at a time, but
# of at least this many rows: the rows either side that Lanczos reads are read twice.
_BAND_PIXELS, _BAND_MIN_ROWS = 1 << 19, 32
_LANCZOS = Image.Resampling.LANCZOS


@dataclass(frozen=True)
class CleanFile:
    """What to store. `path` is a temp file the caller owns and must unlink."""

    path: Path
    kind: str
    content_type: str
    extension: str
    size_bytes: int
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class _ImageType:
    format: str
    # Pillow names a multi-picture JPEG (most phone cameras) "MPO"; it is still a JPEG.
    pillow_formats: tuple[str, ...]
    content_type: str
    extension: str


_JPEG = _ImageType("JPEG", ("JPEG", "MPO"), "image/jpeg", ".jpg")
_PNG = _ImageType("PNG", ("PNG",), "image/png", ".png")
_GIF = _ImageType("GIF", ("GIF",), "image/gif", ".gif")
_WEBP = _ImageType("WEBP", ("WEBP",), "image/webp", ".webp")

# Refused types, named only to say what the file was; they are refused because they are
# not one of the allowed types, so this list never needs to be complete.
_KNOWN_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"PK\x03\x04", "a ZIP archive"),
    (0, b"PK\x05\x06", "a ZIP archive"),
    (0, b"\x1f\x8b", "a gzip archive"),
    (0, b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (0, b"Rar!\x1a\x07", "a RAR archive"),
    (257, b"ustar", "a tar archive"),
    (0, b"\x7fELF", "an executable"),
    (0, b"MZ", "an executable"),
    (0, b"\xfe\xed\xfa\xce", "an executable"),
    (0, b"\xfe\xed\xfa\xcf", "an executable"),
    (0, b"\xce\xfa\xed\xfe", "an executable"),
    (0, b"\xcf\xfa\xed\xfe", "an executable"),
    (0, b"\xca\xfe\xba\xbe", "an executable"),
    (4, b"ftyp", "a video or HEIC photo"),
    (0, b"\x1a\x45\xdf\xa3", "a video"),
    (0, b"ID3", "an audio file"),
    (0, b"OggS", "an audio file"),
    (0, b"fLaC", "an audio file"),
    (8, b"WAVE", "an audio file"),
    (8, b"AVI ", "a video"),
)
_HEAD_BYTES = 512

# C0 controls other than tab, LF, FF and CR, plus DEL and C1: they have no place in a note,
# and ESC or U+009B (CSI) would drive a terminal that prints the file.
_CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
# What a browser's content sniffer (WHATWG MIME Sniffing, "identifying a resource with an
# unknown MIME type") would take for HTML, XML or SVG, and a script's shebang. Stricter than
# the standard where no honest note could match: any doctype, comment or `<?` prefix, and
# any whitespace as the tag terminator.
_MARKUP_START = re.compile(
    r"<(?:!doctype|!--|\?|svg)"
    r"|<(?:html|head|script|iframe|h1|div|font|table|a|style|title|b|body|br|p)[ \t\n\f\r>]"
    r"|#!",
    re.IGNORECASE,
)
_SNIFF_WHITESPACE = "\t\n\f\r "

_NAME_MAX_CHARS = 120
_NAME_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,10}$")
# Characters Windows refuses in a file name; a download with them is renamed or fails.
_NAME_RESERVED = re.compile(r'[<>:"|?*]')


def file_clean(source: Path, *, original_name: str = "") -> CleanFile:
    """Decide the type of `source` from its bytes and write the version to store.

    `original_name` only names the file in error messages. Raises `Invalid` (EMPTY_FILE,
    INVALID_IMAGE, IMAGE_TOO_LARGE, INVALID_PDF) or `UnsupportedType`. Leaves `source`
    alone; on error, no temp file is left behind.
    """
    name = _basename_clean(original_name)
    label = f'"{name}"' if name else "The file"
    size_bytes = source.stat().st_size
    if size_bytes == 0:
        raise Invalid(f"{label} is empty.", code="EMPTY_FILE")
    with source.open("rb") as stream:
        head = stream.read(_HEAD_BYTES)

    image_type = _image_type(head)
    if image_type is not None:
        return _image_clean(source, image_type, label)
    if head.startswith(b"%PDF-"):
        return _pdf_clean(source, size_bytes, label)
    return _text_clean(source, head, label)


_WINDOWS_DEVICES = frozenset(
    {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10))}
)


def display_name(original_name: str, extension: str) -> str:
    """A name to offer in Content-Disposition: the basename of the client's name, without
    control or path characters, at most 120 characters, ending in `extension` (the one of
    the detected type): "invoice.exe" detected as PDF gives "invoice.pdf", "" gives
    "file.pdf"."""
    stem = _NAME_EXTENSION.sub("", _basename_clean(original_name))
    # Trailing dots and spaces vanish on Windows, which would eat the extension's dot.
    stem = stem.rstrip(". ")[: _NAME_MAX_CHARS - len(extension)].rstrip(". ")
    if stem.split(".")[0].upper() in _WINDOWS_DEVICES:
        # "CON.txt" names a device, not a file, on Windows: the download would fail there.
        stem = f"_{stem}"
    return f"{stem or 'file'}{extension}"


def _basename_clean(original_name: str) -> str:
    base = re.split(r"[\\/]", original_name)[-1]
    base = unicodedata.normalize("NFC", base)
    # Cf covers the bidirectional overrides of the "invoice\u202efdp.exe" trick.
    base = "".join(ch for ch in base if unicodedata.category(ch) not in {"Cc", "Cf", "Zl", "Zp"})
    # A leading dot would hide the downloaded file on Unix.
    return _NAME_RESERVED.sub("_", base).strip().lstrip(".").rstrip(". ")


# --- images -----------------------------------------------------------------------------


def _image_type(head: bytes) -> _ImageType | None:
    if head.startswith(b"\xff\xd8\xff"):
        return _JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return _PNG
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return _GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return _WEBP
    return None


def _image_clean(source: Path, image_type: _ImageType, label: str) -> CleanFile:
    try:
        # Only the plugins the magic bytes named: Pillow must never pick a format on its
        # own (EPS, for one, would hand the file to Ghostscript).
        with Image.open(source, formats=list(image_type.pillow_formats)) as image:
            if image.format not in image_type.pillow_formats:
                raise UnsupportedType(f"{label} is not the image it claims to be.")
            _pixels_check(image.width * image.height, label)
            loop = image.info.get("loop")
            frames, durations_ms = _frames_decode(image, image_type, label)
            # Leaving `with` only closes the file: free the decoded pixels before encoding.
            image.close()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise Invalid(f"{label} has too many pixels.", code="IMAGE_TOO_LARGE") from exc
    except _DECODE_ERRORS as exc:
        raise Invalid(f"{label} is damaged or not a valid image.", code="INVALID_IMAGE") from exc

    with _output(image_type.extension) as path:
        _image_save(path, image_type.format, frames, durations_ms, loop)
        width, height = frames[0].size
        return CleanFile(
            path=path,
            kind="image",
            content_type=image_type.content_type,
            extension=image_type.extension,
            size_bytes=path.stat().st_size,
            width=width,
            height=height,
        )


def _pixels_check(pixels: int, label: str) -> None:
    if pixels > MAX_PIXELS:
        raise Invalid(f"{label} has too many pixels.", code="IMAGE_TOO_LARGE")


def _frames_decode(
    image: Image.Image, image_type: _ImageType, label: str
) -> tuple[list[Image.Image], list[int]]:
    """Decode every frame (only the first of a JPEG: an MPO's others are depth maps and
    previews), each ready to encode, with its duration in ms."""
    if image_type is _JPEG and max(image.size) > MAX_SIDE_PX:
        # Let libjpeg decode at 1/2, 1/4 or 1/8 scale when that still covers the target.
        target = [max(1, round(side * MAX_SIDE_PX / max(image.size))) for side in image.size]
        image.draft(None, (target[0], target[1]))
    animated = image.format in _ANIMATED_FORMATS and getattr(image, "is_animated", False)
    if not animated:
        return [_frame_prepare(image, image_type.format, animated=False)], []

    frames: list[Image.Image] = []
    durations_ms: list[int] = []
    for index, frame in enumerate(ImageSequence.Iterator(image)):
        _pixels_check((index + 1) * image.width * image.height, label)
        frames.append(_frame_prepare(frame, image_type.format, animated=True))
        # Read after decoding: WebP only knows a frame's duration once it is loaded.
        durations_ms.append(round(frame.info.get("duration") or 0))
    return frames, durations_ms


def _fitted_size(size: tuple[int, int]) -> tuple[int, int]:
    """`size` shrunk to fit MAX_SIDE_PX a side, rounded as `Image.thumbnail` rounds it:
    the short side down or up, whichever keeps the aspect ratio closer."""
    width, height = size
    if max(size) <= MAX_SIDE_PX:
        return size
    aspect = width / height
    if aspect <= 1:
        exact = MAX_SIDE_PX * aspect
        options = [(max(n, 1), MAX_SIDE_PX) for n in (math.floor(exact), math.ceil(exact))]
    else:
        exact = MAX_SIDE_PX / aspect
        options = [(MAX_SIDE_PX, max(n, 1)) for n in (math.floor(exact), math.ceil(exact))]
    return min(options, key=lambda option: abs(aspect - option[0] / option[1]))


def _frame_prepare(frame: Image.Image, image_format: str, *, animated: bool) -> Image.Image:
    """Upright, sRGB, in a mode the format stores, at most MAX_SIDE_PX a side, and with
    no metadata at all: the result is a new image holding only pixels.

    What `exif_transpose`, `profileToProfile`, `convert` and `thumbnail` would make, but
    a band of rows at a time: the decoded frame is the only full-size image held, where
    those would take three more (150 MB for a 12 MP photo)."""
    frame.load()
    orientation = frame.getexif().get(ExifTags.Base.Orientation)
    upright, from_columns, from_far_end = _UPRIGHT.get(orientation, (None, False, False))
    srgb = _srgb_transform(frame.mode, frame.info.get("icc_profile"))
    if image_format == "JPEG":
        mode = "L" if frame.mode == "L" else "RGB"
    elif animated or (srgb.output_mode == "RGBA" if srgb else frame.has_transparency_data):
        # One mode for every frame of an animation: encoders take the first frame's.
        mode = "RGBA"
    else:
        mode = "RGB"

    def upright_rows(top: int, bottom: int) -> Image.Image:
        """Rows `top` to `bottom` of the frame turned upright, in sRGB and in `mode`."""
        length = frame.width if from_columns else frame.height
        start, end = (length - bottom, length - top) if from_far_end else (top, bottom)
        box = (start, 0, end, frame.height) if from_columns else (0, start, frame.width, end)
        rows = frame.crop(box)
        rows = rows.transpose(upright) if upright is not None else rows
        rows = srgb.apply(rows) if srgb else rows
        return rows.convert(mode) if rows.mode != mode else rows

    source_size = frame.size[::-1] if from_columns else frame.size
    return _shrink(upright_rows, source_size, mode)


def _shrink(
    rows_of: Callable[[int, int], Image.Image], source_size: tuple[int, int], mode: str
) -> Image.Image:
    """What `thumbnail` (LANCZOS) would make of the picture of `source_size` whose rows
    `rows_of` gives in `mode`, made a band of rows at a time from only the rows it needs."""
    width, height = source_size
    size = _fitted_size(source_size)
    # As `thumbnail` does, first shrink by a whole factor if at least a 2x resize is left.
    factor_x = int(width / size[0] / 2) or 1
    factor_y = int(height / size[1] / 2) or 1
    scale = height / factor_y / size[1]
    # The two passes in the order Pillow 13 takes for the whole picture (vertical first if
    # that drops over twice as many rows as columns); for a band alone it could take the
    # other, which rounds differently.
    reduced = (math.ceil(width / factor_x), math.ceil(height / factor_y))
    vertical_first = reduced[1] - size[1] > 2 * (reduced[0] - size[0])
    # Pillow carries `info` (comments, ICC, XMP) through every copy and some encoders
    # write it back: start from a blank image so nothing but the pixels can survive.
    bare = Image.new(mode, size)
    step = max(_BAND_MIN_ROWS, _BAND_PIXELS * size[1] // (width * height))
    for top in range(0, size[1], step):
        bottom = min(size[1], top + step)
        first, last = top, bottom
        if size[1] != height:
            # Lanczos reads 3 source rows either side, stretched by the scale; whole
            # blocks of the reduction, so that reducing a band gives the rows reducing
            # the whole would.
            first = max(0, math.floor(top * scale - 3 * scale - 1))
            last = math.ceil(bottom * scale + 3 * scale + 1)
        rows = rows_of(first * factor_y, min(height, last * factor_y))
        if mode == "RGBA" and size != source_size:
            rows = rows.convert("RGBa")  # premultiplied, as `resize` works
        if factor_x > 1 or factor_y > 1:
            rows = rows.reduce((factor_x, factor_y))
        upper, lower = top * scale - first, bottom * scale - first
        if size[1] != height and vertical_first:
            rows = rows.resize((rows.width, bottom - top), _LANCZOS, (0, upper, rows.width, lower))
        if size[0] != width:
            rows = rows.resize(
                (size[0], rows.height), _LANCZOS, (0, 0, width / factor_x, rows.height)
            )
        if size[1] != height and not vertical_first:
            rows = rows.resize((size[0], bottom - top), _LANCZOS, (0, upper, size[0], lower))
        bare.paste(rows.convert(mode) if rows.mode != mode else rows, (0, top))
    return bare


def _srgb_transform(mode: str, icc_profile: bytes | None) -> ImageCms.ImageCmsTransform | None:
    """The transform from the pixels' ICC profile to sRGB, so the profile can be dropped
    without shifting colours (phone photos are often Display P3) and no opaque blob from
    the client is stored. None when there is no profile or it cannot be used: it is then
    dropped as it is."""
    if not icc_profile or mode not in ("RGB", "RGBA", "CMYK"):
        return None
    try:
        return ImageCms.buildTransform(
            ImageCms.ImageCmsProfile(io.BytesIO(icc_profile)),
            ImageCms.createProfile("sRGB"),
            mode,
            "RGBA" if mode == "RGBA" else "RGB",
        )
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None


def _image_save(
    path: Path,
    image_format: str,
    frames: list[Image.Image],
    durations_ms: list[int],
    loop: int | None,
) -> None:
    first, rest = frames[0], frames[1:]
    options: dict[str, object] = {}
    if image_format == "JPEG":
        options = {"quality": JPEG_QUALITY, "progressive": True, "optimize": True}
    elif image_format == "PNG":
        options = {"optimize": True}
    elif image_format == "WEBP":
        options = {"quality": WEBP_QUALITY, "method": 4}
    if rest:
        options.update(save_all=True, append_images=rest, duration=durations_ms)
        if image_format == "GIF":
            # Each frame is already the whole picture as displayed: clear before drawing
            # the next, or transparent pixels would show the previous frame through.
            options["disposal"] = 2
        if loop is not None:
            # A GIF without a loop count plays once; don't turn it into a loop.
            options["loop"] = loop
    first.save(path, format=image_format, **options)


# --- PDF and text -----------------------------------------------------------------------


def _pdf_clean(source: Path, size_bytes: int, label: str) -> CleanFile:
    with source.open("rb") as stream:
        stream.seek(max(0, size_bytes - PDF_EOF_WINDOW_BYTES))
        tail = stream.read()
    if b"%%EOF" not in tail:
        raise Invalid(f"{label} is an incomplete PDF.", code="INVALID_PDF")
    return _copy(source, kind="file", content_type="application/pdf", extension=".pdf")


def _text_clean(source: Path, head: bytes, label: str) -> CleanFile:
    data = source.read_bytes()
    try:
        # utf-8-sig: a leading byte order mark is allowed and skipped.
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnsupportedType(_refusal(head, label, "is not UTF-8 text")) from None
    if _CONTROL_CHARS.search(text):
        raise UnsupportedType(_refusal(head, label, "contains control characters"))
    if _MARKUP_START.match(text.lstrip(_SNIFF_WHITESPACE)):
        raise UnsupportedType(f"{label} is a web page or a script; {ALLOWED_SUMMARY} can be sent.")
    return _copy(source, kind="file", content_type=TEXT_CONTENT_TYPE, extension=".txt")


def _refusal(head: bytes, label: str, reason: str) -> str:
    """The message for a refused file: what it is if its signature says, else `reason`."""
    for offset, signature, description in _KNOWN_SIGNATURES:
        if head[offset : offset + len(signature)] == signature:
            reason = f"is {description}"
            break
    return f"{label} {reason}; {ALLOWED_SUMMARY} can be sent."


def _copy(source: Path, *, kind: str, content_type: str, extension: str) -> CleanFile:
    with _output(extension) as path:
        shutil.copyfile(source, path)
        return CleanFile(
            path=path,
            kind=kind,
            content_type=content_type,
            extension=extension,
            size_bytes=path.stat().st_size,
        )


@contextmanager
def _output(extension: str) -> Iterator[Path]:
    """A new temp file named with `extension`, removed again if the block fails."""
    descriptor, name = tempfile.mkstemp(suffix=extension)
    os.close(descriptor)
    path = Path(name)
    try:
        yield path
    except BaseException:
        path.unlink(missing_ok=True)
        raise
