from django.apps import AppConfig


class PredictionsConfig(AppConfig):
    name = "predictions"
    verbose_name = "Predictions gateway"

    def ready(self) -> None:
        # Connect the receivers: cache invalidation, settings changes, login metrics.
        from predictions.access import signals as access_signals  # noqa: F401
        from predictions.deployments import signals as deployment_signals  # noqa: F401
        from predictions.inference import signals as inference_signals  # noqa: F401
        from predictions.operations import signals as operations_signals  # noqa: F401
        from predictions.payloads import signals as payload_signals  # noqa: F401
