"""A contact sheet: labelled thumbnails of several images on one page, in reading order."""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image, ImageDraw

__all__ = ["contact_sheet"]

_BACKGROUND = (18, 18, 22)
_LABEL = (235, 235, 235)
_GAP = 12
_LABEL_HEIGHT = 22


def contact_sheet(
    tiles: Sequence[tuple[str, Image.Image]], *, columns: int = 4, tile_width: int = 320
) -> Image.Image:
    """One RGB image with each ``(label, image)`` scaled to ``tile_width`` (aspect kept, the
    first image's aspect setting the row height), ``columns`` a row, its label under it."""
    if not tiles:
        raise ValueError("A contact sheet needs at least one image.")
    first = tiles[0][1]
    tile_height = max(1, round(tile_width * first.height / first.width))
    columns = max(1, min(columns, len(tiles)))
    rows = -(-len(tiles) // columns)
    cell_height = tile_height + _LABEL_HEIGHT
    sheet = Image.new(
        "RGB",
        (_GAP + columns * (tile_width + _GAP), _GAP + rows * (cell_height + _GAP)),
        _BACKGROUND,
    )
    draw = ImageDraw.Draw(sheet)
    for index, (label, image) in enumerate(tiles):
        left = _GAP + (index % columns) * (tile_width + _GAP)
        top = _GAP + (index // columns) * (cell_height + _GAP)
        thumbnail = image.convert("RGB")
        thumbnail.thumbnail((tile_width, tile_height))
        offset_x = (tile_width - thumbnail.width) // 2
        offset_y = (tile_height - thumbnail.height) // 2
        sheet.paste(thumbnail, (left + offset_x, top + offset_y))
        draw.text((left, top + tile_height + 5), label, fill=_LABEL)
    return sheet
