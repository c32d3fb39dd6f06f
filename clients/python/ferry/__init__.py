"""Ferry's Python package (standard library only).

- ferry.mooncake: Mooncake Store's Python API (MooncakeDistributedStore and friends) served by a
  Ferry sidecar, so that an engine written for ``mooncake.store`` uses Ferry by changing one import.
- FerryClient, MemfdBuffer, FerryError: the sidecar protocol client (module ferry_client).
"""

from ferry_client import FerryClient, FerryError, MemfdBuffer

__all__ = ["FerryClient", "FerryError", "MemfdBuffer"]
