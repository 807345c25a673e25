"""The bundled demo knowledge base about Otvet itself, loaded on first run so a new user gets real answers."""
