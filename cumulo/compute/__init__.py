"""The compute service (Nova): its v2.1 API with microversions, flavors, keypairs, quotas.

``api.py`` holds the one route table; each resource has its own package or
module (``flavors/``, ``keypairs/``, ``limits.py``, ``availability_zones.py``)
split into schemas, views, handlers and database access.
"""
