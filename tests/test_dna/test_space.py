"""DNA's search space: expected MAdds (Eq. 5-7) exact, gates (Eq. 4), phase 3's adaption, targets."""
import pytest
import torch

from mmadapt.arch import load_spec
from mmadapt.arch.widths import width_vars
from mmadapt.methods.dna.markov import all_paths
from mmadapt.methods.dna.space import DNASpace, bank_spec, round_half_up, unit_groups

# a MobileNetV1 whose first stage is the whole backbone (out_indices=(0, )): stem 20, one block of 30
TINY_MBV1 = dict(name='tiny', family='mbv1', act='relu', stem=dict(out_channels=20, kernel=3, stride=2),
                 stages=[dict(out_channels=30, stride=1, blocks=['k3'])]
                 + [dict(out_channels=32, stride=2, blocks=['k3'])] * 4)


def _space(spec, out_indices=None, num_classes=None, size=(32, 32), width=True, depth=True, extra=1):
    spec = load_spec(spec)
    groups = unit_groups(spec, 10, 20, out_indices)
    max_blocks = [st.depth + extra for st in spec.stages]
    return DNASpace(spec, groups, max_blocks, width, depth, size, num_classes, out_indices)


def _one_hot(space, paths, big=40.0):
    """alpha that makes ``paths`` (one per chain) certain."""
    alphas = {}
    for c in space.chains:
        a = torch.full((c.chain.num_params, ), big)
        path = paths[c.name]
        state = (0, 0)
        r = 0
        while True:
            col = path[r]
            moves = c.chain.moves[state]
            if state[1] < col:
                move = 'right'
            elif r + 1 < len(path):
                move = 'down'
            else:
                move = 'end'
            if len(moves) > 1:
                a[c.chain.offsets[state] + moves.index(move)] = -big
            if move == 'right':
                state = (state[0], state[1] + 1)
            elif move == 'down':
                r += 1
                state = (r, 0)
            else:
                break
        alphas[c.name] = a
    return alphas


def test_expected_madds_by_hand():
    """Two width chains (stem 20 = 18 + 2 + [2], conv 30 = 27 + 3 + [3]) at alpha = 0:
    E[stem] = 18 + 2 * 0.5 + 2 * 0.25 = 19.5, E[conv] = 27 + 3 * 0.75 = 29.25 (Eq. 5), and
    E[MAdds] = 27 * 16 * 19.5 + 9 * 16 * 19.5 + 16 * 19.5 * 29.25 (Eq. 6, 7) at 8x8 input."""
    space = _space(TINY_MBV1, out_indices=(0, ), size=(8, 8), depth=False)
    assert sorted(c.name for c in space.chains) == ['s0.b0.c', 'stem']
    alphas = space.init_alphas()
    expected = 27 * 16 * 19.5 + 9 * 16 * 19.5 + 16 * 19.5 * 29.25
    assert float(space.expected_cost(alphas)) == pytest.approx(expected, rel=1e-12)
    # the full (K+1) and the minimal (K-1) cases
    full = _one_hot(space, space.paths_of('max'))
    assert float(space.expected_cost(full)) == pytest.approx(27 * 16 * 22 + 9 * 16 * 22 + 16 * 22 * 33, rel=1e-9)
    low = _one_hot(space, space.paths_of('min'))
    assert float(space.expected_cost(low)) == pytest.approx(27 * 16 * 18 + 9 * 16 * 18 + 16 * 18 * 27, rel=1e-9)


@pytest.mark.parametrize('name,kwargs', [
    ('mobilenet_v2', dict(num_classes=4)),
    ('resnet18', dict(num_classes=10)),
    ('resnet50', dict(num_classes=10, size=(64, 64))),
    ('mobilenet_v1', dict(num_classes=4)),
    ('mobilenet_v2', dict(out_indices=(2, 4, 6), size=(64, 64))),
])
def test_one_hot_chains_give_the_counted_madds(name, kwargs):
    """Expected MAdds of a certain path per chain = the counted MAdds of that sub-network."""
    space = _space(name, **kwargs)
    g = torch.Generator().manual_seed(0)
    for which in ('max', 'min', 'center', 'random', 'random'):
        paths = space.paths_of(which, g)
        spec = space.spec_of(paths)
        assert float(space.expected_cost(_one_hot(space, paths))) == pytest.approx(space.cost_of(spec), rel=1e-9)


def test_expected_madds_equal_the_sum_over_all_sub_networks():
    """A small space enumerated: E[MAdds] = sum over every combination of paths of its probability
    times its counted MAdds (chains independent)."""
    space = _space('mobilenet_v2', out_indices=(1, ), size=(32, 32))
    assert any(c.stage is not None for c in space.chains)
    g = torch.Generator().manual_seed(1)
    for alphas in (space.init_alphas(), space.init_alphas(std=1.0, generator=g)):
        probs = [c.chain.path_probs(alphas[c.name].double()) for c in space.chains]
        index = [{p: i for i, p in enumerate(c.chain.paths())} for c in space.chains]
        total = 0.0
        for combo in all_paths([c.chain for c in space.chains]):
            p = 1.0
            for k, path in enumerate(combo):
                p *= float(probs[k][index[k][path]])
            spec = space.spec_of({c.name: path for c, path in zip(space.chains, combo)})
            total += p * space.cost_of(spec)
        assert float(space.expected_cost(alphas)) == pytest.approx(total, rel=1e-9)


def test_expected_madds_monte_carlo():
    space = _space('resnet18', num_classes=10, size=(64, 64))
    g = torch.Generator().manual_seed(2)
    alphas = space.init_alphas(std=1.0, generator=g)
    n = 300
    draws = [{c.name: c.chain.sample(alphas[c.name], g) for c in space.chains} for _ in range(n)]
    costs = torch.tensor([float(space.cost_of(space.spec_of(d))) for d in draws])
    mean, sem = costs.mean(), costs.std() / n ** 0.5
    assert abs(float(space.expected_cost(alphas)) - float(mean)) < 4 * float(sem)


def test_expected_madds_are_differentiable_and_rise_with_keep_transitions():
    space = _space('mobilenet_v2', num_classes=4)
    alphas = space.init_alphas()
    e = space.expected_cost(alphas)
    e.backward()
    assert all(a.grad is not None for a in alphas.values())
    assert sum(float(a.grad.abs().sum()) for a in alphas.values()) > 0


def _shape(spec):
    """Depth of every stage and every unit's width."""
    return [st.depth for st in spec.stages], {v.name: v.value for v in width_vars(spec, ends=True, bottleneck=True)}


def test_argmax_at_zero_alpha_keeps_the_network():
    for name in ('mobilenet_v2', 'resnet50'):
        space = _space(name, num_classes=4)
        assert _shape(space.adapt(space.init_alphas())) == _shape(space.center)


@pytest.mark.parametrize('width,depth', [(True, True), (True, False), (False, True)])
def test_phase3_moves_one_group_and_one_block_along_the_most_probable_transition(width, depth):
    space = _space('mobilenet_v2', num_classes=4, width=width, depth=depth)
    g = torch.Generator().manual_seed(3)
    before = {v.name: v.value for v in width_vars(space.center, ends=True)}
    for _ in range(5):
        alphas = space.init_alphas(std=2.0, generator=g)
        new = space.adapt(alphas)
        after = {v.name: v.value for v in width_vars(new, ends=True)}
        for s, (a, b) in enumerate(zip(space.center.stages, new.stages)):
            assert abs(a.depth - b.depth) <= 1
            if not depth:
                assert a.depth == b.depth
        for name, w in after.items():
            if name not in before:
                continue
            step = space.groups[name].g
            assert abs(w - before[name]) in (0, step)
            if not width:
                assert w == before[name]
        # the direction follows the chain's most probable transitions
        for c in space.chains:
            if c.stage is not None:
                continue
            t = c.chain.transitions(alphas[c.name])
            col = c.default[0]
            opts = c.rows[0][1]
            if col > 0 and float(t[(0, 0)]['end']) > float(t[(0, 0)]['right']):
                assert after[c.name] == opts[0]
            elif col + 1 < len(opts) and float(t[(0, col)]['right']) > float(t[(0, col)]['end']) and \
                    float(t[(0, 0)].get('right', 1)) >= float(t[(0, 0)].get('end', 0)):
                assert after[c.name] == opts[col + 1]


def test_width_only_never_changes_depth_and_depth_only_never_a_width():
    g = torch.Generator().manual_seed(4)
    w = _space('resnet18', num_classes=10, depth=False)
    d = _space('resnet18', num_classes=10, width=False)
    assert all(c.stage is None for c in w.chains) and all(c.stage is not None for c in d.chains)
    for _ in range(5):
        a = w.init_alphas(std=3.0, generator=g)
        for spec in (w.adapt(a), w.expected_network(a)):
            assert [st.depth for st in spec.stages] == [st.depth for st in w.center.stages]
        a = d.init_alphas(std=3.0, generator=g)
        for spec in (d.adapt(a), d.expected_network(a)):
            assert {v.name: v.value for v in width_vars(spec, ends=True)}.items() >= \
                {k: v for k, v in {v.name: v.value for v in width_vars(d.center, ends=True)}.items()
                 if k in {u.name for u in width_vars(spec, ends=True)}}.items()


def test_expected_network_rounds_half_up_and_uses_conditional_widths():
    assert [round_half_up(x) for x in (0.5, 1.5, 2.5, 2.49)] == [1, 2, 3, 2]
    space = _space(TINY_MBV1, out_indices=(0, ), size=(8, 8), depth=False)
    spec = space.expected_network(space.init_alphas())
    assert spec.stem['out_channels'] == 20  # floor(19.5 + 0.5)
    assert spec.layers()[0].out_channels == 29  # floor(29.25 + 0.5)


@pytest.mark.parametrize('name,cls', [('mobilenet_v2', 'ElasticMobileNetV2'), ('resnet18', 'ElasticResNet')])
def test_gates_of_a_certain_path_run_that_sub_network(name, cls):
    """Eq. 4 through the modulation door: with alpha making one path certain, the gated extended
    network computes exactly that sub-network (eval mode)."""
    import mmadapt.models.backbones.elastic as el
    seed = load_spec(name)
    out_indices = (1, )
    space = _space(name, out_indices=out_indices)
    bank, _ = bank_spec(seed, space.groups, space.max_blocks, out_indices)
    torch.manual_seed(0)
    net = getattr(el, cls)(spec=bank, out_indices=out_indices, pad_outputs=True).eval()
    for m in net.modules():  # non-trivial BN statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2.0)
    x = torch.randn(2, 3, 32, 32)
    g = torch.Generator().manual_seed(5)
    for which in ('min', 'random', 'random', 'max'):
        paths = space.paths_of(which, g)
        net.set_subnet(space.spec_of(paths))
        with torch.no_grad():
            want = net(x)[0]
        net.set_subnet(space.extended)
        gate = net.add_modulation(el.ChannelScale(space.gate_scales(_one_hot(space, paths))))
        with torch.no_grad():
            got = net(x)[0]
        net.remove_modulation(gate)
        assert torch.allclose(got, want, atol=1e-5), (which, (got - want).abs().max())


def test_markov_networks_meet_the_budget_window():
    space = _space('mobilenet_v2', num_classes=4)
    alphas = space.init_alphas()
    budget = float(space.expected_cost(alphas))
    g = torch.Generator().manual_seed(6)
    spec = space.markov_network(alphas, budget, 0.03, generator=g)
    assert abs(space.cost_of(spec) - budget) <= 0.03 * budget
    with pytest.raises(Exception, match='no Markov-sampled network'):
        space.markov_network(alphas, budget * 10, 0.01, tries=5, generator=g)


def test_unsupported_seeds_are_named():
    from mmadapt.arch import SpecError
    with pytest.raises(SpecError, match='mbv3'):
        _space('mobilenet_v3_large')
    with pytest.raises(SpecError, match='zero-padded'):
        _space('resnet20_cifar')


def test_budget_loss_is_zero_below_the_budget_and_finite_at_it():
    from mmadapt.methods.dna.loop import budget_loss
    t = 100e6
    for e in (50e6, 99.9e6, 100e6):
        x = torch.tensor(e, dtype=torch.float64, requires_grad=True)
        loss = budget_loss(x, t)
        assert float(loss) == 0.0
        loss.backward()
        assert float(x.grad) == 0.0
    x = torch.tensor(100e6 + 1.0, dtype=torch.float64, requires_grad=True)  # one MAdd above: eps bounds it
    loss = budget_loss(x, t)
    assert torch.isfinite(loss) and float(loss) == pytest.approx(torch.log(torch.tensor(0.1 + 1e-6)).item(), rel=1e-4)
    loss.backward()
    assert 0 < float(x.grad) < 1e-5  # d/dE log(E/1e6 - 100 + 0.1) in per-MAdd units
    x = torch.tensor(150e6, dtype=torch.float64, requires_grad=True)
    budget_loss(x, t).backward()
    assert float(x.grad) == pytest.approx(1e-6 / (50 + 0.1))
    # DMCP's two-sided form pulls an expectation far below the budget up
    x = torch.tensor(50e6, dtype=torch.float64, requires_grad=True)
    budget_loss(x, t, 'log_l1').backward()
    assert float(x.grad) < 0
    with pytest.raises(ValueError, match='budget loss'):
        budget_loss(x, t, 'l3')
