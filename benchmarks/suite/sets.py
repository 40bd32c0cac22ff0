"""The suite's sets: modality, generator command, half, source groups, sizes, classes,
imbalance (largest over smallest training class), as the generators printed them.

A command is an argument list run from the repository root: `{python}` is the running
interpreter, `{out}` the set's folder, `{shared}` the shared data folder (../shared/data).
Development sets inform every choice of the search; confirmation sets are run only after
those choices are committed (benchmarks/suite/README.md).
"""

SUITE = "benchmarks/suite"
DIGIT_WORDS = "zero,one,two,three,four,five,six,seven,eight,nine"


def generated(modality, half, command, groups, train, val, test, classes, imbalance, about):
    return {"modality": modality, "half": half, "command": command, "groups": groups,
            "train": train, "val": val, "test": test, "classes": classes,
            "imbalance": imbalance, "about": about}


SETS = {
    # development half
    "glyphs": generated(
        "image", "development", ["{python}", "{shared}/make_glyphs.py", "{out}"],
        "typeface", 17280, 4600, 4680, 10, 1.0,
        "letters A-J in ~670 typefaces, 28 px grey (the shared glyphs)"),
    "shapes": generated(
        "image", "development", ["{python}", f"{SUITE}/make_shapes.py", "{out}"],
        "none (each image)", 212, 44, 44, 2, 1.0,
        "a circle or a square, 40-64 px, random colours (a hundred cheap epochs needed)"),
    "emoji": generated(
        "image", "development", ["{python}", f"{SUITE}/make_emoji.py", "{out}"],
        "emoji with its skin tones", 4260, 912, 912, 86, 7.0,
        "Noto colour emoji by Unicode subgroup, 48 px RGB"),
    "letters-colour": generated(
        "image", "development",
        ["{python}", "{shared}/make_glyphs.py", "{out}", "--letters", "ABCDEFGHIJ",
         "--color", "--size", "32", "--per-font", "2", "--fonts", "300", "--seed", "1"],
        "typeface", 3980, 1060, 960, 10, 1.0,
        "letters A-J in 300 typefaces, 32 px colour on textured backgrounds"),
    "rotten-tomatoes": generated(
        "text", "development", ["cp", "-r", "{shared}/rotten_tomatoes", "{out}"],
        "none (each snippet)", 8965, 1921, 1922, 2, 1.4,
        "movie review snippets, fresh or rotten (the shared set)"),
    "debian-sections": generated(
        "text", "development", ["{python}", f"{SUITE}/make_debian.py", "{out}"],
        "source package", 5509, 1077, 1124, 8, 6.3,
        "one-line Debian package descriptions by archive section"),
    "words-other": generated(
        "text", "development",
        ["{python}", f"{SUITE}/make_words.py", "{out}", "--languages",
         "faroese,irish,scottish-gaelic,manx,esperanto,galician,bulgarian,ukrainian"],
        "four-letter stem", 33592, 7047, 7361, 8, 1.1,
        "single words by language, eight other Debian word lists"),
    "keywords": generated(
        "audio", "development", ["{python}", "{shared}/make_keywords.py", "{out}"],
        "speaker (espeak-ng voice)", 840, 180, 180, 20, 1.0,
        "20 spoken keywords, 60 speakers, 1 s (the shared set)"),
    "instruments": generated(
        "audio", "development", ["{python}", f"{SUITE}/make_instruments.py", "{out}"],
        "instrument preset (GM program)", 2304, 384, 384, 16, 1.0,
        "single notes of General MIDI programs by family, fluidsynth, 2 s"),
    # confirmation half
    "glyphs-colour": generated(
        "image", "confirmation",
        ["{python}", "{shared}/make_glyphs.py", "{out}", "--letters", "KLMNOPQRSTUVWXYZ",
         "--color", "--size", "32", "--per-font", "2", "--fonts", "300"],
        "typeface", 6112, 1728, 1760, 16, 1.0,
        "letters K-Z in 300 typefaces, 32 px colour on textured backgrounds"),
    "icons": generated(
        "image", "confirmation", ["{python}", f"{SUITE}/make_icons.py", "{out}"],
        "icon name", 3434, 654, 670, 7, 10.3,
        "GNOME and Oxygen desktop icons by category, 48 px RGB"),
    "mnist-imbalanced": generated(
        "image", "confirmation", ["{python}", f"{SUITE}/make_mnist_imbalanced.py", "{out}"],
        "none (writers unknown)", 1430, 307, 307, 10, 10.3,
        "MNIST-5k digits thinned to 10:1, 28 px grey"),
    "sklearn-digits": generated(
        "image", "confirmation", ["{python}", "benchmarks/make_digits_pngs.py", "{out}"],
        "none (writers unknown)", 1259, 269, 269, 10, 1.1,
        "scikit-learn's 8x8 digits, grey"),
    "fortunes": generated(
        "text", "confirmation", ["{python}", f"{SUITE}/make_fortunes.py", "{out}"],
        "author (or the cookie)", 5343, 1251, 1239, 20, 4.6,
        "fortune cookies by fortune file, one line to a page"),
    "words": generated(
        "text", "confirmation", ["{python}", f"{SUITE}/make_words.py", "{out}"],
        "four-letter stem", 50475, 10782, 10743, 12, 1.0,
        "single words by language, Debian word lists"),
    "spoken-languages": generated(
        "audio", "confirmation", ["{python}", f"{SUITE}/make_spoken_languages.py", "{out}"],
        "the number spoken", 750, 110, 140, 10, 1.0,
        "numbers 0-99 read by espeak-ng in ten languages, 1 s"),
    "spoken-digits": generated(
        "audio", "confirmation",
        ["{python}", "{shared}/make_keywords.py", "{out}", "--speakers", "20",
         "--words", DIGIT_WORDS],
        "speaker (espeak-ng voice)", 140, 30, 30, 10, 1.0,
        "the ten digit words, 20 speakers, 1 s (few examples)"),
}

HALVES = ("development", "confirmation")
