"""The analytic checklist: closed forms of every task (``forms``), their counts per run, layer and model
(``counts``), and tables (``render``)."""
