import os
import os.path as osp
import sys
import uuid
import warnings

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
warnings.filterwarnings('ignore', category=DeprecationWarning)

if os.environ.get('PYTEST_XDIST_WORKER'):
    # `make test` runs two workers on two cores: one thread each (two threads per worker would run
    # four on two cores, which slows the OpenMP kernels several times); subprocesses inherit it
    os.environ['OMP_NUM_THREADS'] = '1'
    import torch
    torch.set_num_threads(1)

# Small shapes sets shared by the whole session: (task, num_train, num_val, size)
TINY = dict(
    det=('det', 16, 8, 128),
    seg=('seg', 8, 4, 128),
    pose=('pose', 12, 6, 128),
    cls=('cls', 32, 16, 64),
)


@pytest.fixture(scope='session')
def shapes_root(tmp_path_factory):
    """A folder with tiny shapes data sets for every task: ``root/<task>``."""
    from mmadapt.datasets import make_shapes
    root = tmp_path_factory.mktemp('shapes')
    for name, (task, n_train, n_val, size) in TINY.items():
        make_shapes(task, str(root / name), n_train, n_val, size, seed=0)
    return root


@pytest.fixture(scope='session')
def data32(tmp_path_factory):
    """64 training and 16 val images of shapes classification at 32x32 (the width methods' tests)."""
    from mmadapt.datasets import make_shapes
    root = tmp_path_factory.mktemp('shapes32') / 'cls'
    make_shapes('cls', str(root), 64, 16, 32, seed=0)
    return str(root) + '/'


def randomize_bn(model, mean: float = 0.5, affine: bool = False):
    """Non-trivial BN statistics (mean in [-mean, mean], var in [0.5, 1.5]) and, with ``affine``,
    scales in [0.5, 1.5] and shifts in [-0.2, 0.2]: exact-function checks must see them."""
    import torch
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-mean, mean)
            m.running_var.uniform_(0.5, 1.5)
            if affine:
                m.weight.data.uniform_(0.5, 1.5)
                m.bias.data.uniform_(-0.2, 0.2)
    return model


def folder_digest(folder) -> str:
    """SHA-256 of every file's relative path and bytes below ``folder`` (two generated data sets
    are identical exactly when their digests are)."""
    import hashlib
    h = hashlib.sha256()
    for dirpath, _, files in sorted(os.walk(folder)):
        for name in sorted(files):
            path = osp.join(dirpath, name)
            h.update(osp.relpath(path, folder).encode())
            with open(path, 'rb') as f:
                h.update(f.read())
    return h.hexdigest()


def cls_options(data_root, **extra) -> dict:
    """``--cfg-options`` that point a shapes classification config at ``data_root`` with small
    batches, no workers and quiet logs (the width methods' end-to-end tests)."""
    opts = {
        'data_root': data_root,
        'train_dataloader.dataset.data_root': data_root, 'val_dataloader.dataset.data_root': data_root,
        'test_dataloader.dataset.data_root': data_root,
        'train_dataloader.batch_size': 16, 'train_dataloader.num_workers': 0, 'val_dataloader.num_workers': 0,
        'test_dataloader.num_workers': 0, 'log_level': 'WARNING',
    }
    opts.update(extra)
    return opts


def dist_train(config, work_dir, options: dict, port_base: int, nproc: int = 2) -> str:
    """Run ``tools/dist_train.sh`` with ``nproc`` CPU processes and ``--cfg-options``; assert it
    succeeded and return its log (stdout and stderr)."""
    import subprocess
    env = dict(os.environ, PYTHON=sys.executable, PORT=str(port_base + os.getpid() % 1000), PYTHONWARNINGS='ignore',
               OMP_NUM_THREADS='1')
    args = ['--cfg-options'] + [f'{k}={v}' for k, v in options.items()]
    proc = subprocess.run(['bash', tool('dist_train.sh'), config, str(nproc), '--work-dir', str(work_dir), *args],
                          cwd=ROOT, capture_output=True, text=True, env=env, timeout=900)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-5000:]
    return log


def data_options(data_root, config_name):
    """--cfg-options that point a shapes baseline config at a test data set and make it small."""
    from mmadapt.utils import data_root_options
    opts = {
        **data_root_options(data_root),
        'experiment_name': f'test_{config_name}_{uuid.uuid4().hex[:8]}',
        'log_level': 'WARNING',
        'default_hooks.logger.interval': 1,
    }
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts[f'{loader}.num_workers'] = 0
        opts[f'{loader}.persistent_workers'] = False
    return opts


def python():
    return sys.executable


def tool(name):
    return osp.join(ROOT, 'tools', name)


@pytest.fixture
def in_root(monkeypatch):
    """Run with the repository root as working directory (configs use relative paths)."""
    monkeypatch.chdir(ROOT)
    return ROOT


os.environ.setdefault('PYTHONWARNINGS', 'ignore::DeprecationWarning')
