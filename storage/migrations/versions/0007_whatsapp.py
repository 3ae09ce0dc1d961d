"""whatsapp: platform statuses on the outbox, status webhooks

Revision ID: 0007_whatsapp
Revises: 0004_notices
Create Date: 2026-12-01 21:50:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0007_whatsapp'
down_revision: str | None = '0006_telegram'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('platform_status', sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column('platform_error', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('read_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('template_name', sa.String(length=120), nullable=True))
    op.create_table('whatsapp_statuses',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('wamid', sa.String(length=128), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recipient', sa.String(length=64), nullable=True),
    sa.Column('error_code', sa.Integer(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_whatsapp_statuses')),
    sa.UniqueConstraint('wamid', 'status', name='uq_whatsapp_statuses_wamid')
    )
    with op.batch_alter_table('whatsapp_statuses', schema=None) as batch_op:
        batch_op.create_index('ix_whatsapp_statuses_pending', ['applied_at', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('whatsapp_statuses', schema=None) as batch_op:
        batch_op.drop_index('ix_whatsapp_statuses_pending')
    op.drop_table('whatsapp_statuses')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('template_name')
        batch_op.drop_column('read_at')
        batch_op.drop_column('delivered_at')
        batch_op.drop_column('platform_error')
        batch_op.drop_column('platform_status')
