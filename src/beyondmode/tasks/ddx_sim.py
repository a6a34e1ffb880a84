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
shown (F = R). Since evidences are independent given d (and a child depends only on its parent), the
generating function C_d(z) = sum_n c_n(d) z^n is a product over groups (a group is a root evidence, or a
parent with its children) of G_g(z) = sum over the group's configurations that contain its revealed atoms
of P(configuration | d) * z^(number of its atoms outside R). For example, a binary evidence with
P(present | d) = p contributes p if it is revealed and (1 - p) + p z otherwise; a categorical one with
default probability q0 contributes q0 + (1 - q0) z; a multi-choice one prod_v (1 - p_v + p_v z).

The weights are Beta integrals, 1 / C(m + n, m) = m * integral_0^1 t^(m-1) (1 - t)^n dt, so

    sum_n c_n(d) / C(m + n, m) = m * integral_0^1 t^(m-1) C_d(1 - t) dt,

the integral of a polynomial of degree m - 1 + (number of atoms): Gauss-Legendre quadrature with
ceil((m + atoms) / 2) + 1 nodes computes it exactly (up to rounding). Each G_g is evaluated at the nodes
in closed form; the untouched groups' product is precomputed once, so a case costs O(touched groups x
nodes). The "all" policy needs only c_0(d) = C_d(0) = P(F = R | d), a plain product, computed in log
space in O(|R|) per case.

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
        self._nodes_cache: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._multi_cache: dict[tuple[int, bytes], np.ndarray] = {}
        self._empty_cache: dict[tuple[int, int], np.ndarray] = {}
        with np.errstate(divide="ignore"):
            self._log_empty = np.stack(
                [np.log(self._group_values(g, frozenset(), _ZERO)[:, 0]) for g in self.groups]
            )
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
        log_exact = self.log_likelihood_all(revealed_set)
        if policy.shows_all:
            return log_exact
        m = len(revealed_set)
        result = np.full(len(self.kb.pathologies), -np.inf)
        with np.errstate(divide="ignore"):
            if policy.probability_k(m) > 0 and m > 0:
                result = math.log(policy.probability_k(m)) + self._log_subset_sum(revealed_set)
            if policy.probability_k_above(m) > 0:
                result = np.logaddexp(result, math.log(policy.probability_k_above(m)) + log_exact)
        return result

    def log_likelihood_all(self, revealed: frozenset[int]) -> np.ndarray:
        """log P(F = R | d) = log C_d(0): the patient's findings are exactly the revealed ones."""
        touched = {int(self.group_of_atom[a]) for a in revealed}
        untouched = np.ones(len(self.groups), dtype=bool)
        untouched[list(touched)] = False
        total = self._log_empty[untouched].sum(axis=0)
        with np.errstate(divide="ignore"):
            for g in touched:
                total = total + np.log(self._group_values(self.groups[g], revealed, _ZERO)[:, 0])
        return total

    def _log_subset_sum(self, revealed: frozenset[int]) -> np.ndarray:
        """log sum_n c_n(d) / C(m + n, m) = log m + log integral_0^1 t^(m-1) C_d(1 - t) dt, by quadrature."""
        m = len(revealed)
        t, log_weights, log_total = self._quadrature((m + len(self.atoms)) // 2 + 1)
        log_c = log_total.copy()
        with np.errstate(divide="ignore"):
            for g in {int(self.group_of_atom[a]) for a in revealed}:
                log_c += np.log(self._group_values(self.groups[g], revealed, 1 - t)) - self._log_empty_at(
                    g, t
                )
            terms = log_weights + (m - 1) * np.log(t) + log_c
        top = terms.max(axis=1)
        safe = np.where(np.isfinite(top), top, 0.0)
        with np.errstate(divide="ignore"):
            return math.log(m) + safe + np.log(np.exp(terms - safe[:, None]).sum(axis=1))

    def _log_empty_at(self, g: int, t: np.ndarray) -> np.ndarray:
        key = (g, len(t))
        if key not in self._empty_cache:
            self._empty_cache[key] = np.log(self._group_values(self.groups[g], frozenset(), 1 - t))
        return self._empty_cache[key]

    def _quadrature(self, nodes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Gauss-Legendre nodes t on [0, 1], log weights, and log prod_g G_g(1 - t) with nothing revealed."""
        if nodes not in self._nodes_cache:
            x, w = np.polynomial.legendre.leggauss(nodes)
            t = (x + 1) / 2
            log_total = np.zeros((len(self.kb.pathologies), nodes))
            for group in self.groups:
                log_total += np.log(self._group_values(group, frozenset(), 1 - t))
            self._nodes_cache[nodes] = (t, np.log(w / 2), log_total)
        return self._nodes_cache[nodes]

    def _group_values(self, group: _Group, revealed: frozenset[int], z: np.ndarray) -> np.ndarray:
        """G_g(z) for every pathology (rows) and point z (columns): the sum over the group's configurations
        containing its revealed atoms of P(configuration | d) z^(number of its atoms not revealed)."""
        values = self._evidence_values(group.root, revealed, z)
        if not group.children:
            return values
        p = self.kb.tables[self.kb.evidences[group.root].code][:, None]
        inner = np.ones((p.shape[0], len(z)))
        for child in group.children:
            inner = inner * self._evidence_values(child, revealed, z)
        if revealed & group.atoms:
            present = p * inner
            return present if self.evidence_atoms[group.root][None] in revealed else present * z
        return (1 - p) + p * z * inner

    def _evidence_values(self, index: int, revealed: frozenset[int], z: np.ndarray) -> np.ndarray:
        evidence: Evidence = self.kb.evidences[index]
        table = self.kb.tables[evidence.code]
        atoms = self.evidence_atoms[index]
        if evidence.kind is EvidenceKind.BINARY:
            p = table[:, None]
            return np.broadcast_to(p, (len(p), len(z))) if atoms[None] in revealed else (1 - p) + p * z
        columns = [i for i, v in enumerate(evidence.values) if v in atoms]
        chosen = np.array([atoms[evidence.values[i]] in revealed for i in columns], dtype=bool)
        if evidence.kind is EvidenceKind.CATEGORICAL:
            if chosen.sum() > 1:
                return np.zeros((table.shape[0], len(z)))
            if chosen.any():
                return np.broadcast_to(table[:, [columns[int(np.argmax(chosen))]]], (table.shape[0], len(z)))
            if evidence.default is None:
                q0 = np.zeros((table.shape[0], 1))
            else:
                q0 = table[:, [evidence.values.index(evidence.default)]]
            return q0 + (1 - q0) * z
        return self._multi_values(index, table[:, columns], chosen, z)

    def _multi_values(
        self, index: int, selected: np.ndarray, chosen: np.ndarray, z: np.ndarray
    ) -> np.ndarray:
        """prod over revealed values of p_v times prod over the others of (1 - p_v + p_v z), with the product
        over all values cached per evidence and z (multi-choice evidences can have ~100 values)."""
        key = (index, z.tobytes())
        if key not in self._multi_cache:
            with np.errstate(divide="ignore"):
                self._multi_cache[key] = np.log1p(selected[:, :, None] * (z[None, None, :] - 1)).sum(axis=1)
        log_all = self._multi_cache[key]
        if not chosen.any():
            return np.exp(log_all)
        picked = selected[:, chosen][:, :, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            log_removed = np.log1p(picked * (z[None, None, :] - 1)).sum(axis=1)
            log_rest = log_all - log_removed
            if not np.all(np.isfinite(log_removed)):  # a value with p_v = 1 at z = 0: recompute the rest
                others = selected[:, ~chosen][:, :, None]
                log_rest = np.log1p(others * (z[None, None, :] - 1)).sum(axis=1)
            return np.exp(log_rest + np.log(picked[:, :, 0]).sum(axis=1)[:, None])


_ZERO = np.zeros(1)
