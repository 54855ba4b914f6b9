"""cumulo: a compute cloud in Python that speaks the OpenStack APIs."""

__version__ = "0.1.0"
