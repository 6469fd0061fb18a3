"""The latency cost: unit enumeration against built backbones, the table file, calibration, statistics.

No assertion depends on a timing: measurements run with few repeats only to check that they are
made and stored; every number checked exactly is injected.
"""
import importlib.util
import json
import math
import os
import os.path as osp

import pytest
import torch
from mmcv.cnn import ConvModule

from mmadapt.arch import builtin_specs, dump_spec, load_spec
from mmadapt.cost import spec_cost
from mmadapt.cost.latency import (SE_OPS, UNIT_ACT_CFGS, LatencyTable, TableMismatchError, Unit, build_unit,
                                  calibrate, cost, current_allocator, fit_factor, measure_network, measure_unit,
                                  median_abs_rel_error, predict, ranks, spearman, spec_units)
from mmadapt.models import SuperMobileNetV2, build_spec_backbone
from mmadapt.models.backbones import ACTIVATIONS, MBConv, ResBlock, match_width
from mmadapt.models.backbones.ops import SqueezeExcitation

ACT = {'ReLU': 'relu', 'ReLU6': 'relu6', 'Hardswish': 'hswish', 'HSwish': 'hswish', 'SiLU': 'swish'}
GATE = {'Hardsigmoid': 'hsigmoid', 'Sigmoid': 'sigmoid'}
ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _load_tool(name):
    path = osp.join(ROOT, 'tools', 'analysis', f'{name}.py')
    module_spec = importlib.util.spec_from_file_location(f'_tool_{name}', path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def derived_backbone(spec, out_indices=None):
    """The derived backbone of a spec in eval mode (the cost layer builds none itself)."""
    return build_spec_backbone(spec, out_indices).eval()


def _custom_mbv2():
    """MobileNetV2 with a bypassed body, skip, widening (zero-pad) and narrowing (cut) shortcuts."""
    d = load_spec('mobilenet_v2').to_dict()
    d['name'] = 'mbv2_custom'
    d['stages'][1]['blocks'] = ['k3e6', 'k5e3_c32']  # 24 -> 32: zero-padded shortcut
    d['stages'][2]['blocks'] = ['k3e6', 'skip', 'k3e6_h0']
    d['stages'][3].update(stride=1, dilation=2)
    d['stages'][4]['blocks'] = ['k3e6', 'k7e6_c80', 'k3e6_h200']  # 96 -> 80 cut, then 80 -> 96 pad
    return d


def _custom_resnet():
    d = load_spec('resnet18').to_dict()
    d['name'] = 'resnet_custom'
    d['stages'][1]['blocks'] = ['k3g1', 'k5g2_c96']  # 128 -> 96: cut shortcut
    d['stages'][2]['blocks'] = ['k3g1', 'k3g1_h0']  # bypassed body
    d['stages'][3]['dilation'] = 2
    return d


def _custom_padded_resnet(shortcut):
    """Zero-padded shortcuts: conv paths narrower and wider than the running width, a pooled identity
    wider than its conv path, a bypassed body; basic blocks under 'pad', bottlenecks under 'pad_proj'."""
    if shortcut == 'pad':
        d = load_spec('resnet20_cifar').to_dict()
        d['stages'][0]['blocks'] = ['k3g1_c24', 'k3g1_h8_c12', 'k3g1_h0']  # 24 wide, 12 padded, bypassed
        d['stages'][1]['blocks'] = ['k5g1_c20', 'k3g1_h16']  # stride 2: pooled 24 > conv 20
        d['stages'][2]['blocks'] = ['k3g1_c48', 'k3g1_h40_c80']
    else:
        d = load_spec('resnet50').to_dict()
        d['shortcut'] = 'pad_proj'
        d['stem']['out_channels'] = 16
        d['stages'] = [dict(out_channels=32, stride=1, blocks=['k3g1', 'k3g1_h8_c24']),
                       dict(out_channels=48, stride=2, blocks=['k3g1_c40', 'k3g1_h12_c64', 'k3g1_h0']),
                       dict(out_channels=64, stride=2, blocks=['k3g1'])]
    d['name'] = f'resnet_{shortcut}_custom'
    return d


def _tiny_mbv2(candidates=False):
    """A small MobileNetV2-like spec (optionally with searchable layers) for fast measurements."""
    s = 'k3e3|k5e6|skip' if candidates else 'k3e3'
    first = 'k3e3|k5e6' if candidates else 'k3e3'
    return dict(name='tiny_super' if candidates else 'tiny', family='mbv2', act='relu6',
                stem=dict(out_channels=8, kernel=3, stride=2),
                stages=[dict(out_channels=8, stride=1, blocks=['k3e1']),
                        dict(out_channels=12, stride=2, blocks=[first, s]),
                        dict(out_channels=16, stride=2, blocks=[first]),
                        dict(out_channels=16, stride=1, blocks=[first]),
                        dict(out_channels=24, stride=1, blocks=[first]),
                        dict(out_channels=24, stride=2, blocks=[first, s]),
                        dict(out_channels=32, stride=1, blocks=[first])],
                head=dict(out_channels=64))


def _record_model(model, hw, batch=2):
    """Forward-order records of every ConvModule and MaxPool, and the SE / add / pad of every block."""
    convs, pools, rest, handles = [], [], [], []

    def conv_hook(m, inp, out):
        c = m.conv
        act = ACT[type(m.activate).__name__] if m.with_activation else 'none'
        convs.append(Unit('conv', c.in_channels, c.out_channels, c.kernel_size[0], c.stride[0], c.dilation[0],
                          c.groups, inp[0].shape[2], inp[0].shape[3], act, inp[0].shape[0]))
        assert c.padding[0] == c.dilation[0] * (c.kernel_size[0] - 1) // 2  # as Unit.padding assumes

    def pool_hook(m, inp, out):
        x = inp[0]
        pools.append(Unit('maxpool', x.shape[1], out.shape[1], 3, 2, 1, 1, x.shape[2], x.shape[3], 'none', x.shape[0]))

    def block_hook(m, inp, out):
        x = inp[0]
        identity = (m.shortcut if isinstance(m, MBConv) else m.downsample is None)
        if isinstance(m, ResBlock) and m.pool is not None:  # the pooled identity of a 'pad' spec
            rest.append(Unit('avgpool', x.shape[1], x.shape[1], 2, 2, in_h=x.shape[2], in_w=x.shape[3],
                             batch=x.shape[0]))
        body = m.linear_conv is not None if isinstance(m, MBConv) else m.conv1 is not None
        if body and isinstance(m, MBConv) and m.conv_out != out.shape[1]:  # zero-padded projection / bypass
            rest.append(Unit('pad', m.conv_out, out.shape[1], in_h=out.shape[2], in_w=out.shape[3],
                             batch=x.shape[0]))
        if identity and x.shape[1] != out.shape[1]:
            rest.append(Unit('pad', x.shape[1], out.shape[1], in_h=out.shape[2], in_w=out.shape[3], batch=x.shape[0]))
        if body and isinstance(m, ResBlock) and m.conv_out != out.shape[1]:  # zero-padded conv path
            rest.append(Unit('pad', m.conv_out, out.shape[1], in_h=out.shape[2], in_w=out.shape[3],
                             batch=x.shape[0]))
        if body and (isinstance(m, ResBlock) or m.shortcut):
            rest.append(Unit('add', out.shape[1], out.shape[1], in_h=out.shape[2], in_w=out.shape[3],
                             act='relu' if isinstance(m, ResBlock) else 'none', batch=out.shape[0]))

    def se_hook(m, inp, out):
        x = inp[0]
        rest.append(Unit(f'se_{GATE[type(m.gate).__name__]}', m.channels, m.squeeze_channels, in_h=x.shape[2],
                         in_w=x.shape[3], act=ACT[type(m.act).__name__], batch=x.shape[0]))

    def depthwise_hook(m, inp, out):  # '_d': the bypassed hidden channels join the depthwise conv's output
        block = owner[m]
        rest.append(Unit('pad', block.depthwise, block.hidden, in_h=out.shape[2], in_w=out.shape[3],
                         batch=out.shape[0]))

    owner = {m.depthwise_conv: m for m in model.modules()
             if isinstance(m, MBConv) and m.depthwise_conv is not None and m.depthwise != m.hidden}
    for m in owner:
        handles.append(m.register_forward_hook(depthwise_hook))
    for m in model.modules():
        if isinstance(m, SqueezeExcitation):
            handles.append(m.register_forward_hook(se_hook))
        elif isinstance(m, ConvModule):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, torch.nn.MaxPool2d):
            handles.append(m.register_forward_hook(pool_hook))
        elif isinstance(m, (MBConv, ResBlock)):
            handles.append(m.register_forward_hook(block_hook))
    with torch.no_grad():
        model(torch.zeros(batch, 3, *hw))
    for h in handles:
        h.remove()
    return convs, pools, rest


DERIVED = [n for n in builtin_specs() if load_spec(n).is_derived]


CASES = [('mobilenet_v2', (33, 47)), (_custom_mbv2(), (40, 40)), (_custom_resnet(), (45, 37)),
         (_custom_padded_resnet('pad'), (33, 29)), (_custom_padded_resnet('pad_proj'), (45, 37))]
CASES += [(n, (32, 32)) for n in DERIVED if n != 'mobilenet_v2']


@pytest.mark.parametrize('spec,hw', CASES)
def test_units_match_the_built_backbone(spec, hw):
    model = derived_backbone(spec)
    convs, pools, rest = _record_model(model, hw)
    units = spec_units(spec, hw, batch=2).units()
    assert [u for u in units if u.op == 'conv'] == convs  # same count, shapes, order, activations
    assert [u for u in units if u.op == 'maxpool'] == pools
    assert [u for u in units if u.op in ('avgpool', 'add', 'pad') + SE_OPS] == rest
    if load_spec(spec).name == 'mobilenet_v2':
        assert len(convs) == 52 and len(rest) == 10  # 1 stem + 17 blocks (34 + 16 convs) + head; 10 adds


def test_out_indices_leave_out_later_stages_and_head():
    model = derived_backbone('mobilenet_v2', out_indices=(2, 4))
    convs, _, _ = _record_model(model, (32, 32))
    units = spec_units('mobilenet_v2', (32, 32), batch=2, out_indices=(2, 4)).units()
    assert [u for u in units if u.op == 'conv'] == convs


def test_super_net_units_cover_every_candidate():
    spec = _tiny_mbv2(candidates=True)
    model = SuperMobileNetV2(spec=spec).eval()
    model.set_mode('mixture')  # runs every candidate of every searchable layer
    convs, _, _ = _record_model(model, (32, 32), batch=1)
    su = spec_units(spec, (32, 32))
    assert {u for u in su.all_units() if u.op == 'conv'} == set(convs)
    assert len(su.all_units()) == len(set(su.all_units()))
    with pytest.raises(ValueError, match='searchable'):
        su.units()
    assert [len(lu.candidates) for lu in su.layers] == [len(lu.info.candidates) for lu in su.layers]
    assert [lu.candidates[-1] for lu in su.layers if lu.tokens[-1] == 'skip'] == [[], []]


def test_unit_key_round_trip_and_bad_fields():
    u = Unit('conv', 32, 64, 3, 2, 1, 1, 56, 57, 'relu6', 4)
    assert u.key == 'conv_i32_o64_k3_s2_d1_g1_56x57_relu6_b4'
    assert Unit.from_key(u.key) == u
    assert u.out_hw == (28, 29)
    with pytest.raises(ValueError, match='Unit.act'):
        Unit('conv', 3, 8, act='gelu2')
    with pytest.raises(ValueError, match='Unit.groups'):
        Unit('conv', 6, 8, groups=4)
    with pytest.raises(ValueError, match='Unit.in_h'):
        Unit('add', 8, 8, in_h=0)
    with pytest.raises(ValueError, match='not a unit signature'):
        Unit.from_key('conv_32_64')


@pytest.mark.parametrize('unit,out_shape', [
    (Unit('conv', 8, 12, 3, 2, 1, 4, 9, 7, 'hswish', 2), (2, 12, 5, 4)),
    (Unit('conv', 8, 8, 5, 1, 2, 8, 9, 7, 'swish', 1), (1, 8, 9, 7)),
    (Unit('maxpool', 8, 8, 3, 2, in_h=9, in_w=7), (1, 8, 5, 4)),
    (Unit('avgpool', 8, 8, 2, 2, in_h=9, in_w=7), (1, 8, 5, 4)),  # ceil_mode: a stride-2 conv's size
    (Unit('pad', 8, 12, in_h=4, in_w=5), (1, 12, 4, 5)),
    (Unit('pad', 12, 8, in_h=4, in_w=5), (1, 8, 4, 5)),
    (Unit('add', 8, 8, in_h=4, in_w=5, act='relu'), (1, 8, 4, 5)),
    (Unit('se_hsigmoid', 16, 8, in_h=4, in_w=4, act='relu'), (1, 16, 4, 4)),
    (Unit('se_sigmoid', 16, 4, in_h=4, in_w=4, act='swish'), (1, 16, 4, 4)),
])
def test_unit_modules_have_the_signature_shapes(unit, out_shape):
    module, shapes = build_unit(unit)
    out = module(*[torch.randn(s) for s in shapes])
    assert tuple(out.shape) == out_shape
    if unit.op not in SE_OPS:  # an SE keeps its input's shape; c_out is its squeeze width
        assert (unit.c_out, ) + unit.out_hw == out_shape[1:]
    assert not module.training
    assert measure_unit(unit, threads=1, warmup=0, repeats=1) >= 0


def _injected_table(specs, hw, **kwargs):
    """A table whose entries are exact binary fractions: 0.5 ms per conv, 0.125 ms per other unit."""
    table = LatencyTable('cpu', threads=1, **kwargs)
    for spec in specs:
        for u in spec_units(spec, hw, table.batch).all_units():
            table.entries[u.key] = 0.5 if u.op == 'conv' else 0.125
    return table


def test_cache_round_trip_is_atomic(tmp_path):
    table = _injected_table(['resnet18', _tiny_mbv2(True)], (32, 32), batch=2, warmup=3, repeats=5)
    table.factor = 1.25
    table.calibration = dict(factor=1.25, method='median', input_hw=[32, 32], batch=2, networks=[])
    path = str(tmp_path / 'sub' / 'table.json')
    table.save(path)
    table.save(path)  # overwriting goes through a temporary file too
    assert os.listdir(tmp_path / 'sub') == ['table.json']  # no temporary file left behind
    loaded = LatencyTable.load(path)
    assert loaded.entries == table.entries and len(loaded) > 0
    assert (loaded.factor, loaded.batch, loaded.warmup, loaded.repeats, loaded.threads) == (1.25, 2, 3, 5, 1)
    assert loaded.environment == table.environment and loaded.allocator == 'default'
    table.allocator = 'keep'  # as measured by a process that called keep_heap_memory()
    table.save(path)
    assert LatencyTable.load(path, on_mismatch='drop').allocator == 'keep'
    assert loaded.predict('resnet18', (32, 32)) == table.predict('resnet18', (32, 32))
    d = json.load(open(path))
    assert d['format'] == 'mmadapt.latency_table/1'
    assert d['device'].startswith('cpu: ') and d['torch'] == torch.__version__


@pytest.mark.parametrize('field,value', [('device', 'cpu: Imaginary CPU 9000'), ('torch', '0.0.1'),
                                         ('threads', 7)])
def test_refuses_a_table_of_another_environment(tmp_path, field, value):
    path = str(tmp_path / 't.json')
    table = _injected_table(['resnet18'], (32, 32))
    table.save(path)
    d = json.load(open(path))
    d[field] = value
    json.dump(d, open(path, 'w'))
    threads = 1 if field == 'threads' else None
    with pytest.raises(TableMismatchError) as e:
        LatencyTable.load(path, threads=threads)
    msg = str(e.value)
    assert str(value) in msg and field in msg
    assert (table.device_name if field == 'device' else torch.__version__ if field == 'torch' else '1 threads') in msg
    with pytest.warns(UserWarning, match='dropped'):
        fresh = LatencyTable.load(path, threads=threads, on_mismatch='drop')
    assert len(fresh) == 0 and fresh.factor == 1.0 and fresh.environment == table.environment
    with pytest.raises(ValueError, match='on_mismatch'):
        LatencyTable.load(path, on_mismatch='ignore')


def test_threads_given_at_load_must_match(tmp_path):
    path = str(tmp_path / 't.json')
    _injected_table(['resnet18'], (32, 32)).save(path)
    assert LatencyTable.load(path, threads=1).threads == 1
    with pytest.raises(TableMismatchError, match='threads'):
        LatencyTable.load(path, threads=2)


def test_missing_entry_raises_or_is_measured_lazily():
    table = LatencyTable('cpu', threads=1, warmup=0, repeats=1)
    unit = Unit('conv', 8, 16, 3, 1, 1, 1, 8, 8, 'relu6', 1)
    with pytest.raises(KeyError, match='conv_i8_o16_k3_s1_d1_g1_8x8_relu6_b1'):
        table.lookup(unit)
    with pytest.raises(KeyError, match='no latency entry for op'):
        table.predict(_tiny_mbv2(), (16, 16))
    other = LatencyTable('cpu', threads=1, warmup=0, repeats=1, lazy=True, allocator='keep')
    with pytest.raises(ValueError, match="measured with allocator 'keep', this process runs with 'default'"):
        other.lookup(unit)  # never mix entries measured with two allocator settings
    before = torch.get_num_threads()
    table.lazy = True
    ms = table.lookup(unit)
    assert unit in table and ms == table.entries[unit.key] and ms >= 0
    assert table.predict(_tiny_mbv2(), (16, 16)) > 0  # every unit of the spec measured on demand
    assert len(table) == len(spec_units(_tiny_mbv2(), (16, 16)).all_units()) + 1
    assert torch.get_num_threads() == before  # thread count restored


def test_calibration_fits_the_factor_exactly():
    specs = ['mobilenet_v2', 'resnet18', _tiny_mbv2()]
    hw = (32, 32)
    table = _injected_table(specs, hw)
    raw = [table.raw_predict(s, hw) for s in specs]
    n_conv = sum(u.op == 'conv' for u in spec_units('mobilenet_v2', hw).units())
    assert raw[0] == 0.5 * n_conv + 0.125 * 10
    measured = [2 * raw[0], 3 * raw[1], 7 * raw[2]]
    assert calibrate(table, specs, hw, measured=measured) == 3.0  # median of the ratios 2, 3, 7
    assert table.factor == 3.0 and table.calibration['method'] == 'median'
    assert [n['measured_ms'] for n in table.calibration['networks']] == measured
    assert [n['predicted_raw_ms'] for n in table.calibration['networks']] == raw
    assert predict('resnet18', hw, table) == 3.0 * raw[1]
    assert calibrate(table, specs, hw, measured=measured, method='mean') == pytest.approx(4.0, abs=1e-12)
    assert fit_factor([1.0, 2.0], [1.5, 2.0], 'median') == 1.25
    with pytest.raises(ValueError, match='method'):
        fit_factor([1.0], [1.0], 'lsq')
    with pytest.raises(ValueError, match='measured has 1 values for 3 specs'):
        calibrate(table, specs, hw, measured=[1.0])


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the error without a GPU')
def test_cuda_table_without_a_gpu_is_a_clear_error():
    with pytest.raises(ValueError, match='no CUDA device is available'):
        LatencyTable('cuda')


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a GPU')
def test_cuda_measurements():
    table = LatencyTable('cuda', threads=1, warmup=1, repeats=2, lazy=True)
    assert table.device_name.startswith('cuda: ')
    assert table.predict(_tiny_mbv2(), (32, 32)) > 0
    assert measure_network(derived_backbone(_tiny_mbv2()), (32, 32), warmup=1, repeats=2, device='cuda') > 0


def test_measure_network_restores_mode_and_threads():
    model = derived_backbone(_tiny_mbv2()).train()
    before = torch.get_num_threads()
    ms = measure_network(model, (16, 16), batch=1, threads=1, warmup=1, repeats=2)
    assert ms > 0 and model.training and torch.get_num_threads() == before
    assert measure_network(derived_backbone(_tiny_mbv2()), (16, 16), warmup=0, repeats=1, in_channels=3) > 0
    with pytest.raises(TypeError, match='measures a built module, got dict'):
        measure_network(_tiny_mbv2(), (16, 16))


def test_calibration_measures_the_networks_it_is_given():
    specs = [_tiny_mbv2()]
    table = LatencyTable('cpu', threads=1, warmup=0, repeats=1, lazy=True)
    assert calibrate(table, specs, (16, 16), networks=[derived_backbone(s) for s in specs]) > 0
    assert table.calibration['networks'][0]['measured_ms'] > 0
    with pytest.raises(ValueError, match='calibrate needs the networks to measure'):
        calibrate(table, specs, (16, 16))
    with pytest.raises(ValueError, match='networks has 2 modules for 1 specs'):
        calibrate(table, specs, (16, 16), networks=[derived_backbone(specs[0])] * 2)


@pytest.mark.parametrize('gate,act', [('hsigmoid', 'relu'), ('sigmoid', 'swish')])
def test_unit_modules_compute_what_the_backbones_compute(gate, act):
    """The cost layer builds its units from torch and mmcv: the same functions as the backbones' ops."""
    assert UNIT_ACT_CFGS == ACTIVATIONS
    torch.manual_seed(0)
    x = torch.randn(2, 16, 5, 4)
    ours, _ = build_unit(Unit(f'se_{gate}', 16, 8, in_h=5, in_w=4, act=act, batch=2))
    theirs = SqueezeExcitation(16, 8, act_cfg=dict(ACTIVATIONS[act]), gate=gate).eval()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    with torch.no_grad():
        assert torch.equal(ours(x), theirs(x))
    for c_in, c_out in ((8, 12), (16, 8)):  # zero-pad, cut
        pad, _ = build_unit(Unit('pad', c_in, c_out, in_h=5, in_w=4, batch=2))
        assert torch.equal(pad(x[:, :c_in]), match_width(x[:, :c_in], c_out))


def test_statistics_against_hand_computed_values():
    assert ranks([10, 30, 20, 30]) == [1, 3.5, 2, 3.5]
    # ranks of y are 1, 2, 3.5, 5, 3.5: rho = 8 / sqrt(10 * 9.5)
    assert spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]) == pytest.approx(8 / math.sqrt(95), abs=1e-12)
    assert spearman([1, 2, 3], [30, 20, 10]) == pytest.approx(-1.0)
    assert spearman([1, 2, 3], [0.1, 5, 7]) == pytest.approx(1.0)
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3]))
    assert median_abs_rel_error([11, 9, 30], [10, 10, 20]) == pytest.approx(0.1)
    assert median_abs_rel_error([11, 9], [10, 10]) == pytest.approx(0.1)
    with pytest.raises(ValueError, match='predicted has 2 values, measured 3'):
        spearman([1, 2], [1, 2, 3])


def test_cost_kinds():
    hw = (64, 48)
    assert cost('resnet18', hw) == spec_cost('resnet18', hw).madds
    assert cost('mobilenet_v2', hw, kind='madds', out_indices=(2, 4)) == spec_cost('mobilenet_v2', hw, (2, 4)).madds
    table = _injected_table(['resnet18'], hw)
    table.factor = 1.5
    assert cost('resnet18', hw, kind='latency', table=table) == 1.5 * table.latency(
        spec_units('resnet18', hw).units())
    with pytest.raises(ValueError, match='table is required'):
        cost('resnet18', hw, kind='latency')
    with pytest.raises(ValueError, match="kind must be one of"):
        cost('resnet18', hw, kind='flops')


def test_cli_writes_and_extends_a_table(tmp_path, capsys):
    main = _load_tool('latency_table').main
    super_path = str(tmp_path / 'tiny_super.json')
    dump_spec(load_spec(_tiny_mbv2(True)), super_path)
    tiny_path = str(tmp_path / 'tiny.json')
    dump_spec(load_spec(_tiny_mbv2()), tiny_path)
    out = str(tmp_path / 'tables' / 'cpu.json')
    # --malloc default: keep_heap_memory() would change the allocator of the whole test process
    argv = ['--specs', super_path, '--shape', '32', '32', '--threads', '1', '--warmup', '1', '--repeats', '2',
            '--out', out, '--calibrate', tiny_path, 'resnet18', '--malloc', 'default']
    main(argv)
    d = json.load(open(out))
    assert set(d) == {'format', 'device', 'torch', 'threads', 'batch', 'warmup', 'repeats', 'allocator',
                      'calibration', 'entries'}
    assert (d['threads'], d['batch'], d['warmup'], d['repeats'], d['allocator']) == (1, 1, 1, 2, 'default')
    keys = {u.key for s in (super_path, tiny_path, 'resnet18') for u in spec_units(s, (32, 32)).all_units()}
    assert set(d['entries']) == keys
    cal = d['calibration']
    assert set(cal) == {'factor', 'offset', 'method', 'input_hw', 'batch', 'networks'}
    assert [n['spec'] for n in cal['networks']] == ['tiny', 'resnet18']
    assert set(cal['networks'][0]) == {'spec', 'input_hw', 'batch', 'measured_ms', 'predicted_raw_ms'}
    text = capsys.readouterr().out
    assert 'Calibration factor' in text and 'Median abs error' in text and 'Spearman' in text
    # a second run extends the file: nothing new to measure, entries kept
    main(['--specs', tiny_path, '--shape', '32', '--warmup', '0', '--repeats', '1', '--out', out,
          '--malloc', 'default'])
    assert 'Measured 0 new entries' in capsys.readouterr().out
    assert json.load(open(out))['entries'] == d['entries']
    # another thread count is another environment
    with pytest.raises(SystemExit, match='threads'):
        main(['--specs', tiny_path, '--shape', '32', '--threads', '2', '--out', out, '--malloc', 'default'])
    with pytest.raises(SystemExit, match='searchable'):
        main(['--calibrate', super_path, '--shape', '32', '--out', str(tmp_path / 'x.json'), '--malloc', 'default'])
    assert current_allocator() == 'default'


def test_affine_calibration_fits_a_fixed_cost_and_round_trips(tmp_path):
    """measured = 1.2 x units + 0.3 ms on three networks: the fit finds both, predictions carry the
    offset, and a saved table loads with it."""
    from mmadapt.cost.latency import LatencyTable, calibrate, fit_affine
    assert fit_affine([1.0, 2.0, 4.0], [1.5, 2.7, 5.1]) == pytest.approx((1.2, 0.3))
    with pytest.raises(ValueError, match='different predicted'):
        fit_affine([1.0, 1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match='<= 0'):
        fit_affine([1.0, 2.0], [2.0, 1.0])
    table = LatencyTable('cpu', threads=1, lazy=True, warmup=1, repeats=3)
    specs = ['mobilenet_v2', 'mobilenet_v2_x0.5', 'mobilenet_v2_tiny']
    raw = [table.raw_predict(s, (32, 32)) for s in specs]
    factor = calibrate(table, specs, (32, 32), measured=[1.2 * r + 0.3 for r in raw], method='affine')
    assert factor == pytest.approx(1.2) and table.offset == pytest.approx(0.3)
    assert table.predict('mobilenet_v2_tiny', (32, 32)) == pytest.approx(1.2 * raw[2] + 0.3)
    table.save(str(tmp_path / 't.json'))
    again = LatencyTable.load(str(tmp_path / 't.json'), threads=1)
    assert again.offset == pytest.approx(0.3) and again.factor == pytest.approx(1.2)


def test_spread_and_network_latency():
    """spread's percentiles against hand-computed ones; network_latency times a config's network."""
    from mmadapt.cost.latency import spread
    s = spread([5.0, 1.0, 3.0, 2.0, 4.0])
    assert s['median_ms'] == 3.0 and s['min_ms'] == 1.0 and s['mean_ms'] == 3.0 and s['repeats'] == 5
    assert abs(s['p10_ms'] - 1.4) < 1e-12 and abs(s['p90_ms'] - 4.6) < 1e-12  # numpy's linear interpolation
    import os.path as osp

    from mmadapt.cost.config_cost import network_latency
    from ..conftest import ROOT
    r = network_latency(osp.join(ROOT, 'configs/baselines/mobilenetv2_shapes_cls.py'), (32, 32), warmup=1, repeats=3)
    assert r['repeats'] == 3 and r['input_hw'] == [32, 32] and r['batch'] == 1 and r['threads'] == 1
    assert 0 < r['min_ms'] <= r['median_ms'] <= r['p90_ms'] and r['device_name'].startswith('cpu: ')
