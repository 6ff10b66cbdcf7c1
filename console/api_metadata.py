"""OPTIONS answers of the REST API.

A module of its own: DRF resolves DEFAULT_METADATA_CLASS while `rest_framework.views`
is being imported, which `accounts.rest` itself imports.
"""

from rest_framework.metadata import SimpleMetadata


class Metadata(SimpleMetadata):
    """Answer OPTIONS without describing inputs: the OpenAPI schema does that.

    Views here declare their serializers per method, so DRF's guess at "the" serializer
    of a view has nothing to find.
    """

    def determine_actions(self, request, view):
        return {}
