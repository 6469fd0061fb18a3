"""One package per adaptation method (its settings, loops, hooks and pipeline entry), built on
:mod:`mmadapt.engine`, :mod:`mmadapt.models`, :mod:`mmadapt.cost` and :mod:`mmadapt.arch`."""
