"""Flavors: the sizes servers come in, their extra specs, and who may use private ones."""
