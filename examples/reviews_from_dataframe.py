"""Texts from a pandas DataFrame, with the estimator and with `automl.search`.

    python examples/reviews_from_dataframe.py [reviews.csv]

The CSV needs `text` and `label` columns; without one, a small table of made-up
reviews is used.
"""

import sys

import pandas as pd

import automl

WORDS = {"fresh": ["moving", "brilliant", "funny", "tender", "gripping"],
         "rotten": ["dull", "tedious", "clumsy", "bland", "overlong"]}


def made_up_reviews(count=120):
    rows = []
    for i in range(count):
        label = ("fresh", "rotten")[i % 2]
        word = WORDS[label][i // 2 % 5]
        rows.append({"text": f"a {word} film, {WORDS[label][(i // 10) % 5]} from start to end",
                     "label": label})
    return pd.DataFrame(rows)


def main(csv=None, **settings):
    frame = pd.read_csv(csv) if csv else made_up_reviews()
    settings.setdefault("time_budget", 120)

    # AutoKeras style: fit on a column of texts and a column of labels.
    model = automl.TextClassifier(**settings).fit(frame.text, frame.label)
    sentences = ["A moving, beautifully acted film.", "Dull, predictable and far too long."]
    print(model.predict(sentences))
    print(model.predict_proba(sentences).round(3), "classes:", model.card["classes"])

    # The same search as a function call on the DataFrame, naming its columns.
    renamed = frame.rename(columns={"text": "review", "label": "verdict"})
    result = automl.search("text", renamed, text_column="review", label_column="verdict",
                           **settings)
    print(result.predict(sentences).labels)
    return model, result


if __name__ == "__main__":
    main(*sys.argv[1:2])
