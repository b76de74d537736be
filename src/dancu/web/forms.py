"""Form handling shared by the page routers: errors next to their fields, in the user's language."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import ValidationError

from dancu.i18n import catalog, t

# Pydantic error types that have a message in the catalogs ("validation.<type>").
_TRANSLATED_TYPES = frozenset({
    "missing", "date_parsing", "date_from_datetime_parsing", "date_type", "int_parsing", "int_type",
    "string_too_short", "string_too_long", "string_pattern_mismatch", "greater_than_equal", "less_than_equal",
    "enum", "literal_error", "list_type",
})


def service_message(text: str, lang: str) -> str:
    """A service's English message in the user's language when the catalog has it ("msg.<text>").

    Services write messages in lower case for embedding; alone on a page they read as sentences.
    """
    translated = catalog(lang).get(f"msg.{text}")
    if translated:
        return translated
    sentence = text[:1].upper() + text[1:]
    return sentence if sentence.endswith((".", "!", "?")) else f"{sentence}."


@dataclass
class FormErrors:
    fields: dict[str, str] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.fields or self.general)

    @classmethod
    def from_validation(cls, exc: ValidationError, lang: str, field_names: dict[str, str] | None = None,
                        message_fields: dict[str, str] | None = None) -> FormErrors:
        """``field_names`` maps model fields to form fields where they differ;
        ``message_fields`` places whole-model messages next to the field they are about."""
        errors = cls()
        for error in exc.errors(include_url=False):
            text = str(error["msg"]).removeprefix("Value error, ")
            if error["type"] in _TRANSLATED_TYPES:
                message = t(f"validation.{error['type']}", lang, **{k: v for k, v in (error.get("ctx") or {}).items()
                                                                    if isinstance(v, int | str)})
            else:
                message = service_message(text, lang)
            name = str(error["loc"][0]) if error["loc"] else (message_fields or {}).get(text, "")
            name = (field_names or {}).get(name, name)
            if name and name not in errors.fields:
                errors.fields[name] = message
            elif not name:
                errors.general.append(message)
        return errors

    @classmethod
    def message(cls, text: str, lang: str, message_fields: dict[str, str] | None = None) -> FormErrors:
        name = (message_fields or {}).get(text)
        text = service_message(text, lang)
        return cls(fields={name: text}) if name else cls(general=[text])
