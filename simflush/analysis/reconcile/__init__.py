"""Reconcile measured flush counts with causes: the settings space (``space``), the search (``search``),
per-flush attribution of a trace (``trace``) and the text and JSON reports (``report``)."""
