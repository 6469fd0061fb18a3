"""Ordered dropout trains a super-network whose sub-networks rank by width; trajectory transfer
reuses the overlapping weights exactly; a network derived by FNA++ is a seed like any other."""
import math
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from mmadapt.arch import load_spec
from mmadapt.cost import spec_cost
from mmadapt.methods.netadaptv2 import MCD, NAv2Space, with_bypass
from mmadapt.models.backbones import ElasticMobileNetV2
from mmadapt.models.checkpoint import build_spec_backbone

TINY = 'mobilenet_v2_tiny'  # the NetAdaptV2 demo's initial network (mmadapt/arch/specs)


@pytest.fixture(scope='module')
def easy_shapes(tmp_path_factory):
    """The easy images of a 32x32 mixed-difficulty shapes set (about 300 train, 100 val)."""
    from mmadapt.datasets import make_shapes
    from mmadapt.datasets.shapes import read_difficulty
    root = str(tmp_path_factory.mktemp('shapes_mixed') / 'cls')
    make_shapes('cls', root, 600, 200, 32, seed=0, difficulty='mixed')
    out = []
    for split in ('train', 'val'):
        x, y = load_split(root, split)
        easy = torch.tensor([d == 'easy' for d in read_difficulty(root, split)])
        out += [x[easy], y[easy]]
    return out


def load_split(root, split):
    xs, ys = [], []
    with open(osp.join(root, 'meta', f'{split}.txt')) as f:
        for line in f:
            path, label = line.split()
            img = np.asarray(Image.open(osp.join(root, split, path)).convert('RGB'), dtype=np.float32)
            xs.append(torch.from_numpy(img).permute(2, 0, 1) / 127.5 - 1)
            ys.append(int(label))
    return torch.stack(xs), torch.tensor(ys)


def spearman(a, b):
    ra = torch.tensor(a).argsort().argsort().float()
    rb = torch.tensor(b).argsort().argsort().float()
    ra, rb = ra - ra.mean(), rb - rb.mean()
    return float((ra * rb).sum() / (ra.norm() * rb.norm()))


def test_ordered_dropout_ranks_wider_subnetworks_higher(easy_shapes):
    """A seed trained for 10 epochs, then 8 epochs of ordered dropout (stratified per-layer widths,
    one sub-network per image, lr 1e-3): on the held-out images wider sub-networks score higher and the
    smallest beats chance. (A grid that also removes layers, width 0, leaves the sub-networks that
    remove several near chance after so short a training; the README reports it.)"""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        x, y, xv, yv = easy_shapes
        torch.manual_seed(0)
        net = ElasticMobileNetV2(spec=with_bypass(TINY, 8), out_indices=(7, ))
        head = torch.nn.Linear(128, 4)
        space = NAv2Space(net.spec, widths=[0.5, 0.75, 1.0])
        opt = torch.optim.AdamW(list(net.parameters()) + list(head.parameters()), lr=1e-2, weight_decay=0.01)
        g = torch.Generator().manual_seed(0)
        net.train()
        for epoch in range(18):
            if epoch == 10:  # the seed is trained; ordered dropout from here
                for group in opt.param_groups:
                    group['lr'] = 1e-3
            perm = torch.randperm(len(x), generator=g)
            for k in range(0, len(x), 32):
                idx = perm[k:k + 32]
                if epoch >= 10:
                    net.set_sample_subnets([space.spec(s) for s in space.stratified_genomes(len(idx), g)])
                loss = F.cross_entropy(head(net(x[idx])[-1].mean((2, 3))), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
        net.clear_sample_subnets()
        genomes = [space.min_genome, space.max_genome] + space.stratified_genomes(8, torch.Generator().manual_seed(1))
        accs, madds = [], []
        bns = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
        with torch.no_grad():
            for gen in genomes:
                spec = space.spec(gen)
                net.set_subnet(spec)
                for m in bns:  # BN recalibrated per sample, as the search does
                    m.reset_running_stats()
                    m.momentum = None
                net.train()
                for k in range(0, 192, 64):
                    net(x[k:k + 64])
                net.eval()
                pred = head(net(xv)[-1].mean((2, 3))).argmax(1)
                accs.append(float((pred == yv).float().mean()))
                madds.append(spec_cost(spec, (32, 32)).madds)
    finally:
        torch.set_num_threads(threads)
    rho = spearman(madds, accs)
    assert rho > 0.3, (rho, list(zip(madds, accs)))
    assert accs[0] > 0.25 + 0.05, accs  # the smallest beats chance (4 balanced classes)
    assert accs[1] > accs[0]


def test_trajectory_transfer_reuses_the_overlapping_weights_exactly(tmp_path):
    """transfer_weights from a network to a smaller one = the elastic network's export of it: the
    leading filters and channels, the centre kernel crop, the BN statistics sliced."""
    from mmengine.config import Config
    from mmadapt.engine.derived_train import checkpoint_state, train_config
    from mmadapt.methods.netadaptv2.pipeline import transfer_weights
    src = with_bypass(TINY, 8)
    space = NAv2Space(src, widths=5, kernels=(1, 3))
    g = torch.Generator().manual_seed(3)
    dst = space.spec(space.stratified_genomes(1, g)[0])
    torch.manual_seed(0)
    elastic = ElasticMobileNetV2(spec=src, out_indices=(7, ))
    for m in elastic.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    cfg = Config(dict(model=dict(type='mmpretrain.ImageClassifier',
                                 backbone=dict(type='mmadapt.DerivedMobileNetV2', spec=src.to_dict(), out_indices=(7, )),
                                 neck=dict(type='mmpretrain.GlobalAveragePooling'),
                                 head=dict(type='mmpretrain.LinearClsHead', num_classes=4, in_channels=128)),
                      default_scope='mmpretrain'))
    src_state = {f'backbone.{k}': v for k, v in elastic.state_dict().items()}
    src_state['head.fc.weight'] = torch.randn(4, 128)
    src_state['head.fc.bias'] = torch.randn(4)
    out = tmp_path / 'init.pth'
    tcfg = train_config(cfg, dst)
    transfer_weights(src, src_state, dst, tcfg, str(out))
    got = checkpoint_state(str(out), 'transfer')
    _, exported = elastic.export_subnet(dst)
    for k, v in exported.items():
        assert torch.equal(got[f'backbone.{k}'], v), k
    w = got['head.fc.weight']  # the classifier reads the leading channels of the found head
    assert w.shape[1] == dst.head['out_channels'] and torch.equal(w, src_state['head.fc.weight'][:, :w.shape[1]])
    # and the derived network with these weights computes what the elastic network computes there
    derived = build_spec_backbone(dst, (7, ))
    derived.load_state_dict({k[9:]: v for k, v in got.items() if k.startswith('backbone.')}, strict=True)
    elastic.set_subnet(dst)
    elastic.eval()
    derived.eval()
    xin = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        a, b = elastic(xin)[-1], derived(xin)[-1]
    assert torch.allclose(a[:, :b.shape[1]], b, atol=1e-5)


def test_an_fna_derived_network_seeds_a_search():
    """The FNA++ output (a derived spec + its weights) is NetAdaptV2's initial network: the
    super-network computes exactly the derived network at its max, and MCD searches it."""
    fna = load_spec('fna_mbv2_det')
    d = fna.to_dict()
    # an FNA++ derivation: one candidate per layer (here: the last one that is not a skip)
    for st in d['stages']:
        st['blocks'] = [[c for c in (b if isinstance(b, list) else b.split('|')) if c != 'skip'][-1]
                        for b in st['blocks']]
    d['name'] = 'fna_derived'
    derived_spec = load_spec(d)
    torch.manual_seed(0)
    derived = build_spec_backbone(derived_spec, (7, )).eval()
    elastic = ElasticMobileNetV2(spec=with_bypass(derived_spec, 8), out_indices=(7, )).eval()
    elastic.load_state_dict(derived.state_dict(), strict=True)
    xin = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(elastic(xin)[-1], derived(xin)[-1], atol=1e-6)
    space = NAv2Space(elastic.spec, widths=5, kernels=(3, 5))
    hw = (64, 64)

    def madds(spec):
        return spec_cost(spec, hw).madds

    r0 = madds(space.spec(space.max_genome))
    state = MCD(space, madds, 0.7 * r0, num_samples=4, num_layers=3, r0=0.1, decay=0.95).run(
        lambda xs: [sum(math.log(1 + v) for v in s) for s in xs])
    assert state['cost'] <= 0.7 * r0
    found = space.spec(state['genome'])
    elastic.set_subnet(found)  # the found network runs inside the super-network and exports
    spec, weights = elastic.export_subnet(found)
    build_spec_backbone(spec, (7, )).load_state_dict(weights, strict=True)
