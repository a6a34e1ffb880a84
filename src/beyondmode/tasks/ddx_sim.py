"""The diagnosis simulator: sample patients from a knowledge base and compute the EXACT posterior.

Generative model (DDXPlus-style, `beyondmode.tasks.ddx_kb` for the tables):

1. pathology d ~ prior;
2. every root evidence is drawn from its table given d; a child evidence is drawn (given d and its parent
   being present) only when its parent is present; evidences are independent given d;
3. the patient's findings F are its positive atoms (present binaries, non-default categorical values,
   selected non-default multi-choice values);
4. the reveal policy draws k uniformly from {k_min..k_max} (independently of d) and shows a uniformly random
   subset R of F of size min(k, |F|); the "all" policy shows R = F.

Likelihood of what the model is shown. For a revealed set R with m = |R|:

    P(R | d) = sum_k P(k) * sum_{F ⊇ R} P(F | d) * P(R | F, k)

with P(R | F, k) = 1 / C(|F|, m) when m = min(k, |F|), else 0. So

    P(R | d) = P(k = m) * sum_{n >= 0} c_n(d) / C(m + n, m)  +  P(k > m) * c_0(d)

where c_n(d) = P(R ⊆ F and |F \\ R| = n | d). The second term is the case k > |F|, where everything was
shown (F = R). Since evidences are independent given d (and a child depends only on its parent), c_n(d)
is the n-th coefficient of a product of per-group polynomials in z (a group is a root evidence, or a
parent with its children), each summing, over the group's configurations that contain the revealed atoms
of the group, P(configuration | d) * z^(number of its atoms outside R). For example, a binary evidence
with P(present | d) = p contributes p if it is revealed and (1 - p) + p z otherwise. The "all" policy
needs only c_0(d) = P(F = R | d), a plain product, computed in log space in O(|R|) per case.

Ignoring the selection (scoring R by prod_{r in R} P(r | d)) is wrong: a pathology that produces many
findings makes each particular one less likely to be among the k shown; the 1 / C(|F|, m) factor accounts
for it. tests/tasks/test_ddx_sim.py checks this formula against brute-force enumeration and Monte Carlo.

>>> from beyondmode.tasks.ddx_kb import embedded_kb
>>> sim = Simulator(embedded_kb())
>>> policy = RevealPolicy.parse("1-3")
>>> fever = sim.atom_index["fever"]
>>> posterior = sim.posterior((fever,), policy)
>>> round(float(posterior.sum()), 6)
1.0
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from beyondmode.tasks.ddx_kb import Evidence, EvidenceKind, KnowledgeBase

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RevealPolicy:
    """How many findings the model is shown: k uniform in [k_min, k_max]; `k_max=None` shows all."""

    k_min: int = 1
    k_max: int | None = 3

    def __post_init__(self) -> None:
        if self.k_min < 1 or (self.k_max is not None and self.k_max < self.k_min):
            raise ValueError(f"num_findings: need 1 <= k_min <= k_max, got {self.k_min}-{self.k_max}")

    @property
    def shows_all(self) -> bool:
        return self.k_max is None

    @classmethod
    def parse(cls, spec: str | int | RevealPolicy) -> RevealPolicy:
        """`3`, `"1-3"` or `"all"`.

        >>> RevealPolicy.parse("2-4"), RevealPolicy.parse(2).k_max, RevealPolicy.parse("all").shows_all
        (RevealPolicy(k_min=2, k_max=4), 2, True)
        """
        if isinstance(spec, RevealPolicy):
            return spec
        text = str(spec).strip().lower()
        if text == "all":
            return cls(1, None)
        low, separator, high = text.partition("-")
        try:
            return cls(int(low), int(high if separator else low))
        except ValueError:
            raise ValueError(
                f"num_findings must be an int, a range like '1-3' or 'all', got {spec!r}"
            ) from None

    def probability_k(self, k: int) -> float:
        if self.k_max is None:
            return 0.0
        return 1.0 / (self.k_max - self.k_min + 1) if self.k_min <= k <= self.k_max else 0.0

    def probability_k_above(self, m: int) -> float:
        if self.k_max is None:
            return 1.0
        return sum(self.probability_k(k) for k in range(max(m + 1, self.k_min), self.k_max + 1))


@dataclass(frozen=True, slots=True)
class _Group:
    """A root evidence with its children (evidence indices); `atoms` are all atom indices of the group."""

    root: int
    children: tuple[int, ...]
    atoms: frozenset[int]


class Simulator:
    """Vectorised sampler and exact posterior over one knowledge base."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self.atoms: list[tuple[int, str | None]] = []  # (evidence index, value or None)
        self.evidence_atoms: list[dict[str | None, int]] = []
        for index, evidence in enumerate(kb.evidences):
            keys = (None,) if evidence.kind is EvidenceKind.BINARY else evidence.finding_values
            self.evidence_atoms.append({key: len(self.atoms) + i for i, key in enumerate(keys)})
            self.atoms.extend((index, key) for key in keys)
        self.atom_ids = tuple(kb.evidences[e].finding_id(v) for e, v in self.atoms)
        self.atom_index = {atom_id: i for i, atom_id in enumerate(self.atom_ids)}
        code_index = {e.code: i for i, e in enumerate(kb.evidences)}
        children: dict[int, list[int]] = {}
        for index, evidence in enumerate(kb.evidences):
            if evidence.parent is not None:
                children.setdefault(code_index[evidence.parent], []).append(index)
        self.groups = tuple(
            _Group(
                i,
                tuple(children.get(i, ())),
                frozenset(a for j in (i, *children.get(i, ())) for a in self.evidence_atoms[j].values()),
            )
            for i, e in enumerate(kb.evidences)
            if e.parent is None
        )
        self.group_of_atom = np.empty(len(self.atoms), dtype=int)
        for g, group in enumerate(self.groups):
            self.group_of_atom[list(group.atoms)] = g
        with np.errstate(divide="ignore"):
            self._log_empty = np.stack([np.log(self._group_poly(g, frozenset())[:, 0]) for g in self.groups])
            self._log_prior = np.log(kb.prior)

    # ----------------------------------------------------------------------------------- sampling
    def sample_pathologies(self, rng: np.random.Generator, count: int) -> np.ndarray:
        return rng.choice(len(self.kb.pathologies), size=count, p=self.kb.prior)

    def sample_findings(self, rng: np.random.Generator, pathologies: np.ndarray) -> np.ndarray:
        """Boolean matrix (patients, atoms) of each patient's findings, given their pathologies."""
        count = len(pathologies)
        findings = np.zeros((count, len(self.atoms)), dtype=bool)
        for group in self.groups:
            active = np.ones(count, dtype=bool)
            self._sample_evidence(rng, group.root, pathologies, active, findings)
            if group.children:
                active = findings[:, self.evidence_atoms[group.root][None]]
                for child in group.children:
                    self._sample_evidence(rng, child, pathologies, active, findings)
        return findings

    def _sample_evidence(
        self,
        rng: np.random.Generator,
        index: int,
        pathologies: np.ndarray,
        active: np.ndarray,
        out: np.ndarray,
    ) -> None:
        evidence = self.kb.evidences[index]
        table = self.kb.tables[evidence.code][pathologies]
        atoms = self.evidence_atoms[index]
        if evidence.kind is EvidenceKind.BINARY:
            out[:, atoms[None]] = active & (rng.random(len(pathologies)) < table)
        elif evidence.kind is EvidenceKind.CATEGORICAL:
            cumulative = np.cumsum(table, axis=1)
            choice = (rng.random(len(pathologies))[:, None] >= cumulative[:, :-1]).sum(axis=1)
            for position, value in enumerate(evidence.values):
                if value in atoms:
                    out[:, atoms[value]] = active & (choice == position)
        else:
            selected = rng.random(table.shape) < table
            for position, value in enumerate(evidence.values):
                if value in atoms:
                    out[:, atoms[value]] = active & selected[:, position]

    def reveal(self, rng: np.random.Generator, findings: np.ndarray, policy: RevealPolicy) -> tuple[int, ...]:
        """The atoms shown for one patient (a row of `sample_findings`), sorted."""
        positive = np.flatnonzero(findings)
        if policy.shows_all:
            return tuple(int(a) for a in positive)
        k = int(rng.integers(policy.k_min, policy.k_max + 1))
        chosen = rng.choice(positive, size=min(k, len(positive)), replace=False)
        return tuple(sorted(int(a) for a in chosen))

    def reveal_batch(
        self, rng: np.random.Generator, findings: np.ndarray, policy: RevealPolicy
    ) -> np.ndarray:
        """Vectorised `reveal` for a (patients, atoms) matrix: a boolean matrix of the shown atoms."""
        if policy.shows_all:
            return findings.copy()
        keys = np.where(findings, rng.random(findings.shape), np.inf)
        rank = np.argsort(np.argsort(keys, axis=1), axis=1)
        k = rng.integers(policy.k_min, policy.k_max + 1, size=len(findings))
        return findings & (rank < k[:, None])

    # ---------------------------------------------------------------------------------- posterior
    def posterior(self, revealed: Sequence[int], policy: RevealPolicy) -> np.ndarray:
        """P(pathology | revealed findings) under `policy`, exact, as an array aligned with the KB."""
        log_joint = self._log_prior + self.log_likelihood(revealed, policy)
        top = np.max(log_joint)
        if not np.isfinite(top):
            names = [self.atom_ids[a] for a in revealed]
            raise ValueError(f"findings {names} are impossible under every pathology of KB {self.kb.name!r}")
        weights = np.exp(log_joint - top)
        return weights / weights.sum()

    def log_likelihood(self, revealed: Sequence[int], policy: RevealPolicy) -> np.ndarray:
        """log P(R | d) for every pathology d (see the module docstring)."""
        revealed_set = frozenset(int(a) for a in revealed)
        if len(revealed_set) != len(revealed):
            raise ValueError(f"revealed findings repeat an atom: {list(revealed)}")
        if policy.shows_all:
            return self.log_likelihood_all(revealed_set)
        m = len(revealed_set)
        coefficients, log_scale = self._coefficients(revealed_set)
        weights = _subset_weights(m, coefficients.shape[1]) * policy.probability_k(m)
        weights[0] += policy.probability_k_above(m)
        with np.errstate(divide="ignore"):
            return log_scale + np.log(coefficients @ weights)

    def log_likelihood_all(self, revealed: frozenset[int]) -> np.ndarray:
        """log P(F = R | d): the patient's findings are exactly the revealed ones."""
        touched = {int(self.group_of_atom[a]) for a in revealed}
        untouched = np.ones(len(self.groups), dtype=bool)
        untouched[list(touched)] = False
        total = self._log_empty[untouched].sum(axis=0)
        with np.errstate(divide="ignore"):
            for g in touched:
                group = self.groups[g]
                total = total + np.log(self._group_poly(group, revealed & group.atoms, exact=True)[:, 0])
        return total

    def _coefficients(self, revealed: frozenset[int]) -> tuple[np.ndarray, np.ndarray]:
        """c_n(d) up to a per-pathology scale: (coefficients (D, N+1), log scale (D,))."""
        num = len(self.kb.pathologies)
        poly = np.ones((num, 1))
        log_scale = np.zeros(num)
        for group in self.groups:
            poly = _multiply(poly, self._group_poly(group, revealed & group.atoms))
            scale = poly.max(axis=1)
            safe = np.where(scale > 0, scale, 1.0)
            poly /= safe[:, None]
            with np.errstate(divide="ignore"):
                log_scale += np.where(scale > 0, np.log(safe), -np.inf)
        return poly, log_scale

    def _group_poly(self, group: _Group, required: frozenset[int], exact: bool = False) -> np.ndarray:
        """Sum over the group's configurations containing `required` of P(config | d) z^(#atoms not required).

        With `exact`, only the configuration equal to `required` (the constant coefficient) is kept.
        """
        root = self._evidence_poly(group.root, required, exact)
        if not group.children:
            return root
        p = self.kb.tables[self.kb.evidences[group.root].code]
        inner = np.ones((len(p), 1))
        for child in group.children:
            inner = _multiply(inner, self._evidence_poly(child, required, exact))
        parent_atom = self.evidence_atoms[group.root][None]
        if required:
            present = inner * p[:, None]
            return present if parent_atom in required else _shift(present, exact)
        absent = np.zeros((len(p), 1)) + (1 - p)[:, None]
        return _add(absent, _shift(inner * p[:, None], exact))

    def _evidence_poly(self, index: int, required: frozenset[int], exact: bool) -> np.ndarray:
        evidence: Evidence = self.kb.evidences[index]
        table = self.kb.tables[evidence.code]
        atoms = self.evidence_atoms[index]
        if evidence.kind is EvidenceKind.BINARY:
            if atoms[None] in required:
                return table[:, None].copy()
            return np.stack([1 - table, np.zeros_like(table) if exact else table], axis=1)
        if evidence.kind is EvidenceKind.CATEGORICAL:
            chosen = [i for i, v in enumerate(evidence.values) if atoms.get(v) in required]
            if len(chosen) > 1:
                return np.zeros((table.shape[0], 1))
            if chosen:
                return table[:, chosen].copy()
            default = (
                table[:, evidence.values.index(evidence.default)]
                if evidence.default is not None
                else np.zeros(table.shape[0])
            )
            return np.stack([default, np.zeros_like(default) if exact else 1 - default], axis=1)
        columns = [i for i, v in enumerate(evidence.values) if v in atoms]
        chosen = np.array([atoms[evidence.values[i]] in required for i in columns])
        if exact:
            return np.prod(np.where(chosen, table[:, columns], 1 - table[:, columns]), axis=1)[:, None]
        poly = np.ones((table.shape[0], 1))
        for position, value in enumerate(evidence.values):
            if value not in atoms:
                continue
            column = table[:, position]
            if atoms[value] in required:
                poly = poly * column[:, None]
            else:
                poly = _multiply(
                    poly, np.stack([1 - column, np.zeros_like(column) if exact else column], axis=1)
                )
        return poly


def _multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise polynomial product (coefficients along axis 1)."""
    out = np.zeros((a.shape[0], a.shape[1] + b.shape[1] - 1))
    for power in range(b.shape[1]):
        out[:, power : power + a.shape[1]] += a * b[:, power : power + 1]
    return out


def _shift(a: np.ndarray, exact: bool) -> np.ndarray:
    """Multiply by z (or, when only the constant coefficient matters, by 0)."""
    if exact:
        return np.zeros_like(a[:, :1])
    return np.concatenate([np.zeros((a.shape[0], 1)), a], axis=1)


def _add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    width = max(a.shape[1], b.shape[1])
    out = np.zeros((a.shape[0], width))
    out[:, : a.shape[1]] += a
    out[:, : b.shape[1]] += b
    return out


@lru_cache(maxsize=4096)
def _subset_weights_cached(m: int, size: int) -> tuple[float, ...]:
    return tuple(1.0 / math.comb(m + n, m) for n in range(size))


def _subset_weights(m: int, size: int) -> np.ndarray:
    """1 / C(m + n, m) for n = 0..size-1: the chance that a given m-subset of m + n findings is shown."""
    return np.array(_subset_weights_cached(m, size))
