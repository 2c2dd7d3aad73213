"""Reproducible studies: scenario x algorithm x seeds -> tidy results -> figures.

``STUDIES`` is the one table of the project's studies; it is registered under the
``gametools.studies`` entry-point group, so ``gametools run NAME`` finds them (see
:mod:`gametools.studies`).
"""

from __future__ import annotations

from analyses import algorithms, convergence, kyle_study, paradigms, selection

__all__ = ["STUDIES"]

STUDIES = (kyle_study.STUDY, selection.STUDY, paradigms.STUDY, algorithms.STUDY,
           convergence.STUDY)
