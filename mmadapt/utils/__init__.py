from .checkpoint import mmengine_checkpoint_globals, register_safe_globals
from .data_check import DataFileError, DataNotFoundError, check_data, data_root_options, iter_datasets, required_paths

__all__ = ['register_safe_globals', 'mmengine_checkpoint_globals', 'check_data', 'data_root_options', 'required_paths',
           'iter_datasets', 'DataNotFoundError', 'DataFileError', 'register_all_modules']


def register_all_modules(init_default_scope: bool = False) -> None:
    """Import every mmadapt module that registers something.

    Args:
        init_default_scope (bool): also make ``mmadapt`` the default scope (as the frameworks'
            ``register_all_modules`` do). Configs of mmdet/mmseg/... keep their own scope and reach
            mmadapt's modules with the ``mmadapt.`` prefix instead.
    """
    import mmadapt.datasets  # noqa: F401
    import mmadapt.engine  # noqa: F401
    import mmadapt.models  # noqa: F401
    if init_default_scope:
        from mmengine.registry import DefaultScope
        DefaultScope.get_instance(f'mmadapt-{id(DefaultScope)}', scope_name='mmadapt')
