"""Cost-model calibration from measured traces (``samples`` -> ``robust_fit`` -> ``calibrate``) and
validation of predictions against measured runs (``validate``)."""
