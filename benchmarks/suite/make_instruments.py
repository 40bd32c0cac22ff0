"""Notes of the 128 General MIDI instruments, labelled with their instrument family.

Usage: python benchmarks/suite/make_instruments.py OUT [--notes 24] [--seed 0]

Each General MIDI program plays `--notes` single notes of random pitch (in its family's
range), loudness and length, rendered by fluidsynth with the FluidR3 GM soundfont and cut
into 2.0 s clips, 16 kHz mono WAV: OUT/{train,val,test}/<family>/<program>_<n>.wav.
The 16 classes are the General MIDI families (piano, organ, guitar, brass, ...); the
source group is the instrument preset: each family's 8 programs split 6/1/1, so test
hears instruments never heard in training.

Needs: apt-get install -y fluidsynth fluid-soundfont-gm (and numpy, soundfile).
"""

import argparse
import os
import random
import subprocess
import tempfile

import numpy as np
import soundfile

from layout import class_path, report, split_within

SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
FAMILIES = ("piano", "chromatic-percussion", "organ", "guitar", "bass", "strings", "ensemble",
            "brass", "reed", "pipe", "synth-lead", "synth-pad", "synth-effects", "ethnic",
            "percussive", "sound-effects")
RATE, CLIP, SLOT = 16000, 2.0, 2.5  # a note sounds in the first CLIP seconds of its SLOT
TICKS = 960  # per second, at the default tempo of 120 quarter notes a minute


def variable_length(value):
    out = [value & 0x7F]
    while value > 0x7F:
        value >>= 7
        out.insert(0, (value & 0x7F) | 0x80)
    return bytes(out)


def midi_file(program, notes):
    """A one-track MIDI file: `program` plays each (pitch, velocity, seconds) in its slot."""
    events, now = [(0, bytes([0xC0, program]))], 0
    for n, (pitch, velocity, seconds) in enumerate(notes):
        start, end = int((n * SLOT + 0.05) * TICKS), int((n * SLOT + 0.05 + seconds) * TICKS)
        events += [(start, bytes([0x90, pitch, velocity])), (end, bytes([0x80, pitch, 0]))]
    track = b""
    for time, event in events:
        track += variable_length(time - now) + event
        now = time
    track += variable_length(int(SLOT * TICKS)) + b"\xff\x2f\x00"
    header = b"MThd" + (6).to_bytes(4, "big") + (0).to_bytes(2, "big") + (1).to_bytes(2, "big") \
        + (TICKS // 2).to_bytes(2, "big")
    return header + b"MTrk" + len(track).to_bytes(4, "big") + track


def render(program, notes, folder):
    midi, wave = os.path.join(folder, "notes.mid"), os.path.join(folder, "notes.wav")
    with open(midi, "wb") as handle:
        handle.write(midi_file(program, notes))
    subprocess.run(["fluidsynth", "-ni", "-g", "0.6", "-r", str(RATE), "-F", wave, SOUNDFONT, midi],
                   check=True, capture_output=True)
    audio, _ = soundfile.read(wave, dtype="float32")
    return audio.mean(axis=1) if audio.ndim == 2 else audio


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--notes", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as folder:
        for index, family in enumerate(FAMILIES):
            programs = range(8 * index, 8 * index + 8)
            for program, split in sorted(split_within(programs, args.seed).items()):
                low = 28 if family == "bass" else 48
                notes = [(rng.randint(low, low + 30), rng.randint(50, 120), rng.uniform(0.3, 1.4))
                         for _ in range(args.notes)]
                audio = render(program, notes, folder)
                for n in range(args.notes):
                    clip = audio[int(n * SLOT * RATE):int((n * SLOT + CLIP) * RATE)]
                    clip = np.pad(clip, (0, int(CLIP * RATE) - len(clip)))
                    clip *= rng.uniform(0.3, 0.9) / max(float(np.abs(clip).max()), 1e-4)
                    soundfile.write(class_path(args.out, split, family, f"program{program:03d}_{n:02d}.wav"),
                                    clip, RATE, subtype="PCM_16")
    report(args.out, "128 instrument presets (8 a family, 6/1/1)")


if __name__ == "__main__":
    main()
