"""Reading submitted forms: plain strings in, field-named errors out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import UploadFile


@dataclass
class FormData:
    values: dict[str, str]
    files: dict[str, UploadFile]
    errors: dict[str, str] = field(default_factory=dict)  # field name -> message

    def get(self, name: str, default: str = "") -> str:
        return self.values.get(name, default).strip()

    def flag(self, name: str) -> bool:
        return name in self.values

    def error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)


async def read_form(request: Request) -> AsyncIterator[FormData]:
    """The submitted form; uploaded files are closed once the response is made."""
    form = await request.form()
    values: dict[str, str] = {}
    files: dict[str, UploadFile] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            values[key] = value
        else:
            files[key] = value
    try:
        yield FormData(values, files)
    finally:
        await form.close()


FormDep = Annotated[FormData, Depends(read_form)]
