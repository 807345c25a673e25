"""The built-in local embedder: Google's multilingual Universal Sentence Encoder, with no network."""
