"""ops audit log: operators' retries and discards of failed rows

Revision ID: 0013_ops
Revises: 0008_notify
Create Date: 2026-12-02 06:10:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0013_ops'
down_revision: str | None = '0012_desk'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


INBOUND_CHECK_OLD = "status IN ('pending', 'done', 'failed')"
INBOUND_CHECK = "status IN ('pending', 'done', 'failed', 'discarded')"


def upgrade() -> None:
    # An operator may set a dead letter aside: a status of its own, so it is listed no more.
    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_inbound_messages_status'), type_='check')
        batch_op.create_check_constraint('status', INBOUND_CHECK)
    op.create_table('ops_audit',
    sa.Column('id', BigId, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=120), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('target_id', sa.BigInteger(), nullable=False),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ops_audit'))
    )


def downgrade() -> None:
    op.drop_table('ops_audit')
    op.execute("UPDATE inbound_messages SET status = 'failed' WHERE status = 'discarded'")
    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_inbound_messages_status'), type_='check')
        batch_op.create_check_constraint('status', INBOUND_CHECK_OLD)
