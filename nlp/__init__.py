"""Redaction of personal data, place detection, embeddings and BERTopic themes.

Algorithm modules here take and return plain Python, numpy and pandas values and import neither Flask nor the
database; a thin storage layer in this package saves their results."""


def init_app(app) -> None:
    """Register the NLP package with the app: CLI commands and the signal hooks that redact saved observations."""
    # redaction --------------------------------------------------------------------------------------------------
    from nlp import redaction_tasks
    from nlp.redaction_cli import nlp_cli
    from submissions.signals import observations_saved

    app.cli.add_command(nlp_cli)
    observations_saved.connect(redaction_tasks.on_observations_saved)
