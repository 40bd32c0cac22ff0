"""Ctrl-C stops a search at a safe point; `automl.resume` continues it.

    python examples/resume_after_interrupt.py

Here the first finished trial sends the interrupt itself, as a person pressing
Ctrl-C would.
"""

import signal

import numpy as np

import automl


def stripes():
    """90 noisy 12x12 images, each with a bright band on the left, middle or right."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 60, size=(90, 12, 12, 1), dtype="uint8")
    y = np.repeat(["left", "middle", "right"], 30)
    for columns, label in ((slice(0, 4), "left"), (slice(4, 8), "middle"),
                           (slice(8, 12), "right")):
        x[y == label, :, columns] += 150
    return x, y


def main(out="stripes-run", **settings):
    x, y = stripes()
    finished = []

    def interrupt_after_first_trial(record):
        finished.append(record)
        if len(finished) == 1:
            signal.raise_signal(signal.SIGINT)

    settings.setdefault("max_trials", 4)
    try:
        automl.search("image", (x, y), out, callbacks=interrupt_after_first_trial, **settings)
    except KeyboardInterrupt as stop:
        print("stopped:", stop)
    # In this process the data is still known; in a new one pass it again:
    # automl.resume(out, data=(x, y)).
    result = automl.resume(out, verbose=settings.get("verbose", 1))
    print(result, "trials:", result.card["search"]["completed"])
    return result


if __name__ == "__main__":
    main()
