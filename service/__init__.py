"""Use cases over storage; importing the layer registers its session hooks."""

from service import survey_totals as survey_totals
