"""Reference values for the Evaluation target, from scikit-learn, numpy and scipy.

Writes Tests/EvaluationTests/Fixtures/metrics_reference.json (prediction sets with the values of roc_auc_score,
accuracy_score, recall_score for classes 1 and 0, balanced_accuracy_score, f1_score, roc_curve, numpy mean/std
with ddof 1, and a numpy stratified percentile bootstrap CI of each pooled AUC) and delong_reference.json (DeLong's
test, fast algorithm of Sun & Xu 2014 written here in numpy from the paper and checked against the O(m·n) original
of DeLong et al. 1988 and against scikit-learn's AUC).

A value scikit-learn calls undefined (NaN, or an UndefinedMetricWarning with 0 substituted) is null, as in clipcv.
The std of a single value is 0, as clipcv's MeanAndDeviation defines it (numpy would give NaN).

Run alone: python3 scripts/fixturegen/metrics.py    (or through scripts/make_fixtures.py, which calls generate)
"""
import json
import math
import warnings
from pathlib import Path

import numpy as np
from scipy.stats import norm, rankdata
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import (accuracy_score, balanced_accuracy_score, f1_score, recall_score, roc_auc_score,
                             roc_curve)
from sklearn.model_selection import StratifiedKFold

BOOTSTRAP_RESAMPLES = 2000
TOLERANCE = 1e-12


def sklearn_value(metric, *args, **kwargs):
    """The metric's value, or None where scikit-learn says it is undefined."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = float(metric(*args, **kwargs))
    if math.isnan(value) or any(issubclass(w.category, UndefinedMetricWarning) for w in caught):
        return None
    return value


def metrics(labels, scores, threshold):
    labels, scores = np.asarray(labels), np.asarray(scores)
    predicted = (scores > threshold).astype(int)
    with warnings.catch_warnings():
        # balanced_accuracy_score warns (UserWarning) when a fold lacks a class; its value is still defined.
        warnings.simplefilter("ignore", UserWarning)
        balanced = float(balanced_accuracy_score(labels, predicted))
    return {
        "n": int(len(labels)),
        "auc": sklearn_value(roc_auc_score, labels, scores),
        "acc": sklearn_value(accuracy_score, labels, predicted),
        "sensitivity": sklearn_value(recall_score, labels, predicted, pos_label=1),
        "specificity": sklearn_value(recall_score, labels, predicted, pos_label=0),
        "balanced_accuracy": balanced,
        "f1": sklearn_value(f1_score, labels, predicted),
    }


METRIC_KEYS = ["auc", "acc", "sensitivity", "specificity", "balanced_accuracy", "f1"]


def summary(folds):
    result = {}
    for key in METRIC_KEYS:
        values = np.array([fold[key] for fold in folds if fold[key] is not None], dtype=float)
        if len(values) == 0:
            result[key] = None
        else:
            result[key] = {"mean": float(np.mean(values)),
                           "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0}
    result["std_ddof"] = 1
    return result


def bootstrap_ci(labels, scores, rng):
    """Stratified percentile bootstrap of the AUC, vectorized: AUC = (rank sum of positives − m(m+1)/2) / (m·n)."""
    positives, negatives = scores[labels == 1], scores[labels == 0]
    m, n = len(positives), len(negatives)
    resampled = np.hstack([positives[rng.integers(0, m, (BOOTSTRAP_RESAMPLES, m))],
                           negatives[rng.integers(0, n, (BOOTSTRAP_RESAMPLES, n))]])
    ranks = rankdata(resampled, axis=1)  # average ranks for ties
    aucs = (ranks[:, :m].sum(axis=1) - m * (m + 1) / 2) / (m * n)
    return [float(np.percentile(aucs, 2.5)), float(np.percentile(aucs, 97.5))]


def prediction_set(name, case_ids, labels, scores, folds, repeats, threshold, rng, columns=True):
    labels, scores = np.asarray(labels, dtype=int), np.asarray(scores, dtype=float)
    folds, repeats = np.asarray(folds, dtype=int), np.asarray(repeats, dtype=int)
    fold_entries = []
    for r in sorted(set(repeats.tolist())):
        for f in sorted(set(folds[repeats == r].tolist())):
            chosen = (repeats == r) & (folds == f)
            fold_entries.append({"repeat": r, "fold": f, **metrics(labels[chosen], scores[chosen], threshold)})
    pooled = []
    for r in sorted(set(repeats.tolist())):
        chosen = repeats == r
        entry = {"repeat": r, **metrics(labels[chosen], scores[chosen], threshold)}
        if entry["auc"] is not None:
            # The Mann–Whitney form and scikit-learn's trapezoid agree; the bootstrap below relies on it.
            y, s = labels[chosen], scores[chosen]
            ranks = rankdata(s)
            m, n = int(y.sum()), int((1 - y).sum())
            assert abs((ranks[y == 1].sum() - m * (m + 1) / 2) / (m * n) - entry["auc"]) <= TOLERANCE
            fpr, tpr, thresholds = roc_curve(y, s, drop_intermediate=False)
            assert thresholds[0] == np.inf
            entry["roc"] = {"fpr": fpr.tolist(), "tpr": tpr.tolist(), "thresholds_after_infinity": thresholds[1:].tolist()}
            entry["numpy_bootstrap_ci95"] = bootstrap_ci(y, s, rng)
            assert entry["numpy_bootstrap_ci95"][0] <= entry["auc"] <= entry["numpy_bootstrap_ci95"][1]
        else:
            entry["roc"] = None
            entry["numpy_bootstrap_ci95"] = None
        pooled.append(entry)
    return {
        "name": name,
        "threshold": threshold,
        "has_fold_columns": columns,
        "predictions": {"case_id": list(case_ids), "label": labels.tolist(), "score": scores.tolist(),
                        "fold": folds.tolist(), "repeat": repeats.tolist()},
        "expected": {"folds": fold_entries, "summary": summary(fold_entries), "pooled": pooled},
    }


def cross_validated(name, labels, make_scores, n_folds, n_repeats, threshold, rng, seed):
    """Every case once per repeat, in StratifiedKFold(shuffle) folds; each repeat has its own scores."""
    labels = np.asarray(labels)
    case_ids, all_labels, all_scores, all_folds, all_repeats = [], [], [], [], []
    for r in range(n_repeats):
        splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed + r)
        fold_of = np.empty(len(labels), dtype=int)
        for f, (_, test) in enumerate(splitter.split(np.zeros(len(labels)), labels)):
            fold_of[test] = f
        scores = make_scores(labels)
        case_ids += [f"case{i:03d}" for i in range(len(labels))]
        all_labels += labels.tolist()
        all_scores += scores.tolist()
        all_folds += fold_of.tolist()
        all_repeats += [r] * len(labels)
    return prediction_set(name, case_ids, all_labels, all_scores, all_folds, all_repeats, threshold, rng)


def prediction_sets(rng):
    sigmoid = lambda x: 1 / (1 + np.exp(-x))
    sets = []

    # One fold, no fold/repeat columns; scores on a 0.1 grid: many ties, across classes, some exactly at 0.5.
    labels = (rng.random(40) < 0.5).astype(int)
    scores = np.round(np.clip(0.5 + 0.25 * (labels - 0.5) + rng.normal(0, 0.2, 40), 0, 1), 1)
    sets.append(prediction_set("ties_one_fold", [f"p{i}" for i in range(40)], labels, scores, [0] * 40, [0] * 40,
                               0.5, rng, columns=False))

    # 5 folds × 3 repeats, continuous scores, threshold 0.3.
    labels = np.array([1] * 27 + [0] * 33)
    sets.append(cross_validated("five_folds_three_repeats_threshold_0.3", labels,
                                lambda y: sigmoid(1.2 * (y - 0.5) + rng.normal(0, 1, len(y))), 5, 3, 0.3, rng, 11))

    # 10 folds × 5 repeats.
    labels = np.array([1] * 55 + [0] * 45)
    sets.append(cross_validated("ten_folds_five_repeats", labels,
                                lambda y: sigmoid(0.8 * (y - 0.5) + rng.normal(0, 1, len(y))), 10, 5, 0.5, rng, 21))

    # The study's cohort shape: 124 responders, 58 not; 5 folds × 2 repeats; scores to 3 decimals (some ties).
    labels = np.array([1] * 124 + [0] * 58)
    sets.append(cross_validated("imbalanced_124_58", labels,
                                lambda y: np.round(sigmoid(1.5 * (y - 0.5) + 0.4 + rng.normal(0, 1, len(y))), 3),
                                5, 2, 0.5, rng, 31))

    # Small n: 6 cases in 2 folds.
    sets.append(prediction_set("small_n", ["a", "b", "c", "d", "e", "f"], [1, 1, 0, 1, 0, 0],
                               [0.8, 0.35, 0.6, 0.7, 0.2, 0.45], [0, 0, 0, 1, 1, 1], [0] * 6, 0.5, rng))

    # Only three distinct scores, shared by both classes; 0.5 is exactly the threshold (predicted 0).
    labels = np.array([1] * 14 + [0] * 16)
    sets.append(cross_validated("exact_ties_across_classes", labels,
                                lambda y: rng.choice([0.2, 0.5, 0.8], len(y), p=[0.3, 0.4, 0.3]), 3, 1, 0.5, rng, 41))

    # Folds missing a class: AUC and one recall undefined; F1 undefined where nothing is labelled or predicted 1.
    sets.append(prediction_set("degenerate_folds", [f"d{i}" for i in range(11)],
                               [0, 0, 0, 1, 1, 0, 0, 0, 1, 0, 1],
                               [0.1, 0.7, 0.3, 0.9, 0.2, 0.1, 0.2, 0.3, 0.6, 0.55, 0.4],
                               [0, 0, 0, 1, 1, 2, 2, 3, 3, 3, 3], [0] * 11, 0.5, rng))

    # One class in the whole repeat: every AUC, specificity and CI undefined.
    sets.append(prediction_set("single_class", [f"s{i}" for i in range(5)], [1] * 5, [0.9, 0.4, 0.6, 0.7, 0.51],
                               [0, 0, 1, 1, 1], [0] * 5, 0.5, rng))
    return sets


# DeLong's test.

def midranks(values):
    """1-based ranks, ties given their average rank (Sun & Xu's midranks)."""
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    ranks = np.empty(len(values))
    i = 0
    while i < len(values):
        j = i
        while j < len(values) and ordered[j] == ordered[i]:
            j += 1
        ranks[i:j] = (i + 1 + j) / 2  # mean of ranks i+1 … j
        i = j
    result = np.empty(len(values))
    result[order] = ranks
    return result


def fast_delong(labels, score_sets):
    """Sun & Xu (2014), Algorithm 1: AUCs and their covariance matrix from midranks."""
    labels = np.asarray(labels)
    positives = np.array([s[labels == 1] for s in score_sets])  # X: k × m
    negatives = np.array([s[labels == 0] for s in score_sets])  # Y: k × n
    k, m = positives.shape
    n = negatives.shape[1]
    tx = np.array([midranks(x) for x in positives])
    ty = np.array([midranks(y) for y in negatives])
    tz = np.array([midranks(np.concatenate([x, y])) for x, y in zip(positives, negatives)])
    aucs = tz[:, :m].sum(axis=1) / (m * n) - (m + 1) / (2 * n)
    v10 = (tz[:, :m] - tx) / n
    v01 = 1 - (tz[:, m:] - ty) / m
    s10, s01 = np.atleast_2d(np.cov(v10)), np.atleast_2d(np.cov(v01))
    return aucs, s10 / m + s01 / n


def slow_delong(labels, score_sets):
    """DeLong, DeLong & Clarke-Pearson (1988) directly: ψ over all positive–negative pairs."""
    labels = np.asarray(labels)
    v10s, v01s, aucs = [], [], []
    for s in score_sets:
        x, y = s[labels == 1], s[labels == 0]
        psi = (x[:, None] > y[None, :]) + 0.5 * (x[:, None] == y[None, :])
        v10s.append(psi.mean(axis=1))
        v01s.append(psi.mean(axis=0))
        aucs.append(psi.mean())
    m, n = len(v10s[0]), len(v01s[0])
    covariance = np.zeros((len(score_sets), len(score_sets)))
    for a in range(len(score_sets)):
        for b in range(len(score_sets)):
            s10 = ((v10s[a] - v10s[a].mean()) * (v10s[b] - v10s[b].mean())).sum() / (m - 1)
            s01 = ((v01s[a] - v01s[a].mean()) * (v01s[b] - v01s[b].mean())).sum() / (n - 1)
            covariance[a, b] = s10 / m + s01 / n
    return np.array(aucs), covariance


def delong_case(name, labels, scores_a, scores_b):
    labels = np.asarray(labels, dtype=int)
    scores_a, scores_b = np.asarray(scores_a, dtype=float), np.asarray(scores_b, dtype=float)
    aucs, cov = fast_delong(labels, [scores_a, scores_b])
    slow_aucs, slow_cov = slow_delong(labels, [scores_a, scores_b])
    assert np.max(np.abs(aucs - slow_aucs)) <= TOLERANCE and np.max(np.abs(cov - slow_cov)) <= TOLERANCE, name
    for auc, scores in zip(aucs, [scores_a, scores_b]):
        assert abs(auc - roc_auc_score(labels, scores)) <= TOLERANCE, name
    difference_variance = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    if difference_variance > 0:
        z = float((aucs[0] - aucs[1]) / math.sqrt(difference_variance))
        p = float(2 * norm.sf(abs(z)))
    else:
        z = p = None
    return {"name": name, "labels": labels.tolist(), "scores_a": scores_a.tolist(), "scores_b": scores_b.tolist(),
            "auc_a": float(aucs[0]), "auc_b": float(aucs[1]), "variance_a": float(cov[0, 0]),
            "variance_b": float(cov[1, 1]), "covariance": float(cov[0, 1]), "z": z, "p_value": p}


def delong_cases(rng):
    cases = []
    labels = np.array([1] * 124 + [0] * 58)
    shared = rng.normal(0, 1, len(labels))
    cases.append(delong_case("imbalanced_124_58_correlated", labels,
                             1.0 * labels + shared + rng.normal(0, 0.5, len(labels)),
                             0.6 * labels + shared + rng.normal(0, 0.5, len(labels))))
    labels = (rng.random(40) < 0.5).astype(int)
    latent = labels + rng.normal(0, 0.8, 40)
    cases.append(delong_case("ties_on_a_grid", labels, np.round(latent, 0), np.round(latent + rng.normal(0, 0.5, 40), 1)))
    labels = np.array([1, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, 1])
    cases.append(delong_case("small_n", labels, rng.random(12) + 0.3 * labels, rng.random(12) + 0.6 * labels))
    labels = np.array([1] * 20 + [0] * 25)
    perfect = labels + rng.random(45) * 0.9
    cases.append(delong_case("perfect_against_noisy", labels, perfect, labels * 0.5 + rng.random(45)))
    same = rng.random(30)
    labels = (rng.random(30) < 0.4).astype(int)
    cases.append(delong_case("identical_scores", labels, same, same.copy()))
    return cases


def generate(repo_root):
    out = Path(repo_root) / "Tests" / "EvaluationTests" / "Fixtures"
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20250805)
    reference = {"generator": "scripts/fixturegen/metrics.py", "bootstrap_resamples": BOOTSTRAP_RESAMPLES,
                 "sets": prediction_sets(rng)}
    (out / "metrics_reference.json").write_text(json.dumps(reference, separators=(",", ":")) + "\n")
    delong = {"generator": "scripts/fixturegen/metrics.py", "cases": delong_cases(rng)}
    (out / "delong_reference.json").write_text(json.dumps(delong, separators=(",", ":")) + "\n")
    print(f"metrics: wrote {len(reference['sets'])} prediction sets and {len(delong['cases'])} DeLong cases to {out}")


if __name__ == "__main__":
    generate(Path(__file__).resolve().parents[2])
