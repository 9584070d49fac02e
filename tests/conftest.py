"""Project-wide fixtures. The emulator fixtures come from the stripe_emulator.testing plugin."""
