"""province scale: per-day survey totals for the IKM report, filled from the responses

Revision ID: 0017_survey_totals
Revises: 0016_indexes
Create Date: 2026-12-02 09:30:00
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from datetime import UTC
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = '0017_survey_totals'
down_revision: str | None = '0016_indexes'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here (a migration must not change with the code): the questionnaire's keys as
# they were, and service.survey_totals.survey_totals_rows' rules.
ELEMENTS = ('persyaratan', 'prosedur', 'waktu', 'biaya', 'produk', 'kompetensi',
            'perilaku', 'pengaduan', 'sarana')
PROFILE = ('age', 'sex', 'education', 'occupation')
KEY = ('region', 'day', 'profession')


def _valid(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 4


def _option(value: Any) -> str | None:
    return value if value is None or isinstance(value, str) else json.dumps(value)


def _backfill() -> None:
    """Sum every stored response into the new tables, streamed (one pass, in Python on
    both backends: the same rules as the writer, and SQLite has no time zones)."""
    responses = sa.table('survey_responses', sa.column('region', sa.String()),
                         sa.column('profession', sa.String()),
                         sa.column('submitted_at', sa.DateTime(timezone=True)),
                         sa.column('profile', sa.JSON()), sa.column('answers', sa.JSON()))
    totals: dict[tuple[Any, ...], Counter[str]] = {}
    profiles: Counter[tuple[Any, ...]] = Counter()
    conn = op.get_bind()
    # On the statement, not the connection (that would stream alembic's own UPDATE too).
    rows = conn.execute(sa.select(responses).execution_options(yield_per=5000))
    for region, profession, at, profile, answers in rows:
        at = at.replace(tzinfo=UTC) if at.tzinfo is None else at  # SQLite: stored as UTC
        key = (region, at.astimezone(UTC).date(), profession)
        answers = answers if isinstance(answers, dict) else {}
        total = totals.setdefault(key, Counter())
        total['respondents'] += 1
        if all(_valid(answers.get(k)) for k in ELEMENTS):
            total.update({k: answers[k] for k in ELEMENTS})
        else:
            total['invalid'] += 1
        profile = profile if isinstance(profile, dict) else {}
        options = {q: _option(profile.get(q)) for q in PROFILE}
        if None not in options.values():
            profiles.update((*key, q, o) for q, o in options.items())
    day_totals = sa.table('survey_day_totals', *[sa.column(c) for c in (
        *KEY, 'respondents', 'invalid', *ELEMENTS)])
    day_profiles = sa.table('survey_day_profiles', *[sa.column(c) for c in (
        *KEY, 'question', 'option', 'respondents')])
    rows_t = [dict(zip(KEY, key, strict=True), **{c: t[c] for c in (
        'respondents', 'invalid', *ELEMENTS)}) for key, t in totals.items()]
    rows_p = [dict(zip((*KEY, 'question', 'option'), key, strict=True), respondents=n)
              for key, n in profiles.items()]
    for table, batch in ((day_totals, rows_t), (day_profiles, rows_p)):
        for i in range(0, len(batch), 5000):
            conn.execute(table.insert(), batch[i:i + 5000])


def upgrade() -> None:
    op.create_table('survey_day_totals',
    sa.Column('region', sa.String(length=40), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('profession', sa.String(length=40), nullable=False),
    sa.Column('respondents', sa.Integer(), nullable=False),
    sa.Column('invalid', sa.Integer(), nullable=False),
    *[sa.Column(k, sa.Integer(), nullable=False) for k in ELEMENTS],
    sa.PrimaryKeyConstraint('region', 'day', 'profession', name=op.f('pk_survey_day_totals'))
    )
    op.create_table('survey_day_profiles',
    sa.Column('region', sa.String(length=40), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('profession', sa.String(length=40), nullable=False),
    sa.Column('question', sa.String(length=24), nullable=False),
    sa.Column('option', sa.String(length=40), nullable=False),
    sa.Column('respondents', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('region', 'day', 'profession', 'question', 'option',
                            name=op.f('pk_survey_day_profiles'))
    )
    _backfill()


def downgrade() -> None:
    op.drop_table('survey_day_profiles')
    op.drop_table('survey_day_totals')
