"""Placeholder: filled in by the work on the boot pipeline (issue 5)."""

from __future__ import annotations

from cumulo.compute.http import Route

ROUTES: tuple[Route, ...] = ()
