"""positions held by staff, NIP and language; who acted on the card; internal notes;
permits held until the procedure's last permit step

Revision ID: 0011_positions
Revises: 0008_notify
Create Date: 2026-12-02 06:00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0011_positions'
down_revision: str | None = '0010_outbox'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('staff_positions',
    sa.Column('id', BigId, nullable=False),
    sa.Column('staff_id', BigId, nullable=False),
    sa.Column('position', sa.String(length=24), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'],
                            name=op.f('fk_staff_positions_staff_id_staff'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_positions')),
    sa.UniqueConstraint('staff_id', 'position', name=op.f('uq_staff_positions_staff_id'))
    )
    with op.batch_alter_table('staff_positions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_positions_staff_id'), ['staff_id'],
                              unique=False)
    op.create_table('application_notes',
    sa.Column('id', BigId, nullable=False),
    sa.Column('application_id', BigId, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('author', sa.String(length=40), nullable=False),
    sa.Column('author_name', sa.String(length=120), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'],
                            name=op.f('fk_application_notes_application_id_applications'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_application_notes'))
    )
    with op.batch_alter_table('application_notes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_application_notes_application_id'),
                              ['application_id'], unique=False)
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.add_column(sa.Column('nip', sa.String(length=18), nullable=True))
        batch_op.add_column(sa.Column('lang', sa.String(length=5), server_default='id',
                                      nullable=False))
    with op.batch_alter_table('application_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('actor_name', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('actor_nip', sa.String(length=18), nullable=True))
        batch_op.add_column(sa.Column('position', sa.String(length=24), nullable=True))
    with op.batch_alter_table('permits', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ready', sa.Boolean(), server_default=sa.true(),
                                      nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('permits', schema=None) as batch_op:
        batch_op.drop_column('ready')
    with op.batch_alter_table('application_events', schema=None) as batch_op:
        batch_op.drop_column('position')
        batch_op.drop_column('actor_nip')
        batch_op.drop_column('actor_name')
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.drop_column('lang')
        batch_op.drop_column('nip')
    op.drop_table('application_notes')
    op.drop_table('staff_positions')
