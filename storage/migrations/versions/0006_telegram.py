"""staff notices posted to the staff's Telegram chat

Revision ID: 0006_telegram
Revises: 0004_notices
Create Date: 2026-12-01 22:30:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0006_telegram'
down_revision: str | None = '0005_backoffice'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('staff_notices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('telegram_sent_at', sa.DateTime(timezone=True),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('staff_notices', schema=None) as batch_op:
        batch_op.drop_column('telegram_sent_at')
