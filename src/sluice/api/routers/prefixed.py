"""The resource routers' class: an `APIRouter` that disowns, at once, paths outside its prefix.

FastAPI (0.16x) keeps an included router as one entry of the app's routes and asks it, for
every request, whether one of its routes matches, which tries each route's regular
expression in turn: `POST /runs` was tried against 44 routes of the routers mounted before
it, about a tenth of the request's CPU. A route of a router can only match a path that
contains the router's prefix (the route's path is the prefix followed by its own), so a
path without it is answered "no match" before any route is tried. Versions of FastAPI that
copy the routes into the app at inclusion never call this method.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.routing import Match
from starlette.types import Scope


class PrefixedRouter(APIRouter):
    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        # `in`, not `startswith`: the app may be served under a root path.
        if self.prefix not in scope.get("path", ""):
            return Match.NONE, {}
        return super().matches(scope)
