"""Planetoid's raw files read without running code from them.

The ``raw/ind.<name>.{x,tx,allx,y,ty,ally,graph}`` files are pickles, and loading a pickle can run any code it
names. Here an unpickler builds only what the original files hold (NumPy arrays, SciPy CSR matrices, a dict of
lists); a file that names anything else, or holds something else, is a :class:`DataError` naming the file, and
nothing in it is run. PyG's own ``read_planetoid_data`` builds the graph, features and split from them.
"""

from __future__ import annotations

import collections
import io
import pickle
import types
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
import torch_geometric.io.planetoid as pyg_planetoid
from torch import Tensor
from torch_geometric.datasets import Planetoid
from torch_geometric.io import read_txt_array

from mentor.errors import DataError

#: The globals the original files name (Python 2 pickles), under the module paths later versions write too.
_ALLOWED: dict[tuple[str, str], Any] = {
    **{(module, "_reconstruct"): np.zeros(0).__reduce__()[0] for module in ("numpy.core.multiarray",
                                                                             "numpy._core.multiarray")},
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    **{(module, "csr_matrix"): sp.csr_matrix for module in ("scipy.sparse.csr", "scipy.sparse._csr")},
    ("collections", "defaultdict"): collections.defaultdict,
    **{(module, "list"): list for module in ("__builtin__", "builtins")},
}  # fmt: skip


class _Refused(pickle.UnpicklingError):
    pass


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise _Refused(f"{module}.{name}") from None

    def persistent_load(self, pid: Any) -> Any:
        raise _Refused("a persistent id")


def _unpickle(path: Path) -> Any:
    try:
        return _Unpickler(io.BytesIO(path.read_bytes()), encoding="latin1").load()
    except _Refused as refused:
        raise DataError(f"holds something other than the Planetoid arrays expected there (it refers to {refused}); "
                        "it was not loaded: replace it with the original file", file=path) from None  # fmt: skip
    except Exception as error:  # a damaged pickle fails in many ways; none of them runs code from it
        raise DataError(f"is not a readable Planetoid file ({type(error).__name__}: {error})", file=path) from None


def _is_adjacency(value: Any) -> bool:
    return isinstance(value, dict) and all(
        type(key) is int and type(neighbours) is list and all(type(u) is int for u in neighbours)
        for key, neighbours in value.items()
    )


def read_raw_file(folder: str, prefix: str, name: str) -> Tensor | dict[int, list[int]]:
    """One raw file as PyG's ``read_file`` returns it: a float tensor, the adjacency dict, or the test indices."""
    path = Path(folder) / f"ind.{prefix.lower()}.{name}"
    if name == "test.index":
        try:
            return read_txt_array(str(path), dtype=torch.long)
        except (ValueError, RuntimeError) as error:
            raise DataError(f"expected one node index per line ({error})", file=path) from None
    value = _unpickle(path)
    if name == "graph":
        if not _is_adjacency(value):
            raise DataError(f"holds a {type(value).__name__}, not the dict of neighbour lists expected", file=path)
        return value
    if isinstance(value, sp.csr_matrix):
        try:
            value.check_format(full_check=True)
        except ValueError as error:
            raise DataError(f"holds a damaged sparse matrix ({error})", file=path) from None
        value = value.toarray()
    if not (isinstance(value, np.ndarray) and value.ndim == 2 and value.dtype.kind in "biuf"):
        raise DataError(f"holds a {type(value).__name__}, not the 2-D numeric array expected", file=path)
    return torch.from_numpy(value).to(torch.float)


def _names(code: types.CodeType) -> set[str]:
    """The global and attribute names ``code`` uses, nested code (comprehensions) included."""
    nested = (_names(const) for const in code.co_consts if isinstance(const, types.CodeType))
    return set(code.co_names).union(*nested)


def _with_safe_reader(function: types.FunctionType) -> types.FunctionType:
    """``function`` (PyG's) with :func:`read_raw_file` in place of its module's ``read_file``."""
    names = _names(function.__code__)
    if "read_file" not in names or "pickle" in names:  # a PyG that reads the files some other way: do not guess
        raise ImportError(f"{function.__module__}.{function.__name__} no longer reads through read_file")
    namespace = {**vars(pyg_planetoid), "read_file": read_raw_file}
    return types.FunctionType(function.__code__, namespace, function.__name__, function.__defaults__)


read_planetoid_data = _with_safe_reader(pyg_planetoid.read_planetoid_data)


class SafePlanetoid(Planetoid):
    """PyG's ``Planetoid`` whose raw files are read by :func:`read_raw_file` (not with its ``geom-gcn`` split)."""

    @property
    def log(self) -> bool:
        """Off: PyG's "Processing..." and "Done!" lines would stand before mentor's own output or error."""
        return False

    @log.setter
    def log(self, value: bool) -> None:
        pass

    def process(self) -> None:
        if self.split == "geom-gcn":
            raise ValueError("SafePlanetoid does not read the geom-gcn split files")
        data = read_planetoid_data(self.raw_dir, self.name)
        data = data if self.pre_transform is None else self.pre_transform(data)
        self.save([data], self.processed_paths[0])


__all__ = ["SafePlanetoid", "read_planetoid_data", "read_raw_file"]
