"""What simflush computes from schedules and measurements, one subject a package:
``checklist`` (closed-form counts), ``reconcile`` (measured counts back to causes), ``calibration``
(cost-model fits and validation against measured runs), ``whatif`` (sweeps of settings and the report)."""
