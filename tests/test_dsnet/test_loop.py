"""DS-Net's stages: IEB builds each loss from the right teacher and steps once, the EMA follows, SGS
targets, the gate step trains only the gates on Eq. 12, BN recalibration per route."""
import copy

import pytest
import torch
import torch.nn.functional as F
from mmengine.optim import OptimWrapper

import mmadapt  # noqa: F401
from mmadapt.methods.dsnet import (ema_update, gate_step, ieb_step, recalibrate_routes, route_madds, sgs_targets,
                                   soft_cross_entropy)
from .test_dynamic import MBV1, RESNET, varied_inputs


def classifier(backbone=None, num_classes=5, in_channels=96):
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS as PRETRAIN
    backbone = backbone or dict(type='mmadapt.DSBackbone',
                                net=dict(type='mmadapt.ElasticMobileNetV1', spec=MBV1, out_indices=(4, )),
                                gates=[dict(stages=[3, 4], widths=[[16, 32, 48, 64], [32, 64, 80, 96]])])
    # in mmpretrain's scope whatever scope an earlier test in this worker left as the default
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = PRETRAIN.build(dict(
            type='ImageClassifier', backbone=backbone, neck=dict(type='GlobalAveragePooling'),
            head=dict(type='LinearClsHead', num_classes=num_classes, in_channels=in_channels,
                      loss=dict(type='CrossEntropyLoss', loss_weight=1.0)),
            data_preprocessor=dict(type='ClsDataPreprocessor', num_classes=num_classes)))
    model.init_weights()
    return model


def stage2_mode(model, part='slim'):
    """The model as Stage II runs it: training mode with frozen norms, only the gate ``part`` trainable."""
    model.train()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.eval()
    params = model.backbone.gate_parameters(part)
    for p in model.parameters():
        p.requires_grad_(False)
    for p in params:
        p.requires_grad_(True)
    return params


def batch(n=6, num_classes=5, seed=0):
    from mmpretrain.structures import DataSample
    g = torch.Generator().manual_seed(seed)
    x = (varied_inputs(n, 32, seed) * 40 + 128).clamp(0, 255).to(torch.uint8)
    labels = torch.randint(num_classes, (n, ), generator=g)
    return dict(inputs=list(x), data_samples=[DataSample().set_gt_label(int(l)) for l in labels]), labels


def test_ieb_losses_come_from_the_right_teachers_and_the_optimizer_steps_once():
    torch.manual_seed(0)
    model = classifier()
    model.train()
    teacher = copy.deepcopy(model).eval()
    with torch.no_grad():  # a teacher that differs from the student
        for p in teacher.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    data, labels = batch()
    bb, tb = model.backbone, teacher.backbone
    routes = [bb.max_route, (1, ), (2, ), bb.min_route]
    # expected losses and gradient, computed by hand on copies
    ref = copy.deepcopy(model)
    inputs = ref.data_preprocessor(data, True)['inputs']
    with torch.no_grad():
        t = {}
        for r in routes[:3]:
            tb.set_route(r)
            t[r] = F.softmax(teacher(inputs, mode='tensor'), 1)
    expected = {}
    total = 0
    for k, r in enumerate(routes):
        ref.backbone.set_route(r)
        logits = ref(inputs, mode='tensor')
        if k == 0:
            loss = F.cross_entropy(logits, labels)
        elif k == 3:  # the slimmest: the mean of the EMA softmaxes of the widest and the random routes
            loss = -(((t[routes[0]] + t[(1, )] + t[(2, )]) / 3) * F.log_softmax(logits, 1)).sum(1).mean()
        else:  # random routes: the EMA widest
            loss = -(t[routes[0]] * F.log_softmax(logits, 1)).sum(1).mean()
        expected[k] = float(loss)
        total = total + loss
    total.backward()
    lr = 0.1
    steps = []
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    wrapper = OptimWrapper(optimizer)
    orig = optimizer.step
    optimizer.step = lambda *a, **k: (steps.append(1), orig(*a, **k))[1]
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    out = ieb_step(model, teacher, bb, tb, routes, data, wrapper, ensemble=True)
    assert len(steps) == 1
    assert float(out['loss_widest']) == pytest.approx(expected[0], rel=1e-5)
    assert float(out['loss_random1']) == pytest.approx(expected[1], rel=1e-5)
    assert float(out['loss_random2']) == pytest.approx(expected[2], rel=1e-5)
    assert float(out['loss_slimmest']) == pytest.approx(expected[3], rel=1e-5)
    # one SGD step on the gradient accumulated over the four routes
    for n, p in model.named_parameters():
        g = dict(ref.named_parameters())[n].grad
        want = before[n] - lr * (g if g is not None else 0)
        torch.testing.assert_close(p.detach(), want, rtol=1e-4, atol=1e-6)
    # without the ensemble the slimmest learns from the EMA widest only
    out2 = ieb_step(copy.deepcopy(model), teacher, model.backbone, tb, routes, data,
                    OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.0)), ensemble=False)
    model.backbone.set_route(bb.min_route)
    with torch.no_grad():
        logits = model(model.data_preprocessor(data, True)['inputs'], mode='tensor')
    assert float(out2['loss_slimmest']) == pytest.approx(float(soft_cross_entropy(logits, t[routes[0]])), rel=1e-5)


def test_ema_follows_parameters_and_buffers():
    a, b = classifier(), classifier()
    ta = {k: v.clone() for k, v in a.state_dict().items()}
    ema_update(a, b, 0.9)
    for k, v in a.state_dict().items():
        if v.dtype.is_floating_point:
            torch.testing.assert_close(v, 0.9 * ta[k] + 0.1 * b.state_dict()[k])
        else:
            assert torch.equal(v, b.state_dict()[k])
    assert any('route_stats' in k for k in ta)  # the per-route statistics are buffers, followed too


def test_sgs_targets_are_the_hand_computed_ones():
    slim_ok = torch.tensor([1, 0, 1, 0, 0])
    wide_ok = torch.tensor([1, 1, 1, 0, 1])
    assert sgs_targets(slim_ok, 0, 3).tolist() == [0, 3, 0, 3, 3]  # try best: easy -> slimmest, else widest
    assert sgs_targets(slim_ok, 0, 3, wide_ok, 'give_up').tolist() == [0, 3, 0, 0, 3]  # hard -> slimmest
    assert sgs_targets(slim_ok, 1, 2).tolist() == [1, 2, 1, 2, 2]  # a restricted routing space
    with pytest.raises(ValueError, match='give_up'):
        sgs_targets(slim_ok, 0, 3, None, 'give_up')


def test_gate_step_trains_only_the_slimming_heads_on_eq12():
    torch.manual_seed(0)
    model = classifier()
    bb = model.backbone
    params = stage2_mode(model)
    frozen = {n: p.detach().clone() for n, p in model.named_parameters()}
    costs = route_madds(bb, (32, 32), 5)
    data, labels = batch()
    opt = torch.optim.SGD(params, lr=0.5)
    out = gate_step(model, bb, data, opt, costs, float(costs[-1]), (1.0, 0.5, 1.0), 'try_best', 1.0,
                    torch.Generator().manual_seed(0))
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, frozen[n])}
    assert changed and all('.slim.' in n for n in changed)
    # the reported complexity term is (batch mean MAdds / T)^2 of the routes taken
    taken = costs[[bb.route_index(tuple(r)) for r in bb.last_choices.tolist()]].mean()
    assert float(out['loss_cplx']) == pytest.approx(float((taken / costs[-1]) ** 2), rel=1e-5)
    assert float(out['loss']) == pytest.approx(
        float(out['loss_cls'] + 0.5 * out['loss_cplx'] + out['loss_sgs']), rel=1e-5)


def test_sgs_alone_drives_the_gate_to_its_targets():
    """With only the SGS term, a few steps make the gate choose the slimmest for (most of) the images
    the slimmest route gets right and the widest for the others."""
    torch.manual_seed(0)
    model = classifier()
    bb = model.backbone
    gate = bb.heads['s3_l0']
    with torch.no_grad():  # a gate input with many active units (a separable encoding of 8 images)
        gate.reduce.weight.copy_(torch.randn(gate.reduce.weight.shape) * 500 / gate.channels ** 0.5)  # h ~ 1
        gate.reduce.bias.zero_()
    params = stage2_mode(model)
    data, labels = batch(n=8)
    costs = route_madds(bb, (32, 32), 5)
    opt = torch.optim.Adam(params, lr=0.2)
    first = None
    for _ in range(40):
        out = gate_step(model, bb, data, opt, costs, float(costs[-1]), (0.0, 0.0, 1.0), 'try_best', 1.0,
                        torch.Generator().manual_seed(0))
        first = float(out['loss_sgs']) if first is None else first
    model.eval()
    inputs = model.data_preprocessor(data, False)['inputs']
    with torch.no_grad():
        bb.set_route('min')
        slim_ok = model(inputs, mode='tensor').argmax(1) == labels
        bb.set_dynamic()
        model(inputs, mode='tensor')
    assert 0 < int(slim_ok.sum()) < len(labels), 'the test needs easy and hard images'
    agree = (bb.last_choices[:, 0] == sgs_targets(slim_ok, 0, 3)).float().mean()
    assert agree >= 0.75  # W2 alone on a random encoding need not separate every image
    assert float(out['loss_sgs']) < 0.5 * first


def test_recalibration_gives_each_route_its_own_statistics():
    model = classifier()
    bb = model.backbone
    data = [batch(n=8, seed=s)[0] for s in range(3)]
    recalibrate_routes(model, bb, data)
    inputs = [model.data_preprocessor(d, False)['inputs'] for d in data]
    # the statistics of the first switched BN of route k are the mean over the 3 batches of its
    # input's batch means, the network in training mode (as recalibration runs it)
    name, _ = bb._switched[0]
    for k, route in enumerate(bb.routes):
        probe = copy.deepcopy(model).train()
        conv = probe.backbone.net.get_submodule(name.rsplit('.', 1)[0]).conv
        captured = []
        orig = F.conv2d

        def spy(x, w, *a, **kw):
            y = orig(x, w, *a, **kw)
            if w.data_ptr() == conv.weight.data_ptr():
                captured.append(y)
            return y
        probe.backbone.set_route(route)
        F.conv2d = spy
        try:
            with torch.no_grad():
                for x in inputs:
                    probe(x, mode='tensor')
        finally:
            F.conv2d = orig
        want = torch.stack([c.mean((0, 2, 3)) for c in captured]).mean(0)
        c = want.numel()
        torch.testing.assert_close(bb.route_stats.mean0[k][:c], want, rtol=1e-4, atol=1e-5)
    assert not torch.equal(bb.route_stats.mean0[0], bb.route_stats.mean0[3])


def test_gn_networks_need_no_recalibration():
    model = classifier(dict(type='mmadapt.DSBackbone',
                            net=dict(type='mmadapt.ElasticResNet', spec=RESNET, out_indices=(1, ),
                                     norm_cfg=dict(type='GN', num_groups=4)),
                            gates=[dict(stages=[0], ratios=[0.25, 0.5, 1.0]), dict(stages=[1], ratios=[0.5, 1.0])]),
                       num_classes=5, in_channels=128)
    assert not model.backbone.has_route_stats
    before = copy.deepcopy(model.state_dict())
    recalibrate_routes(model, model.backbone, [batch()[0]])
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
