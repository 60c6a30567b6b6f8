"""Keys typed in one burst are acted on one after the other, each by the screen on top by then.

Over SSH a burst like `t x=1 enter` arrives at once. Textual hands each key to the focused widget
at once, but checks most bindings (the `t` that opens the tag prompt) only when the key comes back
up to the app; by then the keys behind it had been handed to the same widget, of the screen now
underneath: they were lost, or acted there (a `space` meant for the column picker marked a run).
Priority bindings (`enter` in a dialog) act at once and so overtook the keys before them.

So the app hands on one key at a time: the next key waits until the one before has come back up
to the app (its bindings ran) or was taken by a widget on the way (an input typed it), and until
what it set going on the screen is done (an input's submit closing its dialog). While a screen
that a key pushed or popped is being shown, keys wait until it has its focus.

A key is followed up the DOM hop by hop, not timed: after each widget has handled it, a callback
queued behind it on the parent asks whether it got there. A loaded machine makes the trip slow,
never out of order (a timeout let the `e` after a rename's `enter` be typed into the name).
"""

from __future__ import annotations

from collections import deque

from textual import events
from textual.app import App
from textual.screen import Screen

READY_CHECK_S = 0.005  # how often a settling screen is looked at
MAX_HOLD_S = 1.0  # a screen that never takes focus gets the keys anyway after this long
MAX_FLIGHT_S = 5.0  # a key whose handler never returns frees the next after this long
QUIET_CHECK_S = 0.002  # how often a busy screen is looked at before the next key goes
MAX_QUIET_WAIT_S = 0.05  # a screen that stays busy gets the next key anyway after this long


class KeysFollowScreens(App):
    """An App that acts on keys in the order they were typed, each where the user looks by then."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._held_keys: deque[events.Key] = deque()
        self._key_in_flight: events.Key | None = None
        self._settling: Screen | None = None
        self._settle_checks = 0
        self._quiet_checks = 0
        self._quiet_timer = False

    # -- screens that come to the top hold the keys until they are ready ------------------------

    def push_screen(self, *args, **kwargs):
        result = super().push_screen(*args, **kwargs)
        self._hold_keys()
        return result

    def pop_screen(self):
        result = super().pop_screen()
        self._hold_keys()
        return result

    def switch_screen(self, screen):
        result = super().switch_screen(screen)
        self._hold_keys()
        return result

    def _hold_keys(self) -> None:
        if not self.is_running:
            return
        first = self._settling is None
        self._settling = self.screen
        self._settle_checks = 0
        if first:
            self.set_timer(READY_CHECK_S, self._settle)

    def _takes_keys(self, screen: Screen) -> bool:
        if screen is not self.screen or not screen.is_mounted or not screen.is_active:
            return False
        return screen.focused is not None or not screen.focus_chain

    async def _settle(self) -> None:
        screen = self._settling
        self._settle_checks += 1
        if screen is not None and not self._takes_keys(screen) and self._settle_checks * READY_CHECK_S < MAX_HOLD_S:
            self.set_timer(READY_CHECK_S, self._settle)
            return
        self._settling = None
        await self._hand_on_next()

    # -- one key at a time --------------------------------------------------------------------

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key):
            if not event.is_forwarded:
                self._held_keys.append(event)
                await self._hand_on_next()
                return
            if event is self._key_in_flight:  # back up at the app: its bindings run now
                self._key_in_flight = None
                await super().on_event(event)
                await self._hand_on_next()
                return
        await super().on_event(event)

    def _screen_quiet(self) -> bool:
        """No widget of the top screen has messages waiting: what the last key set going (an
        input's submit, a list's toggle) has been done."""
        return all(node._message_queue.empty() for node in self.screen.walk_children(with_self=True))

    async def _hand_on_next(self) -> None:
        while self._held_keys and self._key_in_flight is None and self._settling is None:
            if not self._screen_quiet() and self._quiet_checks * QUIET_CHECK_S < MAX_QUIET_WAIT_S:
                self._quiet_checks += 1
                if not self._quiet_timer:
                    self._quiet_timer = True
                    self.set_timer(QUIET_CHECK_S, self._quiet_again)
                return
            self._quiet_checks = 0
            key = self._held_keys.popleft()
            self._key_in_flight = key
            await super().on_event(key)  # priority bindings act here; else it goes to the focus
            if not key.is_forwarded:  # a priority binding took it: it will not come back
                self._key_in_flight = None
                continue
            self._follow(key, self.focused or self.screen)
            self.set_timer(MAX_FLIGHT_S, lambda key=key: self._let_go(key))

    async def _quiet_again(self) -> None:
        self._quiet_timer = False
        await self._hand_on_next()

    def _follow(self, key: events.Key, node) -> None:
        """Ask, once `node` has handled `key` (the callback is queued behind the key), where it went."""
        if not node.call_later(self._handled_by, key, node):  # a closed node: the key went nowhere
            self._release(key)

    async def _handled_by(self, key: events.Key, node) -> None:
        if self._key_in_flight is not key:  # it came back to the app, or was given up
            return
        if node is self:  # queued behind the key's arrival, which did not come
            await self._let_go(key)
            return
        parent = node._parent
        # Stopped means it went no further, unless the parent sent it: then Textual stops it
        # after the parent, so it may still arrive there (the app, for keys).
        stopped = key._stop_propagation and key._sender is not parent
        if stopped or parent is None or not (node.is_parent_active and node.is_attached):
            await self._let_go(key)
        else:
            self._follow(key, parent)

    def _release(self, key: events.Key) -> None:
        if self._key_in_flight is key:
            self._key_in_flight = None
            self.call_later(self._hand_on_next)

    async def _let_go(self, key: events.Key) -> None:
        if self._key_in_flight is key:
            self._key_in_flight = None
            await self._hand_on_next()
