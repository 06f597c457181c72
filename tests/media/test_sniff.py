from __future__ import annotations

import pytest

from media.media_support import SampleMedia
from reelforge.errors import UnsupportedMediaType
from reelforge.media.sniff import SNIFF_BYTES, sniff


@pytest.mark.parametrize(
    ("name", "content_type", "kind"),
    [
        ("png", "image/png", "image"),
        ("jpeg", "image/jpeg", "image"),
        ("gif", "image/gif", "image"),
        ("webp", "image/webp", "image"),
        ("mp4", "video/mp4", "video"),
        ("mp4_tail_moov", "video/mp4", "video"),
        ("mov", "video/quicktime", "video"),
        ("webm", "video/webm", "video"),
    ],
)
def test_real_files_are_recognised(
    samples: SampleMedia, name: str, content_type: str, kind: str
) -> None:
    found = sniff(getattr(samples, name)[:SNIFF_BYTES])
    assert (found.content_type, found.kind) == (content_type, kind)


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"hello, I am text pretending to be a PNG",
        b"<svg xmlns='http://www.w3.org/2000/svg'></svg>",
        b"%PDF-1.7\n",
        b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic",  # HEIC still image
        b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf",  # AVIF
        b"\x00\x00\x00\x14ftyp3gp4\x00\x00\x00\x003gp4",  # 3GP
        b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x88matroska",  # Matroska, not WebM
        b"RIFF\x00\x00\x00\x00WAVEfmt ",
    ],
)
def test_anything_else_is_unsupported(head: bytes) -> None:
    with pytest.raises(UnsupportedMediaType):
        sniff(head)
