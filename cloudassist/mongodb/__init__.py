"""The MongoDB database backend: django-mongodb-backend with two fixes so that queries use indexes.

django-mongodb-backend 5.2 sorts with ``$addFields: {created_at: "$created_at", _id: "$_id"}``
before ``$sort``. Those identity fields stop MongoDB from pushing the ``$sort`` (and the
``$limit``) into the query layer, so a page of 50 fetches and sorts every matching document
instead of walking an index. The compiler here drops identity entries, and writes ``isnull``
filters as ``{field: null}`` (one index range, not an ``$or`` of two); everything else is the
library's own. ``DATABASES["default"]["ENGINE"] = "cloudassist.mongodb"``.
"""
