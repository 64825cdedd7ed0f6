"""Judges: what reads an agent's replies and episodes and says whether they were safe."""
