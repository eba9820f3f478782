"""View analytics for the studio portal, the admin and the API: a plain package, not a Django app.

It owns no model: it reads the view sessions the viewer's beacon writes (``viewer.models``) and
the daily totals of the retention rollup. Selectors (``selectors``), charts, the portal pages
(``views``, ``urls``), the staff page (``admin_views``), the REST endpoints (``api``) and the
monthly report (``reports``) live here; nothing below this floor imports it.
"""
