"""SCF / CloudBase entry point of the `history` function: HTTP (/history…) and mini program
calls (list, get, delete, delete_all)."""

from typing import Any

from xiaofei.adapters.scf import handle


def main_handler(event: Any, context: Any) -> Any:
    return handle("history", event, context)
