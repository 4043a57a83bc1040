"""A plain (clock-free) driver: steps waves directly and hands each flush to a callback.

The SimPy engine drives the same executor with simulated time; a real backend passes a ``perform``
that exchanges shares or evaluates keys and returns the results.
"""

from collections.abc import Callable, Iterable

from .actions import Flush, FlushResult, Wave
from .executor import PhaseExecutor, RunConfig, TaskRunner, next_action


def drive(executor: PhaseExecutor, runners: Iterable[TaskRunner], config: RunConfig,
          perform: Callable[[Flush], FlushResult | None] = lambda flush: None) -> list[TaskRunner]:
    """Run one executor ``run()`` to completion; returns the runners (their ``value`` is the output)."""
    runners = list(runners)
    actions = executor.run(runners, config)
    action = next_action(actions, None)
    while action is not None:
        reply = [t.step() for t in action.tasks] if isinstance(action, Wave) else perform(action)
        action = next_action(actions, reply)
    return runners
