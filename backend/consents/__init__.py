"""Member consents (marketing messages, biometric photos), recorded with time and channel."""
