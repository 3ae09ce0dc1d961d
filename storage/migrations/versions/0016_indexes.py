"""province scale: indexes for the chat turn, the queue and search; broadcast audiences

Revision ID: 0016_indexes
Revises: 0008_notify
Create Date: 2026-12-02 06:00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB


revision: str = '0016_indexes'
down_revision: str | None = '0015_precheck'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
TRGM = (('ix_applications_full_name_trgm', 'full_name'),
        ('ix_applications_reg_no_trgm', 'reg_no'))


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == 'postgresql'
    if postgres:
        # A trusted extension since PostgreSQL 13: the database owner may create it.
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.create_index('ix_applications_applicant_id', ['applicant_id'], unique=False)
        batch_op.create_index('ix_applications_queue',
                              ['region', 'step_code', 'step_since', 'id'], unique=False)
        batch_op.create_index('ix_applications_region_submitted', ['region', 'submitted_at'],
                              unique=False)
    for name, column in TRGM:
        op.create_index(name, 'applications', [column], unique=False,
                        postgresql_using='gin', postgresql_ops={column: 'gin_trgm_ops'})
    if postgres:
        # The IKM sums answers in SQL; JSONB keeps `->>` from re-parsing text per key.
        for column in ('profile', 'answers'):
            op.alter_column('survey_responses', column, type_=JSONB(),
                            postgresql_using=f'{column}::jsonb')
    op.create_table('broadcast_recipients',
    sa.Column('broadcast_id', BigId, nullable=False),
    sa.Column('applicant_id', BigId, nullable=False),
    sa.Column('application_id', BigId, nullable=False),
    sa.ForeignKeyConstraint(['broadcast_id'], ['broadcasts.id'],
                            name=op.f('fk_broadcast_recipients_broadcast_id_broadcasts'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('broadcast_id', 'applicant_id', name=op.f('pk_broadcast_recipients'))
    )


def downgrade() -> None:
    op.drop_table('broadcast_recipients')
    if op.get_bind().dialect.name == 'postgresql':
        for column in ('profile', 'answers'):
            op.alter_column('survey_responses', column, type_=sa.JSON(),
                            postgresql_using=f'{column}::json')
    for name, _ in TRGM:
        op.drop_index(name, table_name='applications')
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.drop_index('ix_applications_region_submitted')
        batch_op.drop_index('ix_applications_queue')
        batch_op.drop_index('ix_applications_applicant_id')
