"""DS-Net's dynamic slimmable backbone: contiguous slicing equals standalone narrow networks, the
attention head starts as the identity, grouped sliced inference equals each image alone at its route,
the masked (training) run equals the sliced one, deterministic routing, per-route BN statistics,
the public DS-MBNet's per-width MAdds, and clear errors."""
import copy

import pytest
import torch
import torch.nn as nn

import mmadapt  # noqa: F401
from mmadapt.methods.dsnet import spread_routes
from mmadapt.registry import MODELS

MBV1 = dict(name='t_mbv1', family='mbv1', act='relu', stem=dict(out_channels=8, kernel=3, stride=2),
            stages=[dict(out_channels=16, stride=1, blocks=['k3']), dict(out_channels=16, stride=2, blocks=['k3']),
                    dict(out_channels=24, stride=2, blocks=['k3', 'k3']),
                    dict(out_channels=64, stride=2, blocks=['k3', 'k3', 'k3']),
                    dict(out_channels=96, stride=2, blocks=['k3'])])
RESNET = dict(name='t_res', family='resnet', block='bottleneck', act='relu',
              stem=dict(out_channels=16, kernel=3, stride=1),
              stages=[dict(out_channels=64, stride=1, blocks=['k3g1_h16', 'k3g1_h16']),
                      dict(out_channels=128, stride=2, blocks=['k3g1_h32', 'k3g1_h32'])])
MBV2 = dict(name='t_mbv2', family='mbv2', act='relu6', stem=dict(out_channels=16, kernel=3, stride=2),
            stages=[dict(out_channels=8, stride=1, blocks=['k3e1']),
                    dict(out_channels=16, stride=2, blocks=['k3e6', 'k3e6']),
                    dict(out_channels=24, stride=2, blocks=['k3e6', 'k3e6']),
                    dict(out_channels=32, stride=2, blocks=['k3e6', 'k3e6']),
                    dict(out_channels=48, stride=1, blocks=['k3e6', 'k3e6']),
                    dict(out_channels=64, stride=2, blocks=['k3e6', 'k3e6']),
                    dict(out_channels=80, stride=1, blocks=['k3e6'])],
            head=dict(out_channels=128))


def mbv1_ds(**kw):
    cfg = dict(type='mmadapt.DSBackbone', net=dict(type='mmadapt.ElasticMobileNetV1', spec=MBV1, out_indices=(4, )),
               gates=[dict(stages=[3, 4], widths=[[16, 32, 48, 64], [32, 64, 80, 96]])])
    cfg.update(kw)
    return MODELS.build(cfg)


def resnet_ds(**kw):
    cfg = dict(type='mmadapt.DSBackbone',
               net=dict(type='mmadapt.ElasticResNet', spec=RESNET, out_indices=(0, 1),
                        norm_cfg=dict(type='GN', num_groups=4)),
               gates=[dict(stages=[0], ratios=[0.25, 0.5, 1.0]), dict(stages=[1], ratios=[0.5, 1.0])])
    cfg.update(kw)
    return MODELS.build(cfg)


def mbv2_ds(**kw):
    cfg = dict(type='mmadapt.DSBackbone', net=dict(type='mmadapt.ElasticMobileNetV2', spec=MBV2, out_indices=(7, )),
               gates=[dict(stages=[4, 5, 6], ratios=[0.5, 0.75, 1.0])])
    cfg.update(kw)
    return MODELS.build(cfg)


def randomise(model, seed=0, gate_std=20.0):
    """Random BN statistics (per route too), attention weights and sharp gates, so that routes differ."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.rand(m.running_mean.shape, generator=g) - 0.5)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
        for name, b in model.route_stats.named_buffers():
            b.copy_(torch.rand(b.shape, generator=g) + (0.5 if name.startswith('var') else -0.5))
        for h in model.heads.values():
            h.reduce.weight.copy_(torch.randn(h.reduce.weight.shape, generator=g) * 2 / h.channels ** 0.5)
            h.reduce.bias.zero_()
            if h.expand is not None:
                h.expand.weight.copy_(torch.randn(h.expand.weight.shape, generator=g) * 0.3)
            if h.slim is not None:
                h.slim.weight.copy_(torch.randn(h.slim.weight.shape, generator=g) * gate_std)
    return model


def varied_inputs(n, size=32, seed=1):
    """Images whose channel means differ a lot, so that pooled gate inputs (and routes) differ."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, size, size, generator=g)
    return x * (torch.rand(n, 1, 1, 1, generator=g) * 3) + torch.randn(n, 3, 1, 1, generator=g) * 2


BUILDERS = {'mbv1_bn': mbv1_ds, 'resnet_gn_two_gates': resnet_ds, 'mbv2_bn': mbv2_ds}


def grouped_run_of_mixed_routes(build, n=12):
    """(model, x, grouped outputs, choices): a randomised DS-Net whose gates send a batch of ``n``
    varied 32x32 images along several routes, run in grouped evaluation mode (left in that mode)."""
    torch.manual_seed(0)
    x = varied_inputs(n, 32)
    model = randomise(build()).eval()
    spread_routes(model, x)
    model.eval()
    model.set_dynamic()
    with torch.no_grad():
        grouped = model(x)
    choices = model.last_choices.clone()
    assert len({tuple(c) for c in choices.tolist()}) >= 2, 'the test needs several routes in the batch'
    return model, x, grouped, choices


@pytest.mark.parametrize('name', list(BUILDERS))
def test_grouped_sliced_batch_equals_each_image_alone_and_the_masked_run(name):
    model, x, grouped, choices = grouped_run_of_mixed_routes(BUILDERS[name])
    with torch.no_grad():
        for n in range(x.shape[0]):
            model.set_route(tuple(choices[n].tolist()))
            alone = model(x[n:n + 1])
            for a, b in zip(alone, grouped):
                assert a.shape[1] == b.shape[1]  # padded to the max widths
                torch.testing.assert_close(a[0], b[n], rtol=1e-5, atol=1e-5)
        # masked (the training door) computes the same, with the same deterministic choices in eval
        model.set_dynamic(masked=True)
        masked = model(x)
        assert torch.equal(model.last_choices, choices)
        for a, b in zip(masked, grouped):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
        # batch 1 through the dynamic door is the sliced path of its route
        model.set_dynamic()
        one = model(x[:1])
        model.set_route(tuple(choices[0].tolist()))
        for a, b in zip(one, model(x[:1])):
            assert torch.equal(a, b)


def test_routing_at_evaluation_is_deterministic_and_training_adds_gumbel_noise():
    model = randomise(mbv1_ds(), gate_std=0.5).eval()
    x = varied_inputs(64, 32)
    model.set_dynamic()
    with torch.no_grad():
        model(x)
        first = model.last_choices.clone()
        model(x)
        assert torch.equal(first, model.last_choices)
        logits = model.heads['s3_l0'].logits(model.heads['s3_l0'].encode(
            model.net.stages[3][0].depthwise_conv(model.net.stages[2](model.net.stages[1](
                model.net.stages[0](model.net.stem(x)))))))
        assert torch.equal(first[:, 0], logits.argmax(1))
    model.train()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eval()
    model.set_dynamic(masked=True, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        model(x)
    assert not torch.equal(model.last_choices, first)  # Gumbel noise in training


@pytest.mark.parametrize('name', list(BUILDERS))
def test_every_route_exports_as_a_static_network_that_computes_the_same(name):
    model = randomise(BUILDERS[name]()).eval()
    x = varied_inputs(3, 32)
    for route in [model.min_route, model.routes[len(model.routes) // 2], model.max_route]:
        cfg, state = model.export_route(route)
        static = MODELS.build(cfg)
        static.load_state_dict(state, strict=True)
        static.eval()
        model.set_route(route)
        with torch.no_grad():
            for a, b in zip(model(x), static(x)):
                assert b.shape[1] <= a.shape[1]
                assert torch.equal(a[:, :b.shape[1]], b)
                assert not a[:, b.shape[1]:].any()  # zero padding beyond the route's width
        # the static network holds exactly the route's widths (no gates, nothing wider)
        spec = model.route_spec(route)
        assert static.net.spec.to_dict()['stages'] == spec.to_dict()['stages']
        assert all(h.slim is None for h in static.heads.values())


def test_a_sliced_stage_equals_a_standalone_narrow_network_built_from_the_leading_weights():
    """Eq. 2 without attention: the route runs exactly the derived network of copies of W[:n, :m]."""
    model = randomise(mbv1_ds(attention='none')).eval()
    route = (1, )
    cfg, state = model.export_route(route)
    assert cfg['type'] == 'mmadapt.DerivedMobileNetV1'
    derived = MODELS.build(cfg)
    derived.load_state_dict(state, strict=True)
    derived.eval()
    # the exported weights are the leading slices of the shared ones
    w = model.net.stages[3][0].pointwise_conv.conv.weight
    assert torch.equal(state['stages.3.0.pointwise_conv.conv.weight'], w[:32, :24])
    assert state['stages.3.0.pointwise_conv.conv.weight'].data_ptr() != w.data_ptr()
    x = varied_inputs(4, 32)
    model.set_route(route)
    with torch.no_grad():
        torch.testing.assert_close(model(x)[0][:, :64], derived(x)[0], rtol=0, atol=0)


def test_the_attention_head_starts_as_the_identity():
    plain = mbv1_ds(attention='none')
    attn = mbv1_ds(attention='all')
    attn.load_state_dict(plain.state_dict(), strict=False)
    assert all(h.expand is not None and not h.expand.weight.any() for h in attn.heads.values())
    plain.eval()
    attn.eval()
    x = varied_inputs(4, 32)
    for route in plain.routes:
        plain.set_route(route)
        attn.set_route(route)
        with torch.no_grad():
            assert torch.equal(plain(x)[0], attn(x)[0])
    # the gate shares W1 with the attention head of its block (Eq. 9)
    gate = attn.heads['s3_l0']
    assert gate.slim is not None and gate.expand is not None
    assert gate.slim.weight.shape == (4, gate.hidden, 1, 1)


def test_per_route_bn_statistics_are_kept_apart_in_training():
    model = mbv1_ds().train()
    x = varied_inputs(8, 32)
    for route in [(0, ), (3, )]:
        model.set_route(route)
        model(x)
    bank = model.route_stats.mean0
    assert bank[0].abs().sum() > 0 and bank[3].abs().sum() > 0
    assert not torch.equal(bank[0], bank[3])
    assert not bank[1].any() and not bank[2].any()  # untouched routes keep their initial statistics
    # the layers before the gate point share one set of statistics (not switched)
    switched = {n for n, _ in model._switched}
    assert 'stages.3.0.depthwise_conv.bn' not in switched and 'stages.2.1.pointwise_conv.bn' not in switched
    assert 'stages.3.0.pointwise_conv.bn' in switched and 'stages.4.0.depthwise_conv.bn' in switched


def test_the_public_ds_mbnet_routing_space_has_the_public_per_width_madds():
    from mmadapt.methods.dsnet import gate_madds, route_madds
    spec = dict(name='ds_mbnet_public', family='mbv1', act='swish', stem=dict(out_channels=16, kernel=3, stride=2),
                stages=[dict(out_channels=32, stride=1, blocks=['k3']),
                        dict(out_channels=48, stride=2, blocks=['k3', 'k3']),
                        dict(out_channels=96, stride=2, blocks=['k3', 'k3']),
                        dict(out_channels=640, stride=2, blocks=['k3'] * 6),
                        dict(out_channels=1152, stride=2, blocks=['k3', 'k3'])])
    model = MODELS.build(dict(
        type='mmadapt.DSBackbone', net=dict(type='mmadapt.ElasticMobileNetV1', spec=spec, out_indices=(4, )),
        gates=[dict(stages=[3, 4], widths=[list(range(224, 641, 32)), list(range(736, 1153, 32))])],
        attention_hidden=[6, 22, 42, 42, 66, 66, 160, 160, 160, 160, 160, 160, 288], attention_act='sigmoid'))
    public = [132890144, 152917184, 175151968, 199594496, 226244768, 255102784, 286168544, 319442048, 354923296,
              392612288, 432509024, 474613504, 518925728, 565445696]
    assert route_madds(model, (224, 224), 1000, count_pool=True).long().tolist() == public
    # without the poolings (mmadapt's convention) every route is cheaper by exactly its pooled elements
    plain = route_madds(model, (224, 224), 1000).long()
    assert (torch.tensor(public) - plain > 0).all()
    assert gate_madds(model) == 66 * 14
    # the configs ship this space
    from mmengine.config import Config
    import os.path as osp
    cfg = Config.fromfile(osp.join(osp.dirname(__file__), '..', '..', 'configs', 'dsnet', 'dsmbnet_public_in1k.py'))
    built = MODELS.build(cfg.model.backbone)
    assert route_madds(built, (224, 224), 1000, count_pool=True).long().tolist() == public


def test_hand_counted_route_madds():
    """The tiny MBV1 at 32x32 with attention='none', route (0,): counted by hand."""
    from mmadapt.methods.dsnet import route_madds
    model = mbv1_ds(attention='none')
    # stem 3->8 k3 s2: 16x16; block0 dw 8 k3 16x16, pw 8->16; block1 dw 16 s2 (8x8), pw 16->16;
    # stage2: dw 16 s2 (4x4) pw 16->24, dw 24 pw 24->24; stage3 (route 0: 16): dw 24 s2 (2x2) pw 24->16,
    # dw 16 pw 16->16 (x2); stage4 (route 0: 32): dw 16 s2 (1x1) pw 16->32; FC 32->10
    hand = (3 * 8 * 9 * 256 + 8 * 9 * 256 + 8 * 16 * 256 + 16 * 9 * 64 + 16 * 16 * 64 + 16 * 9 * 16 + 16 * 24 * 16
            + 24 * 9 * 16 + 24 * 24 * 16 + 24 * 9 * 4 + 24 * 16 * 4 + 2 * (16 * 9 * 4 + 16 * 16 * 4)
            + 16 * 9 * 1 + 16 * 32 * 1 + 32 * 10)
    assert int(route_madds(model, (32, 32), 10)[0]) == hand
    attn = mbv1_ds()
    # each attention head adds 2 * c * d on its pooled vector: c the route's channels there, d fixed by
    # the max channels C (make_divisible(C / 4, 8): 8 up to C = 24, 16 where C = 64)
    extra = 2 * 8 * 8 + 2 * 16 * 8 + 2 * 16 * 8 + 2 * 24 * 8 + 2 * 24 * 8 + 2 * 16 * 16 * 2 + 2 * 16 * 16
    assert int(route_madds(attn, (32, 32), 10)[0]) == hand + extra


@pytest.mark.parametrize('gates, match', [
    ([dict(stages=[3, 4])], "exactly one of 'widths' and 'ratios'"),
    ([dict(stages=[3, 4], widths=[[16, 64], [32, 96]]), dict(stages=[4], ratios=[0.5, 1])], 'belong to another gate'),
    ([dict(stages=[3], widths=[[16, 48]])], 'must increase to its max width 64'),
    ([dict(stages=[3, 5], ratios=[0.5, 1])], 'contiguous'),
    ([dict(stages=[3], ratios=[0.5, 0.8])], 'end at 1'),
    ([dict(stages=[3]), ], "exactly one of"),
])
def test_malformed_gates_are_refused_with_the_reason(gates, match):
    with pytest.raises(ValueError, match=match):
        mbv1_ds(gates=gates)


def test_other_bad_input_is_refused():
    with pytest.raises(ValueError, match='one gate only'):
        MODELS.build(dict(type='mmadapt.DSBackbone', net=dict(type='mmadapt.ElasticResNet', spec=RESNET, out_indices=(1, )),
                          gates=[dict(stages=[0], ratios=[0.5, 1.0]), dict(stages=[1], ratios=[0.5, 1.0])]))
    with pytest.raises(TypeError, match='elastic backbone'):
        MODELS.build(dict(type='mmadapt.DSBackbone', net=dict(type='mmadapt.DerivedMobileNetV1', spec=MBV1),
                          gates=[dict(stages=[3], ratios=[0.5, 1.0])]))
    model = mbv1_ds()
    with pytest.raises(ValueError, match='not in the routing space'):
        model.set_route((7, ))
    with pytest.raises(ValueError, match="'max' or 'min'"):
        model.set_route('widest')


def test_a_deep_copy_runs_on_its_own_weights():
    """The EMA teacher of IEB is a deep copy: its modulation must use its own gates."""
    model = randomise(mbv1_ds()).eval()
    x = varied_inputs(2, 32)
    with torch.no_grad():
        before = model(x)[0].clone()
        twin = copy.deepcopy(model)
        for h in twin.heads.values():
            h.expand.bias.fill_(-1e4)  # 1 + tanh(-inf) = 0: the twin's attention zeroes its points
        assert torch.equal(model(x)[0], before)
        assert not torch.allclose(twin(x)[0], before)
