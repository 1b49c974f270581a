# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the branch health checks on the controller (documentation: plugins/modules/branch_status.py)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.action import ActionBase

from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import status as status_mod

ARGS = {
    "model": dict(type="dict", required=True),
    "inventory_dir": dict(type="path"),
    "sections": dict(type="list", elements="str", default=list(status_mod.SECTIONS),
                     choices=list(status_mod.SECTIONS)),
    "kvm_hosts": dict(type="dict"),
    "domain_prefixes": dict(type="dict", default={}),
    "default_state": dict(type="str", default="running"),
    "nagios_status": dict(type="str"),
    "nagios_error": dict(type="str", default=""),
    "amanda": dict(type="dict"),
    "mailboxes": dict(type="dict", default={}),
    "cert_days": dict(type="int", default=14),
    "mail_timeout": dict(type="float", default=180.0),
    "dns_timeout": dict(type="float", default=5.0),
}


class ActionModule(ActionBase):
    """Network checks run here, on the controller, where dnspython and requests are installed."""

    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        super(ActionModule, self).run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=ARGS)
        try:
            import dns.message  # noqa: F401  pylint: disable=unused-import
            import requests  # noqa: F401  pylint: disable=unused-import
        except ImportError as exc:
            raise AnsibleActionFail("branch_status needs dnspython and requests on the controller "
                                    "(pip install -r requirements.txt): %s" % to_native(exc))
        try:
            results = status_mod.run(
                args["model"], sections=args["sections"], inventory_dir=args["inventory_dir"],
                live=args["kvm_hosts"], prefixes=args["domain_prefixes"], default_state=args["default_state"],
                nagios_status=args["nagios_status"], nagios_error=args["nagios_error"], amanda=args["amanda"], cert_days=args["cert_days"],
                mail_timeout=args["mail_timeout"], mailboxes=args["mailboxes"], timeout=args["dns_timeout"])
        except Exception as exc:  # pylint: disable=broad-except  (a bug in a check, not a failed check)
            raise AnsibleActionFail("branch_status: %s: %s" % (type(exc).__name__, to_native(exc)))
        s = status_mod.summary(results)
        return {"changed": False, "results": results, "table": status_mod.table(results),
                "summary": status_mod.summary_line(results), "passed": s["passed"], "failed_count": s["failed"],
                "not_checked": s["not_checked"], "failed_checks": s["failed_checks"]}
