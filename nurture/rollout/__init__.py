"""Rolling a scenario's new version out to its running journeys: which journeys (a
visibility query), what each would do (the dry run), and the durable `ScenarioRollout`
workflow's inputs and progress."""
