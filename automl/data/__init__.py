"""Examples in: data sources (TFDS, folders, CSV, arrays, manifests), their
fingerprint, the decoded-example cache and the training feeds built from it."""
