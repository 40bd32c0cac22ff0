"""Starting a search from what a network already knows: pretrained backbones and earlier runs.

`backbones` names the families a search may start from, `weights` finds their
weights (a user's path, the caches, a download only when allowed), `word_vectors`
reads pretrained word vectors, `fine_tuning` trains a pretrained body in few epochs.
"""

import sys

from automl.transfer import backbones, weights, word_vectors

_FOUND = {}  # (names, backbone_weights, allow_download) -> ([Weights], [skip line])


def found_backbones(settings, modality):
    """The backbones of `settings.backbones` for `modality` whose weights were found.

    Each one skipped is reported on stderr in one line saying where to put its weights
    (once per process); the search goes on without it.
    """
    return _resolved(settings, modality)[0]


def _resolved(settings, modality):
    """`([Weights], [skip line])` of the backbones `settings` names for `modality`."""
    names = [name for name in settings.backbones
             if backbones.is_hub(name) or name in backbones.names(modality)]
    key = (tuple(names), tuple(settings.backbone_weights), settings.allow_download)
    if key not in _FOUND:
        paths = weights.user_paths(settings.backbone_weights, names)
        found, skipped = [], []
        for name in names:
            result, line = weights.resolve(name, paths.get(name), settings.allow_download)
            if result:
                found.append(result)
            else:
                skipped.append(line)
                print(f"note: {line}", file=sys.stderr)
        _FOUND[key] = (found, skipped)
    return _FOUND[key]


def card_record(settings, modality):
    """What the model card says about pretrained weights: `{"transfer": {...}}`, or `{}`."""
    record = {}
    if settings.backbones:
        found, skipped = _resolved(settings, modality)
        record["backbones"] = [w.record() for w in found]
        record["skipped"] = list(skipped)
    if settings.word_vectors:
        record["word_vectors"] = {"path": settings.word_vectors,
                                  "sha256": weights.sha256(settings.word_vectors),
                                  "licence": word_vectors.LICENCE}
    return {"transfer": record} if record else {}
