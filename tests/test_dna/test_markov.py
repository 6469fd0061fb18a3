"""DNA's Markov chains: transitions, marginals (Eq. 2, 3), paths, argmax and sampling."""
import math

import pytest
import torch

from mmadapt.methods.dna.markov import MarkovChain


def test_width_chain_at_zero_alpha_by_hand():
    chain = MarkovChain([3])
    a = torch.zeros(chain.num_params)
    assert chain.num_params == 4  # (S0: right, end), (S1: right, end); S2 can only end
    m = chain.marginals(a)
    assert [float(m[(0, c)]) for c in range(3)] == pytest.approx([1.0, 0.5, 0.25])
    assert sorted(chain.paths()) == [(0, ), (1, ), (2, )]
    probs = dict(zip(chain.paths(), chain.path_probs(a).tolist()))
    assert probs == pytest.approx({(0, ): 0.5, (1, ): 0.25, (2, ): 0.25})


def test_softmax_of_minus_alpha():
    chain = MarkovChain([2])
    a = torch.tensor([1.0, -1.0])  # (right, end) at S0
    t = chain.transitions(a)[(0, 0)]
    assert float(t['right']) == pytest.approx(math.exp(-1) / (math.exp(-1) + math.exp(1)))
    assert float(t['end']) == pytest.approx(1 - float(t['right']))


def test_joint_chain_by_hand():
    """Three rows of three columns at alpha = 0 (Eq. 3): p(S_{1,0}) = 1/3 + 1/9 + 1/18 = 1/2."""
    chain = MarkovChain([3, 3, 3])
    a = torch.zeros(chain.num_params)
    m = chain.marginals(a)
    assert float(m[(0, 1)]) == pytest.approx(1 / 3)
    assert float(m[(0, 2)]) == pytest.approx(1 / 9)
    assert float(m[(1, 0)]) == pytest.approx(0.5)
    assert float(chain.path_probs(a).sum()) == pytest.approx(1.0)


@pytest.mark.parametrize('rows', [[3], [2], [3, 3, 3], [3, 2], [1, 1, 1], [2, 3, 1]])
def test_marginals_equal_path_sums_and_monte_carlo(rows):
    chain = MarkovChain(rows)
    g = torch.Generator().manual_seed(0)
    a = torch.randn(chain.num_params, generator=g)
    probs = chain.path_probs(a)
    assert float(probs.sum()) == pytest.approx(1.0, abs=1e-6)
    m = chain.marginals(a)
    paths = chain.paths()
    for state, p in m.items():
        through = sum(float(q) for path, q in zip(paths, probs) if chain.state_on_path(path, state))
        assert float(p) == pytest.approx(through, abs=1e-6)
    n = 20000
    counts = {p: 0 for p in paths}
    for path in chain.sample(a, g, n=n):
        counts[path] += 1
    for path, q in zip(paths, probs):
        assert counts[path] / n == pytest.approx(float(q), abs=0.015)


def test_gradients_flow_into_alpha():
    chain = MarkovChain([3, 3])
    a = torch.zeros(chain.num_params, requires_grad=True)
    e = chain.expectation(a, [float(len(p)) for p in chain.paths()])  # expected number of rows
    e.backward()
    assert a.grad is not None and a.grad.abs().sum() > 0


def test_argmax_ties_follow_the_current_path():
    chain = MarkovChain([3, 3, 3])
    a = torch.zeros(chain.num_params)
    assert chain.argmax_path(a, default=(1, 1)) == (1, 1)  # untrained alpha leaves the network as it is
    assert chain.argmax_path(a, default=(1, )) == (1, )
    w = MarkovChain([3])
    assert w.argmax_path(torch.zeros(w.num_params), default=(1, )) == (1, )
    # a large alpha on 'right' at S0 makes 'end' the most probable: the layer shrinks
    assert w.argmax_path(torch.tensor([5.0, 0.0, 0.0, 0.0]), default=(1, )) == (0, )
    # a large alpha on 'end' at S1 makes the layer grow
    assert w.argmax_path(torch.tensor([0.0, 0.0, 0.0, 5.0]), default=(1, )) == (2, )


def test_bad_alpha_shape_is_named():
    chain = MarkovChain([3])
    with pytest.raises(ValueError, match='4 architecture parameters'):
        chain.marginals(torch.zeros(3))
