from django.apps import AppConfig


class PredictionsConfig(AppConfig):
    name = "predictions"
    verbose_name = "Predictions gateway"

    def ready(self) -> None:
        from predictions import signals  # noqa: F401  (connects the receivers)
