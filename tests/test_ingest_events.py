"""Events of keyword-less photos: one per burst (gap rule), named by its date range; properties by Hypothesis."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from memoire_cli.ingest.organise import assign_events, bursts, date_range

GAP_H = 3.0
T0 = datetime(2023, 6, 21, 8, 0)

#: capture times within ~5 days, to the minute (so that gaps around 3 h, ties and midnight occur), some undated.
times_st = st.lists(st.one_of(st.none(), st.integers(0, 7 * 24 * 60).map(lambda m: T0 + timedelta(minutes=m))), max_size=30)


def _events(times: list[datetime | None]) -> list[tuple[str, int | None] | None]:
    return assign_events(times, [()] * len(times), GAP_H)


@settings(max_examples=200, deadline=None)
@given(times_st)
def test_every_dated_photo_gets_exactly_one_event_and_close_photos_share_it(times: list[datetime | None]) -> None:
    ev = _events(times)
    gap = timedelta(hours=GAP_H)
    for i, t in enumerate(times):
        assert (ev[i] is None) == (t is None)  # a dated keyword-less photo has one event, an undated one none
    dated = [i for i, t in enumerate(times) if t is not None]
    for i in dated:
        for j in dated:
            if abs(times[i] - times[j]) <= gap:  # type: ignore[operator]
                assert ev[i] == ev[j]
    # the partition is the finest such: sorted, an event ends exactly where the next photo is more than the gap later
    order = sorted(dated, key=lambda i: times[i])  # type: ignore[arg-type, return-value]
    for a, b in zip(order, order[1:]):
        assert (ev[a] != ev[b]) == (times[b] - times[a] > gap)  # type: ignore[operator]
    # one name per event, and the name says the event's date range
    members: dict[tuple, list[int]] = {}
    for i in dated:
        members.setdefault(ev[i], []).append(i)  # type: ignore[arg-type]
    assert len({key[0] for key in members}) == len(members)
    for key, ids in members.items():
        span = date_range(min(times[i] for i in ids), max(times[i] for i in ids))  # type: ignore[type-var]
        assert key[0] == f"event {span}" or key[0].startswith(f"event {span} #")


@settings(max_examples=200, deadline=None)
@given(times_st, st.randoms(use_true_random=False))
def test_events_do_not_depend_on_the_order_of_the_files(times: list[datetime | None], rnd) -> None:  # noqa: ANN001
    perm = list(range(len(times)))
    rnd.shuffle(perm)
    ev = _events(times)
    shuffled = _events([times[p] for p in perm])
    assert [e[0] if e else None for e in shuffled] == [ev[p][0] if ev[p] else None for p in perm]
    assert bursts([times[p] for p in perm], GAP_H) == [bursts(times, GAP_H)[p] for p in perm]


def test_a_scattered_day_and_a_trip_over_midnight() -> None:
    """Keyword-less photos: a burst across midnight is one event named by both dates; bursts hours apart stay apart."""
    t = [datetime(2023, 6, 21, 22, 0), datetime(2023, 6, 21, 23, 30), datetime(2023, 6, 22, 1, 0),  # a party past midnight
         datetime(2023, 6, 22, 9, 0), datetime(2023, 6, 22, 9, 40),  # breakfast
         datetime(2023, 6, 22, 20, 0)]  # dinner
    names = [e[0] for e in _events(t)]  # type: ignore[index]
    assert names == ["event 2023-06-21 – 2023-06-22"] * 3 + ["event 2023-06-22"] * 2 + ["event 2023-06-22 #2"]
    kw = [(), ("Party",), (), (), (), ()]  # a keyword names its burst: the keyword-less photos join it
    assert [e[0] for e in assign_events(t, kw, GAP_H)][:3] == ["Party"] * 3  # type: ignore[index]
