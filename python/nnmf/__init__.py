"""nnmf: Neural NMF for hierarchical topic modeling, on a compiled core.

Estimators (scikit-learn conventions: X of shape (n_samples, n_features), dense NumPy or
SciPy sparse, nonnegative; float32 kept): NeuralNMF, NMF, HierarchicalNMF, DeepNMF.
NeuralNMF trains around held-out entries for masked cross-validation: fit(X, held_out=H)
or held_out_fraction, scored in held_out_error_.
Functions: nnls (batched nonnegative least squares), nnls_backward (its gradient) and
select_rank (NMF ranks scored on held-out entries).
"""

from . import _nnmf
from ._estimators import NMF, DeepNMF, HierarchicalNMF, NeuralNMF
from ._functions import nnls, nnls_backward, select_rank

__version__ = _nnmf.__version__
cuda_compiled = _nnmf.cuda_compiled
cuda_device_count = _nnmf.cuda_device_count

__all__ = ["NeuralNMF", "NMF", "HierarchicalNMF", "DeepNMF", "nnls", "nnls_backward", "select_rank",
           "cuda_compiled", "cuda_device_count", "__version__"]
