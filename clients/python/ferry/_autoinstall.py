"""Run at interpreter start by ferry-mooncake.pth when FERRY_AS_MOONCAKE is set: ferry.alias.install().

FERRY_AS_MOONCAKE=1 (any value but "", "0", "false", "no", "off") makes ``import mooncake.store``
give ferry.mooncake in every Python process that inherits the variable, engines' workers
included, unless a real ``mooncake`` package is installed: then a warning says so on stderr
and the real package is used.
"""

import os

VARIABLE = "FERRY_AS_MOONCAKE"


def enabled(environ=os.environ):
    """Whether the variable asks for Ferry's ``mooncake.store``."""
    return environ.get(VARIABLE, "").strip().lower() not in ("", "0", "false", "no", "off")


if enabled():
    from . import alias

    if not alias.install():
        import logging

        logging.getLogger("ferry.mooncake").warning(
            "%s is set but a real mooncake package is installed: it serves mooncake.store, not Ferry", VARIABLE)
