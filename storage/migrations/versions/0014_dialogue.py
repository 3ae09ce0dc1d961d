"""applicants.notice_choices: the choices of the last notice queued for the chat

Revision ID: 0014_dialogue
Revises: 0008_notify
Create Date: 2026-12-02 06:30:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0014_dialogue'
down_revision: str | None = '0013_ops'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('applicants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notice_choices', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('applicants', schema=None) as batch_op:
        batch_op.drop_column('notice_choices')
