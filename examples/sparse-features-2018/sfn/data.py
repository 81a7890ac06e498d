import numpy as np
import pandas as pd
from sklearn.datasets import make_classification


def make_dataset(n_samples=600, n_features=20, seed=0):
    X, y = make_classification(n_samples=n_samples, n_features=n_features,
                               n_informative=5, random_state=seed)
    X = X.astype(np.float)
    y = y.astype(np.int)
    return X, y


def summarize(history):
    """Collect per-epoch metrics into a table."""
    table = pd.DataFrame(columns=["epoch", "accuracy"])
    for epoch, accuracy in history:
        table = table.append({"epoch": epoch, "accuracy": accuracy}, ignore_index=True)
    return table
