# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the collection's Jinja2 templates are: one folder a set, found the same way by roles and plugins.

Each set lives in a role's own templates/ folder (roles/audit/templates: report.md, the summary;
roles/remediate/templates: CHANGE.md, request.md, the per-platform command files), because that is
where Ansible looks when a role's task names a template: the role finds its templates with no path
at all. Plugin code that renders the same files (bundle.py, through Jinja2 directly) asks
`templates_dir(name)` for the folder instead of building a path of its own, so a layout change is
made here, once.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import pathlib
import typing as t

if t.TYPE_CHECKING:  # pragma: no cover
    import jinja2

# This file is <collection>/plugins/plugin_utils/templates.py in every form the collection takes: the
# checkout (reached through the .collections/ansible_collections/diffserv/audit link, which resolve()
# follows), a tarball installed by ansible-galaxy, and ansible-test's copy of the collection.
COLLECTION_ROOT = pathlib.Path(__file__).resolve().parents[2]


def templates_dir(name: str) -> pathlib.Path:
    """The folder of template set `name` (a role of this collection: "audit", "remediate").

    Refuses a folder that is not there, naming where it looked: a missing template would otherwise
    surface much later as a bare TemplateNotFound('CHANGE.md.j2').
    """
    folder = COLLECTION_ROOT / "roles" / name / "templates"
    if not folder.is_dir():
        raise FileNotFoundError("diffserv.audit: no %r templates at %s (the collection's roles/ folder is missing or incomplete)"
                                % (name, folder))
    return folder


def environment(name: str) -> "jinja2.Environment":
    """A strict Jinja2 environment over template set `name`: a missing value is an error, and
    templates named `*.html.j2` or `*.xml.j2` are autoescaped (a rule's text is data, never markup)."""
    import jinja2  # controller-side only; imported here so templates_dir() needs nothing beyond the standard library

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir(name))),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2", "xml.j2"), default_for_string=False,
                                            default=False),
    )
