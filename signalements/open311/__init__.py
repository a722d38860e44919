"""Open311 GeoReport v2 on top of the signalements domain (``/open311/v2/``).

Thin as the REST API is: ``views`` parse the spec's parameters, call ``signalements.services`` to file
and ``open311.selectors`` to read, and render through ``open311.renderers`` (JSON or XML by the URL
suffix, errors in the spec's envelope). ``serializers`` turn our rows into the spec's fields and never
read ``ReportContact``. ``keys`` holds the API keys of ``signalements.models.ApiClient``.
See ``docs/OPEN311.md`` for the choices the spec leaves open and our extensions.
"""
