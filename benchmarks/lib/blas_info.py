"""Which BLAS libmlx runs on in this Python process, and which OpenBLAS kernel it picked: read
from /proc/self/maps (the files really loaded) and, for OpenBLAS, asked in process through
ctypes (openblas_get_config / openblas_get_corename; the scipy-openblas builds prefix them with
"scipy_"). numpy's own OpenBLAS (numpy.libs) is not libmlx's and is left out.

Imported by the mlx-lm drivers (mlx_lm_generate.py, mlx_lm_lora.py); run on its own it imports
mlx (which loads libmlx and its BLAS) and prints one JSON line:
  {"mlx": ..., "mlx_lm": ..., "blas": {"library", "version", "corename", "config", "files"}}
"""

import ctypes
import json
import os
import re
import sys


def mapped_files():
    """Every file mapped into this process, in first-seen order (Linux; [] elsewhere)."""
    seen = []
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 6 and parts[5].startswith("/") and parts[5] not in seen:
                    seen.append(parts[5])
    except OSError:
        pass
    return seen


def loaded_blas():
    """The BLAS/LAPACK files libmlx has mapped (numpy's own OpenBLAS left out)."""
    out = []
    for path in mapped_files():
        name = path.rsplit("/", 1)[-1]
        if ("blas" in name or "lapack" in name) and "numpy.libs" not in path:
            out.append(path)
    return out


def _call_str(lib, names):
    for name in names:
        fn = getattr(lib, name, None)
        if fn is not None:
            fn.restype = ctypes.c_char_p
            value = fn()
            return value.decode() if value else None
    return None


def blas_kernel():
    """{library, version, corename, config, files}: the BLAS libmlx uses and its kernel."""
    files = loaded_blas()
    for path in files:
        if "openblas" not in path.rsplit("/", 1)[-1]:
            continue
        try:
            lib = ctypes.CDLL(path)  # already loaded: the same handle, no second copy
        except OSError:
            continue
        config = _call_str(lib, ["openblas_get_config", "scipy_openblas_get_config", "scipy_openblas_get_config64_"])
        corename = _call_str(lib, ["openblas_get_corename", "scipy_openblas_get_corename", "scipy_openblas_get_corename64_"])
        if config is None and corename is None:
            continue
        m = re.search(r"OpenBLAS (\d+\.\d+\.\d+)", config or "")
        return {
            "library": "OpenBLAS",
            "version": m.group(1) if m else None,
            "corename": corename,
            "config": config,
            "threads_env": os.environ.get("OPENBLAS_NUM_THREADS"),
            "coretype_env": os.environ.get("OPENBLAS_CORETYPE"),
            # RTLD_LAZY when the venv's mlxlab_lazy_bind.pth set it (scripts/bench-venv.sh).
            "dlopen": "lazy" if not sys.getdlopenflags() & os.RTLD_NOW else "now",
            "files": files,
        }
    if any(re.match(r"libblas-[0-9a-f]+\.so", p.rsplit("/", 1)[-1]) for p in files):
        return {"library": "reference BLAS (netlib, vendored by the mlx wheel)", "version": None, "corename": None, "config": None, "files": files}
    return {"library": "unknown", "version": None, "corename": None, "config": None, "files": files}


def peak_rss():
    """This process's peak resident set in bytes (VmHWM: its own address space, unlike
    getrusage's maxrss, which a child inherits from its parent), or None off Linux."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def main():
    import mlx.core as mx

    try:
        import mlx_lm

        mlx_lm_version = getattr(mlx_lm, "__version__", None)
    except ImportError:
        mlx_lm_version = None
    print(json.dumps({"mlx": mx.__version__, "mlx_lm": mlx_lm_version, "blas": blas_kernel()}))


if __name__ == "__main__":
    main()
