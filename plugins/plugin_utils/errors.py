# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Errors raised by the branch model.

Every problem carries the variable it is about (``variable``) and a fix-it
hint, so the message an admin sees names what to change and how. The model
collects all problems of an inventory and raises them together: one run shows
every mistake, not just the first.
"""

from __future__ import annotations


class Problem(object):
    __slots__ = ("variable", "message", "fix")

    def __init__(self, variable, message, fix=None):
        self.variable = variable
        self.message = message
        self.fix = fix

    def __str__(self):
        text = "%s: %s" % (self.variable, self.message)
        if self.fix:
            text += " Fix: %s" % self.fix
        return text

    def __repr__(self):
        return "Problem(%r)" % str(self)


class ModelError(ValueError):
    """One or more problems in a branch description."""

    def __init__(self, problems, title="the branch inventory is not valid"):
        if isinstance(problems, Problem):
            problems = [problems]
        self.problems = list(problems)
        self.title = title
        lines = ["%s (%d problem%s):" % (title, len(self.problems), "" if len(self.problems) == 1 else "s")]
        lines += ["  - %s" % p for p in self.problems]
        super(ModelError, self).__init__("\n".join(lines))

    @property
    def variables(self):
        return [p.variable for p in self.problems]


class PlacementError(ModelError):
    """The VMs do not fit on the KVM hosts."""

    def __init__(self, problems, title="the VMs do not fit on the KVM hosts"):
        super(PlacementError, self).__init__(problems, title=title)


class Collector(object):
    """Accumulate problems; raise them all at once."""

    def __init__(self):
        self.problems = []

    def add(self, variable, message, fix=None):
        self.problems.append(Problem(variable, message, fix))

    def __len__(self):
        return len(self.problems)

    def raise_if_any(self, cls=ModelError, **kwargs):
        if self.problems:
            raise cls(self.problems, **kwargs)
