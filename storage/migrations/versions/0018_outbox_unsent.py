"""outbox: partial indexes on the rows not yet sent, for the sender's claim

Revision ID: 0018_outbox_unsent
Revises: 0017_survey_totals
Create Date: 2026-12-02 16:10:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0018_outbox_unsent'
down_revision: str | None = '0017_survey_totals'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The same text as storage.models.UNSENT (the claim repeats it to match the indexes).
UNSENT = "status IN ('pending', 'sending')"
INDEXES = (('ix_outbox_unsent_due', ['channel', 'priority', 'id']),
           ('ix_outbox_unsent_chat', ['channel', 'chat_id', 'id']))


def upgrade() -> None:
    for name, columns in INDEXES:
        op.create_index(name, 'outbox', columns, unique=False,
                        sqlite_where=sa.text(UNSENT), postgresql_where=sa.text(UNSENT))


def downgrade() -> None:
    for name, _ in INDEXES:
        op.drop_index(name, table_name='outbox')
