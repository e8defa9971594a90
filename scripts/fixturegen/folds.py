"""Folds made by scikit-learn, to prove that clipcv reuses a `--folds-file` exactly.

Writes Tests/CohortTests/Fixtures/folds/:
- sklearn_cases.csv   case_id,label of 23 cases (15 of class 1, 8 of class 0, interleaved),
- sklearn_folds.csv   repeat,case_id,fold from RepeatedStratifiedKFold(n_splits=4, n_repeats=2, random_state=7)
                      (columns deliberately not in clipcv's order: they are matched by name),
- sklearn_splits.json the test indices of every (repeat, fold) as scikit-learn returns them.

Run alone: python3 scripts/fixturegen/folds.py  (or import and call generate(repo_root)).
"""
import csv
import json
import os
import sys

import numpy as np
from sklearn.model_selection import RepeatedStratifiedKFold


def generate(repo_root):
    out = os.path.join(repo_root, "Tests", "CohortTests", "Fixtures", "folds")
    os.makedirs(out, exist_ok=True)
    labels = [1 if (i * 7) % 23 < 15 else 0 for i in range(23)]
    ids = ["S%02d" % (i + 1) for i in range(len(labels))]
    n_splits, n_repeats = 4, 2
    splitter = RepeatedStratifiedKFold(n_splits=n_splits, n_repeats=n_repeats, random_state=7)

    splits, rows = [], []
    for index, (_, test) in enumerate(splitter.split(np.zeros(len(labels)), labels)):
        r, fold = divmod(index, n_splits)
        splits.append({"repeat": r, "fold": fold, "test": sorted(int(t) for t in test)})
        rows += [(r, ids[t], fold) for t in test]

    with open(os.path.join(out, "sklearn_cases.csv"), "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["case_id", "label"])
        writer.writerows(zip(ids, labels))
    with open(os.path.join(out, "sklearn_folds.csv"), "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["repeat", "case_id", "fold"])
        writer.writerows(rows)
    with open(os.path.join(out, "sklearn_splits.json"), "w") as f:
        json.dump({"folds": n_splits, "repeats": n_repeats, "labels": labels, "splits": splits}, f)
        f.write("\n")


if __name__ == "__main__":
    generate(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
