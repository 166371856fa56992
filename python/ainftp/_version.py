# SPDX-License-Identifier: BSD-3-Clause
# The package's version: meson.build's project version (python/ainftp/meson.build
# refuses to configure when they differ; pip's build backend reads it here).
__version__ = "0.1.0"
