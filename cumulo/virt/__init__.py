"""Hypervisor drivers (``nova/virt``): the interface every driver implements, and the drivers.

``driver.ComputeDriver`` is what the compute manager calls; ``load_driver``
picks the one ``settings.compute.driver`` names.
"""
