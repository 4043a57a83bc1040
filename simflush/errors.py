"""The two kinds of failure simflush reports.

``ConfigError`` is a tool error (bad input from the user): the CLI prints one line and exits 2.
``SufRuntimeError`` is what the *simulated* SUF runtime would throw (a cap exceeded, a deadlock):
the CLI prints it as the runtime's error and exits 3.
"""


class ConfigError(ValueError):
    """Bad user input: an unknown name, an out-of-range value, contradictory settings."""


class SufRuntimeError(RuntimeError):
    """An error the SUF runtime itself would raise for this configuration.

    ``run`` names the executor run in which it happened (e.g. ``"L0/Score_trunc"``) once known.
    """

    def __init__(self, message: str, run: str | None = None):
        super().__init__(message)
        self.message = message
        self.run = run

    def __str__(self) -> str:
        return f"{self.run}: {self.message}" if self.run else self.message
