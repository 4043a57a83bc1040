"""The plaintext fixed-point run (issue #11): the same tasks, through the same executor, on cleartext ring arrays.

``PlainContext`` is the fixed-point reference that the real backend's two-party run must equal bit for bit;
``gates`` evaluates each FSS gate on cleartext as its construction defines it; ``layer`` runs a model layer's
executor runs on values; ``ranges`` probes how large each intermediate grows at its scale.
"""
