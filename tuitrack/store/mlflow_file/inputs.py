"""A run's dataset inputs in MLflow's file store (`mlflow.log_input`), for `dataset.name`,
`dataset.digest` and `dataset.context` filters:

    <experiment>/<run>/inputs/<id>/meta.yaml     source_type: DATASET, source_id: <dataset id>,
                                                 tags: {mlflow.data.context: training}
    <experiment>/datasets/<dataset id>/meta.yaml name, digest, source, ...

Read only when a filter asks. Symlinked folders or files are not followed (they could lead out
of the store); an unreadable or half-written entry is skipped, as it names no dataset yet.
"""

from __future__ import annotations

import os

from tuitrack.model import DATASET_CONTEXT_TAG, DatasetInput
from tuitrack.store.mlflow_file.files import read_bytes
from tuitrack.store.mlflow_file.meta_yaml import MetaYamlError, load_meta

META = "meta.yaml"


def _fields(folder: str) -> dict | None:
    path = os.path.join(folder, META)
    if os.path.islink(folder) or os.path.islink(path):
        return None
    try:
        fields = load_meta(read_bytes(path))
    except (OSError, MetaYamlError):
        return None
    return fields if isinstance(fields, dict) else None


def read_dataset_inputs(run_dir: str) -> list[DatasetInput]:
    """The datasets a run logged as inputs, in folder order."""
    inputs_dir = os.path.join(run_dir, "inputs")
    datasets_dir = os.path.join(os.path.dirname(run_dir), "datasets")
    if os.path.islink(inputs_dir) or os.path.islink(datasets_dir):
        return []
    try:
        names = sorted(entry.name for entry in os.scandir(inputs_dir) if entry.is_dir(follow_symlinks=False))
    except OSError:
        return []
    found = []
    for name in names:
        link = _fields(os.path.join(inputs_dir, name))
        if link is None or link.get("source_type") != "DATASET":
            continue
        source = link.get("source_id")
        if not isinstance(source, str) or not source or "/" in source or source.startswith("."):
            continue
        dataset = _fields(os.path.join(datasets_dir, source))
        if dataset is None:
            continue
        tags = link.get("tags")
        context = tags.get(DATASET_CONTEXT_TAG) if isinstance(tags, dict) else None
        found.append(DatasetInput(str(dataset.get("name", "")), str(dataset.get("digest", "")),
                                  None if context is None else str(context)))
    return found
