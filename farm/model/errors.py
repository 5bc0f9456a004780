"""The errors the farm raises on purpose; cli.py maps them to exit codes."""


class ZpfarmError(Exception):
    """Base of every error the farm raises on purpose."""


class UserError(ZpfarmError):
    """Bad input: matrix, option, patch that does not apply. Exit code 2."""


class InfraError(ZpfarmError):
    """The machine failed us: tool missing, guest would not boot. Exit code 3."""
