"""Make ``nnlib.checks`` hand out its genuine checks even after a notebook replaced them.

The hidden tests of a set import their checks (``from nnlib.checks import check_sigmoid``). A
notebook that replaced those names on the package first, with ``setattr`` or through the
package's ``__dict__``, would have them import its fakes, and no genuine check would ever run to
notice. After ``lock`` the package's class answers every attribute lookup of a locked name with
the original captured at import, and refuses to replace or delete one.

This raises the cost of cheating; it cannot make an in-process check unbreakable (a notebook can
still swap the whole module in ``sys.modules``). The tampering report that the instructor's
autograde writes is the other half of the defence.
"""

import types

_ModuleType = types.ModuleType
_module_getattribute = types.ModuleType.__getattribute__
_module_setattr = types.ModuleType.__setattr__
_module_delattr = types.ModuleType.__delattr__


def lock(package, names):
    """Lock ``package.<name>`` for every name to its current value."""
    originals = {name: _module_getattribute(package, name) for name in names}
    label = package.__name__

    class SealedPackage(_ModuleType):
        __slots__ = ()

        def __getattribute__(self, name):
            if name in originals:
                return originals[name]
            return _module_getattribute(self, name)

        def __setattr__(self, name, value):
            if name in originals or name == "__class__":
                raise AttributeError(f"tampering detected: {label}.{name} cannot be replaced: "
                                     "the checks grade "
                                     "your own functions, not replacements of the checks")
            _module_setattr(self, name, value)

        def __delattr__(self, name):
            if name in originals or name == "__class__":
                raise AttributeError(f"tampering detected: {label}.{name} cannot be deleted")
            _module_delattr(self, name)

    package.__class__ = SealedPackage
