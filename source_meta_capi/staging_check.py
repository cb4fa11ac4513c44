"""`check` for push mode: the bucket is reachable, listable, and laid out as the receiver writes it."""

from __future__ import annotations

from source_meta_capi.config import SourceConfig
from source_meta_capi.staging.store import StoreError, open_store

OUR_AREAS = frozenset({"events/", "statuses/", "dead_letters/", "idempotency/"})


def check_staging(config: SourceConfig) -> list[str]:
    """Problems a user can act on; empty when the bucket is usable."""
    assert config.staging is not None
    try:
        store = open_store(config.staging.bucket_url, config.staging.s3)
        store.check()
        children = list(store.list_children(""))
    except StoreError as error:
        return [f"Staging bucket: {error}"]
    foreign = sorted(child for child in children if child not in OUR_AREAS)
    if foreign and not any(child in OUR_AREAS for child in children):
        shown = ", ".join(foreign[:5])
        return [
            f"Staging bucket {store.url} does not look like a source-meta-capi staging area: it holds {shown} "
            "but none of events/, statuses/, dead_letters/. Point bucket_url at the prefix the receiver writes to "
            "(META_CAPI_STAGING_URL)."
        ]
    for area in ("events/", "statuses/", "dead_letters/"):
        if area not in children:
            continue
        try:
            for pixel_folder in store.list_children(area):
                name = pixel_folder[len(area) :].rstrip("/")
                if not name.startswith("pixel_id="):
                    return [
                        f"Staging bucket {store.url}: unexpected folder {pixel_folder}; expected {area}pixel_id=<id>/."
                    ]
        except StoreError as error:
            return [f"Staging bucket: {error}"]
    return []
