"""The error an operator raises for an operand it cannot use (a leaf, so operands and operators share it)."""

from __future__ import annotations

__all__ = ["OperandError"]


class OperandError(ValueError):
    """An operand an operator cannot use; carries a diagnostic code and a fix hint."""

    def __init__(self, message: str, hint: str | None = None, code: str = "D2E102") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code
