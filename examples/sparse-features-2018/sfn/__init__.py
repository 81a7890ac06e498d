from .data import make_dataset, summarize
from .model import SparseFeatureNetwork
