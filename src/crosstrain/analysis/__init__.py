"""Physics validation through any ASE calculator: equations of state, elastic constants,
vacancies, phonons (and, to come, MD stability and phonon densities of states)."""
