"""mmengine checkpoints load with weights_only=True once mmadapt is imported; unsafe ones do not."""
import os
import os.path as osp
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

import mmadapt  # noqa: F401  (registers the allow-list)
from mmengine.model import BaseModel


class _ToyModel(BaseModel):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.linear(torch.stack(inputs) if isinstance(inputs, list) else inputs)
        if mode == 'loss':
            return dict(loss=(out - torch.stack(data_samples)).pow(2).mean())
        return out


class _ToyData(torch.utils.data.Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        return dict(inputs=torch.tensor([float(i), 1.0]), data_samples=torch.tensor([i * 0.5]))


def _toy_runner(work_dir, max_epochs, resume=False, name='toy'):
    from mmengine.runner import Runner
    torch.manual_seed(0)  # the model is built before the Runner seeds anything
    return Runner(
        model=_ToyModel(), work_dir=str(work_dir), experiment_name=f'{name}_{os.getpid()}_'
        f'{max_epochs}_{resume}',
        train_dataloader=dict(dataset=_ToyData(), sampler=dict(type='DefaultSampler', shuffle=True),
                              batch_size=2, num_workers=0),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9)),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1),
                           logger=dict(type='LoggerHook', interval=1)),
        resume=resume, randomness=dict(seed=0), log_level='WARNING',
        default_scope='mmengine')


def test_runner_checkpoint_loads_safely_and_resumes_exactly(tmp_path):
    ckpt_runner = _toy_runner(tmp_path / 'a', max_epochs=1, name='a1')
    ckpt_runner.train()
    ckpt = tmp_path / 'a' / 'epoch_1.pth'
    # the checkpoint holds what mmengine writes: HistoryBuffer, numpy in meta/message hub
    loaded = torch.load(ckpt)  # weights_only=True is torch's default
    assert 'message_hub' in loaded and loaded['meta']['epoch'] == 1
    assert type(loaded['message_hub']['log_scalars']['train/loss']).__name__ == 'HistoryBuffer'

    resumed = _toy_runner(tmp_path / 'a', max_epochs=3, resume=True, name='a2')
    resumed.train()
    straight = _toy_runner(tmp_path / 'b', max_epochs=3, name='b')
    straight.train()
    assert resumed.iter == straight.iter == 12
    for (k, v), (_, w) in zip(resumed.model.state_dict().items(),
                              straight.model.state_dict().items()):
        assert torch.equal(v, w), k


def test_numpy_values_in_meta_are_allowed(tmp_path):
    path = tmp_path / 'np.pth'
    torch.save(dict(state_dict={'w': torch.ones(2)},
                    meta=dict(sigmas=np.array([0.1, 0.2], np.float32), seed=np.int64(3),
                              flip=np.array([1, 0]), ok=np.bool_(True))), path)
    loaded = torch.load(path)
    assert loaded['meta']['sigmas'].dtype == np.float32
    assert int(loaded['meta']['seed']) == 3


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


class _GetattrAbuse:
    def __reduce__(self):
        return (getattr, (np.ndarray, 'tofile'))


class _HistoryBufferPrivate:
    def __reduce__(self):
        from mmengine.logging import HistoryBuffer
        return (getattr, (HistoryBuffer, '__init__'))


def test_code_running_pickle_is_refused(tmp_path):
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.pth'
    torch.save(dict(state_dict={}, meta=_Evil(str(marker))), path)
    with pytest.raises(pickle.UnpicklingError, match='system'):
        torch.load(path)
    from mmengine.runner import load_checkpoint
    with pytest.raises(pickle.UnpicklingError):
        load_checkpoint(nn.Linear(1, 1), str(path))
    assert not marker.exists()


@pytest.mark.parametrize('payload', [_GetattrAbuse, _HistoryBufferPrivate])
def test_getattr_is_limited_to_history_buffer_statistics(tmp_path, payload):
    path = tmp_path / 'getattr.pth'
    torch.save(dict(meta=payload()), path)
    with pytest.raises(pickle.UnpicklingError, match='not allowed'):
        torch.load(path)


def test_without_mmadapt_torch_refuses_mmengine_checkpoints(tmp_path):
    """The allow-list is what makes resuming work: a fresh interpreter without it fails."""
    runner = _toy_runner(tmp_path / 'c', max_epochs=1, name='c')
    runner.train()
    code = ('import torch, sys\n'
            'try:\n    torch.load(sys.argv[1])\nexcept Exception as e:\n'
            '    print(type(e).__name__); sys.exit(0)\nsys.exit(1)')
    proc = subprocess.run([sys.executable, '-c', code, str(tmp_path / 'c' / 'epoch_1.pth')],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and 'UnpicklingError' in proc.stdout
    assert osp.isfile(tmp_path / 'c' / 'epoch_1.pth')
