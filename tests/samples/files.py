"""Upload samples made by code: honest images, PDFs and notes, and a hostile corpus
(polyglots, renamed archives and executables, markup, bombs). Each function writes one
file into `directory` and returns its path."""

import gzip
import io
import random
import struct
import tarfile
import zipfile
import zlib
from pathlib import Path

from PIL import ExifTags, Image
from PIL.PngImagePlugin import PngInfo

PHP_PAYLOAD = b"<?php system($_GET['c']); ?>"
EXIF_MARKER = "SAMIA-EXIF-MARKER"
GPS_LATITUDE = (48.0, 51.0, 24.0)

_EXTENSIONS = {"JPEG": ".jpg", "PNG": ".png", "GIF": ".gif", "WEBP": ".webp"}
_FRAME_COLOURS = ("red", "green", "blue", "yellow", "purple", "orange")


def image_file(
    directory: Path,
    fmt: str = "JPEG",
    size: tuple[int, int] = (640, 480),
    *,
    exif_gps: bool = False,
    comment: bytes | None = None,
    orientation: int | None = None,
    mode: str = "RGB",
    frames: int = 1,
    icc_profile: bytes | None = None,
    name: str = "",
) -> Path:
    """An image whose left half is red (or the frame's colour) and right half blue; with
    an alpha `mode`, the top right quarter is transparent.

    `exif_gps` adds a camera EXIF block with GPS and EXIF_MARKER; `comment` goes where the
    format keeps comments (JPEG COM, PNG tEXt, GIF comment, WebP XMP); frame i of an
    animation lasts 100 * (i + 1) ms.
    """
    pictures = [
        _picture(size, _FRAME_COLOURS[i % len(_FRAME_COLOURS)], mode) for i in range(frames)
    ]
    options: dict[str, object] = {}
    exif = _exif(gps=exif_gps, orientation=orientation)
    if exif is not None and fmt != "GIF":
        options["exif"] = exif
    if comment is not None:
        options.update(_comment_option(fmt, comment))
    if icc_profile is not None:
        options["icc_profile"] = icc_profile
    if frames > 1:
        durations = [100 * (i + 1) for i in range(frames)]
        options.update(save_all=True, append_images=pictures[1:], duration=durations, loop=0)
    path = directory / (name or f"image{_EXTENSIONS[fmt]}")
    pictures[0].save(path, format=fmt, **options)
    return path


def _picture(size: tuple[int, int], colour: str, mode: str) -> Image.Image:
    width, height = size
    picture = Image.new("RGBA", size, "blue")
    picture.paste(colour, (0, 0, width // 2, height))
    if mode in ("RGBA", "LA", "P"):
        picture.paste((0, 0, 0, 0), (width // 2, 0, width, height // 2))
        if mode == "P":
            return picture.convert("P", palette=Image.Palette.ADAPTIVE)
        return picture.convert(mode)
    return picture.convert("RGB").convert(mode)


def _exif(*, gps: bool, orientation: int | None) -> Image.Exif | None:
    if not gps and orientation is None:
        return None
    exif = Image.Exif()
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    if gps:
        exif[ExifTags.Base.Make] = "SamiaCam"
        exif[ExifTags.Base.Model] = "Tarot 1"
        exif[ExifTags.Base.ImageDescription] = EXIF_MARKER
        gps_ifd = exif.get_ifd(ExifTags.IFD.GPSInfo)
        gps_ifd[ExifTags.GPS.GPSLatitudeRef] = "N"
        gps_ifd[ExifTags.GPS.GPSLatitude] = GPS_LATITUDE
        gps_ifd[ExifTags.GPS.GPSLongitudeRef] = "E"
        gps_ifd[ExifTags.GPS.GPSLongitude] = (2.0, 21.0, 7.0)
    return exif


def _comment_option(fmt: str, comment: bytes) -> dict[str, object]:
    if fmt == "PNG":
        info = PngInfo()
        info.add_text("Comment", comment.decode("latin-1"))
        return {"pnginfo": info}
    if fmt == "WEBP":
        return {"xmp": b"<x:xmpmeta><dc:description>" + comment + b"</dc:description></x:xmpmeta>"}
    return {"comment": comment}


def jpeg_with_payload(directory: Path, payload: bytes = PHP_PAYLOAD) -> Path:
    """A real JPEG carrying `payload` in its COM segment, in EXIF and after its end: the
    classic image/script polyglot."""
    path = image_file(directory, "JPEG", comment=payload, name="payload.jpg")
    exif = Image.Exif()
    exif[ExifTags.Base.ImageDescription] = payload.decode("latin-1")
    with Image.open(path) as image:
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", exif=exif, comment=payload)
    path.write_bytes(buffer.getvalue() + payload)
    return path


def truncated_image(directory: Path, fmt: str = "JPEG") -> Path:
    """A real image cut off in the middle of its pixel data."""
    path = directory / f"truncated{_EXTENSIONS[fmt]}"
    # Noise, so that the pixel data is most of the file and the cut falls inside it.
    noise = Image.frombytes("RGB", (320, 240), random.Random(7).randbytes(320 * 240 * 3))
    noise.save(path, format=fmt)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def big_image(directory: Path, target_bytes: int = 10_000_000, *, width: int = 3200) -> Path:
    """A noisy RGB PNG just under `target_bytes`; noise does not compress, so the size is
    close to the raw pixels. Wider than the 2560 px cap, so cleaning it has to resize."""
    # Each row is 3 bytes a pixel plus PNG's filter byte; leave room for chunk overhead.
    height = int(target_bytes * 0.995) // (3 * width + 1)
    pixels = random.Random(42).randbytes(width * height * 3)
    path = directory / "big.png"
    Image.frombytes("RGB", (width, height), pixels).save(path, format="PNG", compress_level=1)
    return path


def bomb_png(
    directory: Path, size: tuple[int, int] = (20000, 20000), *, name: str = "bomb.png"
) -> Path:
    """A 1-bit greyscale PNG of `size`, all black: a few kilobytes on disk, written by
    hand so that making it never holds the pixels in memory."""
    width, height = size
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    rows = b"\x00" * (1 + (width + 7) // 8) * 100
    compressor = zlib.compressobj(9)
    chunks = [compressor.compress(rows) for _ in range(height // 100)]
    remainder = height % 100
    chunks.append(compressor.compress(rows[: len(rows) // 100 * remainder]))
    chunks.append(compressor.flush())
    data = (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", b"".join(chunks))
        + _png_chunk(b"IEND", b"")
    )
    path = directory / name
    path.write_bytes(data)
    return path


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def pdf_file(directory: Path, *, name: str = "reading.pdf", complete: bool = True) -> Path:
    """A one-page PDF written by hand, with a correct cross-reference table. Without
    `complete` it stops before the trailer, like an interrupted download."""
    content = b"BT /F1 24 Tf 20 100 Td (Three of Cups) Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 200] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    data = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(data))
        data += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref_offset = len(data)
    data += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    data += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    trailer = b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n"
    data += trailer % (len(objects) + 1, xref_offset)
    if not complete:
        data = data[:xref_offset]
    path = directory / name
    path.write_bytes(data)
    return path


def text_file(
    directory: Path,
    content: str,
    encoding: str = "utf-8",
    *,
    bom: bool = False,
    name: str = "note.txt",
) -> Path:
    path = directory / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + content.encode(encoding))
    return path


def latin1_text(directory: Path) -> Path:
    """A note in Latin-1: the "é" is a lone 0xE9 byte, which is not UTF-8."""
    return text_file(directory, "Café crème, the Queen of Cups.\n", "latin-1")


def empty_file(directory: Path, *, name: str = "empty.jpg") -> Path:
    path = directory / name
    path.write_bytes(b"")
    return path


def html_renamed(directory: Path, name: str = "x.png") -> Path:
    page = "<!DOCTYPE html>\n<html><body><script>fetch('/api/me')</script></body></html>\n"
    return text_file(directory, page, name=name)


def svg_with_script(directory: Path, *, xml_declaration: bool = False, name: str = "x.svg") -> Path:
    declaration = '<?xml version="1.0" encoding="UTF-8"?>\n' if xml_declaration else ""
    svg = (
        f'{declaration}<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">'
        "<script>alert(document.cookie)</script></svg>\n"
    )
    return text_file(directory, svg, name=name)


def zip_renamed_pdf(directory: Path, name: str = "x.pdf") -> Path:
    path = directory / name
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("reading.txt", "The Tower, reversed.")
    return path


def elf_binary(directory: Path, name: str = "x.txt") -> Path:
    """A minimal x86-64 Linux executable that calls exit(0)."""
    code = b"\xb8\x3c\x00\x00\x00\x31\xff\x0f\x05"  # mov eax, 60; xor edi, edi; syscall
    base, header_size, program_header_size = 0x400000, 64, 56
    entry = base + header_size + program_header_size
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    header = ident + struct.pack(
        "<HHIQQQIHHHHHH", 2, 0x3E, 1, entry, header_size, 0, 0, header_size,
        program_header_size, 1, 64, 0, 0,
    )  # fmt: skip
    file_size = header_size + program_header_size + len(code)
    program_header = struct.pack("<IIQQQQQQ", 1, 5, 0, base, base, file_size, file_size, 0x1000)
    path = directory / name
    path.write_bytes(header + program_header + code)
    return path


def pe_binary(directory: Path, name: str = "x.pdf") -> Path:
    """A DOS MZ header whose e_lfanew points at a PE signature and COFF header."""
    pe_offset = 0x80
    dos_header = b"MZ" + bytes(0x3A) + struct.pack("<I", pe_offset)
    stub = b"This program cannot be run in DOS mode.\r\r\n$"
    coff = struct.pack("<HHIIIHH", 0x8664, 0, 0, 0, 0, 0, 0x0002)
    data = (dos_header + stub).ljust(pe_offset, b"\x00") + b"PE\x00\x00" + coff
    path = directory / name
    path.write_bytes(data)
    return path


def signature_file(directory: Path, kind: str) -> Path:
    """A refused type by its signature: "gzip" and "tar" are real archives; the others
    are the type's magic bytes followed by binary filler."""
    path = directory / f"{kind}.txt"
    if kind == "gzip":
        path.write_bytes(gzip.compress(b"The Star\n" * 10))
    elif kind == "tar":
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            body = b"The Moon\n"
            member = tarfile.TarInfo("moon.txt")
            member.size = len(body)
            archive.addfile(member, io.BytesIO(body))
        path.write_bytes(buffer.getvalue())
    else:
        filler = bytes(range(256))
        path.write_bytes(_MAGIC[kind] + filler)
    return path


_MAGIC = {
    "7z": b"7z\xbc\xaf\x27\x1c\x00\x04",
    "rar": b"Rar!\x1a\x07\x01\x00",
    "macho": b"\xcf\xfa\xed\xfe\x07\x00\x00\x01",
    "mp4": b"\x00\x00\x00\x18ftypmp42",
    "heic": b"\x00\x00\x00\x18ftypheic",
    "webm": b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81",
    "mp3": b"ID3\x04\x00\x00\x00\x00\x00\x00",
    "ogg": b"OggS\x00\x02\x00\x00",
    "wav": b"RIFF\x24\x00\x00\x00WAVEfmt ",
}
