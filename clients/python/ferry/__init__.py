"""Ferry's Python package (standard library only).

- ferry.mooncake: Mooncake Store's Python API (MooncakeDistributedStore and friends) served by a
  Ferry sidecar, so that an engine written for ``mooncake.store`` uses Ferry by changing one import.
  Its parts: ferry.extended (remove_by_regex, upserts from memory, the calls Ferry answers with
  UNAVAILABLE_IN_CURRENT_MODE), ferry.tensors (the tensor methods, in Mooncake's stored layout),
  ferry.named (named blocks of sidecar protocol version 3: the sidecar compares string keys).
- ferry.alias: ``ferry.mooncake.install()`` or FERRY_AS_MOONCAKE=1 make ``import mooncake.store``
  give ferry.mooncake where no real ``mooncake`` package is installed (no import to change).
- ferry.bench: ``python3 -m ferry.bench --master host:port``, batch_put_from / batch_get_into throughput.
- FerryClient, MemfdBuffer, FerryError: the sidecar protocol client (module ferry_client).
"""

from ferry_client import FerryClient, FerryError, MemfdBuffer

__all__ = ["FerryClient", "FerryError", "MemfdBuffer"]
