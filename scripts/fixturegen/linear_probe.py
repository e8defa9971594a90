"""Linear-probe baseline reference: scikit-learn StandardScaler + LogisticRegression(C=1) on small feature sets.

Writes Tests/TrainingTests/Fixtures/linear_probe.json. Run alone (`python3 scripts/fixturegen/linear_probe.py`)
or through scripts/make_fixtures.py.
"""
import json
import pathlib

import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def generate(repo_root: pathlib.Path) -> None:
    rng = np.random.default_rng(7)
    cases = []
    for n_train, n_test, dim, shift in [(24, 10, 5, 0.8), (40, 12, 16, 0.3), (15, 6, 3, 2.0)]:
        labels = (rng.random(n_train + n_test) < 0.65).astype(int)
        features = rng.normal(size=(n_train + n_test, dim)) + shift * labels[:, None] * rng.normal(size=dim)
        features[:, 0] *= 5.0  # unequal scales: standardization matters
        labels[:2] = [0, 1]    # both classes in training
        model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, tol=1e-10, max_iter=10000))
        model.fit(features[:n_train], labels[:n_train])
        cases.append({
            "train_features": features[:n_train].tolist(), "train_labels": labels[:n_train].tolist(),
            "test_features": features[n_train:].tolist(),
            "test_probabilities": model.predict_proba(features[n_train:])[:, 1].tolist(),
        })
    out = repo_root / "Tests" / "TrainingTests" / "Fixtures" / "linear_probe.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"sklearn_version": sklearn.__version__, "cases": cases}))


if __name__ == "__main__":
    generate(pathlib.Path(__file__).resolve().parents[2])
