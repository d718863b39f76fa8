"""Compile the message catalogues (locale/*/LC_MESSAGES/django.po → .mo) without gettext's msgfmt.

`make setup`/`make test` use Django's compilemessages where msgfmt is installed and this otherwise,
so a new machine still needs only Python and make. It writes the GNU .mo format that Python's
gettext (and so Django) reads: the header, msgctxt, plurals; fuzzy entries are left out, as msgfmt does.
Run: python -m widgets.common.i18n_compile
"""

from __future__ import annotations

import ast
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # widgets/common/ → the project root


def _entries(po: str) -> dict[bytes, bytes]:
    """msgid (with context and plural joined as gettext keys them) → msgstr, for translated entries."""
    catalog: dict[bytes, bytes] = {}
    entry: dict[str, str] = {}
    key, fuzzy = "", False

    def flush() -> None:
        nonlocal fuzzy
        if "msgid" in entry and not fuzzy:
            msgid = entry["msgid"]
            if "msgid_plural" in entry:
                msgid += "\0" + entry["msgid_plural"]
                forms = sorted((k for k in entry if k.startswith("msgstr[")), key=lambda k: int(k[7:-1]))
                msgstr = "\0".join(entry[k] for k in forms)
            else:
                msgstr = entry.get("msgstr", "")
            if "msgctxt" in entry:
                msgid = entry["msgctxt"] + "\x04" + msgid
            if msgstr.replace("\0", "") or msgid == "":
                catalog[msgid.encode()] = msgstr.encode()
        entry.clear()
        fuzzy = False

    for raw in [*po.splitlines(), ""]:
        line = raw.strip()
        if not line:
            flush()
            continue
        if line.startswith("#"):
            fuzzy = fuzzy or (line.startswith("#,") and "fuzzy" in line)
            continue
        if line.startswith('"'):
            entry[key] += ast.literal_eval(line)
            continue
        key, _, value = line.partition(" ")
        if key == "msgid" and "msgid" in entry:
            flush()
        entry[key] = ast.literal_eval(value)
    return catalog


def mo_bytes(po: str) -> bytes:
    catalog = _entries(po)
    ids = sorted(catalog)
    offsets, id_blob, str_blob = [], b"", b""
    for msgid in ids:
        offsets.append((len(id_blob), len(msgid), len(str_blob), len(catalog[msgid])))
        id_blob += msgid + b"\0"
        str_blob += catalog[msgid] + b"\0"
    start = 7 * 4 + 16 * len(ids)
    id_table = b"".join(struct.pack("<2I", length, start + offset) for offset, length, _, _ in offsets)
    str_start = start + len(id_blob)
    str_table = b"".join(struct.pack("<2I", length, str_start + offset) for _, _, offset, length in offsets)
    header = struct.pack("<7I", 0x950412DE, 0, len(ids), 7 * 4, 7 * 4 + 8 * len(ids), 0, 0)
    return header + id_table + str_table + id_blob + str_blob


def compile_all(root: Path = ROOT) -> list[Path]:
    written = []
    for po in sorted((root / "locale").glob("*/LC_MESSAGES/*.po")):
        mo = po.with_suffix(".mo")
        mo.write_bytes(mo_bytes(po.read_text(encoding="utf-8")))
        written.append(mo)
    return written


if __name__ == "__main__":
    for path in compile_all():
        sys.stdout.write(f"compiled {path.relative_to(ROOT)}\n")
