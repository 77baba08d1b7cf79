"""The imc engine: pure functions that reproduce ECI's ImageCache choice and explain it."""
