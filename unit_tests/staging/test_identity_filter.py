from source_meta_capi.staging.identity_filter import IdentityFilter


def test_repeats_dropped_in_memory_and_after_spilling_to_disk():
    identities = IdentityFilter(memory_entries=10)
    assert all(identities.first_time("1", f"e{n}", n) for n in range(50))
    assert not any(identities.first_time("1", f"e{n}", n) for n in range(50))
    assert identities.repeats == 50
    # Same event id, different time or pixel: a different identity.
    assert identities.first_time("1", "e1", 999)
    assert identities.first_time("2", "e1", 1)
    identities.close()


def test_events_without_id_are_never_dropped():
    identities = IdentityFilter()
    assert identities.first_time("1", None, 5) and identities.first_time("1", None, 5)


def test_given_a_batch_with_repeats_when_first_times_then_same_answers_as_one_by_one_before_and_after_spilling():
    batch = [(f"e{n % 7}", n % 7) for n in range(20)] + [(None, 1), (None, 1)]
    expected = [True] * 7 + [False] * 13 + [True, True]
    for memory_entries in (1_000, 3):
        identities = IdentityFilter(memory_entries=memory_entries)
        assert identities.first_times("1", batch) == expected
        assert identities.first_times("1", batch) == [False] * 20 + [True, True]
        assert identities.repeats == 13 + 20
        identities.close()
