# SPDX-License-Identifier: BSD-3-Clause
"""A PEP 517 build backend for python/: the ainftp package as a pure wheel.

No build requirements (pyproject.toml's requires = []): pip installs the
package with no index to fetch setuptools from. The wheel is the .py files of
ainftp/ and the metadata of pyproject.toml's [project] table; the version is
ainftp/_version.py's. Nothing is compiled: the binding loads the client library
that meson builds (ainftp/__init__.py).
"""

import base64
import hashlib
import io
import os
import re
import tarfile
import zipfile

import tomllib  # Python 3.11: pyproject.toml's requires-python, so that requires = [] holds

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "ainftp"
TAG = "py3-none-any"


def _project():
    with open(os.path.join(HERE, "pyproject.toml"), "rb") as f:
        return tomllib.load(f)["project"]


def _version():
    with open(os.path.join(HERE, PACKAGE, "_version.py")) as f:
        m = re.search(r'^__version__ = "([^"]+)"$', f.read(), re.M)
    if m is None:
        raise RuntimeError("ainftp_backend: no __version__ in %s/_version.py" % PACKAGE)
    return m.group(1)


def _metadata():
    p = _project()
    lines = ["Metadata-Version: 2.1", "Name: " + p["name"], "Version: " + _version(),
             "Summary: " + p["description"], "Requires-Python: " + p["requires-python"],
             "License: " + p["license"]["text"]]
    for extra, reqs in sorted(p.get("optional-dependencies", {}).items()):
        lines.append("Provides-Extra: " + extra)
        lines += ['Requires-Dist: %s; extra == "%s"' % (r, extra) for r in reqs]
    return "\n".join(lines) + "\n"


def _sources():
    """(path in the archive, path on disk) of the package's .py files, sorted."""
    out = []
    for d, dirs, files in os.walk(os.path.join(HERE, PACKAGE)):
        dirs[:] = sorted(x for x in dirs if x != "__pycache__")
        for f in sorted(files):
            if f.endswith(".py"):
                path = os.path.join(d, f)
                out.append((os.path.relpath(path, HERE).replace(os.sep, "/"), path))
    return out


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def _record_line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d" % (name, digest, len(data))


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    name, version = _project()["name"], _version()
    dist_info = "%s-%s.dist-info" % (name, version)
    wheel_name = "%s-%s-%s.whl" % (name, version, TAG)
    files = [(arc, _read(path)) for arc, path in _sources()]
    files += [
        (dist_info + "/METADATA", _metadata().encode()),
        (dist_info + "/WHEEL", ("Wheel-Version: 1.0\nGenerator: ainftp_backend\n"
                                "Root-Is-Purelib: true\nTag: %s\n" % TAG).encode()),
        (dist_info + "/top_level.txt", (PACKAGE + "\n").encode()),
    ]
    record = [_record_line(arc, data) for arc, data in files] + [dist_info + "/RECORD,,"]
    files.append((dist_info + "/RECORD", ("\n".join(record) + "\n").encode()))
    with zipfile.ZipFile(os.path.join(wheel_directory, wheel_name), "w",
                         zipfile.ZIP_DEFLATED) as z:
        for arc, data in files:
            z.writestr(zipfile.ZipInfo(arc, date_time=(1980, 1, 1, 0, 0, 0)), data,
                       zipfile.ZIP_DEFLATED)
    return wheel_name


def build_sdist(sdist_directory, config_settings=None):
    name, version = _project()["name"], _version()
    base = "%s-%s" % (name, version)
    sdist_name = base + ".tar.gz"
    members = [("pyproject.toml", os.path.join(HERE, "pyproject.toml")),
               ("_backend/ainftp_backend.py", os.path.abspath(__file__))] + _sources()
    with tarfile.open(os.path.join(sdist_directory, sdist_name), "w:gz",
                      format=tarfile.PAX_FORMAT) as t:
        for arc, path in members:
            t.add(path, arcname=base + "/" + arc, recursive=False)
        info = tarfile.TarInfo(base + "/PKG-INFO")
        data = _metadata().encode()
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    return sdist_name
