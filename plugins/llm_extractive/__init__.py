"""The built-in extractive answerer: answers from the knowledge base itself, with no external service."""
