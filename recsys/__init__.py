"""Core of the platform shared by every layer: settings, errors and the simulated shop."""
