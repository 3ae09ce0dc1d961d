"""Every dialogue flow; importing this package registers their steps."""

from conversations.flows import apply, fix, info, menu, status

__all__ = ["apply", "fix", "info", "menu", "status"]
