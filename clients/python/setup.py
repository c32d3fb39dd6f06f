"""Puts ferry-mooncake.pth at the root of site-packages (settings are in pyproject.toml).

setuptools' data-files go under the environment's prefix, not site-packages, so the build
copies the file next to the packages it builds; the wheel then installs it beside them.
"""

import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

PTH = "ferry-mooncake.pth"


class BuildWithPth(build_py):
    def run(self):
        super().run()
        here = os.path.dirname(os.path.abspath(__file__))
        os.makedirs(self.build_lib, exist_ok=True)
        shutil.copy(os.path.join(here, PTH), os.path.join(self.build_lib, PTH))


setup(cmdclass={"build_py": BuildWithPth})
