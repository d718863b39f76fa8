"""The pure-Python catalogue compiler writes what gettext's msgfmt writes, and Django reads it."""

from __future__ import annotations

import gettext
import shutil
import subprocess
from pathlib import Path

import pytest

from widgets.common.i18n_compile import mo_bytes

PO = Path(__file__).resolve().parents[3] / "locale" / "ru" / "LC_MESSAGES" / "django.po"


def catalog(data: bytes, tmp_path: Path) -> dict[object, str]:
    path = tmp_path / "c.mo"
    path.write_bytes(data)
    with path.open("rb") as handle:
        return dict(gettext.GNUTranslations(handle)._catalog)  # type: ignore[attr-defined]


def test_russian_plural_forms_are_chosen_by_the_compiled_catalogue(tmp_path: Path) -> None:
    path = tmp_path / "c.mo"
    path.write_bytes(mo_bytes(PO.read_text(encoding="utf-8")))
    with path.open("rb") as handle:
        ru = gettext.GNUTranslations(handle)
    one, many = (
        "Saved. %(names)s was created in Bitrix24 and linked to this deal.",
        "Saved. %(names)s were created in Bitrix24 and linked to this deal.",
    )
    assert "контакт создан" in ru.ngettext(one, many, 1)
    assert "контакты созданы" in ru.ngettext(one, many, 3)
    assert ru.gettext("Save") == "Сохранить"


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="gettext's msgfmt is not installed")
def test_it_matches_msgfmt(tmp_path: Path) -> None:
    reference = tmp_path / "ref.mo"
    subprocess.run(["msgfmt", "-o", str(reference), str(PO)], check=True)
    ours = catalog(mo_bytes(PO.read_text(encoding="utf-8")), tmp_path)
    theirs = catalog(reference.read_bytes(), tmp_path)
    ours.pop("", None)
    theirs.pop("", None)
    assert ours == theirs
