"""Voice notes: decoding, validation, waveform and playable renditions."""
