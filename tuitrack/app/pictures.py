"""Pictures of image artifacts, drawn with textual-image (the optional `tuitrack[images]` extra)
where the terminal has kitty or sixel graphics.

textual-image learns what the terminal draws by asking it (escape sequences and their answers on
stdin), which only works before Textual owns the terminal: so `detect()` runs once, just before
the app starts, and only when textual-image is installed and stdout is a terminal (else nothing is
imported and startup is unchanged). Decoding is bounded: a file over MAX_IMAGE_BYTES or an image
over MAX_PIXELS (from its header, before decoding) is refused, Pillow's decompression-bomb check
stays on, and the decoded picture is scaled down to at most SHOWN_PIXELS a side.
"""

from __future__ import annotations

import io
import sys
from importlib.util import find_spec

MAX_IMAGE_BYTES = 64 * 1024 * 1024
MAX_PIXELS = 50_000_000
SHOWN_PIXELS = 2048  # a side of the picture handed to the terminal

_picture_widget: type | None = None  # textual-image's widget, when the terminal draws kitty/sixel
_graphics = ""  # "kitty" or "sixel", what detect() found


def installed() -> bool:
    """textual-image (and Pillow) can be imported."""
    return find_spec("textual_image") is not None and find_spec("PIL") is not None


def detect() -> None:
    """Ask the terminal, through textual-image, whether it draws kitty or sixel graphics; call it
    before the app starts. Any failure means no pictures, never an error."""
    global _picture_widget, _graphics
    if not installed() or sys.__stdout__ is None or not sys.__stdout__.isatty():
        return
    try:
        from textual_image.renderable import Image as chosen
        from textual_image.renderable import SixelImage, TGPImage
        from textual_image.widget import Image as widget
    except Exception:  # a terminal that answers oddly, a broken install: no pictures
        return
    if chosen is SixelImage or chosen is TGPImage:
        _picture_widget, _graphics = widget, "sixel" if chosen is SixelImage else "kitty"


def picture_widget() -> type | None:
    """The widget class that draws a picture in this terminal, or None (no pictures here)."""
    return _picture_widget


def why_no_picture() -> str:
    """The note shown in place of a picture: what would show one."""
    if not installed():
        return ('Pictures are drawn with pip install "tuitrack[images]" in a terminal with kitty or sixel '
                "graphics (kitty, WezTerm, foot, Konsole, xterm -ti vt340); open the file with a viewer.")
    return ("This terminal did not report kitty or sixel graphics when tuitrack started, so pictures are "
            "not drawn here (kitty, WezTerm, foot, Konsole draw them); open the file with a viewer.")


class PictureError(Exception):
    """An image that is not decoded; the message is one line for the user."""


def refused(size: int | None, dimensions: tuple[int, int] | None) -> str:
    """Why an image is not decoded, from its size and header ("" when it may be)."""
    if size is not None and size > MAX_IMAGE_BYTES:
        return f"larger than {MAX_IMAGE_BYTES >> 20} MiB; not decoded"
    if dimensions is not None and dimensions[0] * dimensions[1] > MAX_PIXELS:
        return f"{dimensions[0]} x {dimensions[1]} pixels is over {MAX_PIXELS // 1_000_000} megapixels; not decoded"
    return ""


def decode(data: bytes):
    """A PIL image of `data`, scaled to at most SHOWN_PIXELS a side; PictureError when `data` is not
    an image Pillow reads within the bounds (checked on the header before the pixels are decoded)."""
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))  # the header only
            why = refused(None, image.size)
            if why:
                raise PictureError(why)
            image.draft(None, (SHOWN_PIXELS, SHOWN_PIXELS))  # a JPEG decodes at a reduced scale (1/2 to 1/8)
            image.thumbnail((SHOWN_PIXELS, SHOWN_PIXELS))
            image.load()  # here, off the UI thread (a small image is not loaded by thumbnail)
            return image
    except PictureError:
        raise
    except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError, DecompressionBomb*...
        text = " ".join(str(exc).split())[:120] or type(exc).__name__
        raise PictureError(f"not decoded ({text})") from None
