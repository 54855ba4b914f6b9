"""Command-line entry points: ``cumulo up``, ``cumulo serve``, ``cumulo db upgrade`` …"""
