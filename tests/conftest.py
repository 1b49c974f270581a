"""Make the checkout importable as ansible_collections.smbvdc.datacenter.

`make setup` links collections/ansible_collections/smbvdc/datacenter to this
checkout; when it has not run (a bare `pytest`), the link is made here in a
temporary directory instead of failing with an import error.
"""

import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_base = os.path.join(ROOT, "collections")
if not os.path.isdir(os.path.join(_base, "ansible_collections", "smbvdc", "datacenter")):
    _base = tempfile.mkdtemp(prefix="smbvdc-coll-")
    os.makedirs(os.path.join(_base, "ansible_collections", "smbvdc"))
    os.symlink(ROOT, os.path.join(_base, "ansible_collections", "smbvdc", "datacenter"))
if _base not in sys.path:
    sys.path.insert(0, _base)
