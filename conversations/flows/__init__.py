"""Every dialogue flow; importing this package registers their steps."""

from conversations.flows import apply, complaint, fix, info, menu, status, survey

__all__ = ["apply", "complaint", "fix", "info", "menu", "status", "survey"]
