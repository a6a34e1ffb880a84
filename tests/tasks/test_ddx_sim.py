"""The simulator: exact posterior against brute-force enumeration and Monte Carlo; sampler statistics."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from beyondmode.tasks.ddx_kb import EvidenceKind, KnowledgeBase, embedded_kb, kb_from_mapping
from beyondmode.tasks.ddx_sim import RevealPolicy, Simulator

TINY = {
    "name": "tiny",
    "smoothing": 0.05,
    "evidences": {
        "a": {"kind": "binary", "label": "A"},
        "p": {"kind": "binary", "label": "P"},
        "c": {
            "kind": "categorical",
            "parent": "p",
            "default": "n",
            "label": "C",
            "values": {"n": "none", "x": "x", "y": "y"},
        },
        "m": {"kind": "multi", "parent": "p", "label": "M", "values": {"u": "u", "v": "v"}},
        "r": {"kind": "categorical", "default": "r0", "label": "R", "values": {"r0": "r0", "r1": "r1"}},
    },
    "pathologies": {
        "A": {
            "prior": 0.5,
            "likelihoods": {"a": 0.8, "p": 0.3, "c": {"x": 0.6}, "m": {"u": 0.5, "v": 0.2}, "r": {"r1": 0.3}},
        },
        "B": {"prior": 0.3, "likelihoods": {"a": 0.2, "p": 0.9, "c": {"y": 0.7}, "m": {"u": 0.1, "v": 0.6}}},
        "C": {"prior": 0.2, "likelihoods": {"p": 0.5, "c": {"x": 0.3, "y": 0.3}, "r": {"r1": 0.8}}},
    },
}


@pytest.fixture(scope="module")
def tiny() -> Simulator:
    return Simulator(kb_from_mapping(TINY))


@pytest.fixture(scope="module")
def mini() -> Simulator:
    return Simulator(embedded_kb())


# ----------------------------------------------------------------------------- reference (the spec)
def enumerate_findings(kb: KnowledgeBase, d: int) -> dict[frozenset[str], float]:
    """Every possible finding set of a patient with pathology d and its probability, by brute force."""
    configs: dict[frozenset[str], float] = {frozenset(): 1.0}
    for evidence in kb.evidences:  # parents precede their children in these KBs
        table = kb.tables[evidence.code][d]
        outcomes: list[tuple[frozenset[str], float]]
        if evidence.kind is EvidenceKind.BINARY:
            outcomes = [(frozenset({evidence.code}), table), (frozenset(), 1 - table)]
        elif evidence.kind is EvidenceKind.CATEGORICAL:
            outcomes = [
                (frozenset() if v == evidence.default else frozenset({f"{evidence.code}={v}"}), table[i])
                for i, v in enumerate(evidence.values)
            ]
        else:
            values = [(i, v) for i, v in enumerate(evidence.values) if v != evidence.default]
            outcomes = []
            for chosen in itertools.product([False, True], repeat=len(values)):
                probability = math.prod(
                    table[i] if c else 1 - table[i] for (i, _), c in zip(values, chosen, strict=False)
                )
                outcomes.append(
                    (
                        frozenset(
                            f"{evidence.code}={v}" for (_, v), c in zip(values, chosen, strict=False) if c
                        ),
                        probability,
                    )
                )
        updated: dict[frozenset[str], float] = {}
        for config, probability in configs.items():
            if evidence.parent is not None and evidence.parent not in config:
                updated[config] = updated.get(config, 0.0) + probability
                continue
            for atoms, p in outcomes:
                updated[config | atoms] = updated.get(config | atoms, 0.0) + probability * p
        configs = updated
    return configs


def reference_likelihood(kb: KnowledgeBase, d: int, revealed: frozenset[str], policy: RevealPolicy) -> float:
    """P(R | d) = sum_F P(F | d) sum_k P(k) [R ⊆ F, |R| = min(k, |F|)] / C(|F|, |R|)."""
    total = 0.0
    for findings, probability in enumerate_findings(kb, d).items():
        if not revealed <= findings:
            continue
        if policy.shows_all:
            total += probability * (revealed == findings)
            continue
        for k in range(policy.k_min, policy.k_max + 1):
            if len(revealed) == min(k, len(findings)):
                total += (
                    probability / (policy.k_max - policy.k_min + 1) / math.comb(len(findings), len(revealed))
                )
    return total


@pytest.mark.parametrize("spec", ["1", "1-3", "2-3", "2", "all", "9-9"])
def test_likelihood_matches_brute_force(tiny: Simulator, spec: str) -> None:
    policy = RevealPolicy.parse(spec)
    atoms = range(len(tiny.atoms))
    for size in range(0, 4):
        for revealed in itertools.combinations(atoms, size):
            ids = frozenset(tiny.atom_ids[a] for a in revealed)
            expected = [reference_likelihood(tiny.kb, d, ids, policy) for d in range(3)]
            with np.errstate(divide="ignore"):
                got = np.exp(tiny.log_likelihood(revealed, policy))
            np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-15, err_msg=f"{spec} {sorted(ids)}")


def test_showing_more_than_every_finding_equals_the_all_policy(mini: Simulator) -> None:
    rng = np.random.default_rng(3)
    findings = mini.sample_findings(rng, mini.sample_pathologies(rng, 20))
    huge = RevealPolicy(len(mini.atoms), len(mini.atoms))
    for row in findings:
        revealed = tuple(int(a) for a in np.flatnonzero(row))
        np.testing.assert_allclose(
            mini.posterior(revealed, huge),
            mini.posterior(revealed, RevealPolicy.parse("all")),
            rtol=1e-9,
            atol=1e-12,
        )


# ------------------------------------------------------------------------------------ Monte Carlo
def pattern_chi_square(sim: Simulator, posterior_of, seed: int = 0, count: int = 200_000, patterns: int = 40):
    """Pearson chi-square of the true pathologies observed with the most frequent revealed sets against
    `posterior_of(revealed)`; returns (statistic, degrees of freedom, p-value)."""
    rng = np.random.default_rng(seed)
    policy = RevealPolicy.parse("1-3")
    pathologies = sim.sample_pathologies(rng, count)
    shown = sim.reveal_batch(rng, sim.sample_findings(rng, pathologies), policy)
    _keys, inverse, counts = np.unique(
        np.packbits(shown, axis=1), axis=0, return_inverse=True, return_counts=True
    )
    inverse = inverse.ravel()
    statistic, dof = 0.0, 0
    for key_index in np.argsort(-counts)[:patterns]:
        members = pathologies[inverse == key_index]
        revealed = tuple(int(a) for a in np.flatnonzero(shown[np.argmax(inverse == key_index)]))
        expected = posterior_of(revealed) * len(members)
        observed = np.bincount(members, minlength=len(expected)).astype(float)
        big = expected >= 5
        cells_expected = np.append(expected[big], expected[~big].sum())
        cells_observed = np.append(observed[big], observed[~big].sum())
        keep = cells_expected > 0
        statistic += float((((cells_observed - cells_expected) ** 2)[keep] / cells_expected[keep]).sum())
        dof += int(keep.sum()) - 1
    return statistic, dof, float(stats.chi2.sf(statistic, dof))


@pytest.mark.slow
def test_posterior_matches_monte_carlo_frequencies(mini: Simulator) -> None:
    policy = RevealPolicy.parse("1-3")
    statistic, dof, p_value = pattern_chi_square(mini, lambda r: mini.posterior(r, policy))
    print(f"exact posterior vs Monte Carlo: chi2={statistic:.1f}, dof={dof}, p={p_value:.3f}")
    assert p_value > 1e-3


@pytest.mark.slow
def test_naive_posterior_is_rejected_by_the_same_check(mini: Simulator) -> None:
    """Scoring R by prod P(r | d) ignores the selection of the shown findings: the check must catch it."""
    presence = np.stack([_presence(mini, a) for a in range(len(mini.atoms))])  # P(a in F | d)

    def naive(revealed: tuple[int, ...]) -> np.ndarray:
        scores = mini.kb.prior * np.prod(presence[list(revealed)], axis=0)
        return scores / scores.sum()

    _, dof, p_value = pattern_chi_square(mini, naive)
    print(f"naive posterior vs Monte Carlo: dof={dof}, p={p_value:.2e}")
    assert p_value < 1e-6


def _presence(sim: Simulator, atom: int) -> np.ndarray:
    """P(atom in F | d): the generating function at z = 1, where every untouched group gives 1."""
    group = sim.groups[int(sim.group_of_atom[atom])]
    return sim._group_values(group, frozenset({atom}), np.ones(1))[:, 0]


# ------------------------------------------------------------------------------------ the sampler
def test_sampled_pathologies_follow_the_prior(mini: Simulator) -> None:
    rng = np.random.default_rng(7)
    count = 100_000
    observed = np.bincount(mini.sample_pathologies(rng, count), minlength=len(mini.kb.prior))
    result = stats.chisquare(observed, mini.kb.prior * count)
    assert result.pvalue > 1e-3, result


def test_finding_frequencies_follow_the_tables(mini: Simulator) -> None:
    rng = np.random.default_rng(11)
    count = 40_000
    influenza = mini.kb.pathology_names.index("Influenza")
    findings = mini.sample_findings(rng, np.full(count, influenza))
    for atom_id, expected in [
        ("fever", 0.9),
        ("fever_level=high", 0.9 * 0.7),
        ("myalgia", 0.85),
        ("chest_pain", 0.02),
    ]:
        frequency = findings[:, mini.atom_index[atom_id]].mean()
        sigma = math.sqrt(expected * (1 - expected) / count)
        assert abs(frequency - expected) < 5 * sigma, (atom_id, frequency, expected)


def test_child_findings_only_with_their_parent(mini: Simulator) -> None:
    rng = np.random.default_rng(5)
    findings = mini.sample_findings(rng, mini.sample_pathologies(rng, 5000))
    for atom, (evidence_index, _) in enumerate(mini.atoms):
        parent = mini.kb.evidences[evidence_index].parent
        if parent is not None:
            assert not np.any(findings[:, atom] & ~findings[:, mini.atom_index[parent]]), mini.atom_ids[atom]


def test_reveal_batch_shows_between_k_min_and_k_max_of_the_positive_findings(mini: Simulator) -> None:
    rng = np.random.default_rng(2)
    findings = mini.sample_findings(rng, mini.sample_pathologies(rng, 3000))
    shown = mini.reveal_batch(rng, findings, RevealPolicy(2, 3))
    sizes = shown.sum(axis=1)
    assert not np.any(shown & ~findings)
    assert np.all(sizes == np.minimum(sizes, findings.sum(axis=1)))
    assert np.all(sizes <= 3) and np.all((sizes >= 2) | (sizes == findings.sum(axis=1)))


@settings(max_examples=60, deadline=None)
@given(st.sets(st.integers(0, 62), max_size=4), st.sampled_from(["1", "1-3", "2-5", "all"]))
def test_posterior_is_a_distribution(revealed: set[int], spec: str) -> None:
    sim = _MINI
    try:
        posterior = sim.posterior(tuple(sorted(revealed)), RevealPolicy.parse(spec))
    except ValueError:  # two values of one categorical evidence: impossible under every pathology
        return
    assert np.all(posterior >= 0) and abs(posterior.sum() - 1) < 1e-9


_MINI = Simulator(embedded_kb())


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("3", RevealPolicy(3, 3)),
        ("1-3", RevealPolicy(1, 3)),
        (" all ", RevealPolicy(1, None)),
        (2, RevealPolicy(2, 2)),
    ],
)
def test_reveal_policy_parse(spec: object, expected: RevealPolicy) -> None:
    assert RevealPolicy.parse(spec) == expected


@pytest.mark.parametrize("spec", ["0", "3-1", "x", "1-"])
def test_reveal_policy_rejects(spec: str) -> None:
    with pytest.raises(ValueError, match="num_findings"):
        RevealPolicy.parse(spec)


def test_reveal_one_patient(mini: Simulator) -> None:
    rng = np.random.default_rng(9)
    findings = mini.sample_findings(rng, mini.sample_pathologies(rng, 200))
    for row in findings:
        shown = mini.reveal(rng, row, RevealPolicy(1, 2))
        positive = set(np.flatnonzero(row).tolist())
        assert set(shown) <= positive and len(shown) == min(len(positive), len(shown)) <= 2
        assert len(shown) >= min(1, len(positive)) and list(shown) == sorted(shown)
        assert mini.reveal(rng, row, RevealPolicy.parse("all")) == tuple(sorted(positive))
