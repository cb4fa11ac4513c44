import pickle

from source_meta_capi.staging.store import CorruptObjectError, StoreError


def test_corrupt_data_is_a_store_error_naming_key_reason_and_line():
    error = CorruptObjectError("events/x.jsonl.gz", "invalid JSON", 3)
    assert isinstance(error, StoreError)
    assert (error.key, error.reason, error.line) == ("events/x.jsonl.gz", "invalid JSON", 3)
    assert str(error) == "corrupt staged data in events/x.jsonl.gz line 3: invalid JSON"
    assert str(CorruptObjectError("k", "bad gzip")) == "corrupt staged data in k: bad gzip"


def test_given_a_corrupt_object_error_when_pickled_then_it_keeps_its_fields():
    # The record decoder processes send these back to the sync as findings.
    error = CorruptObjectError("events/x.jsonl.gz", "line is not a JSON object", 7)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is CorruptObjectError and copy == error and str(copy) == str(error)
