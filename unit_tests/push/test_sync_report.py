import threading

from source_meta_capi.push.sync_report import SyncReport


def test_counts_from_many_threads_add_up_and_the_summary_is_one_plain_dict():
    report = SyncReport()

    def work() -> None:
        for _ in range(1000):
            report.add("delivered_events", "records")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    report.drift("1", "Purchase", "event_id")
    report.corrupt_data("delivered_events", "events/x line 2")
    summary = report.as_dict()
    assert summary["streams"]["delivered_events"] == {"records": 4000, "corrupt": 1}
    assert summary["schema_drift"] == [{"pixel_id": "1", "event_name": "Purchase", "missing": "event_id", "count": 1}]
    assert summary["corrupt_locations"] == ["events/x line 2"]


def test_only_the_first_corrupt_locations_are_kept_but_all_are_counted():
    report = SyncReport()
    for n in range(30):
        report.corrupt_data("dead_letters", f"k{n}")
    assert report.count("dead_letters", "corrupt") == 30
    assert len(report.as_dict()["corrupt_locations"]) == 20
