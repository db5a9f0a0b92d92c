"""SCF / CloudBase entry point of the `model_update` function: the timer that checks, canaries,
promotes or rejects new model versions."""

from typing import Any

from xiaofei.adapters.scf import handle


def main_handler(event: Any, context: Any) -> Any:
    return handle("model_update", event, context)
