"""broadcasts; outbox quiet-hours zone and broadcast link

Revision ID: 0008_notify
Revises: 0004_notices
Create Date: 2026-12-01 21:50:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0008_notify'
down_revision: str | None = '0007_whatsapp'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('broadcasts',
    sa.Column('id', BigId, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sender_username', sa.String(length=120), nullable=False),
    sa.Column('sender_role', sa.String(length=24), nullable=False),
    sa.Column('selection', sa.JSON(), nullable=False),
    sa.Column('template', sa.Text(), nullable=False),
    sa.Column('urgent', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('cursor', sa.BigInteger(), nullable=False),
    sa.Column('queued', sa.Integer(), nullable=False),
    sa.Column('skipped_unreachable', sa.Integer(), nullable=False),
    sa.Column('enqueued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_broadcasts'))
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('quiet_tz', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('broadcast_id', BigId, nullable=True))
        batch_op.create_index('ix_outbox_broadcast', ['broadcast_id', 'status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_broadcast')
        batch_op.drop_column('broadcast_id')
        batch_op.drop_column('quiet_tz')
    op.drop_table('broadcasts')
