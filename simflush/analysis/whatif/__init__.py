"""What-if studies: sweeps of settings simulated side by side (``compare``) and the report of the three
questions (``report``)."""
