"""Text primitives of the HTML reports: escaping and the outcome symbols (shared by every report view).

Rules for this module:
- Only the stdlib; nothing here reads a report. Every string taken from a report goes through ``_e``.
"""

from __future__ import annotations

import html
import re
from typing import Any

SYMBOL = {"pass": "\u2713", "violation": "\u2717", "error": "!", "noted": "\u25b3"}
WORD = {"pass": "pass", "violation": "violation", "error": "error", "noted": "finding, not failing"}
SEVERITY = {"violation": 4, "error": 3, "noted": 2, "pass": 1}

# Characters HTML forbids or the page's UTF-8 cannot carry: C0/C1 controls other than tab, newline and
# carriage return, lone surrogates and the two noncharacters at the end of the BMP.
_UNSHOWABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def _visible(m: re.Match) -> str:
    code = ord(m.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _e(value: Any) -> str:
    """HTML-escape any value (quotes too, so it is safe in attributes); controls become ``\\xNN``."""
    return html.escape(_UNSHOWABLE.sub(_visible, str(value)), quote=True)
