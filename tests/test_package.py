"""The package namespace: every advertised name imports, and importing nnlib.data stays light."""

import subprocess
import sys

import nnlib


def test_all_lists_every_lazy_name_and_each_one_imports():
    assert sorted(nnlib.__all__) == sorted([*nnlib._EXPORTS, *nnlib._SUBMODULES])
    for name in nnlib.__all__:
        assert getattr(nnlib, name) is not None


def test_unknown_name_gives_attribute_error():
    try:
        nnlib.NoSuchLayer  # noqa: B018
    except AttributeError as error:
        assert "NoSuchLayer" in str(error)
    else:
        raise AssertionError("nnlib.NoSuchLayer should raise AttributeError")


def test_importing_the_data_module_does_not_import_matplotlib_or_sklearn():
    code = ("import sys, nnlib.data; "
            "print(sorted(m for m in ('matplotlib', 'sklearn', 'ipywidgets') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"
