"""One way to declare a list, for pages, the API, exports and the OpenAPI schema.

- filters.py: `ListSpec` / `Filter` (search, filters, sorts) and `filtered()`, plus the one
  parsing of ids, counts, booleans and text (`InvalidFilter` names the bad parameter);
- pagination.py: the API's page-size rule (`page_params`, `MAX_LIMIT`, the DRF paginator);
- schema.py: `DeclaredQueryParamsMixin` (a list's viewset answers 400 to an undeclared
  parameter) and `ConsoleAutoSchema` (publishes the declaration and the error statuses).

A new list: a `ListSpec` in its app's queries.py, a query function calling `filtered()`, and a
viewset with `DeclaredQueryParamsMixin` whose `list_params` come from the same spec.

Like the rest of governance/access/, this package imports Django, DRF and itself only. Nothing
is imported here: DRF imports pagination.py while it loads, before drf-spectacular may be.
"""
