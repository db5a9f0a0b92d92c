"""SCF / CloudBase entry point of the `predict` function: HTTP (/predict, /session, /uploads,
/models, /healthz), mini program calls, and COS upload events."""

from typing import Any

from xiaofei.adapters.scf import handle


def main_handler(event: Any, context: Any) -> Any:
    return handle("predict", event, context)
