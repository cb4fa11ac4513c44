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
