"""WhatsApp Cloud API channel: webhook, inbound worker, sender (see ARCHITECTURE.md)."""

CHANNEL = "whatsapp"
