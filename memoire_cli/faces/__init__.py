"""Offline face models (SCRFD + ArcFace from installed wheels) and the face bank of real face photos."""
