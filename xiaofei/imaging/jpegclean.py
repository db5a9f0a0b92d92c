"""Store a client's JPEG as it came, minus its metadata: no decode, no re-encode.

Both clients now send photos downscaled (long side <= 2048), upright and re-encoded by the browser or
WeChat. Decoding such a file again and encoding a new JPEG just to store it costs as much as the model
(and loses quality); dropping its metadata segments costs a scan of its markers. ``clean_jpeg`` returns
the file without any APPn segment but Adobe's APP14 (which tells a decoder the colour transform) and
without COM segments, or None when the bytes should go the long way (``imaging.encode_for_storage`` of
the decoded image): an EXIF orientation other than 1 (the stored pixels would then be shown turned), an
ICC profile other than sRGB (its colours would change without it; an untagged JPEG is shown as sRGB,
and browsers' canvases tag their JPEGs with a small sRGB profile), CMYK or other than 1 or 3
components, a long side over ``max_side``, anything it cannot parse.

The markers (ITU T.81 B.1.1): ``FFD8`` SOI; segments ``FFxx`` + 2-byte length (which counts itself) for
everything but SOI, EOI (``FFD9``), TEM (``FF01``) and RST0-7 (``FFD0``-``FFD7``); entropy-coded data after
SOS, where a data ``FF`` is followed by ``00`` and ``FF`` bytes may pad before a marker. Progressive files
have more segments (DHT, SOS, and sometimes APPn/COM) between scans: those are cleaned too.
"""

from __future__ import annotations

_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_APP14 = 0xEE
_COM = 0xFE
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})


def _is_metadata(marker: int) -> bool:
    return (0xE0 <= marker <= 0xEF and marker != _APP14) or marker == _COM


# sRGB's colorimetry in an ICC v2/v4 profile (D50-adapted primaries and white, the sRGB tone curve as a
# parametric curve of type 3: g, a, b, c, d).
_SRGB_XYZ = {
    b"rXYZ": (0.4361, 0.2225, 0.0139),
    b"gXYZ": (0.3851, 0.7169, 0.0971),
    b"bXYZ": (0.1431, 0.0606, 0.7141),
    b"wtpt": (0.9642, 1.0, 0.8249),
}
_SRGB_TRC = (2.4, 0.9479, 0.0521, 0.0774, 0.0405)


def _s15(data: bytes, at: int) -> float:
    return int.from_bytes(data[at : at + 4], "big", signed=True) / 65536


def is_srgb(icc: bytes) -> bool:
    """Whether an ICC profile describes sRGB (its primaries, white point and tone curves), whatever its
    name: then a decoder that ignores it shows the same colours."""
    if len(icc) < 132 or icc[36:40] != b"acsp" or icc[16:20] != b"RGB ":
        return False
    count = int.from_bytes(icc[128:132], "big")
    tags = {}
    for i in range(min(count, 64)):
        entry = icc[132 + 12 * i : 144 + 12 * i]
        if len(entry) < 12:
            return False
        offset, size = int.from_bytes(entry[4:8], "big"), int.from_bytes(entry[8:12], "big")
        tags[entry[:4]] = icc[offset : offset + size]
    for sig, want in _SRGB_XYZ.items():
        tag = tags.get(sig, b"")
        if (
            len(tag) < 20
            or tag[:4] != b"XYZ "
            or any(abs(_s15(tag, 8 + 4 * j) - want[j]) > 0.002 for j in range(3))
        ):
            return False
    for sig in (b"rTRC", b"gTRC", b"bTRC"):
        tag = tags.get(sig, b"")
        if len(tag) < 32 or tag[:4] != b"para" or int.from_bytes(tag[8:10], "big") not in (3, 4):
            return False
        if any(abs(_s15(tag, 12 + 4 * j) - want) > 0.002 for j, want in enumerate(_SRGB_TRC)):
            return False
    return True


def exif_orientation(app1: bytes) -> int:
    """The orientation tag (0x0112) of an APP1 Exif payload (after the length), 1 when absent."""
    if not app1.startswith(b"Exif\x00\x00") or len(app1) < 14:
        return 1
    tiff = app1[6:]
    order = {b"II": "little", b"MM": "big"}.get(tiff[:2])
    if order is None:
        raise ValueError("bad TIFF header")
    offset = int.from_bytes(tiff[4:8], order)  # type: ignore[arg-type]
    if offset + 2 > len(tiff):
        raise ValueError("bad IFD offset")
    count = int.from_bytes(tiff[offset : offset + 2], order)  # type: ignore[arg-type]
    for i in range(count):
        entry = tiff[offset + 2 + 12 * i : offset + 14 + 12 * i]
        if len(entry) < 12:
            raise ValueError("truncated IFD")
        if int.from_bytes(entry[:2], order) == 0x0112:  # type: ignore[arg-type]
            return int.from_bytes(entry[8:10], order)  # type: ignore[arg-type]
    return 1


def clean_jpeg(data: bytes, max_side: int = 2048) -> bytes | None:
    """``data`` without its metadata segments, or None when it must be decoded and re-encoded instead."""
    try:
        return _clean(bytes(data), max_side)
    except (ValueError, IndexError):
        return None


def _clean(data: bytes, max_side: int) -> bytes | None:
    if not data.startswith(b"\xff\xd8"):
        return None
    out = [b"\xff\xd8"]
    pos, n = 2, len(data)
    seen_frame = ended = False
    while pos < n:
        if data[pos] != 0xFF:
            raise ValueError("expected a marker")
        while pos < n and data[pos] == 0xFF:  # fill bytes
            pos += 1
        marker = data[pos]
        pos += 1
        if marker == 0xD9:  # EOI: what follows (a camera's trailer, junk) is not kept
            out.append(b"\xff\xd9")
            ended = True
            break
        if marker in _STANDALONE:
            out.append(bytes((0xFF, marker)))
            continue
        length = int.from_bytes(data[pos : pos + 2], "big")
        if length < 2 or pos + length > n:
            raise ValueError("bad segment length")
        segment = data[pos : pos + length]
        payload = segment[2:]
        if marker == 0xE1 and exif_orientation(payload) != 1:
            return None  # the pixels are stored turned: only a decode can make them upright
        # one chunk (sequence 1 of 1) of an sRGB profile may go; any other profile needs the decoder
        if (
            marker == 0xE2
            and payload.startswith(b"ICC_PROFILE\x00")
            and (payload[12:14] != b"\x01\x01" or not is_srgb(payload[14:]))
        ):
            return None
        if marker in _SOF:
            if len(payload) < 6:
                raise ValueError("short SOF")
            height, width, components = (
                int.from_bytes(payload[1:3], "big"),
                int.from_bytes(payload[3:5], "big"),
                payload[5],
            )
            if components not in (1, 3) or not 0 < max(width, height) <= max_side or not height:
                return None
            seen_frame = True
        if not _is_metadata(marker):
            out.append(bytes((0xFF, marker)) + segment)
        pos += length
        if marker == 0xDA:  # SOS: entropy-coded data up to the next marker that is not RSTn or stuffing
            start = pos
            while True:
                pos = data.find(b"\xff", pos)
                if pos < 0 or pos + 1 >= n:
                    raise ValueError("scan runs past the end")
                following = data[pos + 1]
                if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
                    pos += 1 if following == 0xFF else 2
                    continue
                break
            out.append(data[start:pos])
    if not (seen_frame and ended):
        return None
    return b"".join(out)


__all__ = ["clean_jpeg", "exif_orientation", "is_srgb"]
