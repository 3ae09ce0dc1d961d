"""complaints

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 09:18:03.110530
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table('complaints',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('ticket_no', sa.String(length=32), nullable=False),
    sa.Column('applicant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('region', sa.String(length=40), nullable=False),
    sa.Column('profession', sa.String(length=40), nullable=True),
    sa.Column('reg_no', sa.String(length=32), nullable=True),
    sa.Column('about', sa.String(length=12), nullable=False),
    sa.Column('category', sa.String(length=24), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('suggestion_reason', sa.String(length=12), nullable=True),
    sa.Column('anonymous', sa.Boolean(), nullable=False),
    sa.Column('complainant_name', sa.String(length=120), nullable=True),
    sa.Column('lang', sa.String(length=5), nullable=False),
    sa.Column('proposed_grade', sa.String(length=8), nullable=False),
    sa.Column('grade', sa.String(length=8), nullable=True),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('settled', sa.Boolean(), nullable=True),
    sa.Column('resolution_path', sa.String(length=24), nullable=True),
    sa.Column('filed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('level_due_on', sa.Date(), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['applicant_id'], ['applicants.id'], name=op.f('fk_complaints_applicant_id_applicants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_complaints')),
    sa.UniqueConstraint('ticket_no', name=op.f('uq_complaints_ticket_no'))
    )
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.create_index('ix_complaints_region_status', ['region', 'status'], unique=False)

    op.create_table('complaint_messages',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('complaint_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('author_kind', sa.String(length=12), nullable=False),
    sa.Column('author', sa.String(length=120), nullable=True),
    sa.Column('action', sa.String(length=24), nullable=False),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('attachments', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['complaint_id'], ['complaints.id'], name=op.f('fk_complaint_messages_complaint_id_complaints'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_complaint_messages'))
    )
    with op.batch_alter_table('complaint_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_complaint_messages_complaint_id'), ['complaint_id'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('complaint_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_complaint_messages_complaint_id'))

    op.drop_table('complaint_messages')
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_index('ix_complaints_region_status')

    op.drop_table('complaints')

