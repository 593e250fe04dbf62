"""The one API: the kit's NinjaAPI (kit/api.py: errors, auth, strict bodies) with every app's
router. Registering the routers is the shell's job: the kit may not import the apps."""

from analytics.api import router as analytics_router
from audiences.api import router as audiences_router
from campaigns.api import router as campaigns_router
from campaigns.templates_api import router as templates_router
from connections.api import router as connections_router
from journeys.api import router as journeys_router
from kit.api import api

api.add_router("", connections_router)
api.add_router("", audiences_router)
api.add_router("", templates_router)
api.add_router("", campaigns_router)
api.add_router("", journeys_router)
api.add_router("", analytics_router)

__all__ = ["api"]
