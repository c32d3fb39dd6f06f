"""Serves ``import mooncake.store`` from ferry.mooncake where the real ``mooncake`` package is absent.

    import ferry.mooncake
    ferry.mooncake.install()                    # True: mooncake.store is now Ferry's
    from mooncake.store import MooncakeDistributedStore

``install()`` appends a finder to the END of ``sys.meta_path``: the interpreter's own finders
look first, so an installed Mooncake (package ``mooncake``, from ``mooncake-transfer-engine``)
always wins, and install() then adds nothing and answers False. The finder answers only the
names ``mooncake`` (an empty package of Ferry's) and ``mooncake.store`` (the module
ferry.mooncake itself, so both names give the same classes); any other ``mooncake.*``
(``mooncake.engine``, ...) stays an ImportError. Importing this module is cheap: it loads
ferry.mooncake only when ``mooncake.store`` is imported.

Thread-safety: install() may be called from any thread, any number of times (it installs one
finder at most). The environment variable FERRY_AS_MOONCAKE does the same in every Python
process that inherits it (module ferry._autoinstall, run by the ferry-mooncake.pth file).
"""

import importlib
import importlib.abc
import importlib.machinery
import sys
import threading
import types

PACKAGE = "mooncake"
STORE = "mooncake.store"
_LOCK = threading.Lock()


class _FerryMooncakeFinder(importlib.abc.MetaPathFinder):
    """Finds ``mooncake`` and ``mooncake.store`` (Ferry's), nothing else."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname == PACKAGE:
            return importlib.machinery.ModuleSpec(fullname, _PackageLoader(), is_package=True)
        if fullname == STORE:
            return importlib.machinery.ModuleSpec(fullname, _StoreLoader())
        return None


class _PackageLoader(importlib.abc.Loader):
    def create_module(self, spec):
        module = types.ModuleType(PACKAGE, "Ferry's stand-in for Mooncake's package: only mooncake.store "
                                           "(ferry.mooncake) is provided.")
        module.__path__ = []  # a package whose submodules only the finder answers
        return module

    def exec_module(self, module):
        pass


class _StoreLoader(importlib.abc.Loader):
    def create_module(self, spec):
        return importlib.import_module("ferry.mooncake")  # the same module object under both names

    def exec_module(self, module):
        pass


def _finder_installed():
    return any(isinstance(f, _FerryMooncakeFinder) for f in sys.meta_path)


def _real_mooncake_present():
    """Whether a ``mooncake`` package other than Ferry's is imported or importable."""
    loaded = sys.modules.get(PACKAGE)
    if loaded is not None:
        return not isinstance(getattr(loaded, "__loader__", None), _PackageLoader)
    for finder in sys.meta_path:
        if isinstance(finder, _FerryMooncakeFinder) or not hasattr(finder, "find_spec"):
            continue
        if finder.find_spec(PACKAGE, None) is not None:
            return True
    return False


def install():
    """Makes ``import mooncake.store`` give ferry.mooncake in this process.

    Returns True when ``mooncake.store`` now resolves to Ferry's module (also when it already
    did), False when a real ``mooncake`` package is imported or importable: then nothing is
    changed and that package serves ``mooncake.store``. Raises nothing.
    """
    with _LOCK:
        if _finder_installed():
            return not _real_mooncake_present()
        if _real_mooncake_present():
            return False
        sys.meta_path.append(_FerryMooncakeFinder())
        return True


def installed():
    """Whether ``import mooncake.store`` gives Ferry's module in this process (without importing it)."""
    with _LOCK:
        return _finder_installed() and not _real_mooncake_present()
