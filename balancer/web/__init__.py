"""`balancer serve`: a web page for planners over the library (`create_app`). Each page calls the
library's own steps (load, check, solve, `balancer.drawing.draw`, explain, the register); none
re-implements one. Needs the `web` extra: `pip install 'balancer[web]'`."""

from balancer.web.server import create_app

__all__ = ["create_app"]
