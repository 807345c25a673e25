"""Voice questions transcribed by OpenAI's speech-to-text API or an OpenAI-compatible server."""
