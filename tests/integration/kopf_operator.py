"""A kopf operator for the kopf test: notes every create, update and delete of an ImageCache in $IMC_KOPF_LOG."""

import os

import kopf

GROUP, VERSION, PLURAL = "eci.alibabacloud.com", "v1", "imagecaches"


def note(event: str, name: str) -> None:
    """Append one `event name` line to the log the test reads."""
    with open(os.environ["IMC_KOPF_LOG"], "a") as handle:
        handle.write(f"{event} {name}\n")


@kopf.on.create(GROUP, VERSION, PLURAL)
def created(name, **_):
    note("create", name)


@kopf.on.update(GROUP, VERSION, PLURAL)
def updated(name, **_):
    note("update", name)


@kopf.on.delete(GROUP, VERSION, PLURAL)
def deleted(name, **_):
    note("delete", name)
