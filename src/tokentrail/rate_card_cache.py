"""Rate cards resolved from genai-prices, kept in a file between processes.

Loading genai-prices' data costs about 0.15 s of CPU, more than a status line update or a
small sync takes in all; a card (or "no price known") for a model, provider, context and UTC
day is the same every time while the installed genai-prices is the same. The cache does not
know a card's fields: :mod:`tokentrail.pricing` hands it the card's JSON forms, so this module
imports nothing of pricing's and pricing can keep one at module level.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

NOT_KEPT: Any = object()
"""What :meth:`RateCardCache.get` answers for a key the file does not hold."""
CARD_CACHE_FILE = "rate-cards.json"

Card = TypeVar("Card")


def card_key(
    model: str, provider: str | None, context: tuple[tuple[str, str], ...], when: datetime
) -> str:
    day = when.astimezone(UTC).date().isoformat()
    return "\x1f".join([model, provider or "", repr(context), day])


class RateCardCache(Generic[Card]):
    """Cards by :func:`card_key`, ``None`` where no price is known, in a file.

    The file is tied to the installed genai-prices by the size and modification time of its
    data files, and written once, when the process ends. Only cards that hold for a whole day
    are kept.
    """

    def __init__(
        self,
        encode: Callable[[Card], dict[str, Any]],
        decode: Callable[[dict[str, Any]], Card],
        path: Path | None = None,
    ) -> None:
        self._encode = encode
        self._decode = decode
        self._path = path
        self._cards: dict[str, Card | None] | None = None
        self._stamp = ""
        self._dirty = False

    def get(self, key: str) -> Card | None:
        """The kept card, None for "no price known", or :data:`NOT_KEPT`."""
        return self._load().get(key, NOT_KEPT)

    def put(self, key: str, card: Card | None) -> None:
        cards = self._load()
        if not self._stamp or cards.get(key, NOT_KEPT) == card:
            return
        cards[key] = card
        if not self._dirty:
            import atexit

            atexit.register(self.save)
            self._dirty = True

    def _load(self) -> dict[str, Card | None]:
        if self._cards is not None:
            return self._cards
        self._cards = {}
        self._stamp = _genai_prices_stamp()
        try:
            data = _orjson().loads(self._file().read_bytes())
        except (OSError, ValueError):
            return self._cards
        if isinstance(data, dict) and data.get("stamp") == self._stamp and self._stamp:
            try:
                self._cards = {
                    key: None if value is None else self._decode(value)
                    for key, value in data["cards"].items()
                }
            except (KeyError, TypeError, ValueError, ArithmeticError):
                self._cards = {}  # a file of another shape: start again
        return self._cards

    def save(self) -> None:
        """Write the file (atomically: two processes ending at once leave one whole file)."""
        import os

        if self._cards is None or not self._dirty:
            return
        path = self._file()
        payload = {
            "stamp": self._stamp,
            "cards": {
                key: None if card is None else self._encode(card)
                for key, card in self._cards.items()
            },
        }
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_name(f"{path.name}.{os.getpid()}")
            temporary.write_bytes(_orjson().dumps(payload))
            os.replace(temporary, path)
        except OSError:
            pass  # a cache: the next process resolves the prices again
        self._dirty = False

    def _file(self) -> Path:
        if self._path is None:
            from platformdirs import user_cache_dir

            self._path = Path(user_cache_dir("tokentrail")) / CARD_CACHE_FILE
        return self._path


def _orjson() -> Any:
    import orjson

    return orjson


def _genai_prices_stamp() -> str:
    """Which genai-prices data is installed, without importing it: "" when unknown."""
    import os
    from importlib.util import find_spec

    try:
        spec = find_spec("genai_prices")
        if spec is None or spec.origin is None:
            return ""
        folder = os.path.dirname(spec.origin)
        parts = [folder]
        for name in ("data.py", "data_snapshot.py", "types.py"):
            info = os.stat(os.path.join(folder, name))
            parts.append(f"{name}:{info.st_size}:{info.st_mtime_ns}")
    except (OSError, ImportError, ValueError):
        return ""
    return "|".join(parts)
