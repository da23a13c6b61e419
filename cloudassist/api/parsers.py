"""Request body parsers: DRF's JSON parser, with what cannot be parsed or stored a 400 naming it."""

from rest_framework import parsers
from rest_framework.exceptions import ParseError

from cloudassist.content import check_storable


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser. A document nested deeper than the parser's recursion limit (e.g. a
    thousand ``[``) is a 400 saying so instead of a RecursionError (500); a value MongoDB cannot
    store or Python cannot encode, or nested past 64 levels (a NUL, a lone surrogate, an integer past 64 bits: see
    cloudassist/content.py) is a 400 naming its path, for every endpoint, before any view runs."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the document is nested too deeply.") from None
        check_storable(data)
        return data
