"""Strict input for every REST endpoint: what the schema declares, and nothing else.

DRF reads input leniently: a CharField takes the number 5 as "5", a BooleanField takes
0, 1 and "true", and fields a serializer does not declare are silently dropped. A client
generated from the OpenAPI schema would never send such a body, and a client that does
has a bug it should hear about. `StrictInputSerializer` refuses, in the one error
format:

- a field the serializer does not declare (`Unknown field.`); the schema says
  `additionalProperties: false`;
- a JSON value of the wrong type for its field: strings only where strings are
  declared, whole numbers (never true or false) where integers are, and real booleans
  only; lists and objects likewise, their items too;
- with `requires_a_field`, a body that names no field at all (a PATCH that would
  change nothing); the schema says `minProperties: 1` and the body is required.

`StrictQuerySerializer` is the same for query strings, whose values are always strings:
it refuses parameters it does not declare (except the page parameters) and values
outside a declared choice, instead of ignoring them.
"""

from __future__ import annotations

from collections.abc import Mapping

from drf_spectacular.extensions import OpenApiSerializerExtension
from rest_framework import serializers
from rest_framework.settings import api_settings

from accounts.validators import BIDI_CONTROLS, validate_name

# Pagination reads these from the same query string (accounts.rest.Pagination).
PAGE_PARAMETERS = frozenset({"page", "page_size"})

UNKNOWN_FIELD = "Unknown field."
NOTHING_TO_CHANGE = "Nothing to change: send at least one field."
EMPTY_PARAMETER = "Leave the parameter out instead of sending it empty."


def _name_pattern() -> str:
    """A JSON schema pattern for `validate_name`: no control, separator or bidi character,
    and something besides white space (the field trims it)."""
    unsafe = "\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029" + "".join(
        f"\\u{ord(char):04x}" for char in sorted(BIDI_CONTROLS)
    )
    return f"^[^{unsafe}]*[^{unsafe}\\s][^{unsafe}]*$"


NAME_PATTERN = _name_pattern()
_EXPECTED = {
    "string": "Must be a string.",
    "integer": "Must be a whole number.",
    "number": "Must be a number.",
    "boolean": "Must be true or false.",
    "array": "Must be a list.",
    "object": "Must be an object.",
}


def _json_type(field: serializers.Field) -> str | None:
    """The JSON type a field's schema declares, or None when it declares none."""
    if isinstance(field, serializers.BooleanField):
        return "boolean"
    if isinstance(field, serializers.IntegerField):
        return "integer"
    if isinstance(field, serializers.FloatField | serializers.DecimalField):
        return "number"
    if isinstance(field, serializers.ListField | serializers.ListSerializer):
        return "array"
    if isinstance(field, serializers.DictField | serializers.JSONField | serializers.Serializer):
        return None if isinstance(field, serializers.JSONField) else "object"
    if isinstance(
        field,
        serializers.CharField
        | serializers.ChoiceField
        | serializers.DateField
        | serializers.DateTimeField
        | serializers.TimeField
        | serializers.DurationField
        | serializers.UUIDField,
    ):
        return "string"
    return None


def _matches(kind: str, value) -> bool:
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    if kind == "array":
        return isinstance(value, list)
    return isinstance(value, Mapping)


def type_errors(field: serializers.Field, value):
    """The errors of a JSON value that is not of its field's declared type, or None.

    None is refused where the field does not allow it; list items and nested objects are checked
    the same way, their errors keyed by index or name as DRF keys them.
    """
    if value is None:
        return None if field.allow_null else [str(field.error_messages["null"])]
    kind = _json_type(field)
    if kind is None:
        return None
    if not _matches(kind, value):
        return [_EXPECTED[kind]]
    if isinstance(field, serializers.ListField):
        errors = {
            index: error
            for index, item in enumerate(value)
            if (error := type_errors(field.child, item)) is not None
        }
        return errors or None
    if isinstance(field, serializers.ListSerializer):
        errors = {
            index: error
            for index, item in enumerate(value)
            if (error := type_errors(field.child, item)) is not None
        }
        return errors or None
    if isinstance(field, serializers.DictField):
        errors = {
            key: error
            for key, item in value.items()
            if (error := type_errors(field.child, item)) is not None
        }
        return errors or None
    if isinstance(field, StrictInputSerializer):
        return field.shape_errors(value) or None
    return None


class StrictInputSerializer(serializers.Serializer):
    """A JSON body exactly as the schema declares it (see the module's docstring)."""

    # Every field is optional, but a body without any is refused (PATCH bodies).
    requires_a_field = False

    def shape_errors(self, data: Mapping) -> dict:
        errors = {name: [UNKNOWN_FIELD] for name in sorted(set(data) - set(self.fields))}
        for name, field in self.fields.items():
            if field.read_only or field.source == "*":
                continue
            if name in data and (error := type_errors(field, data[name])) is not None:
                errors[name] = error
        return errors

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            errors = self.shape_errors(data)
            if not data and self.requires_a_field:
                errors[api_settings.NON_FIELD_ERRORS_KEY] = [NOTHING_TO_CHANGE]
            if errors:
                raise serializers.ValidationError(errors, code="invalid")
        return super().to_internal_value(data)


class StrictQuerySerializer(serializers.Serializer):
    """Query parameters as the schema declares them; unknown ones answer 400."""

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            errors = {
                name: ["Unknown parameter."]
                for name in sorted(set(data) - set(self.fields) - PAGE_PARAMETERS)
            }
            # DRF reads an empty value as a missing one; a filter is given or left out.
            errors.update(
                {name: [EMPTY_PARAMETER] for name in self.fields if data.get(name, None) == ""}
            )
            if errors:
                raise serializers.ValidationError(errors, code="invalid")
        return super().to_internal_value(data)


class StrictInputSerializerExtension(OpenApiSerializerExtension):
    """Say in the schema what the serializer does: no fields beyond those declared."""

    target_class = StrictInputSerializer
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_basic_serializer(self.target, direction)
        if type(self.target).__doc__ is None:
            # Not this base class's docstring, which describes the code, not the body.
            schema.pop("description", None)
        for name, field in self.target.fields.items():
            if validate_name in field.validators and name in schema.get("properties", {}):
                pattern = NAME_PATTERN
                if getattr(field, "allow_blank", False):
                    pattern = f"^$|{pattern}"
                schema["properties"][name]["pattern"] = pattern
        schema["additionalProperties"] = False
        if self.target.requires_a_field:
            schema["minProperties"] = 1
        return schema


def document_required_bodies(result, generator, request, public):
    """Mark a request body required where its schema needs at least one field (a
    drf-spectacular postprocessing hook): no body at all is refused like `{}`."""
    schemas = result.get("components", {}).get("schemas", {})
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            body = operation.get("requestBody") if isinstance(operation, dict) else None
            if not body:
                continue
            for media in body.get("content", {}).values():
                ref = media.get("schema", {}).get("$ref", "")
                if schemas.get(ref.rsplit("/", 1)[-1], {}).get("minProperties"):
                    body["required"] = True
    return result
