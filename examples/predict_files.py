"""Predict with a finished run: files, folders, arrays or texts in; labels and probabilities out.

    python examples/predict_files.py RUN PATH [PATH ...]
"""

import sys

import automl


def main(run_dir, *paths):
    predictor = automl.load(run_dir)   # needs no task plugin for SavedModel predictions
    print(predictor, "classes:", predictor.classes)
    files = predictor.files(paths)     # folders walked, in the order of predict's rows
    labels, probabilities = predictor.predict(files)
    for path, label, row in zip(files, labels, probabilities):
        print(f"{path}\t{label}\t{row.max():.3f}")
    return labels, probabilities


if __name__ == "__main__":
    main(*sys.argv[1:])
