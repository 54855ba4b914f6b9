"""The identity API's HTTP handlers, one module per group of resources (table in ``api.py``)."""
