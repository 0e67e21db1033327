"""The sandbox's rate-limit windows: anchored at a key's first call, forgotten by ``Sandbox.clear``."""

from __future__ import annotations

from socialkpi.sandbox import Sandbox
from socialkpi.sandbox import umami as umami_part
from socialkpi.sandbox.limits import Window


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_burst_that_straddles_a_wall_clock_boundary_stays_in_one_window() -> None:
    clock = FakeClock(1_000_014.5)  # half a second before a multiple of 15 s
    window = Window(15, clock)
    assert window.hit("key") == (1, 1_000_029.5)
    clock.now += 1  # past the multiple of 15: a clock-aligned window would start again here
    assert window.hit("key")[0] == 2


def test_the_window_opens_again_after_its_length_and_keys_count_apart() -> None:
    clock = FakeClock(0.0)
    window = Window(15, clock)
    window.hit("a")
    window.hit("a")
    assert window.hit("b")[0] == 1
    clock.now = 15.0
    assert window.hit("a") == (1, 30.0)


def test_clearing_the_sandbox_forgets_the_calls_counted(sandbox: Sandbox) -> None:
    for _ in range(3):
        umami_part.WINDOW.hit("some-key")
    sandbox.clear()
    assert umami_part.WINDOW.hit("some-key")[0] == 1
