"""The error of a scenario that cannot be built, below both the scenario model and the step kinds that raise it."""


class ScenarioError(ValueError):
    """A scenario that cannot be built; the message names the field and the value."""
