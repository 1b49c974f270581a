#!/usr/bin/env python3
"""Regenerate the variable tables of docs/branch-model.md from plugins/plugin_utils/schema.py.

The tables sit between ``<!-- BEGIN schema:<section> -->`` and
``<!-- END schema:<section> -->`` (sections: branch, network, budget, kvm,
vm); everything else in the file is left as it is. Edit the schema, not the
tables: tests/unit/plugins/plugin_utils/test_schema.py fails while the file
is out of date.

Usage: scripts/gen-docs.py [--check] [FILE]
  --check   change nothing; exit 1 (and say so) when FILE is out of date
  FILE      default docs/branch-model.md
"""

import argparse
import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _schema():
    """plugin_utils.schema, imported as part of the collection (as tests/conftest.py does)."""
    base = os.path.join(ROOT, "collections")
    if not os.path.isdir(os.path.join(base, "ansible_collections", "smbvdc", "datacenter")):
        base = tempfile.mkdtemp(prefix="smbvdc-coll-")
        os.makedirs(os.path.join(base, "ansible_collections", "smbvdc"))
        os.symlink(ROOT, os.path.join(base, "ansible_collections", "smbvdc", "datacenter"))
    sys.path.insert(0, base)
    from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import schema
    return schema


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the file is out of date")
    parser.add_argument("file", nargs="?", default=os.path.join(ROOT, "docs", "branch-model.md"))
    args = parser.parse_args(argv)
    with open(args.file, encoding="utf-8") as f:
        text = f.read()
    try:
        new = _schema().render_docs(text)
    except ValueError as exc:
        print("gen-docs: %s: %s" % (args.file, exc), file=sys.stderr)
        return 2
    if new == text:
        print("gen-docs: %s is up to date" % args.file)
        return 0
    if args.check:
        print("gen-docs: %s is out of date; run scripts/gen-docs.py" % args.file, file=sys.stderr)
        return 1
    with open(args.file, "w", encoding="utf-8") as f:
        f.write(new)
    print("gen-docs: rewrote the tables of %s" % args.file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
