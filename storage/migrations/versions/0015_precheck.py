"""document pre-check: prechecks queue, application_documents.precheck

Revision ID: 0015_precheck
Revises: 0008_notify
Create Date: 2026-12-02 06:00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0015_precheck'
down_revision: str | None = '0014_dialogue'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('prechecks',
    sa.Column('id', BigId, nullable=False),
    sa.Column('applicant_id', BigId, nullable=False),
    sa.Column('requirement_code', sa.String(length=24), nullable=False),
    sa.Column('sources', sa.JSON(), nullable=False),
    sa.Column('request', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('pdf_sha256', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['applicant_id'], ['applicants.id'],
                            name=op.f('fk_prechecks_applicant_id_applicants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['pdf_sha256'], ['blobs.sha256'],
                            name=op.f('fk_prechecks_pdf_sha256_blobs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prechecks'))
    )
    op.create_index('ix_prechecks_status', 'prechecks', ['status', 'id'], unique=False)
    op.create_index('ix_prechecks_applicant', 'prechecks', ['applicant_id', 'requirement_code'],
                    unique=False)
    # Existing documents keep their rows; they simply have no pre-check (NULL).
    with op.batch_alter_table('application_documents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('precheck', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('application_documents', schema=None) as batch_op:
        batch_op.drop_column('precheck')
    op.drop_index('ix_prechecks_applicant', table_name='prechecks')
    op.drop_index('ix_prechecks_status', table_name='prechecks')
    op.drop_table('prechecks')
