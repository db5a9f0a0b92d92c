"""Real test images, made in memory, for every case the image decoder must handle.

Import it from any test as ``from tests import imagegen``. Everything is deterministic (fixed seeds) and
small unless the name says otherwise.

Valid images
    pattern(mode, size, seed)        a PIL image in any mode: "1" "L" "LA" "P" "PA" "RGB" "RGBA" "CMYK"
                                     "I;16" "I;16B" "I" "F" (gradients plus noise: every level is used)
    encode(image, fmt, **options)    PIL image → bytes of "jpeg" | "png" | "webp" | "bmp"
    valid_cases()                    [Case]: every format × colour mode a file can hold, with the expected
                                     output mode ("L" grayscale source / "RGB" colour source) and size
    palette_png(gray, transparent)   a "P" PNG, with a gray or a colour palette, with or without tRNS
    png16(lo, hi, size)              a 16-bit grayscale PNG whose real values span only lo..hi
    rgba_png(rgb, alpha)             a flat RGBA PNG (composited on black: rgb * alpha / 255)
    quadrants(size)                  an upright RGB image: red top-left, green top-right, blue bottom-left,
                                     white bottom-right (QUADRANT_COLOURS) — for orientation checks
    exif_jpeg(upright, orientation)  a JPEG whose stored pixels are ``upright`` turned so that a viewer
                                     applying EXIF ``orientation`` (1..8) shows ``upright``; with GPS,
                                     camera make/model, a comment and an ICC profile (metadata to strip)
    swapped_primaries_icc()          an RGB ICC profile with red and blue primaries swapped (not sRGB)
    phone_photo()                    a 12 MP (4000×3000) JPEG, orientation 6 (portrait), GPS tags (cached)
    dicom(values, ...)               a DICOM file (MONOCHROME1/2, BitsStored, window, VOI LUT, frames,
                                     no pixel data, colour, compressed), or None without pydicom
Broken images
    truncated(data, keep)            the first ``keep`` bytes (int) or fraction (float) of a file
    forged_png(w, h, fix_crc)        a real PNG whose IHDR claims w×h (CRC recomputed unless told not to)
    forged_jpeg(w, h)                a real JPEG whose SOF claims w×h (65000×65000 …)
    forged_bmp(w, h)                 a real BMP whose info header claims w×h (negative h = top-down)
    forged_webp(w, h)                a real lossless WebP whose VP8L header claims w×h (max 16384)
    flip_bits(data, positions)       data with the given bit positions flipped
Not images (all must be refused as unsupported_format)
    not_images()                     {name: bytes}: text, text starting "BM", JSON, HTML, SVG, PDF, GIF,
                                     TIFF, ICO, zip, gzip, HEIC, AVIF, JPEG 2000, PSD, RIFF/WAVE,
                                     a DICOM body without its 128-byte preamble
    EMPTY                            b"" (empty_image, not unsupported_format)
"""

from __future__ import annotations

import gzip
import io
import struct
import zipfile
import zlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from PIL import ExifTags, Image, ImageCms

EMPTY = b""
QUADRANT_COLOURS = {
    "top_left": (255, 0, 0),
    "top_right": (0, 255, 0),
    "bottom_left": (0, 0, 255),
    "bottom_right": (255, 255, 255),
}
# How a viewer turns stored pixels upright for each EXIF orientation (the TIFF/EXIF specification).
VIEWER_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# The inverse of each: what a camera does to upright pixels before tagging them.
_CAMERA_TRANSPOSE = {**VIEWER_TRANSPOSE, 6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}
GPS = {1: "N", 2: (39.0, 54.0, 27.0), 3: "E", 4: (116.0, 23.0, 17.0), 6: 52.0}


# --- valid images -----------------------------------------------------------------------------------


def pattern(mode: str, size: tuple[int, int] = (48, 32), seed: int = 0) -> Image.Image:
    """A deterministic image in ``mode``: a diagonal gradient plus noise, per channel."""
    w, h = size
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = (xx * 255.0 / max(1, w - 1) + yy * 255.0 / max(1, h - 1)) / 2

    def plane(shift: int) -> np.ndarray:
        noise = rng.integers(-12, 13, size=(h, w))
        return np.clip((base + shift) % 256 + noise, 0, 255).astype(np.uint8)

    if mode == "1":
        return Image.fromarray(plane(0)).convert("1")
    if mode == "L":
        return Image.fromarray(plane(0))
    if mode in ("RGB", "RGBA", "CMYK"):
        bands = [Image.fromarray(plane(80 * i)) for i in range(len(mode))]
        if mode == "RGBA":
            bands[3] = Image.fromarray(np.clip(xx * 255 // max(1, w - 1), 0, 255).astype(np.uint8))
        return Image.merge(mode, bands)
    if mode == "LA":
        alpha = Image.fromarray(np.clip(yy * 255 // max(1, h - 1), 0, 255).astype(np.uint8))
        return Image.merge("LA", [Image.fromarray(plane(0)), alpha])
    if mode in ("P", "PA"):
        rgb = pattern("RGB", size, seed).quantize(
            colors=64, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
        )
        if mode == "PA":
            return rgb.convert("PA")
        return rgb
    if mode in ("I;16", "I;16B", "I", "F"):
        values = (base * 200 + 1000 + rng.integers(0, 50, size=(h, w))).astype(np.uint16)
        if mode == "I;16":
            return Image.fromarray(values)
        if mode == "I;16B":
            return Image.frombytes("I;16B", size, values.astype(">u2").tobytes())
        if mode == "I":
            return Image.fromarray(values.astype(np.int32) - 30000)
        return Image.fromarray(values.astype(np.float32) / 7.0)
    raise ValueError(f"no pattern for mode {mode}")


def encode(image: Image.Image, fmt: str, **options: Any) -> bytes:
    buf = io.BytesIO()
    image.save(buf, {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "bmp": "BMP"}[fmt], **options)
    return buf.getvalue()


@dataclass(frozen=True)
class Case:
    name: str
    data: bytes
    format: str  # the sniffed format
    source_mode: str  # the PIL mode the file opens as
    mode: str  # the expected output mode: "L" or "RGB"
    size: tuple[int, int]


def valid_cases(size: tuple[int, int] = (48, 32)) -> list[Case]:
    """Every format × colour mode a file of that format can hold, with what decoding must give."""
    table: list[tuple[str, str, str, str, dict[str, Any]]] = [
        # (format, pattern mode, mode the file opens as, expected output, save options)
        ("jpeg", "L", "L", "L", {"quality": 90}),
        ("jpeg", "RGB", "RGB", "RGB", {"quality": 90}),
        ("jpeg", "CMYK", "CMYK", "RGB", {"quality": 90}),
        ("jpeg", "RGB", "RGB", "RGB", {"quality": 90, "progressive": True}),
        ("png", "1", "1", "L", {}),
        ("png", "L", "L", "L", {}),
        ("png", "LA", "LA", "L", {}),
        ("png", "P", "P", "RGB", {}),
        ("png", "RGB", "RGB", "RGB", {}),
        ("png", "RGBA", "RGBA", "RGB", {}),
        ("png", "I;16", "I;16", "L", {}),
        ("png", "RGB", "RGB", "RGB", {"optimize": True}),
        ("webp", "RGB", "RGB", "RGB", {"lossless": True}),
        ("webp", "RGB", "RGB", "RGB", {"quality": 80}),
        ("webp", "RGBA", "RGBA", "RGB", {"lossless": True}),
        ("bmp", "1", "1", "L", {}),
        ("bmp", "L", "L", "L", {}),
        ("bmp", "P", "P", "RGB", {}),
        ("bmp", "RGB", "RGB", "RGB", {}),
    ]
    cases = []
    for fmt, mode, opened, expected, options in table:
        data = encode(pattern(mode, size), fmt, **options)
        label = "-".join([fmt, mode, *(f"{k}={v}" for k, v in options.items())])
        cases.append(Case(label, data, fmt, opened, expected, size))
    cases.append(Case("png-P-gray", palette_png(gray=True), "png", "P", "L", (16, 8)))
    cases.append(Case("png-P-trns", palette_png(gray=False, transparent=True), "png", "P", "RGB", (16, 8)))
    return cases


def palette_png(gray: bool, transparent: bool = False) -> bytes:
    """16×8 "P" PNG: 8 colours, the first transparent when ``transparent``."""
    im = Image.new("P", (16, 8))
    colours = [(i * 36, i * 36, i * 36) if gray else (i * 36, 255 - i * 30, (i * 70) % 256) for i in range(8)]
    im.putpalette([c for rgb in colours for c in rgb])
    im.putdata([(x // 2) for _ in range(8) for x in range(16)])
    options: dict[str, Any] = {"transparency": 0} if transparent else {}
    return encode(im, "png", **options)


def png16(lo: int = 1000, hi: int = 1800, size: tuple[int, int] = (64, 32)) -> bytes:
    """A 16-bit grayscale PNG: a horizontal ramp from ``lo`` (left) to ``hi`` (right)."""
    w, h = size
    ramp = np.linspace(lo, hi, w).round().astype(np.uint16)
    return encode(Image.fromarray(np.tile(ramp, (h, 1))), "png")


def rgba_png(
    rgb: tuple[int, int, int] = (200, 100, 50), alpha: int = 128, size: tuple[int, int] = (8, 8)
) -> bytes:
    return encode(Image.new("RGBA", size, (*rgb, alpha)), "png")


def quadrants(size: tuple[int, int] = (64, 48)) -> Image.Image:
    """An upright RGB image with one flat colour per quadrant (QUADRANT_COLOURS)."""
    w, h = size
    im = Image.new("RGB", size)
    im.paste(QUADRANT_COLOURS["top_left"], (0, 0, w // 2, h // 2))
    im.paste(QUADRANT_COLOURS["top_right"], (w // 2, 0, w, h // 2))
    im.paste(QUADRANT_COLOURS["bottom_left"], (0, h // 2, w // 2, h))
    im.paste(QUADRANT_COLOURS["bottom_right"], (w // 2, h // 2, w, h))
    return im


def metadata_exif(orientation: int = 1) -> Image.Exif:
    """EXIF with orientation, GPS position, camera make/model and a date: the things to strip."""
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = "XiaofeiPhone"
    exif[ExifTags.Base.Model] = "Model 12"
    exif[ExifTags.Base.DateTime] = "2026:11:21 10:00:00"
    exif.get_ifd(ExifTags.IFD.GPSInfo).update(GPS)
    return exif


def srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def swapped_primaries_icc() -> bytes:
    """sRGB with the red and blue primaries swapped and a new name: a pure red pixel here is sRGB blue."""
    icc = bytearray(srgb_icc())
    count = struct.unpack(">I", icc[128:132])[0]
    entries = {bytes(icc[132 + 12 * i : 136 + 12 * i]): 132 + 12 * i for i in range(count)}
    red, blue = entries[b"rXYZ"], entries[b"bXYZ"]
    icc[red + 4 : red + 12], icc[blue + 4 : blue + 12] = icc[blue + 4 : blue + 12], icc[red + 4 : red + 12]
    return bytes(icc).replace(b"\x00s\x00R\x00G\x00B", b"\x00t\x00R\x00G\x00B")


def exif_jpeg(upright: Image.Image | None = None, orientation: int = 1, *, metadata: bool = True) -> bytes:
    """A JPEG that a viewer honouring EXIF ``orientation`` shows as ``upright`` (default: quadrants())."""
    upright = upright if upright is not None else quadrants()
    method = _CAMERA_TRANSPOSE.get(orientation)
    stored = upright if method is None else upright.transpose(method)
    options: dict[str, Any] = {"quality": 95, "exif": metadata_exif(orientation).tobytes()}
    if metadata:
        options.update(comment=b"patient: Zhang San", icc_profile=srgb_icc())
    return encode(stored, "jpeg", **options)


@lru_cache(maxsize=2)
def phone_photo(noise_level: int = 24, quality: int = 85) -> bytes:
    """A 12 MP (4000×3000 stored) phone-camera JPEG, orientation 6: upright it is 3000×4000 portrait.
    More ``noise_level`` (sensor-like noise) makes the file weigh more, as a real camera's does."""
    w, h = 4000, 3000
    rng = np.random.default_rng(12)
    x = np.linspace(0, 255, w, dtype=np.float32)
    y = np.linspace(0, 255, h, dtype=np.float32)[:, None]
    noise = rng.integers(0, noise_level, size=(h, w), dtype=np.uint8)
    r = (x * 0.6 + y * 0.3).astype(np.uint8) + noise
    g = np.broadcast_to((y * 0.8).astype(np.uint8), (h, w)) + noise // 2
    b = np.broadcast_to((255 - x * 0.7).astype(np.uint8), (h, w)) + noise // 3
    image = Image.merge("RGB", [Image.fromarray(np.ascontiguousarray(c)) for c in (r, g, b)])
    return encode(image, "jpeg", quality=quality, exif=metadata_exif(6).tobytes())


def dicom(
    values: np.ndarray | None = None,
    *,
    photometric: str = "MONOCHROME2",
    bits_stored: int = 12,
    window: tuple[float, float] | None = None,
    voi_lut: bool = False,
    rescale: tuple[float, float] | None = None,
    frames: int = 1,
    pixel_data: bool = True,
    transfer_syntax: str | None = None,
) -> bytes | None:
    """A DICOM Part-10 file (preamble + "DICM") of a 16-bit grayscale frame; None when pydicom is absent.

    ``values`` defaults to a 64×48 ramp from 100 to 3000. ``frames`` > 1 repeats it with an offset per
    frame. ``photometric="RGB"`` makes a 3-sample colour image; ``transfer_syntax`` (a UID string) marks
    the pixel data as compressed with junk fragments (no decoder can read it).
    """
    try:
        from pydicom.dataset import Dataset, FileMetaDataset
        from pydicom.encaps import encapsulate
        from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid
    except ImportError:
        return None
    if values is None:
        values = np.tile(np.linspace(100, 3000, 64).round().astype(np.uint16), (48, 1))
    rows, columns = values.shape
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID("1.2.840.10008.5.1.4.1.1.1.1")  # Digital X-Ray, for presentation
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = UID(transfer_syntax) if transfer_syntax else ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "DX"
    ds.PatientName = "Test^Patient"
    ds.Rows, ds.Columns = rows, columns
    ds.PhotometricInterpretation = photometric
    colour = photometric == "RGB"
    ds.SamplesPerPixel = 3 if colour else 1
    if colour:
        ds.PlanarConfiguration = 0
    ds.BitsAllocated = 8 if colour else 16
    ds.BitsStored = 8 if colour else bits_stored
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 0
    if frames > 1:
        ds.NumberOfFrames = frames
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    if rescale is not None:
        ds.RescaleSlope, ds.RescaleIntercept = rescale
    if voi_lut:
        item = Dataset()
        # A 4096-entry LUT: input 0..4095 → output = 4095 - input (an inverting VOI LUT), 16-bit entries.
        item.LUTDescriptor = [4096, 0, 16]
        item.add_new(0x00283006, "OW", np.arange(4095, -1, -1, dtype="<u2").tobytes())  # LUTData
        ds.VOILUTSequence = [item]
    if pixel_data:
        if colour:
            plane = np.clip(values // 16, 0, 255).astype(np.uint8)
            ds.PixelData = np.stack([plane, plane // 2, 255 - plane], axis=-1).tobytes()
        elif transfer_syntax:
            ds.PixelData = encapsulate([b"\x00\x01\x02\x03" * 8] * frames)
            ds["PixelData"].VR = "OB"
        else:
            stack = [
                np.clip(values.astype(np.int64) + 10 * i, 0, (1 << bits_stored) - 1) for i in range(frames)
            ]
            ds.PixelData = np.stack(stack).astype("<u2").tobytes()
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


# --- broken images ----------------------------------------------------------------------------------


def truncated(data: bytes, keep: int | float) -> bytes:
    """The first ``keep`` bytes (int), or that fraction of the file (float)."""
    n = int(len(data) * keep) if isinstance(keep, float) else keep
    return data[:n]


def flip_bits(data: bytes, positions: list[int]) -> bytes:
    out = bytearray(data)
    if not out:
        return data
    for bit in positions:
        out[(bit // 8) % len(out)] ^= 1 << (bit % 8)
    return bytes(out)


def forged_png(width: int, height: int, *, fix_crc: bool = True, base: bytes | None = None) -> bytes:
    """A real PNG (``base`` or a small gray one) whose IHDR now claims ``width``×``height``."""
    data = bytearray(base if base is not None else encode(pattern("L", (16, 16)), "png"))
    data[16:24] = struct.pack(">II", width & 0xFFFFFFFF, height & 0xFFFFFFFF)
    if fix_crc:
        data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
    return bytes(data)


def forged_jpeg(width: int, height: int, *, base: bytes | None = None) -> bytes:
    """A real JPEG (``base`` or a small gray one) whose first SOF segment now claims ``width``×``height``."""
    data = bytearray(base if base is not None else encode(pattern("L", (16, 16)), "jpeg"))
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            raise ValueError("not a well-formed JPEG")
        marker = data[i + 1]
        length = struct.unpack(">H", data[i + 2 : i + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            data[i + 5 : i + 9] = struct.pack(">HH", height & 0xFFFF, width & 0xFFFF)
            return bytes(data)
        i += 2 + length
    raise ValueError("no SOF segment found")


def forged_bmp(width: int, height: int, *, base: bytes | None = None) -> bytes:
    """A real BMP (``base`` or a small RGB one) whose BITMAPINFOHEADER now claims ``width``×``height``."""
    data = bytearray(base if base is not None else encode(pattern("RGB", (8, 8)), "bmp"))
    data[18:26] = struct.pack("<ii", width, height)
    return bytes(data)


def forged_webp(width: int, height: int, *, base: bytes | None = None) -> bytes:
    """A real lossless WebP whose VP8L header now claims ``width``×``height`` (1..16384 each)."""
    data = bytearray(base if base is not None else encode(pattern("RGB", (8, 8)), "webp", lossless=True))
    if data[12:16] != b"VP8L":
        raise ValueError("not a simple lossless WebP")
    bits = struct.unpack("<I", data[21:25])[0]
    bits = (bits & ~0x0FFFFFFF) | ((width - 1) & 0x3FFF) | (((height - 1) & 0x3FFF) << 14)
    data[21:25] = struct.pack("<I", bits)
    return bytes(data)


# --- not images -------------------------------------------------------------------------------------


def _pil_bytes(fmt: str, mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (16, 16), "red" if mode == "RGB" else 128).save(buf, fmt)
    return buf.getvalue()


def not_images() -> dict[str, bytes]:
    """Files that are not an accepted image format, by name; every one must be unsupported_format."""
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr("xray.jpg", b"\xff\xd8\xff\xe0 not really")
    body = dicom()
    return {
        "text": b"hello, this is not an image\n",
        "text_bm": b"BMW is a car, not a bitmap. " * 4,
        "json": b'{"image": "aGVsbG8="}',
        "html": b"<!doctype html><html><body><img src=x onerror=alert(1)></body></html>",
        "svg": b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="9"/></svg>',
        "pdf": b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n",
        "gif": _pil_bytes("GIF", "L"),
        "tiff": _pil_bytes("TIFF"),
        "ico": _pil_bytes("ICO"),
        "zip": zipped.getvalue(),
        "gzip": gzip.compress(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, mtime=0),
        "heic": b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64,
        "avif": b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf" + b"\x00" * 64,
        "jpeg2000": b"\x00\x00\x00\x0cjP  \r\n\x87\n" + b"\x00" * 64,
        "psd": b"8BPS\x00\x01" + b"\x00" * 64,
        "wav": b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 32,
        "dicom_no_preamble": (body[132:] if body else b"\x02\x00\x00\x00UL\x04\x00" + b"\x00" * 64),
    }
