import numpy as np
from sklearn.externals import joblib
from sklearn.linear_model import LogisticRegression


class SparseFeatureNetwork(object):
    """Logistic regression on the features that survive a magnitude threshold."""

    def __init__(self, sparsity=0.25, seed=0):
        self.sparsity = sparsity
        self.clf = LogisticRegression(solver="liblinear", random_state=seed)
        self.mask = None

    def fit(self, X, y):
        scores = np.abs(np.corrcoef(X.T, y)[-1, :-1])
        keep = int(np.ceil(X.shape[1] * (1 - self.sparsity)))
        self.mask = np.zeros(X.shape[1], dtype=np.bool)
        self.mask[np.argsort(scores)[-keep:]] = True
        self.clf.fit(X[:, self.mask], y)
        return self

    def score(self, X, y):
        return self.clf.score(X[:, self.mask], y)

    def save(self, path):
        joblib.dump(self, path)
