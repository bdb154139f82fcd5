"""Cadres and their contracted areas (包片联网): contracts and coverage."""
