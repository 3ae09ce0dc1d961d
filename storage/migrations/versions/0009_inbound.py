"""inbound: per-chat order key, retry backoff, status CHECK, chat leases

Revision ID: 0009_inbound
Revises: 0008_notify
Create Date: 2026-12-02 05:50:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0009_inbound'
down_revision: str | None = '0008_notify'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing rows keep their status; seq 0 keeps their arrival order (by id).
    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seq', sa.BigInteger(), server_default='0',
                                      nullable=False))
        batch_op.add_column(sa.Column('not_before', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), server_default='0',
                                      nullable=False))
        batch_op.create_index('ix_inbound_chat', ['chat_key', 'status', 'seq', 'id'],
                              unique=False)
        batch_op.create_check_constraint('status', "status IN ('pending', 'done', 'failed')")
    op.create_table('inbound_leases',
    sa.Column('chat_key', sa.String(length=64), nullable=False),
    sa.Column('owner', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('chat_key', name=op.f('pk_inbound_leases'))
    )


def downgrade() -> None:
    op.drop_table('inbound_leases')
    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.drop_constraint('status', type_='check')
        batch_op.drop_index('ix_inbound_chat')
        batch_op.drop_column('attempts')
        batch_op.drop_column('not_before')
        batch_op.drop_column('seq')
