"""What every stage runs on: the quiet TensorFlow import, devices, memory, signals,
permissions, phase clocks and atomic file writes. Imports nothing above it."""
