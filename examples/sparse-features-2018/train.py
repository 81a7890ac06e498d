import argparse
from collections import Mapping

import yaml
from tqdm import tqdm

from sfn import SparseFeatureNetwork, make_dataset, summarize


def load_config(path):
    with open(path) as f:
        config = yaml.load(f)
    assert isinstance(config, Mapping)
    return config


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", default="config.yaml")
    args = parser.parse_args()
    config = load_config(args.config)
    X, y = make_dataset(config["n_samples"], config["n_features"], config["seed"])
    split = int(0.8 * len(X))
    history = []
    for epoch in tqdm(range(3)):
        model = SparseFeatureNetwork(config["sparsity"], seed=epoch).fit(X[:split], y[:split])
        history.append((epoch, model.score(X[split:], y[split:])))
    print(summarize(history))
    model.save("model.joblib")


if __name__ == "__main__":
    main()
