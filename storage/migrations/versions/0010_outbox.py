"""outbox: claims are leases (claimed_by, lease_until), status CHECK, NOTIFY on PostgreSQL

Revision ID: 0010_outbox
Revises: 0008_notify
Create Date: 2026-12-02 06:00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0010_outbox'
down_revision: str | None = '0009_inbound'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = ('pending', 'sending', 'sent', 'failed', 'unreachable', 'cancelled', 'held')
CHECK = f"status IN ({', '.join(repr(s) for s in STATUSES)})"

# A dispatcher LISTENs on izin_outbox: a row becoming pending wakes it (payload: the
# channel), in whichever process it was written. Delivered at commit, merged per
# transaction by PostgreSQL.
NOTIFY_FUNCTION = """
CREATE OR REPLACE FUNCTION izin_outbox_notify() RETURNS trigger AS $$
BEGIN
  PERFORM pg_notify('izin_outbox', NEW.channel);
  RETURN NULL;
END $$ LANGUAGE plpgsql
"""
TRIGGERS = (
    "CREATE TRIGGER outbox_notify_insert AFTER INSERT ON outbox FOR EACH ROW "
    "WHEN (NEW.status = 'pending') EXECUTE FUNCTION izin_outbox_notify()",
    "CREATE TRIGGER outbox_notify_update AFTER UPDATE OF status ON outbox FOR EACH ROW "
    "WHEN (NEW.status = 'pending' AND OLD.status <> 'pending') "
    "EXECUTE FUNCTION izin_outbox_notify()",
)


def upgrade() -> None:
    # Rows a stopped process left claimed become expired leases: claimed again at once.
    op.execute("UPDATE outbox SET status = 'failed', last_error = 'unknown status ' || status "
               f"WHERE NOT ({CHECK})")
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_by', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('lease_until', sa.DateTime(timezone=True),
                                      nullable=True))
        batch_op.create_check_constraint(op.f('ck_outbox_status'), CHECK)
    op.execute("UPDATE outbox SET lease_until = next_attempt_at WHERE status = 'sending'")
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(NOTIFY_FUNCTION)
        for trigger in TRIGGERS:
            op.execute(trigger)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP TRIGGER IF EXISTS outbox_notify_update ON outbox")
        op.execute("DROP TRIGGER IF EXISTS outbox_notify_insert ON outbox")
        op.execute("DROP FUNCTION IF EXISTS izin_outbox_notify()")
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_outbox_status'), type_='check')
        batch_op.drop_column('lease_until')
        batch_op.drop_column('claimed_by')
