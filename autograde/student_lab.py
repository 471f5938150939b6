"""Student JupyterLab: hide nbgrader's instructor tools in this environment (``student-lab``).

nbgrader is installed for the instructor commands, and with it JupyterLab would show students the
formgrader, "Create Assignment", the course and assignment lists and "Validate". ``student-lab``
disables its server extensions and its lab plugins at the sys-prefix level (the environment of this
Python, e.g. ``.venv``), and locks the plugins so the plugin manager cannot turn them back on. It
is idempotent: a second run changes nothing.
"""
from __future__ import annotations

import sys

NBGRADER_SERVER_EXTENSIONS = (
    "nbgrader.server_extensions.formgrader",
    "nbgrader.server_extensions.validate_assignment",
    "nbgrader.server_extensions.assignment_list",
    "nbgrader.server_extensions.course_list",
)
# The package name disables every plugin of the package, present and future; the plugins are also
# listed one by one so that each shows as disabled (and locked) in the plugin manager.
NBGRADER_LAB_PLUGINS = ("@jupyter/nbgrader",) + tuple(
    f"@jupyter/nbgrader:{plugin}"
    for plugin in ("formgrader", "create-assignment", "course-list", "assignment-list",
                   "validate-assignment", "menu")
)


def server_extensions() -> dict[str, bool]:
    """Whether each of nbgrader's server extensions is enabled in sys.prefix's config."""
    from jupyter_core.paths import ENV_CONFIG_PATH  # [sys.prefix/etc/jupyter]
    from jupyter_server.extension.config import ExtensionConfigManager

    manager = ExtensionConfigManager(read_config_path=[ENV_CONFIG_PATH[0]])
    return {name: bool(manager.enabled(name)) for name in NBGRADER_SERVER_EXTENSIONS}


def disable_server_extensions() -> list[str]:
    """Disable nbgrader's server extensions in sys.prefix's config; the ones that changed."""
    from jupyter_server.extension.serverextension import toggle_server_extension_python

    changed = [name for name, enabled in server_extensions().items() if enabled]
    for name in changed:
        toggle_server_extension_python(name, enabled=False, sys_prefix=True)
    return changed


def disable_lab_plugins() -> list[str]:
    """Disable and lock nbgrader's JupyterLab plugins in sys.prefix's page config; the ones that changed."""
    from jupyterlab_server.config import get_static_page_config, write_page_config

    config = get_static_page_config(level="sys_prefix")
    disabled = config.setdefault("disabledExtensions", {})
    locked = config.setdefault("lockedExtensions", {})
    changed = [name for name in NBGRADER_LAB_PLUGINS if not (disabled.get(name) and locked.get(name))]
    if changed:
        disabled.update(dict.fromkeys(NBGRADER_LAB_PLUGINS, True))
        locked.update(dict.fromkeys(NBGRADER_LAB_PLUGINS, True))
        write_page_config(config, level="sys_prefix")
    return changed


def run(*, quiet: bool = False) -> int:
    """Prepare the student lab; prints what changed unless ``quiet``."""
    changed = disable_server_extensions() + disable_lab_plugins()
    if not quiet:
        for name in changed:
            print(f"disabled {name}")
        print(f"student lab ready in {sys.prefix}" + ("" if changed else " (nothing to change)"))
    return 0


def register(subparsers) -> None:
    """Add the ``student-lab`` subcommand."""
    parser = subparsers.add_parser(
        "student-lab", help="hide nbgrader's instructor tools from the student JupyterLab",
        description=__doc__.split("\n\n")[0])
    parser.add_argument("--quiet", action="store_true", help="print nothing")
    parser.set_defaults(func=lambda args: run(quiet=args.quiet))
