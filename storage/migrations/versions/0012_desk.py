"""complaint events as structured data; indexes for the dashboard (month of events, counts)

Revision ID: 0012_desk
Revises: 0008_notify
Create Date: 2026-12-02 06:00:00
"""
from __future__ import annotations

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012_desk'
down_revision: str | None = '0011_positions'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The notes the desk used to write, turned into columns (the text is then cleared).
_LEVEL = re.compile(r"^level (\d+): ")
_GRADE = re.compile(r"^(confirmed|(\w+) -> (\w+)) \(proposed (\w+)\)$")


def upgrade() -> None:
    with op.batch_alter_table('complaint_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('level', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('grade', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('prev_grade', sa.String(length=8), nullable=True))
    with op.batch_alter_table('application_events', schema=None) as batch_op:
        batch_op.create_index('ix_application_events_at', ['at'], unique=False)
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.create_index('ix_applications_dashboard',
                              ['region', 'status', 'profession', 'step_code', 'due_on'],
                              unique=False)

    bind = op.get_bind()
    messages = sa.table('complaint_messages', sa.column('id', sa.Integer),
                        sa.column('action', sa.String), sa.column('text', sa.Text),
                        sa.column('level', sa.Integer), sa.column('grade', sa.String),
                        sa.column('prev_grade', sa.String))
    rows = bind.execute(sa.select(messages.c.id, messages.c.action, messages.c.text).where(
        messages.c.action.in_(('grade', 'escalate')))).all()
    for row_id, action, text in rows:
        values: dict[str, object] = {}
        if action == 'escalate' and text and (m := _LEVEL.match(text)):
            values = {'level': int(m.group(1)), 'text': None}
        elif action == 'grade' and text and (g := _GRADE.match(text)):
            proposed = g.group(4)
            if g.group(1) == 'confirmed':  # the grade stayed what it was (the proposal)
                values = {'grade': proposed, 'prev_grade': proposed, 'text': None}
            else:
                values = {'grade': g.group(3), 'prev_grade': g.group(2), 'text': None}
        if values:
            bind.execute(messages.update().where(messages.c.id == row_id).values(**values))


def downgrade() -> None:
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.drop_index('ix_applications_dashboard')
    with op.batch_alter_table('application_events', schema=None) as batch_op:
        batch_op.drop_index('ix_application_events_at')
    with op.batch_alter_table('complaint_messages', schema=None) as batch_op:
        batch_op.drop_column('prev_grade')
        batch_op.drop_column('grade')
        batch_op.drop_column('level')
