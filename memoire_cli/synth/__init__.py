"""`memoire synth` (S1.1): virtual users, their galleries, hidden ground truth, and renderers."""
