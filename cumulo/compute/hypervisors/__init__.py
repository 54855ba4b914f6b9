"""hypervisors"""
