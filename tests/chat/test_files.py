"""Specs for chat.files: the type comes from the bytes, images come out re-encoded with
nothing but their pixels, and the hostile corpus is refused with the right error."""

import tempfile
from pathlib import Path

import pytest
from PIL import ExifTags, Image, ImageChops, ImageCms, ImageOps, ImageSequence

from chat import files
from chat.files import display_name, file_clean
from samia_chat.errors import Invalid, UnsupportedType
from tests.samples import files as samples

IMAGE_TYPES = [
    ("JPEG", "image/jpeg", ".jpg"),
    ("PNG", "image/png", ".png"),
    ("GIF", "image/gif", ".gif"),
    ("WEBP", "image/webp", ".webp"),
]
RED, BLUE = (255, 0, 0), (0, 0, 255)


@pytest.fixture
def temp_dir(tmp_path, monkeypatch) -> Path:
    """Where file_clean writes its temp files during the test (samples go to tmp_path)."""
    directory = tmp_path / "temp"
    directory.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    return directory


def clean(path: Path):
    return file_clean(path, original_name=path.name)


def close_to(actual, expected, tolerance: int = 12) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=False))


# --- accepted types ---------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "content_type", "extension"), IMAGE_TYPES)
def test_image_is_accepted_with_its_type_and_dimensions(
    tmp_path, temp_dir, fmt, content_type, extension
):
    source = samples.image_file(tmp_path, fmt, (640, 480))

    result = clean(source)

    assert (result.kind, result.content_type, result.extension) == (
        "image",
        content_type,
        extension,
    )
    assert (result.width, result.height) == (640, 480)
    assert result.path.parent == temp_dir and result.path.suffix == extension
    assert result.size_bytes == result.path.stat().st_size
    with Image.open(result.path) as image:
        assert (image.format, image.size) == (fmt, (640, 480))


def test_the_client_name_does_not_decide_the_type(tmp_path, temp_dir):
    source = samples.image_file(tmp_path, "PNG", name="invoice.pdf")

    result = file_clean(source, original_name="invoice.pdf")

    assert (result.content_type, result.extension) == ("image/png", ".png")


def test_source_is_left_alone_and_the_output_is_a_new_file(tmp_path, temp_dir):
    source = samples.image_file(tmp_path, "JPEG", exif_gps=True)
    before = source.read_bytes()

    result = clean(source)

    assert source.read_bytes() == before
    assert result.path != source and result.path.exists()


def test_pdf_is_accepted_and_copied_byte_for_byte(tmp_path, temp_dir):
    source = samples.pdf_file(tmp_path)

    result = clean(source)

    assert (result.kind, result.content_type, result.extension) == (
        "file",
        "application/pdf",
        ".pdf",
    )
    assert (result.width, result.height) == (None, None)
    assert result.path.read_bytes() == source.read_bytes()
    assert result.size_bytes == source.stat().st_size


@pytest.mark.parametrize(
    ("content", "bom"),
    [
        ("The Three of Cups: celebration.\n", False),
        ("قراءة التاروت 🔮 — la Lune\n", False),
        ("With a byte order mark.\n", True),
        ("Tabs\tand CRLF\r\nand a form feed\f.", False),
        ("<3 thank you so much", False),
        ("a < b and <bold> claims", False),
        ("MZ are my initials", False),
        ("%%EOF is not a PDF", False),
    ],
)
def test_utf8_text_is_accepted_and_copied_byte_for_byte(tmp_path, temp_dir, content, bom):
    source = samples.text_file(tmp_path, content, bom=bom)

    result = clean(source)

    assert (result.kind, result.content_type, result.extension) == (
        "file",
        "text/plain; charset=utf-8",
        ".txt",
    )
    assert result.path.read_bytes() == source.read_bytes()


# --- images are re-encoded --------------------------------------------------------------


def test_reencoded_jpeg_has_no_exif_and_no_gps(tmp_path, temp_dir):
    source = samples.image_file(tmp_path, "JPEG", exif_gps=True)
    with Image.open(source) as original:
        assert original.getexif().get_ifd(ExifTags.IFD.GPSInfo)

    result = clean(source)

    with Image.open(result.path) as image:
        exif = image.getexif()
        assert len(exif) == 0
        assert not exif.get_ifd(ExifTags.IFD.GPSInfo)
        assert "exif" not in image.info
    assert samples.EXIF_MARKER.encode() not in result.path.read_bytes()
    assert b"SamiaCam" not in result.path.read_bytes()


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_reencoded_image_has_no_exif(tmp_path, temp_dir, fmt):
    source = samples.image_file(tmp_path, fmt, exif_gps=True)
    assert samples.EXIF_MARKER.encode() in source.read_bytes()

    result = clean(source)

    with Image.open(result.path) as image:
        assert len(image.getexif()) == 0
    assert samples.EXIF_MARKER.encode() not in result.path.read_bytes()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "WEBP"])
def test_comments_are_dropped(tmp_path, temp_dir, fmt):
    marker = b"SAMIA-COMMENT-MARKER"
    source = samples.image_file(tmp_path, fmt, comment=marker)
    assert marker in source.read_bytes()

    result = clean(source)

    assert marker not in result.path.read_bytes()


@pytest.mark.parametrize(
    "payload", [samples.PHP_PAYLOAD, b"<script>alert(document.cookie)</script>"]
)
def test_polyglot_payload_does_not_survive(tmp_path, temp_dir, payload):
    source = samples.jpeg_with_payload(tmp_path, payload)
    assert source.read_bytes().count(payload) >= 3

    result = clean(source)

    data = result.path.read_bytes()
    assert payload not in data
    assert b"<?php" not in data and b"<script" not in data


def test_icc_profile_is_converted_to_srgb_and_dropped(tmp_path, temp_dir):
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    source = samples.image_file(tmp_path, "JPEG", icc_profile=srgb)

    result = clean(source)

    with Image.open(result.path) as image:
        assert "icc_profile" not in image.info
        assert close_to(image.getpixel((10, 10)), RED)


@pytest.mark.parametrize(("fmt", "size"), [("JPEG", (4000, 3000)), ("PNG", (3000, 4000))])
def test_longest_side_is_capped_at_2560(tmp_path, temp_dir, fmt, size):
    source = samples.image_file(tmp_path, fmt, size)

    result = clean(source)

    expected = (2560, 1920) if size[0] > size[1] else (1920, 2560)
    assert (result.width, result.height) == expected
    with Image.open(result.path) as image:
        assert image.size == expected


def test_exif_orientation_is_applied(tmp_path, temp_dir):
    # Orientation 6: the camera was turned a quarter; the viewer rotates 90° clockwise,
    # so the stored left half (red) ends up on top.
    source = samples.image_file(tmp_path, "JPEG", (200, 100), orientation=6)

    result = clean(source)

    assert (result.width, result.height) == (100, 200)
    with Image.open(result.path) as image:
        assert ExifTags.Base.Orientation not in image.getexif()
        assert close_to(image.getpixel((50, 20)), RED)
        assert close_to(image.getpixel((50, 180)), BLUE)


@pytest.mark.parametrize(
    ("orientation", "mode", "size"),
    [(orientation, "RGB", (2700, 60)) for orientation in range(1, 9)]
    + [(8, "RGBA", (2700, 60)), (1, "RGBA", (10300, 60)), (6, "RGBA", (10300, 60))]
    + [(1, "RGB", (60, 2700)), (6, "RGB", (60, 2700))],
)
def test_large_image_comes_out_as_turning_and_shrinking_it_whole_would_make_it(
    tmp_path, temp_dir, monkeypatch, orientation, mode, size
):
    # The picture is turned and shrunk a band of rows at a time (small bands here, so
    # there are many); it must come out as `exif_transpose` and `thumbnail` make it, but
    # for rounding. Ramps and noise leave no symmetry for a band out of place or a wrong
    # flip to hide in; the widest picture is first reduced by a whole factor, as
    # `thumbnail` does, and the tall one is resized vertically first, as Pillow does.
    monkeypatch.setattr(files, "_BAND_PIXELS", 20_000)
    monkeypatch.setattr(files, "_BAND_MIN_ROWS", 4)
    stored = size[::-1] if orientation >= 5 else size
    ramp = Image.linear_gradient("L")
    bands = [ramp.rotate(90), ramp, ramp.point(lambda v: 128 + v // 2)]
    red, green, alpha = (band.resize(stored) for band in bands)
    picture = Image.merge("RGBA", [red, green, Image.effect_noise(stored, 40), alpha])
    picture = picture.convert(mode)
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    source = tmp_path / "large.png"
    picture.save(source, "PNG", exif=exif)
    with Image.open(source) as image:
        expected = ImageOps.exif_transpose(image)
    expected.thumbnail((2560, 2560), Image.Resampling.LANCZOS)

    result = clean(source)

    assert (result.width, result.height) == expected.size
    with Image.open(result.path) as image:
        assert image.mode == mode
        difference = ImageChops.difference(image, expected.convert(mode))
    # Alpha is premultiplied while resizing: dividing it out again doubles a rounding
    # step where the picture is half transparent.
    assert max(high for _, high in difference.getextrema()) <= (1 if mode == "RGB" else 2)


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG"])
def test_animation_keeps_its_frames_and_durations(tmp_path, temp_dir, fmt):
    source = samples.image_file(tmp_path, fmt, (120, 80), frames=3, mode="RGBA")

    result = clean(source)

    durations, pixels = [], []
    with Image.open(result.path) as image:
        for frame in ImageSequence.Iterator(image):
            # Decode first: WebP reports a frame's duration only once it is loaded.
            pixels.append(frame.convert("RGBA").getpixel((10, 60)))
            durations.append(frame.info["duration"])
    assert durations == [100, 200, 300]
    for pixel, colour in zip(pixels, [RED, (0, 128, 0), BLUE], strict=True):
        assert close_to(pixel[:3], colour) and pixel[3] == 255


def test_cmyk_jpeg_comes_out_rgb(tmp_path, temp_dir):
    source = samples.image_file(tmp_path, "JPEG", mode="CMYK")

    result = clean(source)

    with Image.open(result.path) as image:
        assert image.mode == "RGB"
        assert close_to(image.getpixel((10, 10)), RED, tolerance=40)


@pytest.mark.parametrize("mode", ["P", "RGBA", "LA"])
def test_png_transparency_is_kept(tmp_path, temp_dir, mode):
    source = samples.image_file(tmp_path, "PNG", mode=mode)

    result = clean(source)

    with Image.open(result.path) as image:
        assert image.mode == "RGBA"
        assert image.getpixel((600, 10))[3] == 0
        assert image.getpixel((10, 400))[3] == 255


def test_grayscale_jpeg_stays_grayscale(tmp_path, temp_dir):
    source = samples.image_file(tmp_path, "JPEG", mode="L")

    result = clean(source)

    with Image.open(result.path) as image:
        assert image.mode == "L"


# --- the hostile corpus -----------------------------------------------------------------


HOSTILE = [
    ("empty file", samples.empty_file, Invalid, "EMPTY_FILE"),
    ("HTML renamed .png", samples.html_renamed, UnsupportedType, "UNSUPPORTED_TYPE"),
    ("SVG with a script", samples.svg_with_script, UnsupportedType, "UNSUPPORTED_TYPE"),
    (
        "SVG with an XML declaration",
        lambda d: samples.svg_with_script(d, xml_declaration=True),
        UnsupportedType,
        "UNSUPPORTED_TYPE",
    ),
    ("ZIP renamed .pdf", samples.zip_renamed_pdf, UnsupportedType, "UNSUPPORTED_TYPE"),
    ("ELF executable", samples.elf_binary, UnsupportedType, "UNSUPPORTED_TYPE"),
    ("PE executable", samples.pe_binary, UnsupportedType, "UNSUPPORTED_TYPE"),
    ("Latin-1 text", samples.latin1_text, UnsupportedType, "UNSUPPORTED_TYPE"),
    (
        "text starting with a doctype",
        lambda d: samples.text_file(d, "<!DOCTYPE html>\n<p>Your reading</p>\n"),
        UnsupportedType,
        "UNSUPPORTED_TYPE",
    ),
    (
        "shebang script",
        lambda d: samples.text_file(d, "#!/bin/sh\nrm -rf ~\n", name="run.txt"),
        UnsupportedType,
        "UNSUPPORTED_TYPE",
    ),
    (
        "terminal escape sequence",
        lambda d: samples.text_file(d, "hello \x1b[31mred\x1b[0m\n"),
        UnsupportedType,
        "UNSUPPORTED_TYPE",
    ),
    (
        "NUL byte",
        lambda d: samples.text_file(d, "hello\x00world"),
        UnsupportedType,
        "UNSUPPORTED_TYPE",
    ),
    ("truncated JPEG", samples.truncated_image, Invalid, "INVALID_IMAGE"),
    (
        "truncated PNG",
        lambda d: samples.truncated_image(d, "PNG"),
        Invalid,
        "INVALID_IMAGE",
    ),
    (
        "PNG signature over a script",
        lambda d: samples.text_file(d, "\x89PNG\r\n\x1a\n<script>alert(1)</script>", "latin-1"),
        Invalid,
        "INVALID_IMAGE",
    ),
    ("decompression bomb", samples.bomb_png, Invalid, "IMAGE_TOO_LARGE"),
    (
        "48 megapixels",
        lambda d: samples.bomb_png(d, (8000, 6000)),
        Invalid,
        "IMAGE_TOO_LARGE",
    ),
    (
        "PDF without its end",
        lambda d: samples.pdf_file(d, complete=False),
        Invalid,
        "INVALID_PDF",
    ),
] + [
    (
        kind,
        lambda d, kind=kind: samples.signature_file(d, kind),
        UnsupportedType,
        "UNSUPPORTED_TYPE",
    )
    for kind in ("gzip", "tar", "7z", "rar", "macho", "mp4", "heic", "webm", "mp3", "ogg", "wav")
]


@pytest.mark.parametrize(
    ("make", "error", "code"),
    [case[1:] for case in HOSTILE],
    ids=[case[0] for case in HOSTILE],
)
def test_hostile_file_is_refused_and_leaves_no_temp_file(tmp_path, temp_dir, make, error, code):
    source = make(tmp_path)

    with pytest.raises(error) as refused:
        clean(source)

    assert refused.value.code == code
    assert refused.value.message
    assert list(temp_dir.iterdir()) == []


@pytest.mark.parametrize(
    "start",
    [
        "<html>",
        "  \n\t<HTML lang=ar>",
        "\ufeff<script>",
        "<iframe src=x>",
        "<h1>",
        "<div class=x>",
        "<font color=red>",
        "<table>",
        "<a href=x>",
        "<style>",
        "<title>",
        "<b>",
        "<body onload=x>",
        "<br>",
        "<p>",
        "<!-- -->",
        "<!--x-->",
        '<?xml version="1.0"?>',
        "<svg>",
        "<!DOCTYPE svg>",
        "#!/usr/bin/env python",
    ],
)
def test_text_that_sniffs_as_markup_or_a_script_is_refused(tmp_path, temp_dir, start):
    source = samples.text_file(tmp_path, f"{start}\nthe rest\n")

    with pytest.raises(UnsupportedType):
        clean(source)


def test_failed_write_leaves_no_temp_file(tmp_path, temp_dir, monkeypatch):
    def disk_full(*args, **kwargs):
        raise OSError("No space left on device")

    source = samples.image_file(tmp_path, "PNG")
    monkeypatch.setattr(Image.Image, "save", disk_full)

    with pytest.raises(OSError, match="No space left"):
        clean(source)

    assert list(temp_dir.iterdir()) == []


# --- display names ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("original", "extension", "expected"),
    [
        ("invoice.exe", ".pdf", "invoice.pdf"),
        ("", ".pdf", "file.pdf"),
        ("photo.JPG", ".jpg", "photo.jpg"),
        ("notes", ".txt", "notes.txt"),
        ("Dr. Smith notes", ".txt", "Dr. Smith notes.txt"),
        ("../../etc/passwd", ".txt", "passwd.txt"),
        ("C:\\Users\\layla\\card.png", ".png", "card.png"),
        ("a\x00b\r\nc\x1b.png", ".png", "abc.png"),
        ("invoice\u202efdp.exe", ".pdf", "invoicefdp.pdf"),
        ('what: "the tower"?.pdf', ".pdf", "what_ _the tower__.pdf"),
        (".bashrc", ".txt", "bashrc.txt"),
        ("...", ".pdf", "file.pdf"),
        ("قراءة التاروت.pdf", ".pdf", "قراءة التاروت.pdf"),
    ],
)
def test_display_name(original, extension, expected):
    assert display_name(original, extension) == expected


def test_display_name_is_at_most_120_characters_with_the_extension():
    name = display_name("x" * 300 + ".png", ".png")

    assert len(name) == 120 and name.endswith("x.png")
