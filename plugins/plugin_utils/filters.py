# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one wrapper every filter plugin of the collection goes through.

A filter plugin file holds DOCUMENTATION, one thin function over
plugin_utils, and ``FilterModule = filter_module(func)``. The wrapper

- checks the input kind when the filter takes the branch model (``needs``:
  the model keys that must be there), so a wrong ``_input`` fails with the
  same message everywhere;
- turns a ModelError into an AnsibleFilterError with the model's own text
  (variable + Fix:) after the filter's FQCN, and any other expected error (TypeError, ValueError,
  KeyError, ImportError, netaddr's AddrFormatError) into one prefixed with the
  filter's FQCN, so the user sees which filter failed and never a traceback.
"""

from __future__ import annotations

import functools

from ansible.errors import AnsibleFilterError

from ansible_collections.smbvdc.datacenter.plugins.plugin_utils.errors import ModelError

COLLECTION = "smbvdc.datacenter"

# What a filter's _input must be when it takes the branch model.
MODEL_HINT = "the branch model (smbvdc_branch | smbvdc.datacenter.branch_model(groups, hostvars))"


def _expected_errors():
    errors = [TypeError, ValueError, KeyError, ImportError]
    try:  # netaddr raises its own error type (a subclass of Exception only)
        from netaddr import AddrFormatError
        errors.append(AddrFormatError)
    except ImportError:  # pragma: no cover - netaddr is a dependency
        pass
    return tuple(errors)


EXPECTED = _expected_errors()


def smbvdc_filter(func=None, needs=(), name=None):
    """Decorate a filter function: input check (``needs``) and one error path.

    Usable bare (``@smbvdc_filter``) or with arguments
    (``@smbvdc_filter(needs=("services",))``).
    """
    if func is None:
        return lambda f: smbvdc_filter(f, needs=needs, name=name)
    fqcn = "%s.%s" % (COLLECTION, name or func.__name__)

    @functools.wraps(func)
    def wrapper(data, *args, **kwargs):
        if needs and not (isinstance(data, dict) and all(k in data for k in needs)):
            raise AnsibleFilterError("%s: input must be %s" % (fqcn, MODEL_HINT))
        try:
            return func(data, *args, **kwargs)
        except AnsibleFilterError:
            raise
        except ModelError as exc:
            raise AnsibleFilterError("%s: %s" % (fqcn, exc))
        except EXPECTED as exc:
            raise AnsibleFilterError("%s: %s" % (fqcn, exc))

    wrapper.smbvdc_fqcn = fqcn
    return wrapper


def filter_module(*funcs):
    """A FilterModule class exposing ``funcs`` (already wrapped) by their names."""
    table = {}
    for f in funcs:
        if not getattr(f, "smbvdc_fqcn", None):
            f = smbvdc_filter(f)
        table[f.__name__] = f

    class FilterModule(object):
        def filters(self):
            return dict(table)

    return FilterModule
