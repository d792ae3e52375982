"""The listeners of an entry: who is told when a subscriber, its scopes or the stream change.

- the entities of a subscriber number, each with the aspects it shows and the trigger key
  it fires on (an event entity's): told of the updates that concern them (:meth:`notify`,
  on every event);
- what redraws with the stream state (:meth:`stream_changed`);
- the platforms, which add the entities of a subscriber seen for the first time
  (:meth:`subscriber_added`) and follow the scopes its consent grants (:meth:`scopes_changed`).
"""

from __future__ import annotations

from collections.abc import Callable

from homeassistant.core import CALLBACK_TYPE, callback

from .capabilities.base import EntityTrigger, SubscriberUpdate
from .subscriber import ALL_ASPECTS, Aspect, Subscriber

type UpdateListener = Callable[[SubscriberUpdate], None]
type SubscriberListener = Callable[[Subscriber], None]
# A listener with what it shows: aspects as a plain int (a Flag's own operators are Python
# code, too slow to run for every entity on every event) and the trigger key it fires on.
type _Listening = tuple[int, str | None, UpdateListener]


class Listeners:
    """The listeners of one config entry's subscribers, its stream and its platforms."""

    __slots__ = ("_by_number", "_chosen", "_new_subscriber", "_scopes", "_stream")

    def __init__(self) -> None:
        """Start empty."""
        self._by_number: dict[str, list[_Listening]] = {}
        # Per number, the listeners an update concerns, by what it changed and the keys of
        # its triggers: looked up once, then reused for every such update (a few kinds).
        self._chosen: dict[str, dict[tuple[int, object], tuple[UpdateListener, ...]]] = {}
        self._stream: list[Callable[[], None]] = []
        self._new_subscriber: list[SubscriberListener] = []
        self._scopes: list[SubscriberListener] = []

    @callback
    def async_add_listener(
        self,
        number: str,
        listener: UpdateListener,
        aspects: Aspect = ALL_ASPECTS,
        trigger_key: str | None = None,
    ) -> CALLBACK_TYPE:
        """Call ``listener`` with a subscriber's updates that concern it; returns the remover.

        An update concerns it when it changes one of ``aspects`` or carries a trigger for
        ``trigger_key`` (an event entity's key).
        """
        listeners = self._by_number.setdefault(number, [])
        listening = (int(aspects), trigger_key, listener)
        listeners.append(listening)
        self._chosen.pop(number, None)

        @callback
        def _remove() -> None:
            listeners.remove(listening)
            self._chosen.pop(number, None)

        return _remove

    @callback
    def async_add_stream_listener(self, listener: Callable[[], None]) -> CALLBACK_TYPE:
        """Call ``listener`` when the stream state changes; returns the remover."""
        self._stream.append(listener)
        return lambda: self._stream.remove(listener)

    @callback
    def async_add_subscriber_listener(self, listener: SubscriberListener) -> CALLBACK_TYPE:
        """Call ``listener`` with each subscriber seen for the first time; returns the remover."""
        self._new_subscriber.append(listener)
        return lambda: self._new_subscriber.remove(listener)

    @callback
    def async_add_scope_listener(self, listener: SubscriberListener) -> CALLBACK_TYPE:
        """Call ``listener`` with each subscriber whose granted scopes changed."""
        self._scopes.append(listener)
        return lambda: self._scopes.remove(listener)

    def notify(self, number: str, update: SubscriberUpdate, changed: int) -> None:
        """Tell a subscriber's entities what changed (``changed``: the update's aspects)."""
        triggers = update.triggers
        keys = triggers[0].key if len(triggers) == 1 else tuple(t.key for t in triggers)
        if (chosen := self._chosen.get(number)) is None:
            chosen = self._chosen[number] = {}
        if (listeners := chosen.get((changed, keys))) is None:
            listeners = chosen[changed, keys] = self._concerned(number, changed, triggers)
        for listener in listeners:
            listener(update)

    def _concerned(
        self, number: str, changed: int, triggers: tuple[EntityTrigger, ...]
    ) -> tuple[UpdateListener, ...]:
        """Return the listeners of a number that show one of ``changed`` or fire on a trigger."""
        keys = {trigger.key for trigger in triggers}
        return tuple(
            listener
            for aspects, key, listener in self._by_number.get(number, ())
            if aspects & changed or (key is not None and key in keys)
        )

    def stream_changed(self) -> None:
        """Tell what redraws with the stream state that it changed."""
        for listener in list(self._stream):
            listener()

    def subscriber_added(self, subscriber: Subscriber) -> None:
        """Tell the platforms of a subscriber seen for the first time."""
        for listener in list(self._new_subscriber):
            listener(subscriber)

    def scopes_changed(self, subscriber: Subscriber) -> None:
        """Tell the platforms that a subscriber's granted scopes changed."""
        for listener in list(self._scopes):
            listener(subscriber)
