"""The per-process memory of just issued and rendered invoices is bounded; oldest go first."""

from __future__ import annotations

from activities.recent import Recent


def test_the_oldest_value_goes_when_the_memory_is_full() -> None:
    recent = Recent[int](size=3)
    for value in range(4):
        recent.put(f"RE-{value}", value)
    assert recent.get("RE-0") is None
    assert [recent.get(f"RE-{v}") for v in (1, 2, 3)] == [1, 2, 3]


def test_putting_a_key_again_makes_it_the_newest() -> None:
    recent = Recent[str](size=2)
    recent.put("a", "first")
    recent.put("b", "second")
    recent.put("a", "again")
    recent.put("c", "third")
    assert recent.get("b") is None
    assert recent.get("a") == "again" and recent.get("c") == "third"
