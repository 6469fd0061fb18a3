"""DNA (Differentiable Network Adaption, Sec. 3): width and depth of a seed to a MAdds budget.

- :mod:`.markov`: Markov chains over channel groups and layers (transitions, marginals, paths);
- :mod:`.space`: the elastic search space around the current network (units, groups, chains, gates,
  exact expected MAdds, phase 3's adaption, the expected and Markov-sampled target networks);
- :mod:`.loop`: the three phases as an mmengine loop (``mmadapt.DNALoop``);
- :mod:`.settings`: the ``dna`` config dict;
- :mod:`.pipeline`: search -> derive -> train -> test behind ``tools/train.py``.
"""
from .loop import DNALoop, DNAStateHook, budget_loss
from .markov import MarkovChain
from .settings import DNAConfigError, dna_settings
from .space import DNASpace, UnitGroups, bank_spec, unit_groups

__all__ = ['DNALoop', 'DNAStateHook', 'budget_loss', 'MarkovChain', 'DNAConfigError', 'dna_settings', 'DNASpace',
           'UnitGroups', 'bank_spec', 'unit_groups', 'run_pipeline']


def run_pipeline(*args, **kwargs):
    """Run DNA (see :func:`mmadapt.methods.dna.pipeline.run_pipeline`)."""
    from .pipeline import run_pipeline as _run
    return _run(*args, **kwargs)
